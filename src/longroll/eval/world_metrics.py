"""World-aware metrics for videos of the built-in world, from the world's detector.

Detection runs on every frame as the video streams (``WorldTrack.add``); at the end, hidden
matches are confirmed over time (``longroll.world.tracks``) and each segment is summarised:

- ``object_presence``: share of prompted objects found per frame (each with its own shape and a
  world size; a hidden one only when it is seen whole within 2 s), averaged.
- ``colour_fidelity``: share of found objects whose core colour lies within ``COLOUR_MATCH`` of
  their palette colour.
- ``identity_colour_drift``: per object, RGB distance of its mean colour to its mean colour in
  the first segment, averaged over objects (0 = the same colours as at the start).
- ``identity_size_drift``: per object, relative change of its area against the first segment.
- ``background_drift``: RGB distance of the estimated background to the first segment's.
- ``touching``: share of frames in which two prompted objects touch or merge; ``separation``:
  that share over the world's own rate for the prompt (1 = as the world renders it; higher =
  objects stick together; None for one-object prompts).
- ``object_motion``: mean centroid travel per frame of the objects seen whole (the world's
  sprites move 0.4-1.4 px/frame).

Frames larger than the world (an upscaled video) are reduced to the world's resolution by
averaging blocks, so any video written by ``longroll generate`` can be measured.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np

from longroll.world.detect import Detection, detect_recent
from longroll.world.scene import RESOLUTION
from longroll.world.tracks import ground_truth_touching, object_motion, track
from longroll.world.vocab import Prompt

WORLD_KEYS = ("object_presence", "colour_fidelity", "identity_colour_drift", "identity_size_drift",
              "background_drift", "touching", "separation", "object_motion")


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


class WorldTrack:
    """Per-frame detections of one video, added as it streams, summarised per segment at the end."""

    def __init__(self, prompt: Prompt) -> None:
        self.prompt = prompt
        self.detections: dict[int, Detection] = {}  # frame index -> detection (a few numbers each)
        self._truth = None  # (live view) a future of the world's own touching share for the prompt

    def add(self, start: int, frames: np.ndarray) -> None:
        """Detect frames ``start .. start + len(frames)`` (already seen frames are skipped)."""
        small = to_world_resolution(frames)
        for i, frame in enumerate(small):
            if start + i not in self.detections:
                self.detections[start + i] = detect_recent(frame, self.prompt)

    def segments(self, ranges: list[tuple[int, int]]) -> list[dict[str, float | None]]:
        """World metrics of each (start, end) frame range, drifts against the first range."""
        order = sorted(self.detections)
        tracked = dict(zip(order, track([self.detections[i] for i in order])))
        truth = ground_truth_touching(self.prompt) if len(self.prompt.objects) > 1 else None
        rows, first = [], None
        for start, end in ranges:
            frames = range(start, end)
            summary = _summary([tracked[i] for i in frames], [self.detections[i] for i in frames])
            first = first or summary
            rows.append(_keys(summary, first, truth))
        return rows


    def live_segment(self, start: int, end: int, first: dict | None, context: int) -> tuple[dict, dict]:
        """Metrics of frames ``[start, end)`` as a live view sees them: hidden objects confirmed only
        from the detections of ``[start - context, end)`` (the end-of-video summary also looks ahead).
        ``first``: the first segment's summary (None: this is the first). Returns (metrics, summary);
        detections before ``start - context`` are forgotten, so memory stays flat."""
        for i in [i for i in self.detections if i < start - context]:
            del self.detections[i]
        order = sorted(i for i in self.detections if i < end)
        tracked = dict(zip(order, track([self.detections[i] for i in order])))
        frames = range(start, end)
        summary = _summary([tracked[i] for i in frames], [self.detections[i] for i in frames])
        return _keys(summary, first or summary, self._truth_now()), summary

    def _truth_now(self) -> float | None:
        """The world's own touching rate for the prompt once it is known (it takes seconds to render:
        a live view asks for it in the background and shows no separation until then)."""
        if len(self.prompt.objects) < 2:
            return None
        if self._truth is None:
            self._truth = _truth_pool().submit(ground_truth_touching, self.prompt)
        return self._truth.result() if self._truth.done() else None


@lru_cache(maxsize=1)
def _truth_pool() -> ThreadPoolExecutor:
    """One background thread for the live views' ground-truth renders (made on first use)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="world-truth")


def _summary(tracked, dets) -> dict:
    k = len(tracked[0])
    colours, sizes = [], []
    for i in range(k):
        found = [row[i] for row in tracked if row[i] is not None]
        colours.append(np.mean([b.mean_rgb for b in found], axis=0) if found else None)
        sizes.append(float(np.mean([b.area for b in found])) if found else None)
    blobs = [b for row in tracked for b in row if b is not None]
    motion = [m for m in object_motion(tracked) if m is not None]
    return {
        "presence": float(np.mean([sum(b is not None for b in row) / k for row in tracked])),
        "fidelity": float(np.mean([b.faithful_colour for b in blobs])) if blobs else None,
        "colours": colours, "sizes": sizes,
        "background": np.mean([d.background_rgb for d in dets], axis=0),
        "touching": float(np.mean([d.touching for d in dets])),
        "motion": float(np.mean(motion)) if motion else None,
    }


def _keys(seg: dict, first: dict, truth: float | None) -> dict[str, float | None]:
    colour, size = [], []
    for c, c0, s, s0 in zip(seg["colours"], first["colours"], seg["sizes"], first["sizes"]):
        if c is not None and c0 is not None:
            colour.append(float(np.linalg.norm(c - c0)))
        if s is not None and s0:
            size.append(s / s0 - 1.0)
    return {
        "object_presence": seg["presence"],
        "colour_fidelity": seg["fidelity"],  # None: no object found
        "identity_colour_drift": float(np.mean(colour)) if colour else None,  # None: object never found
        "identity_size_drift": float(np.mean(size)) if size else None,
        "background_drift": float(np.linalg.norm(seg["background"] - first["background"])),
        "touching": seg["touching"],
        "separation": seg["touching"] / truth if truth else None,
        "object_motion": seg["motion"],
    }
