"""Plots of metrics over time: one panel per metric, one line per video or preset."""

from __future__ import annotations

import math
from pathlib import Path


def plot_over_time(runs: dict[str, list[dict]], keys: list[str], path: str | Path) -> None:
    """``runs`` maps a label to its segment rows (each with start_s, end_s and the metric keys)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover
        raise RuntimeError("Plotting needs matplotlib: pip install 'longroll[eval]'.") from err
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        for i, (label, segs) in enumerate(runs.items()):
            xs = [(s["start_s"] + s["end_s"]) / 2 for s in segs]
            ys = [s.get(key) for s in segs]
            ys = [float("nan") if y is None else y for y in ys]
            # Past ten series the default colour cycle repeats: vary the line style with each cycle.
            ax.plot(xs, ys, marker=".", label=label, color=f"C{i % 10}", ls=("-", "--", ":")[i // 10 % 3])
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("time (s)", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    if len(runs) > 1:
        axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
