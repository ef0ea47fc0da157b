"""The loss curves of a training run: one CSV per stage, the chain of warm-started runs, one PNG.

A denoiser trained in stages (each warm-started from the last, ``init_from``) has one curve end to
end; the PNG marks where each stage began.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import torch

from longroll.io.atomic import atomic_output

log = logging.getLogger(__name__)


def write_losses(path: Path, losses: list[float]) -> None:
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["step", "loss"])
        writer.writerows((i + 1, f"{v:.6f}") for i, v in enumerate(losses))


def loss_chain(out: Path, limit: int = 16) -> list[tuple[Path, list[float]]]:
    """The denoiser losses of a run and of every run it warm-started from (``init_from``), oldest first:
    [(run folder, losses per step)]. A run's losses come from its ``dit_losses.csv``, else from its
    checkpoint's history; a folder without ``config.json`` (a copied checkpoint) ends the chain."""
    chain, run, seen = [], Path(out), set()
    while run is not None and len(chain) < limit and run.resolve() not in seen:
        seen.add(run.resolve())
        csv_path, ckpt_path = run / "dit_losses.csv", run / "dit_ckpt.pt"
        if csv_path.is_file():
            losses = np.loadtxt(csv_path, delimiter=",", skiprows=1, ndmin=2)[:, 1].tolist()
        elif ckpt_path.is_file():
            losses = [h[1] for h in torch.load(ckpt_path, map_location="cpu", weights_only=False)["history"]]
        else:
            break
        chain.append((run, losses))
        config = run / "config.json"
        source = json.loads(config.read_text()).get("init_from") if config.is_file() else None
        run = None if not source else (Path(source) if Path(source).is_dir() else Path(source).parent)
    return chain[::-1]


def plot_losses(out: Path, path: Path) -> None:
    """Loss curves (from the CSVs) as one PNG: the autoencoder's where this run trained one, and the
    denoiser's over every warm-started stage, end to end with the stage boundaries marked; skipped
    without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover
        log.warning("matplotlib is not installed; no loss-curve PNG.")
        return
    chain = loss_chain(out)
    curves = []
    if (out / "ae_losses.csv").exists():
        data = np.loadtxt(out / "ae_losses.csv", delimiter=",", skiprows=1, ndmin=2)
        curves.append(("autoencoder", data[:, 0], data[:, 1], []))
    if chain:
        offsets = np.cumsum([0] + [len(losses) for _, losses in chain])
        steps = np.arange(1, offsets[-1] + 1)
        loss = np.concatenate([np.asarray(losses, dtype=float) for _, losses in chain])
        curves.append(("denoiser", steps, loss, list(offsets[1:-1])))
    if not curves:
        return
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves) + 1, 3.5), squeeze=False)
    for ax, (title, steps, loss, bounds) in zip(axes[0], curves):
        ax.plot(steps, loss, lw=0.4, alpha=0.4, label="step")
        k = max(1, len(loss) // 50)
        if len(loss) >= k:
            smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
            ax.plot(steps[k - 1:], smooth, lw=1.5, label=f"mean of {k}")
        for i, b in enumerate(bounds):
            ax.axvline(b, color="k", lw=0.8, ls="--", label="warm start (new stage)" if i == 0 else None)
        ax.set_yscale("log")
        ax.set_title(f"{title} loss" + (f" ({len(bounds) + 1} stages)" if bounds else ""))
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


__all__ = ["loss_chain", "plot_losses", "write_losses"]
