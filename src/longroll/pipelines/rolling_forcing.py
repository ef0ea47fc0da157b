"""Rolling Forcing's rollout: a window of chunks at staggered noise levels, denoised jointly.

As released (TencentARC/RollingForcing ``pipeline/rolling_forcing_inference.py`` and
``wan/modules/causal_model.py``, read at a1477d0; arXiv 2509.25161): with ``K`` denoising levels
(its 1000, 800, 600, 400, 200, warped at shift 5), a window of up to ``K`` chunks moves one chunk per
forward. In the window the newest chunk starts from noise at the highest level and the oldest is at
the lowest; one forward predicts x0 for all of them (per-frame timesteps), each chunk is re-noised
with fresh noise to its next level, and the chunk at the lowest level leaves the window finished.

- Context of that forward: the *anchor* (the first chunk's clean keys) rotated just before the
  most recent clean frames, and those frames, at most ``window - n f - anchor`` of them for a window
  of ``n`` chunks (21 - 15 - 3 = 3 in the released model's full window; more as the window shrinks
  at the end), then the window's own frames, attended bidirectionally. Keys are kept
  un-rotated and placed by ``relative`` positions (anchor first, then the tail with its own
  spacing), which gives exactly the released relative distances.
- Clean cache: after each forward the window's *first* chunk is run again at the context level on
  its current x0 and written into a sliding cache of the last ``window`` clean frames (absolute
  positions; no anchor once it has slid out), which is also all that pass attends to. A chunk is
  rewritten every time it is first in the window, its final x0 last. The anchor is the first chunk's
  keys as they were written when it finished.
- The first ``K - 1`` windows grow from one chunk (no context); the last ones shrink (no new noise).

Legend: B batch, f frames per chunk, K levels, C x S x S a latent frame.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from longroll.cache import CacheConfig
from longroll.devices import on_device
from longroll.noise import iid_noise
from longroll.pipelines.presets import RolloutConfig
from longroll.pipelines.rollout import Chunk
from longroll.sampler import renoise, to_x0


def check_rolling(config: RolloutConfig, chunk_size: int) -> None:
    """The window must hold the anchor and the ``K`` chunks (ValueError with the allowed range)."""
    k = config.schedule.steps
    need = config.cache.sink + k * chunk_size
    if config.cache.window < need:
        raise ValueError(f"window = {config.cache.window} cannot hold the anchor ({config.cache.sink} frames) and "
                         f"the rolling window of {k} chunks of {chunk_size} frames (allowed: window >= {need}).")
    if config.cache.sink < 1:
        raise ValueError(f"The rolling schedule needs an anchor: sink >= 1 (Rolling Forcing: one chunk), e.g. "
                         f"--sink {chunk_size} with a window of at least {chunk_size + k * chunk_size}.")
    c = config.cache
    if c.budget is not None or c.memory or c.rolling or c.sink_ema is not None:
        raise ValueError("The rolling schedule builds its own caches: Participative Compression, memory streams, "
                         "Rolling Sink and an EMA sink do not apply.")


def rolling_rollout(
    denoiser,
    cond,
    *,
    num_frames: int,
    config: RolloutConfig,
    generator: torch.Generator | None = None,
    batch_size: int = 1,
    dtype: torch.dtype = torch.float32,
) -> Iterator[Chunk]:
    """Yield clean latent chunks of a ``num_frames``-frame video as each leaves the rolling window."""
    # 1. Plan: chunks, levels, window sizes, the two caches' configs, RoPE at the planned length.
    d = denoiser.defaults
    f = d.chunk_size
    check_rolling(config, f)
    n_chunks = math.ceil(num_frames / f)
    levels, sigmas = config.schedule.levels(1).tolist(), config.schedule.sigmas(1).tolist()
    k = len(levels) - 1  # chunks in a full window (one per level)
    anchor = config.cache.sink
    clean = denoiser.new_cache(CacheConfig(window=config.cache.window, sink=0, rotated=False),
                               batch_size, dtype=dtype)
    view = CacheConfig(window=config.cache.window, sink=anchor, positions="relative", rotated=False)
    ctx = denoiser.new_cache(view, batch_size, dtype=dtype)  # one window cache, emptied for every forward
    device = next(denoiser.parameters()).device
    rope = config.rope.freqs(denoiser.rope_freqs, train_len=d.train_len, length=n_chunks * f)
    scale = config.rope.attention_scale(train_len=d.train_len, length=n_chunks * f)
    noise = config.noise.sampler(generator)
    shape = (batch_size, f, *denoiser.latent_shape)
    noisy: dict[int, torch.Tensor] = {}  # chunk -> its latents at the level it waits at
    anchor_kv = None

    for w in range(n_chunks + k - 1):
        first, last = max(0, w - k + 1), min(n_chunks - 1, w)
        chunks = list(range(first, last + 1))
        # 2. The newest chunk enters from noise; chunk c is at level index w - c.
        if last == w:
            noisy[w] = noise.sample(w * f, shape, device=device, dtype=dtype)
        x = torch.cat([noisy[c] for c in chunks], dim=1)  # (B, n f, C, S, S)
        t = on_device([levels[w - c] for c in chunks for _ in range(f)], device, torch.float32)
        sig = on_device([sigmas[w - c] for c in chunks for _ in range(f)], device, dtype)
        # 3. One forward over the window against the anchor and the most recent clean frames.
        ctx.reset()
        if first > 0:
            # Clean frames besides the anchor: the window less the anchor and the chunks (more as it shrinks).
            recent = config.cache.window - len(chunks) * f - anchor
            frames = list(range(anchor)) + [j for j in range(max(anchor, first * f - recent), first * f)]
            tail = [j for j in frames if j >= anchor]
            k_tail, v_tail = clean.frames_kv(tail) if tail else (None, None)
            kk = anchor_kv[0] if k_tail is None else torch.cat([anchor_kv[0], k_tail], dim=3)
            vv = anchor_kv[1] if v_tail is None else torch.cat([anchor_kv[1], v_tail], dim=3)
            ctx.load(frames, kk, vv, end=first * f)  # the window starts after them (no gap with recent frames)
        v = denoiser(x, t.expand(batch_size, -1), cond, cache=ctx, start_frame=first * f, rope=rope,
                     attention_scale=scale, bias=config.bias)
        x0 = to_x0(x, v, sig.view(1, -1, 1, 1, 1))
        # 4. Each chunk goes to its next level with fresh noise; the one at the lowest level is done.
        for i, c in enumerate(chunks):
            part = x0[:, i * f:(i + 1) * f]
            if w - c + 1 < k:
                fresh = iid_noise(shape, generator=generator, device=device, dtype=dtype)
                noisy[c] = renoise(part, fresh, sigmas[w - c + 1])
            else:
                del noisy[c]
        # 5. Clean cache: the window's first chunk, as predicted now, at the context level.
        context_t = torch.full((batch_size, f), float(d.context_timestep), device=device)
        denoiser(x0[:, :f], context_t, cond, cache=clean, start_frame=first * f, rope=rope, attention_scale=scale,
                 bias=config.bias)
        if first == 0 and w == k - 1:  # the first chunk is final: its keys are the anchor from now on
            anchor_kv = clean.frames_kv(list(range(anchor)))
        # 6. The chunk at the lowest level has left the window finished.
        if w - first == k - 1:
            yield Chunk(first * f, x0[:, :f])


__all__ = ["check_rolling", "rolling_rollout"]
