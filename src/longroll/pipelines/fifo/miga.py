"""MIGA (Feng et al. 2026): zigzag diagonal denoising, unified-level stage 2, self-reflection and
long-range frame guidance, streaming with memory that does not grow with the video.

Stage 1 (training-inference alignment, zigzag): the queue holds chunks of ``k`` frames, chunk
``j`` (0 = head) one level cleaner than chunk ``j + 1``, so the noise level changes every ``k``
frames and a window spans few levels. Each sweep:

1. Windows of ``window - guidance`` queue frames update their first ``window - guidance - k``
   frames (the rest is lookahead context); the window grid shifts by ``sweep % stride`` so seams
   move (MIGA's dynamic sliding window). Every frame is updated exactly once per sweep.
2. Long-range frame guidance: ``guidance`` lower-noise frames, one from each of the ``guidance``
   chunks before the window (MIGA's code; ``guidance_from="head"``: the queue's head chunks), precede
   every window as context with their own levels; they are never written.
3. The head chunk, now at level ``T2``, leaves for stage 2; a fresh noise chunk enters the tail.
4. Self-reflection: the chunk ``judge`` chunks from the tail is scored against the
   ``guide_chunks`` chunks before it; on a drop larger than ``delta``, ``candidates`` fresh noise
   chunks are denoised to its level with those chunks as context, and the best replaces it if it
   scores higher.

Stage 2 (unified level): popped frames gather into blocks of ``window - k``; each block is
denoised from ``T2`` to clean with every frame at one shared level (the training condition),
after ``k`` clean frames of the previous block as context, then ``redenoise`` times re-noised to
``T2`` with fresh noise and denoised again (MIGA's add & re-denoise). Blocks leave as they are
done: unlike MIGA's code, which keeps every output latent for a final pass, nothing outlives the
queue, the block in hand and its context.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from longroll.pipelines.fifo.config import DiagonalConfig
from longroll.pipelines.fifo.engine import DiagonalStats, WindowRunner, levels, unified_denoise
from longroll.pipelines.fifo.reflection import Reflector, consistency_score
from longroll.pipelines.rollout import Chunk
from longroll.sampler import renoise


def miga_windows(queue_len: int, span: int, stride: int, offset: int) -> list[tuple[int, int, int, int]]:
    """(start, end, update_start, update_end) over the queue: update regions partition it (the first
    is ``[0, offset)`` when the grid is shifted), each window reaching ``span`` frames from its start."""
    bounds = [0] + list(range(offset if offset else stride, queue_len, stride)) + [queue_len]
    bounds = sorted(set(b for b in bounds if 0 <= b <= queue_len))
    return [(u0, min(queue_len, u0 + span), u0, u1) for u0, u1 in zip(bounds[:-1], bounds[1:])]


def guidance_indices(window_start: int, m: int, k: int, source: str = "window") -> list[int]:
    """Queue indices (oldest first) of the ``m`` guidance frames of a window starting at ``window_start``.

    ``"window"`` places them as MIGA's code does (``generate_by_miga``, Wan and VideoCrafter2 alike):
    for a window at ``s >= m k``, one frame from each of the ``m`` chunks just before it,
    ``s - (k // 2 + j k)`` (3 for Wan's k = 7, 2 for VideoCrafter2's k = 4; at least 1 here, so that
    with k = 1 the window's own first frame is never its guidance); for ``m <= s < m k``, frames
    spaced ``s // m`` back from ``s``; before ``m`` none (the window then reaches ``m`` frames further
    toward the tail instead, ``miga_rollout``). ``"head"`` takes the queue's head chunks (one frame each,
    closer spaced while the window is near the head), as the paper's text reads: the lowest-noise
    frames, but up to the whole queue away from the window.
    """
    if m == 0 or window_start == 0:
        return []
    if source == "head":
        step = k if window_start >= m * k else max(1, window_start // m)
        return [j * step for j in range(m) if j * step < window_start]
    if window_start < m:
        return []
    if window_start >= m * k:
        return [window_start - (max(1, k // 2) + j * k) for j in reversed(range(m))]
    step = window_start // m
    return [window_start - (j + 1) * step for j in reversed(range(m))]


class _Queue:
    """Stage-1 queue: latents, one level per chunk, steps taken per frame."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.x: torch.Tensor | None = None  # (B, n, C, H, W)
        self.chunk_levels: list[int] = []
        self.taken: list[int] = []

    @property
    def frames(self) -> int:
        return 0 if self.x is None else self.x.shape[1]

    def frame_levels(self) -> list[int]:
        return [lvl for lvl in self.chunk_levels for _ in range(self.k)]

    def append(self, chunk: torch.Tensor, level: int, taken: int = 0) -> None:
        self.x = chunk if self.x is None else torch.cat([self.x, chunk], dim=1)
        self.chunk_levels.append(level)
        self.taken += [taken] * self.k

    def pop(self) -> tuple[torch.Tensor, list[int]]:
        head, self.x = self.x[:, :self.k], self.x[:, self.k:]
        self.chunk_levels.pop(0)
        taken, self.taken = self.taken[:self.k], self.taken[self.k:]
        return head, taken

    def chunk(self, j: int) -> torch.Tensor:
        return self.x[:, j * self.k:(j + 1) * self.k]


