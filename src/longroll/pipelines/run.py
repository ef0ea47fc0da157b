"""``run(plan, model, *, on_chunk=None) -> GenerationResult``: execute a resolved plan, streaming.

Frames are decoded chunk by chunk and handed to the writer (a file, written under a temporary
name and renamed when complete; a run cut short keeps a playable prefix) and to ``on_chunk``
(a progress bar, a web page, a test), never held for the whole video unless no output file is
asked for. The sidecar beside the file (``pipelines.sidecar.Sidecar``) records everything needed to make the
same raw frames again (``frames_sha256`` is their hash before the lossy codec).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from longroll import interrupts
from longroll.models.base import VideoModel
from longroll.pipelines.plan import GenerationPlan
from longroll.pipelines.rollouts import SCHEDULES, method_of
from longroll.pipelines.sidecar import Sidecar, sidecar_path

log = logging.getLogger(__name__)

WRITER_DEPTH = 2  # chunks the writer thread may be behind the rollout (each holds one chunk's latents)


@dataclass(frozen=True)
class ChunkEvent:
    """What ``on_chunk`` receives after each decoded chunk."""

    frames: np.ndarray  # uint8 (n, H, W, 3), the chunk's video frames (not upscaled)
    start: int  # index of its first frame in the video
    total: int  # frames the video will have
    elapsed: float  # seconds since the run started

    @property
    def done(self) -> int:
        return self.start + len(self.frames)


@dataclass(frozen=True)
class GenerationResult:
    """What a run made."""

    path: Path | None  # the file written (None when frames were returned)
    frames_sha256: str  # SHA-256 of the raw uint8 frames, before any codec
    frames: int  # video frames made
    seconds: float  # video seconds made
    complete: bool  # False when the run was cut short
    wall_seconds: float  # time the run took
    stats: dict | None = None  # schedule counters (FIFO / MIGA)
    video: np.ndarray | None = None  # all frames (N, H, W, 3), when no file was asked for


def latent_chunks(plan: GenerationPlan, model: VideoModel, *, stats=None, live=None) -> Iterator:
    """The schedule's denoised chunks (``Chunk``: start frame, latents ``(1, f, C, H, W)``) of the plan.
    ``live``: switches asked for while it runs (``longroll.pipelines.live.LiveSwitches``)."""
    from longroll.pipelines.guidance import with_guidance

    # The guided denoiser (its forward on one thread on the CPU: the same bits on every backend), the
    # seeded generator, the schedule's own rollout.
    den = with_guidance(model.denoiser, method_of(plan.config).cfg)
    generator = torch.Generator(device="cpu").manual_seed(plan.noise_seed)
    init = plan.init
    return SCHEDULES[plan.schedule].run(den, plan.conds, plan.switch_frames, plan.num_latent, plan.config,
                                        generator, stats, cuts=plan.prompts.cuts[1:],
                                        **({"init": init.latents} if init is not None else {}),
                                        **({"live": live} if live is not None else {}))


class _Frames:
    """Decodes a plan's chunks in order to exactly its new frames: a causal decoder first takes the
    init's latents, so the new frames continue its state; the last chunk is cut to the planned length."""

    def __init__(self, plan: GenerationPlan, model: VideoModel) -> None:
        self.decode, self.left = model.stream_decoder(), plan.new_frames
        if plan.init is not None and model.new_decoder is not None:
            with torch.no_grad():
                self.decode.prime(plan.init.latents)

    def __call__(self, latents: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            frames = self.decode(latents)[: max(0, self.left)]
        self.left -= len(frames)
        return frames


def stream(plan: GenerationPlan, model: VideoModel, *, stats=None, live=None) -> Iterator[np.ndarray]:
    """Decoded uint8 frames (n, H, W, 3) of the plan's video, chunk by chunk, exactly its length, on
    this thread. ``live``: switches asked for while it runs (``longroll.pipelines.live.LiveSwitches``)."""
    # 1. The schedule's chunks.
    chunks = latent_chunks(plan, model, stats=stats, live=live)
    # 2. The frames continued from, when the output starts with them.
    if plan.init is not None and plan.init.in_output:
        yield plan.init.frames
    # 3. Decode each chunk as it comes; stop at the planned number of video frames.
    frames_of = _Frames(plan, model)
    with torch.no_grad():  # the rollout runs in this frame's grad mode (each next() resumes it here)
        for chunk in chunks:
            interrupts.check()  # a Ctrl-C swallowed by an import ends the run here, one chunk later
            frames = frames_of(chunk.latents)
            if len(frames):
                yield frames
            if frames_of.left <= 0:
                return


def run(plan: GenerationPlan, model: VideoModel, *, on_chunk: Callable[[ChunkEvent], None] | None = None,
        progress: bool = False, live=None, writer_thread: bool = True) -> GenerationResult:
    """Make the plan's video: to its output file with a sidecar, or into ``result.video``.

    ``on_chunk`` is called after every chunk (on the writer's thread when there is one); ``progress``
    adds a tqdm bar (one such callback); ``live`` takes prompt switches while it runs
    (``longroll.pipelines.live.LiveSwitches``). ``writer_thread``: decode, write and hash each chunk
    on a thread of their own, at most ``WRITER_DEPTH`` chunks behind the rollout (False: on this
    thread, the rollout waiting for each)."""
    from longroll.progress import progress_bar

    spec = SCHEDULES[plan.schedule]
    if live is not None and not spec.live:
        raise ValueError(f"The {plan.schedule} schedule takes no live prompt switches.")
    stats = spec.stats() if spec.stats is not None else None
    bar = progress_bar(plan.total_frames, desc="generate", unit="frame", enabled=progress)
    digest, parts, made, t0 = hashlib.sha256(), [], 0, time.time()
    prefixes: dict[int, str] = {}  # frames hashed so far -> their hash (what a partial sidecar records)

    def consume(frames: np.ndarray) -> None:
        nonlocal made
        for i, frame in enumerate(frames):  # frame by frame: the same hash as the whole, and every prefix's
            digest.update(np.ascontiguousarray(frame).tobytes())
            if plan.out is not None:
                prefixes[made + i + 1] = digest.hexdigest()
        event = ChunkEvent(frames, made, plan.total_frames, time.time() - t0)
        made += len(frames)
        bar.update(len(frames))
        if on_chunk is not None:
            on_chunk(event)

    def result(path: Path | None, complete: bool, video=None) -> GenerationResult:
        return GenerationResult(path, digest.hexdigest(), made, made / model.fps, complete, time.time() - t0,
                                None if stats is None else stats.to_dict(), video)

    try:
        if plan.out is None:
            for frames in stream(plan, model, stats=stats, live=live):
                parts.append(frames)
                consume(frames)
            return result(None, True, np.concatenate(parts))
        return _write(plan, model, stats, consume, result, live, hashed=lambda: made, prefixes=prefixes,
                      threaded=writer_thread)
    finally:
        bar.close()


def _write(plan, model, stats, consume, result, live=None, *, hashed, prefixes, threaded=True) -> GenerationResult:
    """Stream to the file; an interruption still leaves a finalised, playable prefix and its sidecar."""
    from longroll.io.video import VideoWriter

    writer = VideoWriter(plan.request.out, model.fps, upscale=plan.upscale)  # as asked: 'frames/' is a folder
    complete, t0 = False, time.time()
    # The settings go to disk first, beside the partial file, and are brought up to date as frames become
    # durable (at most twice a second): a run killed outright (nothing below runs) still leaves its partial
    # video and a sidecar that says it is incomplete and how many frames of it decode, with their hash.
    early = sidecar_path(writer.tmp)
    recorded, stamped = -1, 0.0
    last = None  # the frames last handed to the writer

    def record_partial() -> None:
        nonlocal recorded, stamped
        durable = writer.durable_frames
        if durable == recorded or (recorded >= 0 and time.time() - stamped < 0.5):
            return
        Sidecar.of(plan, model, frames=durable, frames_sha256=prefixes.get(durable, ""), complete=False,
                   wall_seconds=time.time() - t0, live=live, partial=writer.tmp.name).write(early)
        for n in [n for n in prefixes if n < durable]:
            del prefixes[n]  # only hashes of prefixes not yet recorded are kept
        recorded, stamped = durable, time.time()

    def write(frames: np.ndarray) -> None:
        nonlocal last
        last = frames
        writer.write(frames)
        consume(frames)  # hashes, then calls on_chunk (which may end the run: a studio's stop)
        record_partial()

    record_partial()
    try:
        with writer:
            if threaded:
                _write_behind(plan, model, stats, live, write)
            else:
                for frames in stream(plan, model, stats=stats, live=live):
                    write(frames)
            complete = True
    finally:
        # The writer may hold frames not yet hashed if a signal landed between the two.
        extra = writer.frames_written - hashed()
        if last is not None and 0 < extra <= len(last):
            consume(last[:extra])  # the sidecar describes exactly the frames in the file
        if writer.frames_written:
            done = result(plan.out, complete)
            Sidecar.of(plan, model, frames=done.frames, frames_sha256=done.frames_sha256, complete=complete,
                       wall_seconds=time.time() - t0, stats=done.stats, live=live).write(sidecar_path(plan.out))
        early.unlink(missing_ok=True)
    log.info("wrote %d frames to %s in %.1f s", writer.frames_written, plan.out, time.time() - t0)
    return result(plan.out, complete)


def _write_behind(plan, model, stats, live, write: Callable[[np.ndarray], None]) -> None:
    """The rollout on this thread; decoding, writing and hashing on the writer's (``pipelines.behind``).

    Steps: 1. the frames continued from, when the output starts with them, written first; 2. the
    writer thread decodes each chunk (on a CUDA device on a stream of its own, after the chunk's
    event: the rollout's next kernels are not held up by the decoder's), then writes, hashes and
    reports it; 3. this thread runs the schedule and queues each chunk's latents, waiting only when
    the writer is ``WRITER_DEPTH`` chunks behind; an error on either side ends both."""
    from longroll.pipelines.behind import Behind

    # 1. The init's frames.
    if plan.init is not None and plan.init.in_output:
        write(plan.init.frames)
    frames_of = _Frames(plan, model)
    device = next(iter(model.denoiser.parameters()), torch.empty(0)).device
    side = torch.cuda.Stream(device) if device.type == "cuda" else None

    # 2. The writer.
    def writer_thread(items) -> None:
        for latents, ready in items:
            if side is not None:
                side.wait_event(ready)
                latents.record_stream(side)  # the rollout's allocator must not reuse it before the decode ran
                with torch.cuda.stream(side):
                    frames = frames_of(latents)
            else:
                frames = frames_of(latents)
            if len(frames):
                write(frames)

    # 3. The rollout (under no_grad: the rollout generator runs in this frame's grad mode).
    with Behind(writer_thread, depth=WRITER_DEPTH, name="longroll-writer") as behind, torch.no_grad():
        for chunk in latent_chunks(plan, model, stats=stats, live=live):
            interrupts.check()  # a Ctrl-C swallowed by an import ends the run here, one chunk later
            ready = None
            if side is not None:
                ready = torch.cuda.Event()
                ready.record()
            behind.put((chunk.latents.clone(), ready))  # a schedule may reuse its buffers (FIFO's queue)


__all__ = ["WRITER_DEPTH", "ChunkEvent", "GenerationResult", "latent_chunks", "run", "sidecar_path", "stream"]
