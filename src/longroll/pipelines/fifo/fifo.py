"""FIFO-Diffusion (Kim et al. 2024): diagonal denoising of a first-in-first-out queue, streaming.

Queue of ``L = window * partitions`` latent frames; frame ``i`` (0 = head, the oldest) sits at
level ``i + 1`` of ``T = L`` levels. Each iteration:

1. Latent partitioning: the queue is cut into windows of ``window`` frames, one model pass each
   with per-frame levels; with lookahead the windows sit at stride ``window / 2`` and update only
   their second half (the first half, cleaner, is context), and the first window's context is the
   last ``window / 2`` frames already out (clean).
2. Every frame takes one Euler step (all windows see the queue as it was before the iteration).
3. The head frame is now clean: out it goes (to the decoder, then the file); fresh noise enters
   at the tail.

Initialisation (FIFO's ``prepare_latents``): a first clip of ``window`` frames generated normally
(all frames at one level), forward-diffused into the queue with frame 0 filling the head slots;
the ``L - window`` warm-up frames that come out first are dropped, so the video starts with the
re-denoised first clip. Nothing but the queue (and ``window / 2`` context frames) stays in
memory: the video's length never changes the footprint.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from longroll.pipelines.fifo.config import DiagonalConfig
from longroll.pipelines.fifo.engine import DiagonalStats, WindowRunner, levels, unified_denoise
from longroll.pipelines.rollout import Chunk
from longroll.sampler import renoise


def fifo_windows(queue_len: int, window: int, lookahead: bool) -> list[tuple[int, int, int, int]]:
    """Windows as (start, end, update_start, update_end) queue indices; ``start`` may be negative
    (head context frames already out). Every queue index is updated by exactly one window."""
    if not lookahead:
        return [(s, s + window, s, s + window) for s in range(0, queue_len, window)]
    half = window // 2
    return [(s - half, s + half, s, s + half) for s in range(0, queue_len, half)]


def fifo_rollout(
    den,
    cond,
    *,
    num_frames: int,
    config: DiagonalConfig,
    noise,
    stats: DiagonalStats | None = None,
    emit: int = 4,
    batch_size: int = 1,
    dtype: torch.dtype = torch.float32,
    rope=None,
    attention_scale: float = 1.0,
    bias=None,
) -> Iterator[Chunk]:
    """Yield clean latent chunks of ``emit`` frames (the last may be shorter) of a ``num_frames`` video."""
    stats = stats if stats is not None else DiagonalStats()
    device = next(den.parameters()).device
    f, L = config.window, config.queue_frames
    lv = levels(config.steps, config.shift)
    runner = WindowRunner(den, cond, lv, stats, rope=rope, attention_scale=attention_scale, bias=bias)
    shape = (batch_size, *den.latent_shape)
    slot_levels = list(range(1, L + 1))  # slot i at level i + 1, fixed by position
    windows = fifo_windows(L, f, config.lookahead)

    # 1. First clip, generated normally (one shared level), and the queue diffused from it.
    clip = unified_denoise(runner, noise.sample(0, (batch_size, f, *den.latent_shape), device=device, dtype=dtype),
                           from_level=config.steps)
    eps = noise.sample(f, (batch_size, L, *den.latent_shape), device=device, dtype=dtype)
    src = torch.tensor([max(0, i - (L - f)) for i in range(L)], device=device)
    lvl = lv.to(device=device, dtype=dtype)[1:].view(1, L, 1, 1, 1)
    queue = renoise(clip[:, src], eps, lvl)  # (B, L, C, H, W)
    taken = [0] * L  # queue steps taken so far by the frame in each slot
    head_ctx = clip[:, :1].expand(batch_size, f // 2, *shape[1:]).clone() if config.lookahead else None
    warmup, popped, emitted = L - f, 0, 0
    out: list[torch.Tensor] = []
    next_frame = L + f  # noise index of the next frame entering the tail
    stats.peak_queue_frames = max(stats.peak_queue_frames, L + (f // 2 if config.lookahead else 0))

    while emitted < num_frames:
        # 1-2. One step for every frame, window by window, from the queue as it was.
        padded = queue if head_ctx is None else torch.cat([head_ctx, queue], dim=1)
        offset = 0 if head_ctx is None else f // 2
        v = torch.empty_like(queue)
        for start, end, u0, u1 in windows:
            frames = padded[:, start + offset:end + offset]
            idx = [0 if i < 0 else slot_levels[i] for i in range(start, end)]
            n_ctx = sum(1 for i in range(start, end) if i < 0)
            vel = runner.velocity(frames[:, n_ctx:], idx[n_ctx:], frames[:, :n_ctx], idx[:n_ctx])
            v[:, u0:u1] = vel[:, u0 - max(start, 0):u1 - max(start, 0)]
        queue = runner.step(queue, slot_levels, v)
        taken = [t + 1 for t in taken]
        # 3. The clean head leaves; fresh noise enters at the tail.
        head = queue[:, :1]
        fresh = noise.sample(next_frame, (batch_size, 1, *den.latent_shape), device=device, dtype=dtype)
        next_frame += 1
        queue = torch.cat([queue[:, 1:], fresh], dim=1)
        if head_ctx is not None:
            head_ctx = torch.cat([head_ctx[:, 1:], head], dim=1)
        popped += 1
        head_taken, taken = taken[0], taken[1:] + [0]
        if popped <= warmup:
            continue
        stats.steps_per_frame.append(head_taken)
        out.append(head)
        if len(out) == emit or emitted + len(out) >= num_frames:
            chunk = torch.cat(out, dim=1)
            yield Chunk(emitted, chunk)
            emitted += chunk.shape[1]
            out = []


__all__ = ["fifo_rollout", "fifo_windows"]
