"""World-aware metrics for videos of the built-in world, from the world's detector.

- ``object_presence``: share of prompted objects found per frame, averaged.
- ``identity_colour_drift``: per object, RGB distance of its mean colour to its mean colour in
  the first segment, averaged over objects (0 = the same colours as at the start).
- ``identity_size_drift``: per object, relative change of its area against the first segment,
  averaged over objects (negative = shrinking).
- ``background_drift``: RGB distance of the estimated background to the first segment's.

Frames larger than the world (an upscaled video) are reduced to the world's resolution by
averaging blocks, so any video written by ``longroll generate`` can be measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from longroll.world.detect import detect
from longroll.world.scene import RESOLUTION
from longroll.world.vocab import Prompt


def to_world_resolution(frames: np.ndarray, resolution: int = RESOLUTION) -> np.ndarray:
    """Block-average (N, H, W, 3) frames down to (N, R, R, 3); H and W must be multiples of R."""
    n, h, w, _ = frames.shape
    if h == resolution and w == resolution:
        return frames
    if h != w or h % resolution:
        raise ValueError(f"World metrics need square frames whose size is a multiple of {resolution} "
                         f"(a video of the built-in world), got {w}x{h}.")
    k = h // resolution
    small = frames.reshape(n, resolution, k, resolution, k, 3).astype(np.float32).mean(axis=(2, 4))
    return np.clip(np.rint(small), 0, 255).astype(np.uint8)


@dataclass
class SegmentWorld:
    """Per-segment detector summaries."""

    presence: float  # mean share of prompted objects found
    colours: list[np.ndarray | None]  # per object, mean RGB where found (None if never found)
    sizes: list[float | None]  # per object, mean area where found
    background: np.ndarray  # mean estimated background RGB


def summarise(frames: np.ndarray, prompt: Prompt) -> SegmentWorld:
    """Run the detector on every frame of a segment (frames at any multiple of the world size)."""
    small = to_world_resolution(frames)
    dets = [detect(f, prompt) for f in small]
    colours, sizes = [], []
    for i in range(len(prompt.objects)):
        found = [d.found[i] for d in dets if d.found[i] is not None]
        colours.append(np.mean([b.mean_rgb for b in found], axis=0) if found else None)
        sizes.append(float(np.mean([b.area for b in found])) if found else None)
    return SegmentWorld(float(np.mean([d.presence for d in dets])), colours, sizes,
                        np.mean([d.background_rgb for d in dets], axis=0))


def world_metrics(segment: SegmentWorld, first: SegmentWorld) -> dict[str, float | None]:
    """The public world-aware keys for one segment, against the first segment."""
    colour, size = [], []
    for c, c0, s, s0 in zip(segment.colours, first.colours, segment.sizes, first.sizes):
        if c is not None and c0 is not None:
            colour.append(float(np.linalg.norm(c - c0)))
        if s is not None and s0:
            size.append(s / s0 - 1.0)
    return {
        "object_presence": segment.presence,
        "identity_colour_drift": float(np.mean(colour)) if colour else None,  # None: object never found
        "identity_size_drift": float(np.mean(size)) if size else None,
        "background_drift": float(np.linalg.norm(segment.background - first.background)),
    }
