"""Prediction against a true continuation, per segment: PSNR, SSIM and (from local weights) LPIPS.

FAR evaluates long-context video models this way (its Table 4: context frames in, the prediction
compared with the true future). ``PredictionScore`` takes the predicted frames as they stream, asks
``truth(start, count)`` for the true frames at the same places, and keeps only per-frame numbers, so
an hour of prediction is scored in constant memory. Frames past the end of the truth (a real video
ends) are not compared; ``frames_compared`` says how many were.

- ``psnr``: ``10 log10(255^2 / MSE)`` over all pixels and channels, capped at ``PSNR_CAP`` dB
  (identical frames would be infinite).
- ``ssim``: ``eval.metrics.ssim`` (luma, Gaussian window 7, sigma 1.5).
- ``lpips``: an ``eval.lpips.LPIPS`` where its weights were given (lower is better).

Segments are consecutive clips of ``segment_frames`` (a last partial one kept, marked by its frame
count); a segment's value is the mean over its frames.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from longroll.eval.metrics import ssim

PSNR_CAP = 100.0  # dB given to identical frames (MSE 0)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 frames (H, W, 3), capped at ``PSNR_CAP``."""
    if a.shape != b.shape:
        raise ValueError(f"Frames of shapes {a.shape} and {b.shape} cannot be compared; give frames of one size.")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return PSNR_CAP if mse == 0 else min(PSNR_CAP, 10.0 * np.log10(255.0 ** 2 / mse))


class PredictionScore:
    """Per-frame PSNR / SSIM / LPIPS of a streamed prediction against ``truth`` (see the module docstring)."""

    def __init__(self, truth: Callable[[int, int], np.ndarray], *, segment_frames: int, fps: float,
                 lpips=None) -> None:
        if segment_frames < 1:
            raise ValueError(f"segment_frames = {segment_frames} must be at least 1.")
        self.truth, self.segment_frames, self.fps, self.lpips = truth, segment_frames, fps, lpips
        self.rows: dict[str, list[float]] = {"psnr": [], "ssim": [], **({"lpips": []} if lpips is not None else {})}
        self.made = 0  # predicted frames seen

    def add(self, frames: np.ndarray) -> None:
        """Score the next predicted frames (uint8 (n, H, W, 3))."""
        true = self.truth(self.made, len(frames))  # (m <= n, H, W, 3): fewer where the truth ends
        self.made += len(frames)
        n = len(true)
        if n == 0:
            return
        for p, t in zip(frames[:n], true):
            self.rows["psnr"].append(psnr(p, t))
            self.rows["ssim"].append(ssim(p, t))
        if self.lpips is not None:
            self.rows["lpips"].extend(self.lpips.distances(frames[:n], true))

    def result(self) -> dict:
        """{"segments": [...], "metrics": means over frames, "frames_compared", "frames_predicted"}."""
        n = len(self.rows["psnr"])
        segments = []
        for start in range(0, n, self.segment_frames):
            end = min(n, start + self.segment_frames)
            row = {"start_frame": start, "end_frame": end, "start_s": round(start / self.fps, 4),
                   "end_s": round(end / self.fps, 4)}
            row.update({k: float(np.mean(v[start:end])) for k, v in self.rows.items()})
            segments.append(row)
        metrics = {k: (float(np.mean(v)) if v else None) for k, v in self.rows.items()}
        return {"segments": segments, "metrics": metrics, "frames_compared": n, "frames_predicted": self.made}


__all__ = ["PSNR_CAP", "PredictionScore", "psnr"]
