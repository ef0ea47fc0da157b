"""Evaluate a long video segment by segment, streaming, and report drift over time.

The video is decoded once, frame by frame; only the current segment (plus the first frame) is
held. Segments are consecutive clips of ``segment_seconds`` as in VBench-Long; a last partial clip
is extended backwards to full length. The result has ``fps``, ``frames``, ``segments`` (one dict
per segment with its time range and every metric), ``metrics`` (mean over segments) and ``drift``
(last segment minus first, per metric), and the long-video measures of ``long_metrics``
(FramePack's drift, consistency at distance, time to failure).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from longroll._validate import check_float
from longroll.eval import metrics as M
from longroll.eval.long_metrics import DistanceConsistency, framepack_drift, time_to_failure

WEIGHT_FREE = ("temporal_flickering", "dynamic_degree", "motion_energy", "motion_smoothness",
               "first_frame_consistency", "previous_frame_consistency", "saturation", "saturation_drift",
               "static_fraction")


def parse_duration(text: str | float) -> float:
    """'2s', '2', 2.0 -> seconds."""
    value = text
    if isinstance(text, str):
        value = text.strip().rstrip("s")
        try:
            value = float(value)
        except ValueError as err:
            raise ValueError(f"Cannot read the segment length {text!r}: write seconds, e.g. '2s'.") from err
    return check_float("segment seconds", value, low=0.0, low_open=True)


def segment_metrics(frames: np.ndarray, first_frame: np.ndarray, fps: float) -> dict[str, float]:
    """Every weight-free metric of one segment (uint8 frames (n, H, W, 3))."""
    mags = M.flow_magnitudes(frames, fps)
    return {
        "temporal_flickering": M.temporal_flickering(frames),
        "dynamic_degree": M.dynamic_degree(frames, fps, mags),
        "motion_energy": float(mags.mean()),
        "motion_smoothness": M.motion_smoothness(frames),
        "first_frame_consistency": float(np.mean([M.ssim(first_frame, f) for f in frames])),
        "previous_frame_consistency": float(np.mean([M.ssim(a, b) for a, b in zip(frames[:-1], frames[1:])])),
        "saturation": M.saturation(frames),
        "static_fraction": M.static_fraction(frames, fps, mags),
    }


MIN_TAIL = 0.5  # a last partial clip of at least this share of a segment is one (extended backwards)


def _segments(frames: Iterable[np.ndarray], seg_len: int, min_tail: int = 1):
    """Yield (start_frame, frames) for consecutive segments; a last partial one of at least ``min_tail`` new
    frames is extended backwards to full length, a shorter one is left out (a "segment" of one new frame
    and fifteen repeated ones would make drift out of nothing)."""
    buf: list[np.ndarray] = []
    prev: list[np.ndarray] = []
    start = 0
    for frame in frames:
        buf.append(frame)
        if len(buf) == seg_len:
            yield start, np.stack(buf)
            start += seg_len
            prev, buf = buf, []
    if buf and prev and len(buf) >= min_tail:
        need = seg_len - len(buf)
        yield start + len(buf) - seg_len, np.stack(prev[len(prev) - need:] + buf)


def evaluate_frames(frames: Iterable[np.ndarray], fps: float, *, segment_seconds: float = 2.0,
                    prompt: str | None = None, min_segments: int = 2, feature_models=(),
                    min_tail: float = MIN_TAIL) -> dict:
    """Evaluate an iterable of uint8 frames (H, W, 3); fewer than ``min_segments`` segments is an error.
    ``feature_models``: ``model_metrics.FeatureConsistency`` objects (VBench's DINO / CLIP consistency).
    ``min_tail``: the share of a segment a last partial clip needs to count (``MIN_TAIL``; 0 counts any:
    the horizon benchmark's protocol, under which its cached runs were measured); the frames of a shorter
    one are reported as ``frames_left_out``."""
    segment_seconds = parse_duration(segment_seconds)
    world_prompt = None
    if prompt is not None:
        from longroll.world.vocab import parse_prompt

        world_prompt = parse_prompt(prompt)
    seg_len = max(3, int(round(segment_seconds * fps)))
    segments, first_frame, total = [], None, 0
    world = None
    if world_prompt is not None:
        from longroll.eval.world_metrics import WorldTrack

        world = WorldTrack(world_prompt)
    seen = [0]
    distance = DistanceConsistency()

    def counted(it):
        for frame in it:
            seen[0] += 1
            distance.add(frame)
            yield frame

    tail = max(1, math.ceil(min_tail * seg_len))
    for start, seg in _segments(counted(frames), seg_len, tail):
        if first_frame is None:
            first_frame = seg[0]
        row = {"index": len(segments), "start_frame": start, "end_frame": start + len(seg),
               "start_s": round(start / fps, 4), "end_s": round((start + len(seg)) / fps, 4)}
        row.update(segment_metrics(seg, first_frame, fps))
        for fm in feature_models:
            row[fm.key] = fm.segment(seg)
        if world is not None:
            world.add(start, seg)  # detections only; summarised once the whole video is seen
        segments.append(row)
        total = max(total, start + len(seg))
    if len(segments) < min_segments:
        fits = seen[0] // min_segments >= 3  # a segment has at least 3 frames
        hint = (f"use a shorter --segment (at most {seen[0] // min_segments / fps:.3g} s for {min_segments})" if fits
                else f"{min_segments} segments need at least {3 * min_segments} frames")
        raise ValueError(f"The video has {seen[0]} frames, fewer than {min_segments} segments of {seg_len} frames "
                         f"({segment_seconds:g} s at {fps:g} fps; a last part counts from {tail} frames); {hint}.")
    world_keys: list[str] = []
    if world is not None:  # hidden objects are confirmed over time, so world keys wait for the end
        from longroll.eval.world_metrics import WORLD_KEYS

        world_keys = list(WORLD_KEYS)
        for row, values in zip(segments, world.segments([(r["start_frame"], r["end_frame"]) for r in segments])):
            row.update(values)
    base_sat = segments[0]["saturation"]
    for row in segments:
        row["saturation_drift"] = row["saturation"] - base_sat
    keys = list(WEIGHT_FREE) + world_keys + [fm.key for fm in feature_models]
    metrics = {k: _nanmean([row[k] for row in segments]) for k in keys}
    drift = {k: _difference(segments[-1][k], segments[0][k]) for k in keys}
    return {"fps": fps, "frames": total, "frames_left_out": seen[0] - total, "segment_seconds": segment_seconds,
            "prompt": prompt,
            "segments": segments, "metrics": metrics, "drift": drift,
            "framepack_drift": framepack_drift(segments, keys, seen[0] / fps),
            "consistency_at_distance": distance.result(), "time_to_failure_s": time_to_failure(segments)}


def _nanmean(values) -> float | None:
    arr = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if len(arr) else None


def _difference(last, first) -> float | None:
    if last is None or first is None or not math.isfinite(last - first):
        return None
    return float(last - first)


def evaluate_video(path: str | Path, *, segment_seconds: float | str = 2.0, prompt: str | None = None,
                   feature_models=()) -> dict:
    """Evaluate a video file (MP4, GIF, ...) or a folder of PNG frames."""
    from longroll.io.video import read_video

    path = Path(path)
    if not path.exists():
        raise ValueError(f"The video {str(path)!r} does not exist.")
    if path.is_file() and path.stat().st_size == 0:
        raise ValueError(f"The video {str(path)!r} is empty.")
    segment_seconds = parse_duration(segment_seconds)
    if prompt is not None:
        from longroll.world.vocab import parse_prompt

        parse_prompt(prompt)  # an unparseable prompt fails before decoding
    import av

    try:
        fps, frames = read_video(path)
        result = evaluate_frames(frames, fps, segment_seconds=segment_seconds, prompt=prompt,
                                 feature_models=feature_models)
    except (av.FFmpegError, OSError) as err:  # files that are not (complete) videos
        from longroll.io.video import read_error

        raise ValueError(f"{str(path)!r} is not a readable video: {read_error(err)}.") from err
    result["video"] = str(path)
    return result


def write_json(result: dict, path: str | Path) -> None:
    """Write the result atomically (a failed run never leaves a partial JSON)."""
    from longroll.io.atomic import atomic_output

    with atomic_output(path) as tmp:
        Path(tmp).write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")


def plot_result(result: dict, path: str | Path) -> None:
    """Each metric over time, one panel per metric."""
    from longroll.eval.plots import plot_over_time
    from longroll.io.atomic import atomic_output

    keys = [k for k in result["metrics"] if result["metrics"][k] is not None]
    with atomic_output(path) as tmp:
        plot_over_time({os.path.basename(result.get("video", "video")): result["segments"]}, keys, tmp)
