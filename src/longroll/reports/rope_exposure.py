"""Per-plane exposure table behind ``longroll rope-report`` (and a FLEX Fig. 1 style plot).

For each temporal plane m: frequency, wavelength, training exposure r_m, the FLEX gate g(r_m),
the scaled frequency and the resulting interpolation factor theta_m / theta'_m, so a user can see
which planes a method interpolates for their model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from longroll.constants import FLEX_ALPHA, FLEX_BETA
from longroll.rope.freqs import wan_temporal_freqs
from longroll.rope.scaling import (
    exposure_gate,
    length_scale,
    scale_temporal_freqs,
    training_exposure,
    wavelength,
)


@dataclass(frozen=True)
class PlaneRow:
    """One temporal rotary plane in the report."""

    plane: int  # m
    freq: float  # theta_m
    wavelength: float  # frames per rotation, 2 pi / theta_m
    exposure: float  # r_m, rotations seen in training
    gate: float  # FLEX g(r_m): 1 kept, 0 fully interpolated
    scaled_freq: float  # theta'_m under the chosen method
    factor: float  # theta_m / theta'_m (1 = unchanged, S = fully interpolated)

    @property
    def regime(self) -> str:
        if self.gate >= 1.0:
            return "extrapolate"
        if self.gate <= 0.0:
            return "interpolate"
        return "blend"


def exposure_table(
    head_dim: int,
    train_len: int,
    target_len: int,
    method: str = "flex",
    *,
    alpha: float = FLEX_ALPHA,
    beta: float = FLEX_BETA,
    theta: float = 10000.0,
    riflex_n: int | None = None,
) -> list[PlaneRow]:
    """Rows for every temporal plane of a Wan-split head."""
    freqs = wan_temporal_freqs(head_dim, theta)
    scaled = scale_temporal_freqs(
        freqs, method, train_len=train_len, target_len=target_len, alpha=alpha, beta=beta, riflex_n=riflex_n
    )
    exposure = training_exposure(freqs, train_len)
    gate = exposure_gate(exposure, alpha, beta)
    lam = wavelength(freqs)
    return [
        PlaneRow(m, float(freqs[m]), float(lam[m]), float(exposure[m]), float(gate[m]), float(scaled[m]),
                 float(freqs[m] / scaled[m]))
        for m in range(freqs.numel())
    ]


def format_table(rows: list[PlaneRow], *, head_dim: int, train_len: int, target_len: int, method: str,
                 alpha: float, beta: float) -> str:
    """The table as aligned text with a header that states S and the gate thresholds."""
    s = length_scale(train_len, target_len)
    counts = {r: sum(row.regime == r for row in rows) for r in ("extrapolate", "blend", "interpolate")}
    lines = [
        f"temporal RoPE planes: head_dim {head_dim} -> d_F {2 * len(rows)} ({len(rows)} planes); "
        f"L_train {train_len}, L {target_len}, S = {s:.3f}; method {method}; alpha {alpha:g}, beta {beta:g}",
        f"FLEX gate: {counts['extrapolate']} planes kept (r > beta), {counts['blend']} blended, "
        f"{counts['interpolate']} interpolated (r < alpha)",
        "",
        f"{'m':>3} {'theta_m':>11} {'wavelength':>12} {'r_m':>9} {'g(r_m)':>7} {'theta_m_new':>12} "
        f"{'factor':>8}  regime",
    ]
    for row in rows:
        lines.append(
            f"{row.plane:>3} {row.freq:>11.4e} {row.wavelength:>12.1f} {row.exposure:>9.4f} {row.gate:>7.3f} "
            f"{row.scaled_freq:>12.4e} {row.factor:>8.3f}  {row.regime}"
        )
    return "\n".join(lines)


def plot_table(rows: list[PlaneRow], path: str | Path, *, alpha: float, beta: float, title: str) -> None:
    """FLEX Fig. 1 (right) style: exposure per plane (log scale) with the alpha/beta regions, and the factor."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise RuntimeError("Plotting needs matplotlib: pip install 'longroll[eval]'.") from err

    planes = [r.plane for r in rows]
    exposure = torch.tensor([r.exposure for r in rows])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    colours = ["tab:green" if r.regime == "extrapolate" else "tab:orange" if r.regime == "blend" else "tab:blue"
               for r in rows]
    ax1.bar(planes, exposure.numpy(), color=colours)
    ax1.set_yscale("log")
    ax1.axhspan(float(exposure.min()) * 0.5, alpha, color="tab:blue", alpha=0.08, label=f"interpolate (r < {alpha:g})")
    ax1.axhspan(alpha, beta, color="tab:orange", alpha=0.08, label="blend")
    ax1.axhspan(beta, max(float(exposure.max()) * 2, beta * 2), color="tab:green", alpha=0.08,
                label=f"extrapolate (r > {beta:g})")
    ax1.axhline(1.0, color="k", lw=0.8, ls="--", label="one full rotation")
    ax1.set_xlabel("temporal rotary plane m")
    ax1.set_ylabel("training exposure r_m (rotations)")
    ax1.legend(fontsize=8)
    ax2.plot(planes, [r.factor for r in rows], marker="o")
    ax2.set_xlabel("temporal rotary plane m")
    ax2.set_ylabel("interpolation factor theta_m / theta'_m")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
