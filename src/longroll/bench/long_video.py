"""The horizon report's long-video sections: the field's long-video measures per preset with
intervals, and each preset's metric over time with a band.

For every length, each preset's FramePack drift (``|M(first 15%) - M(last 15%)|``, arXiv
2504.12626) of object presence and of motion, its consistency at distance (1, 10 and 50 frames
apart), the share of its videos that fail and its time to failure (``longroll.eval.long_metrics``).
A video that never fails counts as failing at its end (a censored time), so the mean time to failure
is comparable between presets on the same videos. Means carry 95% bootstrap intervals over prompts
and seeds and, against `none`, paired differences marked better / worse / not separable
(``longroll.bench.stats``), as the preset tables do.

Over time: small multiples, one panel per preset, its mean per segment over prompts and seeds with a
95% bootstrap band, `none`'s mean drawn in grey in every panel for reference.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

# (column label, getter of one run's value, higher is better)
LONG_COLUMNS: tuple[tuple[str, Callable[[dict], float | None], bool], ...] = (
    ("FramePack drift, presence", lambda r: r["framepack_drift"].get("object_presence"), False),
    ("FramePack drift, motion", lambda r: r["framepack_drift"].get("motion_energy"), False),
    ("Consistency at 1 frame", lambda r: r["consistency_at_distance"].get("1"), True),
    ("at 10 frames", lambda r: r["consistency_at_distance"].get("10"), True),
    ("at 50 frames", lambda r: r["consistency_at_distance"].get("50"), True),
    ("Failed (share)", lambda r: float(r["time_to_failure_s"] is not None), False),
    ("Time to failure (s, censored)", lambda r: (r["time_to_failure_s"] if r["time_to_failure_s"] is not None
                                                 else r["frames"] / r["fps"]), True),
)


def _units(results: list[dict], variant: str, multiple: float, get) -> dict:
    from longroll.bench.stats import cell_units

    return cell_units(results, variant, multiple, get)


def long_video_sections(results: list[dict], presets: list[str], multiples) -> list[str]:
    """Markdown: per length, a table of the long-video measures with intervals and paired differences."""
    from longroll.bench.stats import compare_cell

    lines: list[str] = []
    for m in multiples:
        if not any(r["multiple"] == m and r["variant"] == "none" for r in results) or m <= 1:
            continue
        lines += [f"## Long-video measures at {m:g}x (FramePack drift, consistency at distance, time to failure; "
                  "95% intervals over prompts and seeds, paired against `none`)", "",
                  "| preset | " + " | ".join(c[0] for c in LONG_COLUMNS) + " |",
                  "|---|" + "---|" * len(LONG_COLUMNS)]
        for p in presets:
            cells = [compare_cell(_units(results, p, m, get), None if p == "none" else _units(results, "none", m, get),
                                  higher, interval=False)[0] for _label, get, higher in LONG_COLUMNS]
            lines.append(f"| {p} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def segment_bands(results: list[dict], variant: str, multiple: float, metric: str):
    """(times, means, lows, highs) of ``metric`` per segment over the cell's prompts and seeds (two-way
    interval), or None when the cell is empty."""
    from longroll.bench.stats import bootstrap_mean

    runs = [r for r in results if r["variant"] == variant and r["multiple"] == multiple]
    if not runs:
        return None
    n = min(len(r["segments"]) for r in runs)
    times, means, lows, highs = [], [], [], []
    for i in range(n):
        seg = runs[0]["segments"][i]
        ci = bootstrap_mean({(r["prompt"], r["seed"]): r["segments"][i].get(metric) for r in runs})
        times.append((seg["start_s"] + seg["end_s"]) / 2)
        means.append(np.nan if ci is None else ci[0])
        lows.append(np.nan if ci is None else ci[1])
        highs.append(np.nan if ci is None else ci[2])
    return times, means, lows, highs


def plot_bands(results: list[dict], presets: list[str], multiple: float, metric: str, label: str,
               path: str | Path, baseline: str = "none") -> Path | None:
    """Small multiples of ``metric`` over time at ``multiple``, one panel per variant of ``presets`` with
    its band and the ``baseline`` variant's mean in grey; returns the path, or None when nothing was run
    at that length."""
    import math

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover
        raise RuntimeError("Plotting needs matplotlib: pip install 'longroll[eval]'.") from err
    cells = {p: segment_bands(results, p, multiple, metric) for p in presets}
    cells = {p: c for p, c in cells.items() if c is not None}
    if not cells:
        return None
    cols = min(4, len(cells))
    rows = math.ceil(len(cells) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.2 * rows), squeeze=False, sharex=True, sharey=True)
    base = cells.get(baseline)
    for ax, (p, (t, mean, lo, hi)) in zip(axes.flat, cells.items()):
        if base is not None and p != baseline:
            ax.plot(base[0], base[1], color="0.6", lw=1, label=baseline)
        ax.fill_between(t, lo, hi, color="C0", alpha=0.25, lw=0)
        ax.plot(t, mean, color="C0", lw=1.2, label=p)
        ax.set_title(p, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(cells):]:
        ax.axis("off")
    fig.supxlabel("time (s)", fontsize=8)
    fig.supylabel(label, fontsize=8)
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)
    return path


__all__ = ["LONG_COLUMNS", "long_video_sections", "plot_bands", "segment_bands"]
