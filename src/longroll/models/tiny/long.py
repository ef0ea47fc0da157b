"""The built-in model with FAR's long short-term context (Gu et al. 2025, Sec. 3.3, Fig. 3(b)): the trained
reference that the training-free horizon methods are measured against.

The frames of the short-term window (``config.short_window`` frames, the chunk being made included) are
the built-in model's own tokens; every earlier frame is a few coarse tokens (``context_patch``: an 8 x 8
latent becomes 2 x 2 tokens) with their own embedder (``context_embed``) and, in each block, their own
q/k/v projections, q/k norms and output projection (``long_parts``); the norms, MLPs and modulations are
shared, and the coarse frames are conditioned as clean context plus a learned ``coarse_embed``. Positions
as FAR assigns them: a coarse token of frame i sits at RoPE position (i, r * s, c * s), s the coarse
patch in fine patches. Attention is chunk-causal over both streams: a coarse frame sees the coarse frames
of chunks up to its own; a short-term frame every coarse frame and the short-term frames of chunks up to
its own.

One departure from FAR, for a warm start: in each block the short-term queries weigh the coarse keys by
a per-head gate ``g >= 0`` (``gated_attention``: ``log g`` added to those logits; FAR's attention is
``g = 1``). The gates start at 0, so the model starts exactly as the weights it is fine-tuned from over a
sliding window of ``short_window`` frames (recomputed as the window moves, as FAR's fine level is; their
own rolling KV cache keeps keys computed under older windows and differs), and training opens them; the
coarse embedder starts as the mean of the fine patch embeddings under it and the coarse projections as
copies of the fine ones (``init_context_from_fine``).

Uncached (training, the reference): frames ``[start, start + F)``, the last ``short_window`` at full
resolution, the rest clean coarse context; the coarse frames' outputs are zeros (nothing reads them).
Cached, through ``longroll.cache.multilevel.MultiLevelCache`` (FAR's multi-level cache), a chunk at a time:

1. a denoising step of the chunk at s: its tokens attend to the coarse level (gated), the fine keys of the
   clean short-term frames and the chunk itself; nothing is written;
2. its clean-context pass (every timestep < 0): the chunk joins the short-term window; frames leaving it
   are written to the coarse level a chunk at a time (their coarse tokens through every block, attending
   to the coarse level under the cache config's window and sink); then the short-term frames' fine keys
   are computed again over the new coarse level, or, while none has left, the chunk's are appended. It
   returns zeros.

Legend: B batch, F frames, C channels, S latent size, T fine tokens per frame, Tc coarse ones, D width,
H heads, Dh head dim.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from longroll.attention import FrameAttention, gated_attention
from longroll.cache import KVCache
from longroll.cache.multilevel import MultiLevelCache
from longroll.devices import on_device
from longroll.models.tiny.config import CLEAN_T, DiTConfig
from longroll.models.tiny.dit import Block, TinyDiT, modulate, patchify
from longroll.rope.bias import TemporalBias
from longroll.rope.freqs import RopeFreqs
from longroll.rope.rotator import FrameRotator

Stream = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # q, k, v (B, H, N, Dh), normed, not rotated


class LongParts(nn.Module):
    """A block's own projections for the coarse tokens and the gate of the coarse keys."""

    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        d = config.width
        self.qkv = nn.Linear(d, 3 * d)
        self.q_norm = nn.RMSNorm(config.head_dim, eps=1e-6)
        self.k_norm = nn.RMSNorm(config.head_dim, eps=1e-6)
        self.proj = nn.Linear(d, d)
        self.gate = nn.Parameter(torch.zeros(config.heads))  # weight of the coarse keys per head; 0 = unseen


