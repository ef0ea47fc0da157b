"""Per-segment evaluation while a video is being made (the studio's live curves).

``LiveEvaluator.add(frames)`` takes each chunk of frames as it is made and returns the segments it
completed, with the same weight-free metrics as ``longroll eval`` (``evaluate.segment_metrics``)
and, for prompts of the built-in world, its world metrics. Two differences from the end-of-video
evaluation, both because a live view cannot wait for the end: a hidden object counts as present
when it was seen whole within the 2 s before (not also after), and a prompt switch starts the world
metrics over with the new prompt (drifts are then measured from the first segment under it). Only
the current segment, the first frame and 2 s of detections are held: memory stays flat.
"""

from __future__ import annotations

import numpy as np

from longroll.eval.evaluate import parse_duration, segment_metrics

HIDDEN_CONTEXT_SECONDS = 2.0  # how far back a hidden object may be confirmed (as the world's tracker)


class LiveEvaluator:
    """Segments of a stream of frames, measured as soon as each is complete."""

    def __init__(self, fps: float, *, segment_seconds: float | str = 2.0, prompt: str | None = None) -> None:
        self.fps = float(fps)
        self.segment_seconds = parse_duration(segment_seconds)
        self.seg_len = max(3, round(self.segment_seconds * self.fps))
        self.buffer: list[np.ndarray] = []
        self.start = 0  # first frame of the buffered segment
        self.index = 0  # segments completed
        self.first_frame: np.ndarray | None = None
        self.base_saturation: float | None = None
        self.world = None  # (WorldTrack, first summary) for a world prompt
        self.set_prompt(prompt)

    def set_prompt(self, prompt: str | None) -> None:
        """Measure world metrics against ``prompt`` from the next segment on (None or a prompt outside the
        built-in world: weight-free metrics only)."""
        from longroll.eval.world_metrics import WorldTrack
        from longroll.world.vocab import PromptError, parse_prompt

        try:
            self.world = [WorldTrack(parse_prompt(prompt)), None] if prompt is not None else None
        except PromptError:
            self.world = None

    def add(self, frames: np.ndarray) -> list[dict]:
        """Take uint8 frames (n, H, W, 3); return the rows of the segments they completed."""
        rows = []
        for frame in frames:
            self.buffer.append(frame)
            if len(self.buffer) == self.seg_len:
                rows.append(self._measure(np.stack(self.buffer)))
                self.start += self.seg_len
                self.buffer = []
        return rows

    def _measure(self, seg: np.ndarray) -> dict:
        if self.first_frame is None:
            self.first_frame = seg[0]
        start, end = self.start, self.start + len(seg)
        row = {"index": self.index, "start_frame": start, "end_frame": end,
               "start_s": round(start / self.fps, 4), "end_s": round(end / self.fps, 4)}
        row.update(segment_metrics(seg, self.first_frame, self.fps))
        if self.base_saturation is None:
            self.base_saturation = row["saturation"]
        row["saturation_drift"] = row["saturation"] - self.base_saturation
        if self.world is not None:
            track, first = self.world
            track.add(start, seg)
            context = round(HIDDEN_CONTEXT_SECONDS * self.fps)
            values, summary = track.live_segment(start, end, first, context)
            self.world[1] = first or summary
            row.update(values)
        self.index += 1
        return row


__all__ = ["LiveEvaluator"]
