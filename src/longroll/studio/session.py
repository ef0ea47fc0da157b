"""What one studio job does on its worker: run the plan, and tell the page everything as it happens.

Frames go to the page as binary messages (``frames_message``: a 12-byte little-endian header,
first frame index (uint32), frame count, height, width (uint16 each), then the RGB bytes; frames
at the model's own size, the page enlarges them); then a progress message (frames done, video
seconds, real-time factor), the rows of the evaluation segments just completed
(``longroll.eval.live``), and the switch timeline whenever a live switch took effect. The file is
written by the same ``run`` as ``longroll generate`` (fragmented MP4 under a temporary name, a
sidecar that replays it, live switches included).
"""

from __future__ import annotations

import struct
import time

import numpy as np

from longroll.studio.jobs import Stopped, StudioJob

HEADER = struct.Struct("<IHHHH")  # first frame, frames, height, width, reserved


def frames_message(start: int, frames: np.ndarray) -> bytes:
    """uint8 frames (n, H, W, 3) starting at video frame ``start`` -> one binary message."""
    n, h, w, _ = frames.shape
    return HEADER.pack(start, n, h, w, 0) + np.ascontiguousarray(frames, dtype=np.uint8).tobytes()


def parse_frames_message(data: bytes) -> tuple[int, np.ndarray]:
    """The inverse of ``frames_message`` (for tests and clients in Python)."""
    start, n, h, w, _ = HEADER.unpack_from(data)
    return start, np.frombuffer(data, dtype=np.uint8, offset=HEADER.size).reshape(n, h, w, 3)


def execute(job: StudioJob, model) -> None:
    """Run ``job`` to its end (complete, stopped or failed), streaming to ``job.send``."""
    from longroll.eval.live import LiveEvaluator
    from longroll.pipelines.run import run

    plan = job.plan
    fps_latent = model.fps / model.frames_per_latent
    evaluator = LiveEvaluator(model.fps, prompt=plan.request.prompt)
    taken = 0
    t0 = time.time()
    job.send({"type": "started", "job": job.id, "fps": model.fps, "total_frames": plan.total_frames,
              "seconds": plan.request.seconds, "video": plan.out.name})

    def on_chunk(event) -> None:
        nonlocal taken
        job.send(frames_message(event.start, event.frames))
        if len(job.live.taken) > taken:  # a live switch took effect in this chunk
            taken = len(job.live.taken)
            evaluator.set_prompt(job.live.taken[-1].prompt)
            job.send({"type": "timeline", "switches": job.live.schedule(fps_latent)})
        rows = evaluator.add(event.frames)
        if rows:
            job.send({"type": "segments", "rows": [_finite(row) for row in rows]})
        elapsed = max(time.time() - t0, 1e-9)
        working = max(elapsed - job.waited, 1e-9)  # the real-time factor of making, not of waiting
        job.send({"type": "progress", "done": event.done, "total": event.total, "elapsed": round(elapsed, 3),
                  "video_seconds": round(event.done / model.fps, 3),
                  "realtime": round(event.done / model.fps / working, 3)})
        job.checkpoint(event.done)  # pause or keep pace here (between chunks); a stop ends the run, keeping files

    from longroll.pipelines.rollouts import SCHEDULES

    try:  # a schedule without live switches runs without them (the page offers none for it)
        result = run(plan, model, on_chunk=on_chunk, live=job.live if SCHEDULES[plan.schedule].live else None)
    except Stopped:
        job.state = "stopped"
        job.send({"type": "stopped", "job": job.id, "video": plan.out.name, "complete": False})
        return
    job.state = "done"
    job.send({"type": "done", "job": job.id, "video": plan.out.name, "complete": result.complete,
              "frames": result.frames, "wall_seconds": round(result.wall_seconds, 3),
              "frames_sha256": result.frames_sha256})


def _finite(row: dict) -> dict:
    """A metrics row as plain JSON: numbers as floats, NaN and infinities as None."""
    out = {}
    for key, value in row.items():
        if isinstance(value, (float, np.floating)):
            value = float(value) if np.isfinite(value) else None
        elif isinstance(value, np.integer):
            value = int(value)
        out[key] = value
    return out


__all__ = ["HEADER", "execute", "frames_message", "parse_frames_message"]
