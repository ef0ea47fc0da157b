"""Chunk-wise autoregressive rollout (Self Forcing / LongLive / CausVid, FAR with chunk 1) + FLEX.

One function, ``rollout``, receives its pieces (denoiser, RoPE scaling, noise sampler, cache
config, bias, schedule) and yields clean latent chunks as they are made; memory is fixed by the
window, never by the length. The denoiser is a ``longroll.models.base.Denoiser``: its
``defaults`` give the chunk, the horizon, the clean-context timestep and whether it was trained
for whole jumps (then the re-noising sampler asks for them).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from longroll.noise import iid_noise
from longroll.pipelines.presets import RolloutConfig
from longroll.sampler import euler_step, renoise, to_x0


@dataclass(frozen=True)
class Chunk:
    """A finished chunk of clean latents."""

    start: int  # first latent frame
    latents: torch.Tensor  # (B, f, C, S, S)


@dataclass(frozen=True)
class Switch:
    """From latent frame ``frame`` on, condition on ``cond`` (LongLive's interactive prompts).

    ``cut``: a hard scene cut (Infinity-RoPE: KV Flush, then RoPE Cut) instead of a smooth switch.
    """

    frame: int
    cond: object
    cut: bool = False


class _LatentWindow:
    """Clean latents of the frames in the attention window (for re-caching after a prompt switch)."""

    def __init__(self, sink: int, ring: int) -> None:
        self.sink, self.ring = sink, ring
        self.frames: dict[int, torch.Tensor] = {}  # frame -> (B, C, S, S)

    def add(self, start: int, latents: torch.Tensor) -> None:
        for i in range(latents.shape[1]):
            self.frames[start + i] = latents[:, i]
        end = start + latents.shape[1]
        for frame in [f for f in self.frames if f >= self.sink and f < end - self.ring]:
            del self.frames[frame]

    def keep(self, frames: list[int]) -> None:
        """Forget every frame not in ``frames`` (after a KV Flush)."""
        for frame in [f for f in self.frames if f not in frames]:
            del self.frames[frame]

    def runs(self, max_len: int, skip: int = 0) -> list[tuple[int, torch.Tensor]]:
        """The stored frames from frame ``skip`` on as contiguous runs of at most ``max_len`` frames, in time order."""
        out, frames = [], sorted(f for f in self.frames if f >= skip)
        i = 0
        while i < len(frames):
            j = i
            while j + 1 < len(frames) and frames[j + 1] == frames[j] + 1 and j + 1 - i < max_len:
                j += 1
            out.append((frames[i], torch.stack([self.frames[f] for f in frames[i:j + 1]], dim=1)))
            i = j + 1
        return out


class _StepLevels:
    """The model's levels and the sampler's sigmas of the first chunk and of every later one."""

    def __init__(self, schedule) -> None:
        self.first = (schedule.levels(0).tolist(), schedule.sigmas(0).tolist())
        self.later = (schedule.levels(1).tolist(), schedule.sigmas(1).tolist())

    def __call__(self, first: bool) -> tuple[list[float], list[float]]:
        return self.first if first else self.later


def planned_chunks(num_frames: int, chunk_size: int) -> int:
    return math.ceil(num_frames / chunk_size)


def rollout(
    denoiser,
    cond,
    *,
    num_frames: int,
    config: RolloutConfig,
    generator: torch.Generator | None = None,
    switches: Sequence[Switch] = (),
    batch_size: int = 1,
    dtype: torch.dtype = torch.float32,
    init: torch.Tensor | None = None,
    live=None,
) -> Iterator[Chunk]:
    """Yield clean latent chunks of a ``num_frames``-frame video (the last chunk may run past it).

    ``live``: a ``longroll.pipelines.live.LiveSwitches``; switches asked for while the video is made
    are taken at the start of the next chunk, as ``switches`` at that frame would be.

    ``init (1 or B, n, C, S, S)``: clean latents of frames to continue from; they become frames
    ``0..n-1`` of the cache (as clean context, the sink among them) and generation starts at frame n.
    """
    # 1. Plan: chunk grid, the static RoPE scale from the planned length, the window and the noise.
    d = denoiser.defaults
    f = d.chunk_size
    n0 = 0 if init is None else init.shape[1]
    planned = n0 + planned_chunks(num_frames, f) * f
    device = next(denoiser.parameters()).device
    base_rope = denoiser.rope_freqs
    cache = denoiser.new_cache(config.cache, batch_size, device=device, dtype=dtype)
    window = _LatentWindow(config.cache.sink, config.cache.ring)
    noise = config.noise.sampler(generator)
    steps_of = _StepLevels(config.schedule)
    shape = (batch_size, f, *denoiser.latent_shape)
    pending = sorted(switches, key=lambda s: s.frame)

    def rope_for(length: int):
        return (config.rope.freqs(base_rope, train_len=d.train_len, length=length),
                config.rope.attention_scale(train_len=d.train_len, length=length))

    rope, attn_scale = rope_for(planned)
    context_t = torch.full((batch_size, f), float(d.context_timestep), device=device)
    # A step-dependent bias (Recency Forcing's) is built per step at its noise level; clean passes take level 0.
    clean_bias = config.bias.at(0.0)

    # A renoise sampler asks a model trained for jumps (shortcut conditioning) for a whole jump to 0.
    jumps = config.schedule.sampler == "renoise" and d.jumps

    # 1b. Continuation: the given frames enter the cache as clean context, chunk by chunk.
    if init is not None:
        init = init.to(device=device, dtype=dtype).expand(batch_size, *init.shape[1:])
        for s in range(0, n0, f):
            x = init[:, s:s + f]
            t = torch.full(x.shape[:2], float(d.context_timestep), device=device)
            denoiser(x, t, cond, cache=cache, start_frame=s, rope=rope, attention_scale=attn_scale, bias=clean_bias)
            window.add(s, x)
            window.keep(cache.held_frames())

    for start in range(n0, planned, f):
        # 2. Prompt switch: from this chunk on use the new prompt. Smooth: re-cache the window under it
        #    (LongLive) or KV Flush (Infinity-RoPE); a cut: KV Flush, then RoPE Cut.
        if live is not None:
            pending = sorted([*pending, *live.due(start)], key=lambda s: s.frame)
        while pending and pending[0].frame <= start:
            switch = pending.pop(0)
            cond = switch.cond
            if start == 0:
                continue
            scene = config.scene
            if switch.cut or scene.switch == "flush":
                cache.flush(scene.flush_keep)
                window.keep(cache.held_frames())
                if switch.cut:
                    cache.cut(scene.cut_gap)
                continue
            # "recache": the window, sink included, in chunk-sized runs; "longlive": LongLive's own, the
            # recent frames in one forward (its last min(12, t) frames: the ones its window still reads),
            # the sink keeping the keys it was written with.
            longlive = scene.switch == "longlive"
            runs = window.runs(config.cache.ring, skip=config.cache.sink) if longlive else window.runs(f)
            for run_start, latents in runs:
                t = torch.full(latents.shape[:2], float(d.context_timestep), device=device)
                denoiser(latents, t, cond, cache=cache, start_frame=run_start, rope=rope,
                         attention_scale=attn_scale, bias=clean_bias)
        # 3. Dynamic RoPE: the scale follows the length generated so far (keys are cached un-rotated).
        if config.rope.dynamic:
            rope, attn_scale = rope_for(start + f)
        # 4. Initial noise of the chunk (i.i.d., antiphase or FreeNoise).
        x = noise.sample(start, shape, device=device, dtype=dtype)
        # 5. Few-step denoising against the window (each step rewrites this chunk's keys in the cache):
        #    the model is asked at ``level``; re-noising and x0 use ``sigma`` (the same unless the family's
        #    scheduler rounds to its training grid).
        levels, sigmas = steps_of(start == n0)
        for i, (level, sigma, sigma_next) in enumerate(zip(levels, sigmas[:-1], sigmas[1:])):
            t = torch.full((batch_size, f), level, device=device)
            v = denoiser(x, t, cond, cache=cache, start_frame=start, rope=rope, attention_scale=attn_scale,
                         bias=config.bias.at(sigma), **({"jump": t} if jumps else {}))
            if config.schedule.sampler == "euler":
                x = euler_step(x, v, sigma, sigma_next)
            else:
                x0 = to_x0(x, v, sigma)
                if i + 1 < len(sigmas) - 1:
                    fresh = (noise.sample(start, shape, device=device, dtype=dtype) if config.noise.renoise
                             else iid_noise(shape, generator=generator, device=device, dtype=dtype))
                    x = renoise(x0, fresh, sigma_next)
                else:
                    x = x0
        # 6. Clean-context pass: the finished chunk's keys replace the noisy ones in the cache.
        denoiser(x, context_t, cond, cache=cache, start_frame=start, rope=rope, attention_scale=attn_scale,
                 bias=clean_bias)
        window.add(start, x)
        window.keep(cache.held_frames())  # after a KV Flush or a compression the cache holds fewer frames
        # 7. Hand the chunk over; nothing of it is kept beyond the window.
        yield Chunk(start, x)