def miga_rollout(
    den,
    cond,
    *,
    num_frames: int,
    config: DiagonalConfig,
    noise,
    stats: DiagonalStats | None = None,
    batch_size: int = 1,
    dtype: torch.dtype = torch.float32,
    rope=None,
    attention_scale: float = 1.0,
    bias=None,
) -> Iterator[Chunk]:
    """Yield clean latent chunks of a ``num_frames``-frame video (the last may run past it)."""
    stats = stats if stats is not None else DiagonalStats()
    device = next(den.parameters()).device
    cfg = config
    k, m, T, T2, C = cfg.k, cfg.guidance, cfg.steps, cfg.stage2_steps, cfg.chunks
    span = cfg.window - m  # queue frames per window
    stride = max(1, span - k)  # frames updated per window; the last k are lookahead
    lv = levels(T, cfg.shift)
    runner = WindowRunner(den, cond, lv, stats, rope=rope, attention_scale=attention_scale, bias=bias)
    lat = den.latent_shape
    counter = [0]

    def fresh(n: int) -> torch.Tensor:
        out = noise.sample(counter[0], (batch_size, n, *lat), device=device, dtype=dtype)
        counter[0] += n
        return out

    # 1. First clip, generated normally; its chunks seed the queue head, re-noised almost to noise
    #    (MIGA: 3, 2, 1 steps done), so they pass on its layout and the video starts from it.
    q = _Queue(k)
    clip = unified_denoise(runner, fresh(cfg.window), from_level=T)
    seeds = max(1, min(cfg.window // k, C - 1))
    for j in range(seeds):
        level = T - (seeds - 1 - j)  # head cleanest, tail at T: one level per chunk
        q.append(renoise(clip[:, j * k:(j + 1) * k], fresh(k), lv[level].item()), level, taken=0)
    reflector = Reflector(cfg.delta)
    stage2: list[torch.Tensor] = []  # frames at level T2 waiting for stage 2
    stage2_taken: list[int] = []
    context: torch.Tensor | None = None  # last k clean frames (stage-2 context)
    block = max(1, cfg.window - k)
    emitted, sweep = 0, 0

    while emitted < num_frames:
        # 1-2. One step for every queued frame, window by window, guidance frames as context.
        levels_now = q.frame_levels()
        v = torch.empty_like(q.x)
        for start, end, u0, u1 in miga_windows(q.frames, span, stride, sweep % stride):
            g = guidance_indices(start, m, k, cfg.guidance_from)
            if m and not g and cfg.guidance_from == "window":
                end = min(q.frames, start + span + m)  # MIGA's code: no guidance yet, m more frames instead
            vel = runner.velocity(q.x[:, start:end], levels_now[start:end], q.x[:, g], [levels_now[i] for i in g])
            v[:, u0:u1] = vel[:, u0 - start:u1 - start]
        q.x = runner.step(q.x, levels_now, v)
        q.chunk_levels = [lvl - 1 for lvl in q.chunk_levels]
        q.taken = [t + 1 for t in q.taken]
        sweep += 1
        # 3. The head chunk at level T2 leaves for stage 2; fresh noise enters the tail.
        if q.chunk_levels and q.chunk_levels[0] == T2:
            head, taken = q.pop()
            stage2.append(head)
            stage2_taken += taken
        q.append(fresh(k), T)
        stats.peak_queue_frames = max(stats.peak_queue_frames, q.frames + sum(c.shape[1] for c in stage2) + k)
        # 4. Self-reflection on the chunk that just reached the judgement index.
        j = len(q.chunk_levels) - 1 - cfg.judge
        if cfg.reflection and j >= cfg.guide_chunks:
            _reflect(runner, q, j, cfg, reflector, stats, fresh)
        # 5. Stage 2: full blocks at one shared level, after clean context, re-denoised; then out.
        pending = sum(c.shape[1] for c in stage2)
        if pending >= block:
            frames = torch.cat(stage2, dim=1)
            out, rest = frames[:, :block], frames[:, block:]
            stage2 = [rest] if rest.shape[1] else []
            steps, stage2_taken = stage2_taken[:out.shape[1]], stage2_taken[out.shape[1]:]
            if T2:
                out = unified_denoise(runner, out, from_level=T2, context=context)
                for _ in range(cfg.redenoise):
                    out = renoise(out, fresh(out.shape[1]), lv[T2].item())
                    out = unified_denoise(runner, out, from_level=T2, context=context)
            stats.steps_per_frame += [s + T2 for s in steps]
            context = out[:, -k:]
            yield Chunk(emitted, out)
            emitted += out.shape[1]


def _reflect(runner: WindowRunner, q: _Queue, j: int, cfg: DiagonalConfig, reflector: Reflector,
             stats: DiagonalStats, fresh) -> None:
    """Judge chunk ``j``; on a drop, try ``cfg.candidates`` fresh chunks and keep the best if better."""
    guide = torch.cat([q.chunk(i) for i in range(j - cfg.guide_chunks, j)], dim=1)
    guide_levels = [q.chunk_levels[i] for i in range(j - cfg.guide_chunks, j) for _ in range(cfg.k)]
    current = float(consistency_score(q.chunk(j), guide).mean())
    stats.judgements += 1
    stats.scores.append(current)
    if not reflector.judge(current):
        return
    stats.triggers += 1
    target, top = q.chunk_levels[j], len(runner.lv) - 1
    best, best_score = None, current
    for _ in range(cfg.candidates):
        # As many steps as the judged chunk has taken, the chunks before it as context at their levels.
        x = unified_denoise(runner, fresh(cfg.k), from_level=top, to_level=target, context=guide,
                            context_idx=guide_levels)
        score = float(consistency_score(x, guide).mean())
        if score > best_score:
            best, best_score = x, score
    if best is not None:
        q.x[:, j * cfg.k:(j + 1) * cfg.k] = best
        stats.adopted += 1


__all__ = ["guidance_indices", "miga_rollout", "miga_windows"]