def build_dit(config: DiTConfig) -> TinyDiT:
    """The built-in denoiser for ``config``: with long short-term context when it has a ``context_patch``."""
    return TinyLongDiT(config) if config.long else TinyDiT(config)


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, F, T, 3D) -> q, k, v (B, H, F*T, Dh) each."""
    b, f, t, _ = x.shape
    return x.reshape(b, f * t, 3, heads, -1).permute(2, 0, 3, 1, 4)


def _block(block: Block, parts: LongParts, hc, mc, hf, mf, layer: int, ctx, text, last: bool):
    """One block over both streams: coarse tokens ``hc (B, Fc, Tc, D)`` with modulations ``mc``, fine ``hf``
    with ``mf``; either may be None (absent). The coarse stream stops after the last block's attention
    (nothing reads it)."""
    def split(mod):
        mod = block.ada(F.silu(mod)) if hasattr(block, "ada") else mod + block.table  # (B, F, 6D)
        return mod[:, :, None].chunk(6, dim=-1)

    def project(h, mods, proj, q_norm, k_norm) -> Stream:
        q, k, v = _heads(proj(modulate(block.norm1(h), mods[0], mods[1])), block.heads)
        return q_norm(q), k_norm(k), v

    def finish(h, mods, out, proj):
        b, f, t, d = h.shape
        h = h + mods[2] * proj(out.transpose(1, 2).reshape(b, f, t, d))
        if text is not None:
            h = h + block.cross_attend(h, *text)
        return h + mods[5] * block.mlp(modulate(block.norm2(h), mods[3], mods[4]))

    mods_c = None if hc is None else split(mc)
    mods_f = None if hf is None else split(mf)
    coarse = None if hc is None else project(hc, mods_c, parts.qkv, parts.q_norm, parts.k_norm)
    fine = None if hf is None else project(hf, mods_f, block.qkv, block.q_norm, block.k_norm)
    oc, of = ctx.attend(layer, coarse, fine, parts.gate, need_coarse=not last)
    if hf is not None:
        hf = finish(hf, mods_f, of, block.proj)
    if hc is not None and not last:
        hc = finish(hc, mods_c, oc, parts.proj)
    return hc, hf


def _token_frames(frames: torch.Tensor, tokens: int) -> torch.Tensor:
    return frames.double().repeat_interleave(tokens)


def _dense_bias(bias: TemporalBias | None, q_frames, k_positions, heads: int, tokens: int):
    """A temporal bias (1 or H, Nq, Nk) for query frames (one row per token) and key token positions."""
    if bias is None or not bias.active:
        return None
    rows = bias.frame_bias(q_frames.double(), k_positions, heads)  # (1|H, Fq, Nk)
    return None if rows is None else rows.repeat_interleave(tokens, dim=1)


class Uncached:
    """Chunk-causal attention over both streams of one forward (the reference; training)."""

    def __init__(self, coarse_frames, fine_frames, coarse_rot, fine_rot, tc: int, tf: int, chunk: int, bias,
                 heads: int) -> None:
        self.cf, self.ff, self.rc, self.rf = coarse_frames, fine_frames, coarse_rot, fine_rot
        self.tc, self.tf, self.bias, self.heads = tc, tf, bias, heads
        start = (coarse_frames[0] if coarse_frames.numel() else fine_frames[0]).item()
        chunk_c = (coarse_frames - start) // chunk  # (Fc,) chunk of each frame, counted from the first
        chunk_f = (fine_frames - start) // chunk
        self.c_pos, self.f_pos = _token_frames(coarse_frames, tc), _token_frames(fine_frames, tf)
        # Masks (True = may attend): coarse -> coarse chunk-causal; fine -> every coarse, fine chunk-causal.
        cc = (chunk_c[:, None] >= chunk_c[None, :]).repeat_interleave(tc, 0).repeat_interleave(tc, 1)
        ff = (chunk_f[:, None] >= chunk_f[None, :]).repeat_interleave(tf, 0).repeat_interleave(tf, 1)
        self.mask_c = cc
        self.mask_f = torch.cat([ff.new_ones(ff.shape[0], cc.shape[1]), ff], dim=1)

    def attend(self, layer: int, c: Stream | None, f: Stream, gate: torch.Tensor, *, need_coarse: bool):
        qf, kf = self.rf(f[0], self.ff), self.rf(f[1], self.ff)
        oc = None
        if c is not None:
            qc, kc = self.rc(c[0], self.cf), self.rc(c[1], self.cf)
            keys, values = torch.cat([kc, kf.to(kc.dtype)], dim=2), torch.cat([c[2], f[2].to(c[2].dtype)], dim=2)
            gated, positions = kc.shape[2], torch.cat([self.c_pos, self.f_pos])
            if need_coarse:
                oc = gated_attention(qc, kc, c[2], gate=gate, gated=0, mask=self.mask_c,
                                     bias=_dense_bias(self.bias, self.cf, self.c_pos, self.heads, self.tc))
        else:
            keys, values, gated, positions = kf, f[2], 0, self.f_pos
        mask = self.mask_f[:, -keys.shape[2]:]
        of = gated_attention(qf, keys, values, gate=gate, gated=gated, mask=mask,
                             bias=_dense_bias(self.bias, self.ff, positions, self.heads, self.tf))
        return oc, of


class CoarseWrite:
    """A chunk of leaving frames written into the coarse level, attending to it (any cache policy applies)."""

    def __init__(self, attention: FrameAttention) -> None:
        self.inner = attention

    def attend(self, layer: int, c: Stream, f: None, gate: torch.Tensor, *, need_coarse: bool):
        return self.inner.attend(layer, *c), None


class FineOverCoarse:
    """Fine chunks (chunk-causal among them) over the coarse level (gated) and the held fine keys; with
    ``store`` their keys and values are held for the next chunks (after the held ones, or in their place)."""

    def __init__(self, cache: MultiLevelCache, frames: list[int], fine_rot: FrameRotator, coarse_rot: FrameRotator,
                 tokens: int, chunk: int, bias, heads: int, *, store: bool, append: bool) -> None:
        self.cache, self.frames, self.rf, self.rc = cache, frames, fine_rot, coarse_rot
        self.t, self.chunk, self.bias, self.heads, self.store, self.append = tokens, chunk, bias, heads, store, append
        device = cache.coarse.k.device
        self.positions = on_device(frames, device)
        held = [] if (store and not append) else cache.fine_frames
        self.held = on_device(held, device, torch.float64).repeat_interleave(tokens)
        self.coarse = cache.coarse.num_frames > 0

    def attend(self, layer: int, c: Stream | None, f: Stream, gate: torch.Tensor, *, need_coarse: bool):
        q, k, v = f
        q, k = self.rf(q, self.positions), self.rf(k, self.positions)
        keys, values, where, gated = [], [], [], 0
        if self.coarse:
            ck, cv = self.cache.coarse.read(layer, self.rc)
            keys.append(ck), values.append(cv), where.append(self.cache.coarse.key_token_positions(layer))
            gated = ck.shape[2]
        hk, hv = self.cache.fine(layer)
        if hk is not None and self.held.numel():
            keys.append(hk), values.append(hv), where.append(self.held)
        prefix_k = torch.cat(keys, dim=2).to(k.dtype) if keys else k[:, :, :0]
        prefix_v = torch.cat(values, dim=2).to(v.dtype) if values else v[:, :, :0]
        prefix_pos = torch.cat(where) if where else self.held[:0]
        outs, n = [], self.chunk * self.t
        for i in range(0, len(self.frames), self.chunk):  # chunk-causal among the new frames, without a mask
            end = (i // self.chunk + 1) * n
            kk, vv = torch.cat([prefix_k, k[:, :, :end]], dim=2), torch.cat([prefix_v, v[:, :, :end]], dim=2)
            pos = torch.cat([prefix_pos, _token_frames(self.positions[:i + self.chunk], self.t)])
            bias = _dense_bias(self.bias, self.positions[i:i + self.chunk], pos, self.heads, self.t)
            outs.append(gated_attention(q[:, :, end - n:end], kk, vv, gate=gate, gated=gated, bias=bias))
        if self.store:
            self.cache.set_fine(layer, self.frames, k, v, append=self.append)
        return None, torch.cat(outs, dim=2)


class TinyLongDiT(TinyDiT):
    """The built-in DiT with long short-term context and FAR's multi-level cache."""

    def __init__(self, config: DiTConfig) -> None:
        if not config.long:
            raise ValueError("TinyLongDiT needs a config with context_patch (its coarse tokens); without one the "
                             "built-in model is TinyDiT.")
        super().__init__(config)
        d = config.width
        self.context_embed = nn.Linear(config.context_patch_dim, d)
        self.coarse_embed = nn.Parameter(torch.zeros(d))  # added to the coarse frames' clean conditioning
        self.long_parts = nn.ModuleList(LongParts(config) for _ in range(config.depth))
        self.init_context_from_fine()

    @torch.no_grad()
    def init_context_from_fine(self) -> None:
        """Coarse embedder = the mean of the fine patch embeddings it covers; coarse projections = copies of
        the fine ones; gates 0 (the model computes what the fine stream alone computes)."""
        cfg = self.config
        r, p, c = cfg.context_patch // cfg.patch, cfg.patch, cfg.latent_channels
        w = self.patch_embed.weight.view(-1, c, 1, p, 1, p).expand(-1, c, r, p, r, p)  # (D, C, r, p, r, p)
        self.context_embed.weight.copy_(w.reshape(-1, cfg.context_patch_dim) / (r * r))
        self.context_embed.bias.copy_(self.patch_embed.bias)
        for block, parts in zip(self.blocks, self.long_parts):
            for name in ("qkv", "q_norm", "k_norm", "proj"):
                getattr(parts, name).load_state_dict(getattr(block, name).state_dict())
            parts.gate.zero_()

    def new_cache(self, cache_config, batch_size: int = 1, *, device=None, dtype=None) -> MultiLevelCache:
        """FAR's multi-level cache: the coarse level under ``cache_config``, the fine level for the short window."""
        cfg = self.config
        coarse = KVCache(cache_config, num_layers=cfg.depth, batch_size=batch_size, num_heads=cfg.heads,
                         tokens_per_frame=cfg.context_tokens_per_frame, head_dim=cfg.head_dim,
                         device=device or self.head.weight.device, dtype=dtype or torch.float32)
        return MultiLevelCache(coarse, cfg.short_window, cfg.depth, chunk_size=cfg.chunk_size)

    # ------------------------------------------------------------------ pieces
    def _rotators(self, rope, attention_scale: float) -> tuple[FrameRotator, FrameRotator]:
        cfg = self.config
        freqs = rope or self.rope_freqs
        return (FrameRotator(freqs, cfg.context_grid, cfg.context_grid, attention_scale=attention_scale,
                             stride=cfg.context_patch // cfg.patch),
                FrameRotator(freqs, cfg.grid, cfg.grid, attention_scale=attention_scale))

    def _coarse(self, latents: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Coarse tokens (B, Fc, Tc, D) of clean latents (B, Fc, C, S, S) and their conditioning (B, Fc, D)."""
        h = self.context_embed(patchify(latents, self.config.context_patch))
        clean = torch.full(latents.shape[:2], CLEAN_T, device=latents.device)
        return h, self.frame_conditioning(clean, cond, None) + self.coarse_embed

    def _run(self, hc, cc, hf, cf, ctx, cond) -> tuple[torch.Tensor, torch.Tensor]:
        mc = None if hc is None else self.modulations(cc)
        mf = None if hf is None else self.modulations(cf)
        text = self.prompt_tokens(cond) if self.config.cross_attention else None
        last = len(self.blocks) - 1
        for layer, (block, parts) in enumerate(zip(self.blocks, self.long_parts)):
            hc, hf = _block(block, parts, hc, mc, hf, mf, layer, ctx, text, layer == last)
        return hc, hf

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, *, cache: MultiLevelCache | None = None,
                start_frame: int = 0, rope: RopeFreqs | None = None, attention_scale: float = 1.0,
                bias: TemporalBias | None = None, jump: torch.Tensor | None = None) -> torch.Tensor:
        """Velocity for ``x (B, F, C, S, S)`` at per-frame timesteps ``t (B, F)`` (negative = clean).

        Uncached: the last ``short_window`` frames at full resolution, every earlier one (clean) as coarse
        context, whose output is zeros. With a cache: one chunk, a denoising step or, when every timestep
        is negative, its clean-context pass (see the module's docstring)."""
        cfg = self.config
        b, f = x.shape[:2]
        if t.shape != (b, f):
            raise ValueError(f"t must hold one timestep per frame, shape {(b, f)}; got {tuple(t.shape)}.")
        coarse_rot, fine_rot = self._rotators(rope, attention_scale)
        if cache is None:
            return self._uncached(x, t, cond, start_frame, jump, coarse_rot, fine_rot, bias)
        if f != cfg.chunk_size:
            raise ValueError(f"The multi-level cache takes one chunk of {cfg.chunk_size} frames per call; got {f}.")
        if start_frame != cache.end_frame:
            raise ValueError(f"The multi-level cache makes frame {cache.end_frame} next; got frame {start_frame}.")
        if bool((t < 0).all()):
            self._commit(x, cond, start_frame, cache, coarse_rot, fine_rot, bias)
            return torch.zeros_like(x)
        return self._denoise(x, t, cond, start_frame, jump, cache, coarse_rot, fine_rot, bias)

    def _uncached(self, x, t, cond, start, jump, coarse_rot, fine_rot, bias) -> torch.Tensor:
        cfg = self.config
        f = x.shape[1]
        nc = max(0, f - cfg.short_window)
        if nc % cfg.chunk_size:
            raise ValueError(f"An uncached forward takes whole chunks of {cfg.chunk_size} frames; got {f} frames.")
        if nc and bool((t[:, :nc] >= 0).any()):
            raise ValueError(f"The {nc} frames before the short-term window are long-term context and must be clean "
                             f"(timestep < 0); some are noisy.")
        frames = torch.arange(start, start + f, device=x.device)
        # 1. Both streams' tokens and conditioning.
        hc, cc = self._coarse(x[:, :nc], cond) if nc else (None, None)
        hf = self.patch_embed(patchify(x[:, nc:], cfg.patch))
        cf = self.frame_conditioning(t[:, nc:], cond, None if jump is None else jump[:, nc:])
        # 2. Blocks over one chunk-causal attention; 3. the fine stream's head (the coarse frames: zeros).
        ctx = Uncached(frames[:nc], frames[nc:], coarse_rot, fine_rot, cfg.context_tokens_per_frame,
                       cfg.tokens_per_frame, cfg.chunk_size, bias, cfg.heads)
        _, hf = self._run(hc, cc, hf, cf, ctx, cond)
        out = self.output(hf, cf)
        return torch.cat([torch.zeros_like(x[:, :nc]), out.to(x.dtype)], dim=1)

    def _denoise(self, x, t, cond, start, jump, cache, coarse_rot, fine_rot, bias) -> torch.Tensor:
        """A denoising step of the chunk at ``start`` against both levels."""
        cfg = self.config
        hf, cf = self.patch_embed(patchify(x, cfg.patch)), self.frame_conditioning(t, cond, jump)
        ctx = FineOverCoarse(cache, list(range(start, start + x.shape[1])), fine_rot, coarse_rot, cfg.tokens_per_frame,
                             cfg.chunk_size, bias, cfg.heads, store=False, append=False)
        _, hf = self._run(None, None, hf, cf, ctx, cond)
        return self.output(hf, cf).to(x.dtype)

    def _commit(self, x, cond, start, cache, coarse_rot, fine_rot, bias) -> None:
        """The chunk at ``start`` is clean: frames leaving the short-term window go to the coarse level, then the
        short-term frames' fine keys are held for the next chunk."""
        cfg = self.config
        for i in range(x.shape[1]):
            cache.add_clean(start + i, x[:, i])
        leaving = cache.leaving()
        # 1. Each leaving chunk's coarse tokens through every block, written to the coarse level.
        for i in range(0, len(leaving), cfg.chunk_size):
            group = leaving[i:i + cfg.chunk_size]
            latents = torch.stack([cache.pop_clean(fr)[0] for fr in group], dim=1)  # (B, chunk, C, S, S)
            hc, cc = self._coarse(latents, cond)
            cache.coarse.begin(group[0], len(group))
            inner = FrameAttention(on_device(group, x.device), coarse_rot, heads=cfg.heads,
                                   tokens_per_frame=cfg.context_tokens_per_frame, cache=cache.coarse,
                                   chunk_size=cfg.chunk_size, bias=bias)
            self._run(hc, cc, None, None, CoarseWrite(inner), cond)
        # 2. The short-term frames' fine keys: all again when the coarse level changed, else the new chunk's.
        frames = cache.short_frames(cache.end_frame) if leaving else list(range(start, start + x.shape[1]))
        latents = torch.stack([cache.latents[fr] for fr in frames], dim=1)  # (B, n, C, S, S)
        clean = torch.full(latents.shape[:2], CLEAN_T, device=x.device)
        hf, cf = self.patch_embed(patchify(latents, cfg.patch)), self.frame_conditioning(clean, cond, None)
        ctx = FineOverCoarse(cache, frames, fine_rot, coarse_rot, cfg.tokens_per_frame, cfg.chunk_size, bias,
                             cfg.heads, store=True, append=not leaving)
        self._run(None, None, hf, cf, ctx, cond)


__all__ = ["LongParts", "TinyLongDiT", "build_dit"]
