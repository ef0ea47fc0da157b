"""Long-video measures the field uses, weight-free, on any video (added to ``longroll eval``).

- **FramePack drift** (arXiv 2504.12626, its anti-drifting evaluation): ``|M(first 15%) - M(last
  15%)|`` per metric ``M``, where ``M(part)`` is the mean over the evaluation segments whose middle
  lies in that part of the video (the first or last segment when none does).
- **Consistency at distance** (VBench issue 206's proposal): the similarity of frames ``dt`` apart,
  for ``dt`` in 1, 2, 5, 10, 20, 50 frames, averaged over the video. The feature is weight-free: the
  frame reduced to 8 x 8 by area averaging; similarity ``1 - mean |a - b| / 255`` (1 = identical).
  Streaming: only the last 50 features are held.
- **Time to failure**: the start of the first segment whose object presence falls below half of
  the first segment's, or whose static fraction exceeds 0.5 (None when neither happens).
"""

from __future__ import annotations

from collections import deque

import numpy as np

DISTANCES = (1, 2, 5, 10, 20, 50)  # frames apart
EDGE_SHARE = 0.15  # FramePack: first and last 15% of the video
FEATURE_SIZE = 8  # the consistency feature: 8 x 8 x 3
FAILURE_PRESENCE = 0.5  # presence below this share of the first segment's is a failure
FAILURE_STATIC = 0.5  # static fraction above this is a failure


def _feature(frame: np.ndarray) -> np.ndarray:
    h, w, _ = frame.shape
    ys = np.linspace(0, h, FEATURE_SIZE + 1).astype(int)
    xs = np.linspace(0, w, FEATURE_SIZE + 1).astype(int)
    f = frame.astype(np.float32)
    return np.array([[f[ys[i]:ys[i + 1], xs[j]:xs[j + 1]].mean(axis=(0, 1)) for j in range(FEATURE_SIZE)]
                     for i in range(FEATURE_SIZE)])


class DistanceConsistency:
    """Similarity of frames ``dt`` apart, accumulated as frames stream in."""

    def __init__(self, distances=DISTANCES) -> None:
        self.distances = tuple(distances)
        self.recent: deque = deque(maxlen=max(self.distances))
        self.sums = dict.fromkeys(self.distances, 0.0)
        self.counts = dict.fromkeys(self.distances, 0)

    def add(self, frame: np.ndarray) -> None:
        feat = _feature(frame)
        for dt in self.distances:
            if len(self.recent) >= dt:
                self.sums[dt] += 1.0 - float(np.abs(feat - self.recent[-dt]).mean()) / 255.0
                self.counts[dt] += 1
        self.recent.append(feat)

    def result(self) -> dict[str, float | None]:
        return {str(dt): (self.sums[dt] / self.counts[dt] if self.counts[dt] else None) for dt in self.distances}


def framepack_drift(segments: list[dict], keys, duration: float) -> dict[str, float | None]:
    """``|M(first 15%) - M(last 15%)|`` per key over the evaluation segments."""
    def mid(s):
        return (s["start_s"] + s["end_s"]) / 2

    first = [s for s in segments if mid(s) < EDGE_SHARE * duration] or segments[:1]
    last = [s for s in segments if mid(s) > (1 - EDGE_SHARE) * duration] or segments[-1:]
    out = {}
    for k in keys:
        a = [s[k] for s in first if s.get(k) is not None and np.isfinite(s[k])]
        b = [s[k] for s in last if s.get(k) is not None and np.isfinite(s[k])]
        out[k] = float(abs(np.mean(a) - np.mean(b))) if a and b else None
    return out


def time_to_failure(segments: list[dict]) -> float | None:
    """Start (s) of the first failed segment (presence halved, or mostly static), None if none failed."""
    base = segments[0].get("object_presence") if segments else None
    for s in segments:
        p = s.get("object_presence")
        if base is not None and p is not None and p < FAILURE_PRESENCE * base:
            return s["start_s"]
        if s.get("static_fraction") is not None and s["static_fraction"] > FAILURE_STATIC:
            return s["start_s"]
    return None


__all__ = ["DISTANCES", "DistanceConsistency", "framepack_drift", "time_to_failure"]
