"""What a query at frame n sees under a preset: its temporal RoPE phases against the training domain.

For a preset resolved on a model's defaults, the cache of a rollout is replayed (positions only, no
model) up to the chunk holding frame ``n``; every key the chunk's queries attend to gives a
relative distance ``Delta`` at the positions the preset assigns (absolute, relative, anchored,
compressed or memory tokens, rolled content), and every temporal plane ``m`` the phase
``theta'_m Delta`` (with the method's scaled and, for LoL, per-head tables). Training showed plane
``m`` the phases ``[0, theta_m (L_train - 1)]``, or every phase when that is a full turn. A plane is
*in domain* when every phase the query sees lies inside what training showed it; the report counts
the planes that are not, which is why a method stays in range or does not. A preset with a temporal
bias (FlexRoPE, ALiBi, Recency Forcing's) also gets the range of what the bias adds to the query's logits
over those keys (a step-dependent bias at noise level 1, the chunk's first step).

Legend: P temporal planes, n keys in the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from longroll.cache import KVCache
from longroll.rope.freqs import wan_rope_freqs


@dataclass(frozen=True)
class PhaseRow:
    """One temporal plane as the query at frame n sees it."""

    plane: int  # m
    trained: float  # largest phase training showed: theta_m (L_train - 1), in radians
    seen: float  # largest phase the query sees: max |theta'_m Delta| over keys (and heads)
    in_domain: bool  # seen <= trained, or training already turned the plane a full circle

    @property
    def ratio(self) -> float:
        return self.seen / self.trained if self.trained > 0 else math.inf


@dataclass(frozen=True)
class PhaseReport:
    """The view of one query chunk."""

    preset: str
    frame: int  # the query frame asked for
    distances: list[int]  # relative distances to every key the chunk attends to (its first frame)
    rows: list[PhaseRow]
    bias: tuple[str, float, float] | None = None  # (kind, most negative, least negative) logit shift, or None

    @property
    def largest_distance(self) -> float:
        return max(abs(d) for d in self.distances)

    @property
    def out_of_domain(self) -> int:
        return sum(not r.in_domain for r in self.rows)

    @property
    def far_out(self) -> int:
        """Planes beyond the training domain by more than 10% (a static scale of L / L_train overshoots
        the last trained phase by L_train / (L_train - 1), which is not counted here)."""
        return sum(not r.in_domain and r.ratio > 1.1 for r in self.rows)


def phase_report(preset: str, defaults, *, frame: int, head_dim: int = 128, heads: int = 12,
                 theta: float = 10000.0, **overrides) -> PhaseReport:
    """Replay the cache of ``preset`` on ``defaults`` (a ``ModelDefaults``) to ``frame`` and tabulate the phases."""
    from longroll.pipelines.presets import resolve_preset
    from longroll.rope.scaling import training_exposure

    config = resolve_preset(preset, defaults, **overrides)
    f, d = defaults.chunk_size, defaults
    cache = KVCache(config.cache, num_layers=1, batch_size=1, num_heads=1, tokens_per_frame=1, head_dim=2)
    start = 0
    while True:
        cache.begin(start, f)
        z = torch.zeros(1, 1, f, 2)
        cache.write(0, z, z, q=z if cache.q is not None else None)
        if start + f > frame:
            break
        start += f
    keys = cache.key_token_positions(0)  # (n,) float64, frames then non-frame tokens
    query = cache.query_positions()[min(frame - start, f - 1)]
    delta = query - keys  # (n,)
    base = wan_rope_freqs(head_dim, theta)
    rope = config.rope.freqs(base, train_len=d.train_len, length=start + f)
    tables = rope.head_temporal(heads) if rope.jitter > 0 else rope.temporal[None]  # (H or 1, P)
    seen = (tables[:, :, None] * delta.abs()[None, None, :]).amax(dim=(0, 2))  # (P,)
    trained = base.temporal * (d.train_len - 1)
    full_turn = training_exposure(base.temporal, d.train_len - 1) >= 1.0
    rows = [PhaseRow(m, float(trained[m]), float(seen[m]), bool(full_turn[m] or seen[m] <= trained[m] + 1e-9))
            for m in range(trained.numel())]
    shift = config.bias.frame_bias(query[None], keys, heads)  # (1 or H, 1, n) at level 1, or None
    bias = None if shift is None else (config.bias.kind, float(shift.min()) + 0.0, float(shift.max()) + 0.0)
    return PhaseReport(preset, frame, [int(round(float(x))) for x in delta], rows, bias)


def format_report(report: PhaseReport, *, train_len: int) -> str:
    lines = [
        f"preset {report.preset}: the query at frame {report.frame} attends to {len(report.distances)} keys; "
        f"largest relative distance {report.largest_distance:.0f} (training: {train_len - 1}); "
        f"{report.out_of_domain} of {len(report.rows)} temporal planes see phases training never showed "
        f"({report.far_out} by more than 10%)",
        *([] if report.bias is None else [
            f"temporal bias {report.bias[0]}: adds {report.bias[1]:.2f} to {report.bias[2]:.2f} to the logits over "
            f"those keys" + (" (at noise level 1; scaled by the step's level, 0 at the clean pass)"
                             if report.bias[0] == "recency" else "")]),
        "",
        f"{'m':>3} {'trained (rad)':>14} {'seen (rad)':>12} {'ratio':>8}  in domain",
    ]
    for r in report.rows:
        ok = 'yes' if r.in_domain else 'NO'
        lines.append(f"{r.plane:>3} {r.trained:>14.4f} {r.seen:>12.4f} {r.ratio:>8.2f}  {ok}")
    return "\n".join(lines)


def plot_reports(reports: list[PhaseReport], path: str | Path, *, title: str) -> None:
    """Seen / trained phase ratio per plane for one or more presets (log scale; 1 = the training edge)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise RuntimeError("Plotting needs matplotlib: pip install 'longroll[eval]'.") from err

    fig, ax = plt.subplots(figsize=(9, 4))
    for rep in reports:
        ax.plot([r.plane for r in rep.rows], [max(r.ratio, 1e-3) for r in rep.rows], marker="o",
                label=f"{rep.preset} ({rep.out_of_domain} planes out, {rep.far_out} by >10%)")
    ax.axhline(1.0, color="k", lw=0.8, ls="--", label="edge of the training domain")
    ax.set_yscale("log")
    ax.set_xlabel("temporal rotary plane m")
    ax.set_ylabel("largest phase seen / largest phase trained")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


__all__ = ["PhaseReport", "PhaseRow", "format_report", "phase_report", "plot_reports"]
