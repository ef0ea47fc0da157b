"""Evaluation per shot of a scripted (storyboard) video, from its prompt timeline.

Each shot (the frames between two scripted switch times) is evaluated on its own: the weight-free
metrics and their drift inside the shot (segments of at most half the shot), and, for a prompt of
the built-in world, the presence and colour of that shot's objects. Each hard cut is checked: the
frame where the picture changes most (largest mean absolute difference between consecutive
frames, searched within two chunks of the scripted time) must lie within one chunk of it.

Legend: n frames, H x W frame size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from longroll.eval.evaluate import evaluate_frames


def shot_ranges(schedule: Sequence, fps: float, frames: int) -> list[tuple[int, int]]:
    """(start, end) video frames of each entry of a prompt timeline (entries with ``at_seconds``)."""
    starts = [int(round(entry.at_seconds * fps)) for entry in schedule] + [frames]
    return [(a, b) for a, b in zip(starts[:-1], starts[1:])]


def cut_frame(frames: np.ndarray, scripted: int, search: int) -> int:
    """The frame (index of the later of two) with the largest change within ``search`` frames of ``scripted``."""
    lo, hi = max(1, scripted - search), min(len(frames) - 1, scripted + search)
    diffs = [np.abs(frames[i].astype(np.int16) - frames[i - 1].astype(np.int16)).mean() for i in range(lo, hi + 1)]
    return lo + int(np.argmax(diffs))


def evaluate_shots(frames: np.ndarray, fps: float, schedule: Sequence, chunk_frames: int, *,
                   segment_seconds: float = 2.0) -> list[dict]:
    """One dict per shot: its time span, prompt, metrics and drift, world metrics and, for a cut, its check.
    ``schedule``: the prompt timeline (entries with ``at_seconds``, ``prompt``, ``cut``: a sidecar's
    ``prompt_schedule``); ``chunk_frames``: video frames per chunk (a cut's tolerance)."""
    from longroll.world.vocab import parse_prompt

    chunk = int(chunk_frames)
    rows = []
    for i, ((start, end), entry) in enumerate(zip(shot_ranges(schedule, fps, len(frames)), schedule)):
        shot = frames[start:end]
        try:
            parse_prompt(entry.prompt)
            world = entry.prompt
        except ValueError:
            world = None  # not a prompt of the built-in world: weight-free metrics only
        seg = min(segment_seconds, max(3 / fps, (end - start) / fps / 2))
        result = evaluate_frames(iter(shot), fps, segment_seconds=seg, prompt=world, min_segments=1, min_tail=0.0)
        row = {"shot": i + 1, "prompt": entry.prompt, "cut": bool(entry.cut), "start_frame": start,
               "end_frame": end, "start_s": round(start / fps, 4), "end_s": round(end / fps, 4),
               "metrics": result["metrics"], "drift": result["drift"]}
        if row["cut"]:
            found = cut_frame(frames, start, 2 * chunk)
            row["cut_check"] = {"scripted_frame": start, "found_frame": found, "tolerance_frames": chunk,
                                "ok": abs(found - start) <= chunk}
        rows.append(row)
    return rows


__all__ = ["cut_frame", "evaluate_shots", "shot_ranges"]
