"""Weight-free video metrics, each ``frames -> float`` on uint8 frames (N, H, W, 3) in RGB.

- ``temporal_flickering``: exactly VBench's ``(255 - mean |f_t - f_(t+1)|) / 255`` (without its
  RAFT static filter, which needs weights).
- ``dynamic_degree`` / ``motion_energy`` / ``static_fraction``: dense optical flow (OpenCV
  Farneback) per pair of frames sampled every ``round(fps / 8)``; per pair the mean of the top 5%
  flow magnitudes (VBench's statistic); dynamic when at least ``round(4 n / 16)`` pairs exceed
  ``6 min(H, W) / 256`` (VBench's rule, scaled to the resolution); static pairs are below VBench's
  static-filter threshold ``3 min(H, W) / 256``.
- ``motion_smoothness``: a weight-free stand-in for VBench's (which interpolates odd frames with the
  learned AMT-S model): odd frames predicted as the mean of their even neighbours, scored
  ``(255 - MAE) / 255``. It rewards the same thing (motion a frame interpolator can follow) but
  is not numerically comparable to VBench's values.
- ``ssim`` for ``first_frame_consistency`` and ``previous_frame_consistency``.
- ``saturation``: mean HSV saturation in [0, 1] (its drift is the chromatic collapse of PI).
"""

from __future__ import annotations

import numpy as np


def _cv2():
    try:
        import cv2
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise RuntimeError("Evaluation needs OpenCV: pip install 'longroll[eval]'.") from err
    return cv2


def temporal_flickering(frames: np.ndarray) -> float:
    """VBench: ``(255 - mean over pairs of mean |f_t - f_(t+1)|) / 255``; 1 for a frozen video."""
    if len(frames) < 2:
        raise ValueError("temporal_flickering needs at least 2 frames.")
    diffs = [np.abs(a.astype(np.int16) - b.astype(np.int16)).mean() for a, b in zip(frames[:-1], frames[1:])]
    return float((255.0 - np.mean(diffs)) / 255.0)


def flow_magnitudes(frames: np.ndarray, fps: float) -> np.ndarray:
    """Per sampled pair, the mean of the top 5% Farneback flow magnitudes (pixels per sampled step)."""
    cv2 = _cv2()
    step = max(1, int(round(fps / 8)))
    gray = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames[::step]]
    out = []
    for a, b in zip(gray[:-1], gray[1:]):
        flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
        mag = np.sqrt((flow ** 2).sum(axis=-1)).ravel()
        k = max(1, int(len(mag) * 0.05))
        out.append(float(np.partition(mag, -k)[-k:].mean()))
    return np.asarray(out)


def dynamic_threshold(height: int, width: int) -> float:
    """VBench's dynamic-degree threshold scaled to the resolution."""
    return 6.0 * min(height, width) / 256.0


def static_threshold(height: int, width: int) -> float:
    """VBench's static-filter threshold scaled to the resolution."""
    return 3.0 * min(height, width) / 256.0


def dynamic_degree(frames: np.ndarray, fps: float, magnitudes: np.ndarray | None = None) -> float:
    """1.0 if at least ``round(4 n / 16)`` sampled pairs move more than the threshold, else 0.0 (VBench)."""
    mags = flow_magnitudes(frames, fps) if magnitudes is None else magnitudes
    count_num = round(4 * (len(mags) + 1) / 16)
    moving = int((mags > dynamic_threshold(*frames.shape[1:3])).sum())
    return float(moving >= max(1, count_num))


def static_fraction(frames: np.ndarray, fps: float, magnitudes: np.ndarray | None = None) -> float:
    """Share of sampled pairs whose motion is below the static threshold (1 for a frozen video)."""
    mags = flow_magnitudes(frames, fps) if magnitudes is None else magnitudes
    return float((mags < static_threshold(*frames.shape[1:3])).mean())


def motion_smoothness(frames: np.ndarray) -> float:
    """Weight-free stand-in for VBench's: odd frames predicted by averaging their even neighbours."""
    if len(frames) < 3:
        raise ValueError("motion_smoothness needs at least 3 frames.")
    f = frames.astype(np.float32)
    pred = 0.5 * (f[0:-2:2] + f[2::2])
    return float((255.0 - np.abs(pred - f[1:-1:2]).mean()) / 255.0)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity of two RGB frames (on luma, Gaussian window 7, sigma 1.5)."""
    cv2 = _cv2()
    x = cv2.cvtColor(np.ascontiguousarray(a), cv2.COLOR_RGB2GRAY).astype(np.float64)
    y = cv2.cvtColor(np.ascontiguousarray(b), cv2.COLOR_RGB2GRAY).astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(z):
        return cv2.GaussianBlur(z, (7, 7), 1.5)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())


def saturation(frames: np.ndarray) -> float:
    """Mean HSV saturation in [0, 1]."""
    f = frames.astype(np.float32)
    mx, mn = f.max(axis=-1), f.min(axis=-1)
    sat = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-6), 0.0)
    return float(sat.mean())
