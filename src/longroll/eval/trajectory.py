"""Each object's centre against its exact trajectory: the built-in world's ground truth for prediction.

A scene's sprites move on analytic paths (``world.scene``), so where every object should be at any
frame of an arbitrarily long continuation is known exactly. ``TrajectoryError`` detects the prompted
objects in each predicted frame (``world.detect``) and measures the distance in pixels from each
found object's visible centroid to the centroid its sprite has on the true path (a circle's or a
square's centre; a triangle's area centroid, ``size / 6`` below its box centre). Objects of the same
colour and shape are matched to their sprites by the assignment with the least total error.

Per segment: ``centre_error`` (mean pixels over the objects found), ``lost`` (share of object-frames
where the object was not found) and ``on_track`` (share of object-frames found within the sprite's
radius of its true place). ``time_to_drift_s``: the start of the first segment in which fewer than
half the object-frames are on track (None when none is): the prediction has left the true future.
"""

from __future__ import annotations

from itertools import permutations

import numpy as np

from longroll.world.scene import Scene

ON_TRACK_SHARE = 0.5  # a segment with fewer object-frames on track than this has drifted


def true_centroids(scene: Scene, frames: np.ndarray) -> np.ndarray:
    """(n, objects, 2) visible centroids (x, y) of every sprite at the given frames (occlusion aside)."""
    out = []
    for sprite in scene.sprites:
        c = sprite.centre(frames, scene.resolution)
        if sprite.spec.shape == "triangle":  # apex up: the area centroid lies a sixth of the side below the box centre
            c = c + np.array([0.0, sprite.size / 6])
        out.append(c)
    return np.stack(out, axis=1)


def _match(found: list, truth: np.ndarray, scene: Scene) -> list[float | None]:
    """Per sprite the error of the object matched to it (None: not found), same-spec objects assigned jointly."""
    errors: list[float | None] = [None] * len(scene.sprites)
    groups: dict = {}
    for i, sprite in enumerate(scene.sprites):
        groups.setdefault((sprite.spec.colour, sprite.spec.shape), []).append(i)
    for members in groups.values():
        blobs = [found[i] for i in members if found[i] is not None]
        best, best_cost = None, np.inf
        for chosen in permutations(members, len(blobs)):  # <= 3 objects: at most 6 assignments
            cost = [float(np.hypot(*(np.asarray(b.centroid) - truth[i]))) for b, i in zip(blobs, chosen)]
            if sum(cost) < best_cost:
                best, best_cost = list(zip(chosen, cost)), sum(cost)
        for i, e in best or []:
            errors[i] = e
    return errors


class TrajectoryError:
    """Centre errors of a streamed prediction of ``scene`` whose first frame is the scene's ``start`` frame."""

    def __init__(self, scene: Scene, start: int, *, segment_frames: int, fps: float) -> None:
        self.scene, self.start, self.segment_frames, self.fps = scene, start, segment_frames, fps
        self.radius = np.array([s.size / 2 for s in scene.sprites])
        self.errors: list[list[float | None]] = []  # per frame, per sprite

    def add(self, frames: np.ndarray) -> None:
        from longroll.world.detect import detect_recent

        index = np.arange(self.start + len(self.errors), self.start + len(self.errors) + len(frames))
        truth = true_centroids(self.scene, index)
        for frame, true in zip(frames, truth):
            self.errors.append(_match(list(detect_recent(frame, self.scene.prompt).found), true, self.scene))

    def result(self) -> dict:
        segments, drift = [], None
        for start in range(0, len(self.errors), self.segment_frames):
            block = self.errors[start:start + self.segment_frames]
            found = [e for row in block for e in row if e is not None]
            total = len(block) * len(self.scene.sprites)
            on_track = sum(e is not None and e <= r for row in block for e, r in zip(row, self.radius))
            row = {"start_frame": start, "end_frame": start + len(block), "start_s": round(start / self.fps, 4),
                   "centre_error": float(np.mean(found)) if found else None, "lost": 1 - len(found) / total,
                   "on_track": on_track / total}
            if drift is None and row["on_track"] < ON_TRACK_SHARE:
                drift = row["start_s"]
            segments.append(row)
        found = [e for row in self.errors for e in row if e is not None]
        n = len(self.errors) * len(self.scene.sprites)
        metrics = {"centre_error": float(np.mean(found)) if found else None,
                   "lost": (1 - len(found) / n) if n else None,
                   "on_track": (float(np.mean([s["on_track"] for s in segments])) if segments else None)}
        return {"segments": segments, "metrics": metrics, "time_to_drift_s": drift}


__all__ = ["ON_TRACK_SHARE", "TrajectoryError", "true_centroids"]
