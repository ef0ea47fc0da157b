"""Deterministic rendering of a scene to RGB frames (2x2 supersampled edges).

Objects are drawn in prompt order (later objects in front). ``render(scene, start, count)``
renders any window of frames directly, without rendering the frames before it.
"""

from __future__ import annotations

import numpy as np

from longroll.world.scene import Scene
from longroll.world.vocab import COLOURS

SUPERSAMPLE = 2


def shape_mask(shape: str, cx: np.ndarray, cy: np.ndarray, size: float, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Boolean coverage of a shape centred at (cx, cy) (each (n,)) on sample grids xs, ys: (n, S, S)."""
    dx = xs[None] - cx[:, None, None]
    dy = ys[None] - cy[:, None, None]
    half = size / 2
    if shape == "circle":
        return dx * dx + dy * dy <= half * half
    if shape == "square":
        return (np.abs(dx) <= half) & (np.abs(dy) <= half)
    if shape == "triangle":
        # Apex up, base at the bottom: the half-width grows linearly from the apex to the base.
        t = (dy + half) / size  # 0 at the apex, 1 at the base
        return (t >= 0) & (t <= 1) & (np.abs(dx) <= half * t)
    raise ValueError(f"Unknown shape {shape!r}.")


def render(scene: Scene, start: int = 0, count: int = 16) -> np.ndarray:
    """Frames ``[start, start + count)`` of the scene as uint8 (count, H, W, 3)."""
    res = scene.resolution
    fine = res * SUPERSAMPLE
    coords = (np.arange(fine) + 0.5) / SUPERSAMPLE
    xs, ys = np.meshgrid(coords, coords)  # (S, S) pixel-unit sample positions
    frames = np.arange(start, start + count, dtype=np.float64)
    canvas = np.empty((count, fine, fine, 3), dtype=np.float32)
    canvas[:] = np.asarray(scene.background_rgb, dtype=np.float32)
    for sprite in scene.sprites:
        centres = sprite.centre(frames, res)  # (n, 2)
        mask = shape_mask(sprite.spec.shape, centres[:, 0], centres[:, 1], sprite.size, xs, ys)
        canvas[mask] = np.asarray(COLOURS[sprite.spec.colour], dtype=np.float32)
    # Average each SUPERSAMPLE x SUPERSAMPLE block: anti-aliased edges, sub-pixel motion stays visible.
    pooled = canvas.reshape(count, res, SUPERSAMPLE, res, SUPERSAMPLE, 3).mean(axis=(2, 4))
    return np.clip(np.rint(pooled), 0, 255).astype(np.uint8)
