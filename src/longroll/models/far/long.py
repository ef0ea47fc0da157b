"""FAR-Long: FAR's transformer with long short-term context (Gu et al. 2025, Sec. 3.3, Fig. 3(b); showlab/FAR
@e59536a ``far/models/far_long_model.py``), on longroll's cache.

The frames of the short-term window (``short_window`` frames, the current one included) are tokens at
the regular patch size; every earlier frame is a few coarse tokens (``context_patch_size``: a 8 x 8
latent becomes 2 x 2 tokens) with their own embedder, q/k/v projections, q/k norms, output projection
and head (``context_embedder``, ``add_{q,k,v}_proj``, ``norm_added_{q,k}``, ``to_add_out`` (none in
the last block), ``context_proj_out``); the norms, MLPs and adaLN modulations are shared. As FAR assigns
them: a coarse token of frame i sits at RoPE position (i, 4r, 4c) (its patch's first row and column),
its timestep is twice the frame's (clean context: -2), and attention is frame-causal over all tokens
(a coarse frame sees coarse frames up to itself; a short-term frame every coarse frame and the
short-term frames up to itself).

Per forward, uncached (the reference, and FAR's ``use_kv_cache: false``): all frames ``[0, N)``, the last
``short_window`` at full resolution, one frame-causal attention over both streams. Cached, through a
``longroll.cache.multilevel.MultiLevelCache`` (FAR's multi-level KV cache):

1. a denoising step of frame s: its tokens attend to the coarse level, the fine keys of the clean
   short-term frames and themselves; nothing is written;
2. a clean-context pass of frame s (timestep < 0): the frame joins the short-term window; a frame that
   leaves it is written to the coarse level (its coarse tokens through every block, attending to the
   coarse level: any cache policy of the window and sink applies there); then the fine keys of the
   short-term frames are computed again over the new coarse level, or, while no frame has left, the new
   frame's are appended. It returns no velocity (zeros): nothing reads a context pass's output.

Legend: B batch, F frames, C channels, H x W latent size, T fine tokens per frame, Tc coarse ones, D width.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from longroll.attention import FrameAttention, fast_attention, frame_biased_attention
from longroll.cache import KVCache
from longroll.cache.multilevel import MultiLevelCache
from longroll.devices import on_device
from longroll.models.far.config import FarConfig
from longroll.models.far.model import (
    AdaNormOut,
    AdaNormZero,
    FarAttention,
    FeedForward,
    FrameConditioning,
    HeadRMSNorm,
)
from longroll.rope.bias import TemporalBias
from longroll.rope.freqs import RopeFreqs, axes_rope_freqs
from longroll.rope.rotator import FrameRotator

Stream = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # q, k, v (B, H, N, D), normed, not rotated


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    b, n, d = x.shape
    return x.view(b, n, heads, d // heads).transpose(1, 2)


class LongAttention(FarAttention):
    """Joint attention of the coarse and fine streams, each with its own projections (diffusers' ``Attention``
    with ``added_kv_proj_dim``: FAR's module names); the fine stream's are FAR's own attention's."""

    def __init__(self, cfg: FarConfig, last: bool) -> None:
        super().__init__(cfg)
        d = cfg.dim
        self.add_q_proj, self.add_k_proj, self.add_v_proj = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.norm_added_q = HeadRMSNorm(cfg.head_dim, cfg.eps)
        self.norm_added_k = HeadRMSNorm(cfg.head_dim, cfg.eps)
        self.to_add_out = None if last else nn.Linear(d, d)  # FAR's last block passes the coarse stream on as is

    def project(self, x: torch.Tensor, coarse: bool) -> Stream:
        """q, k, v ``(B, H, N, D)`` of one stream's tokens ``x (B, N, D)``."""
        if coarse:
            return (self.norm_added_q(_heads(self.add_q_proj(x), self.heads)),
                    self.norm_added_k(_heads(self.add_k_proj(x), self.heads)), _heads(self.add_v_proj(x), self.heads))
        return (self.norm_q(_heads(self.to_q(x), self.heads)), self.norm_k(_heads(self.to_k(x), self.heads)),
                _heads(self.to_v(x), self.heads))

    def forward(self, xc: torch.Tensor, xf: torch.Tensor, layer: int, ctx) -> tuple[torch.Tensor, torch.Tensor]:
        oc, of = ctx.attend(layer, self.project(xc, True), self.project(xf, False))
        oc = oc.transpose(1, 2).flatten(2)
        of = of.transpose(1, 2).flatten(2)
        return (oc if self.to_add_out is None else self.to_add_out(oc)), self.to_out[0](of)


class LongBlock(nn.Module):
    def __init__(self, cfg: FarConfig, last: bool) -> None:
        super().__init__()
        self.norm1 = AdaNormZero(cfg.dim, cfg.eps)
        self.attn = LongAttention(cfg, last)
        self.norm2 = AdaNormZero(cfg.dim, cfg.eps)
        self.mlp = FeedForward(cfg.dim, int(cfg.dim * cfg.mlp_ratio))

    def forward(self, xc, cc, xf, cf, layer: int, ctx) -> tuple[torch.Tensor, torch.Tensor]:
        """Coarse tokens ``xc (B, Nc, D)`` with conditioning ``cc``, fine ``xf (B, Nf, D)`` with ``cf``."""
        (yc, gc), (yf, gf) = self.norm1(xc, cc), self.norm1(xf, cf)
        ac, af = self.attn(yc, yf, layer, ctx)
        xc, xf = xc + gc * ac, xf + gf * af
        (yc, gc), (yf, gf) = self.norm2(xc, cc), self.norm2(xf, cf)
        return xc + gc * self.mlp(yc), xf + gf * self.mlp(yf)


def _attend(q, k, v, q_pos, k_pos, bias: TemporalBias | None, heads: int) -> torch.Tensor:
    """One query frame's tokens ``q`` against keys at token positions ``k_pos``: mask-free."""
    key_bias = None if bias is None else bias.frame_bias(q_pos, k_pos, heads)
    k, v = k.to(q.dtype), v.to(q.dtype)
    return fast_attention(q, k, v) if key_bias is None else frame_biased_attention(q, k, v, key_bias)


class Uncached:
    """Frame-causal attention over both streams at once (the reference; FAR without its cache)."""

    def __init__(self, coarse_frames, fine_frames, coarse_rot, fine_rot, tc: int, tf: int, bias, heads: int):
        self.rc, self.rf, self.bias, self.heads = coarse_rot, fine_rot, bias, heads
        self.cf, self.ff = coarse_frames, fine_frames
        self.frames = torch.cat([coarse_frames.repeat_interleave(tc), fine_frames.repeat_interleave(tf)]).double()
        self.nc = coarse_frames.numel() * tc

    def attend(self, layer: int, c: Stream, f: Stream) -> tuple[torch.Tensor, torch.Tensor]:
        rc = self.rc if self.nc else (lambda x, frames: x)  # no long-term frames yet: nothing to rotate
        q = torch.cat([rc(c[0], self.cf), self.rf(f[0], self.ff)], dim=2)
        k = torch.cat([rc(c[1], self.cf), self.rf(f[1], self.ff)], dim=2)
        v = torch.cat([c[2], f[2]], dim=2)
        allowed = self.frames[:, None] >= self.frames[None, :]  # (N, N) frame-causal
        mask = torch.zeros(allowed.shape, dtype=q.dtype, device=q.device).masked_fill(~allowed, float("-inf"))
        if self.bias is not None and self.bias.active:
            mask = mask + self.bias.frame_bias(self.frames, self.frames, self.heads).to(q.dtype).masked_fill(~allowed,
                                                                                                          0.0)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return out[:, :, :self.nc], out[:, :, self.nc:]


class CoarseWrite:
    """Coarse frames written into the coarse level, attending to it (any cache policy applies there)."""

    def __init__(self, attention: FrameAttention) -> None:
        self.inner = attention

    def attend(self, layer: int, c: Stream, f: Stream) -> tuple[torch.Tensor, torch.Tensor]:
        return self.inner.attend(layer, *c), f[0][:, :, :0]


class FineOverCoarse:
    """Fine frames (one or several, frame-causal among them) over the coarse level and the held fine keys;
    with ``store`` their keys and values are held for the next frames (after the held ones, or in their place)."""

    def __init__(self, cache: MultiLevelCache, frames: list[int], rotator: FrameRotator, coarse_rot: FrameRotator,
                 tokens: int, bias, heads: int, *, store: bool, append: bool) -> None:
        self.cache, self.frames, self.rot, self.crot, self.t = cache, frames, rotator, coarse_rot, tokens
        self.bias, self.heads, self.store, self.append = bias, heads, store, append
        device = cache.coarse.k.device
        self.positions = on_device(frames, device)
        held = [] if (store and not append) else cache.fine_frames
        self.held = on_device(held, device, torch.float64).repeat_interleave(tokens)
        self.coarse = cache.coarse.num_frames > 0

    def attend(self, layer: int, c: Stream, f: Stream) -> tuple[torch.Tensor, torch.Tensor]:
        q, k, v = f
        q, k = self.rot(q, self.positions), self.rot(k, self.positions)
        keys, values, where = [], [], []
        if self.coarse:
            ck, cv = self.cache.coarse.read(layer, self.crot)
            keys.append(ck), values.append(cv), where.append(self.cache.coarse.key_token_positions(layer))
        hk, hv = self.cache.fine(layer)
        if hk is not None and self.held.numel():
            keys.append(hk), values.append(hv), where.append(self.held)
        prefix_k = torch.cat(keys, dim=2) if keys else k[:, :, :0]
        prefix_v = torch.cat(values, dim=2) if values else v[:, :, :0]
        prefix_pos = torch.cat(where) if where else self.held[:0]
        outs = []
        for i, frame in enumerate(self.frames):  # frame-causal among the new frames, without a mask
            end = (i + 1) * self.t
            kk = torch.cat([prefix_k.to(k.dtype), k[:, :, :end]], dim=2)
            vv = torch.cat([prefix_v.to(v.dtype), v[:, :, :end]], dim=2)
            pos = torch.cat([prefix_pos, self.positions[:i + 1].double().repeat_interleave(self.t)])
            outs.append(_attend(q[:, :, i * self.t:end], kk, vv, self.positions[i:i + 1].double(), pos, self.bias,
                                self.heads))
        if self.store:
            self.cache.set_fine(layer, self.frames, k, v, append=self.append)
        return c[0][:, :, :0], torch.cat(outs, dim=2)


class FarLong(FrameConditioning, nn.Module):
    """FAR-Long's transformer: velocity of the short-term frames given per-frame timesteps, with every earlier
    frame as coarse context."""

    def __init__(self, config: FarConfig) -> None:
        super().__init__()
        if not config.long:
            raise ValueError("FarLong needs a context_patch_size (FAR-Long's coarse tokens); a short model is Far.")
        cfg = self.config = config
        p, cp = cfg.patch_size, cfg.context_patch_size
        self.x_embedder = nn.Linear(cfg.in_channels * p * p, cfg.dim)
        self.context_embedder = nn.Linear(cfg.in_channels * cp * cp, cfg.dim)
        self.build_conditioning(cfg)
        self.transformer_blocks = nn.ModuleList(LongBlock(cfg, i == cfg.num_layers - 1) for i in range(cfg.num_layers))
        self.norm_out = AdaNormOut(cfg.dim, cfg.eps)
        self.proj_out = nn.Linear(cfg.dim, p * p * cfg.out_channels)
        self.context_proj_out = nn.Linear(cfg.dim, cp * cp * cfg.out_channels)
        self.rope_freqs = axes_rope_freqs(cfg.axes_dims, cfg.rope_theta)

    def new_cache(self, cache_config, batch_size: int, *, height: int, width: int, dtype=None,
                  device=None) -> MultiLevelCache:
        """FAR's multi-level cache: the coarse level under ``cache_config``, the fine level for the short window."""
        cfg = self.config
        param = next(self.parameters())
        coarse = KVCache(cache_config, num_layers=cfg.num_layers, batch_size=batch_size, num_heads=cfg.num_heads,
                         tokens_per_frame=cfg.context_tokens_per_frame(height, width), head_dim=cfg.head_dim,
                         device=device or param.device, dtype=dtype or param.dtype)
        return MultiLevelCache(coarse, cfg.short_window, cfg.num_layers)

    # ------------------------------------------------------------------ pieces
    def _tokens(self, x: torch.Tensor, coarse: bool) -> torch.Tensor:
        """Patchify ``x (B, F, C, H, W)`` at the stream's patch size and embed: (B, F*h*w, D)."""
        p = self.config.context_patch_size if coarse else self.config.patch_size
        b, f, c, hh, ww = x.shape
        h, w = hh // p, ww // p
        tokens = x.to(self.x_embedder.weight.dtype).reshape(b, f, c, h, p, w, p).permute(0, 1, 3, 5, 2, 4, 6)
        tokens = tokens.reshape(b, f * h * w, c * p * p)
        return (self.context_embedder if coarse else self.x_embedder)(tokens)

    def _cond(self, t, labels, actions, per_frame: int) -> torch.Tensor:
        return self.conditioning(t, labels, actions).repeat_interleave(per_frame, dim=1)

    def _head(self, tokens: torch.Tensor, cond: torch.Tensor, frames: int, hh: int, ww: int, coarse: bool):
        cfg = self.config
        p = cfg.context_patch_size if coarse else cfg.patch_size
        out = (self.context_proj_out if coarse else self.proj_out)(self.norm_out(tokens, cond))
        b, h, w = out.shape[0], hh // p, ww // p
        out = out.reshape(b, frames, h, w, cfg.out_channels, p, p).permute(0, 1, 4, 2, 5, 3, 6)
        return out.reshape(b, frames, cfg.out_channels, hh, ww)

    def _rotators(self, hh: int, ww: int, rope, attention_scale: float) -> tuple[FrameRotator, FrameRotator]:
        cfg = self.config
        p, cp = cfg.patch_size, cfg.context_patch_size
        freqs = rope or self.rope_freqs
        return (FrameRotator(freqs, hh // cp, ww // cp, attention_scale=attention_scale, stride=cp // p),
                FrameRotator(freqs, hh // p, ww // p, attention_scale=attention_scale))

    def _run(self, xc, cc, xf, cf, ctx) -> tuple[torch.Tensor, torch.Tensor]:
        for layer, block in enumerate(self.transformer_blocks):
            xc, xf = block(xc, cc, xf, cf, layer, ctx)
        return xc, xf

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor, t: torch.Tensor, *, start_frame: int = 0,
                cache: MultiLevelCache | None = None, labels: torch.Tensor | None = None,
                actions: torch.Tensor | None = None, rope: RopeFreqs | None = None, attention_scale: float = 1.0,
                bias: TemporalBias | None = None) -> torch.Tensor:
        """Velocity for ``x (B, F, C, H, W)`` at per-frame timesteps ``t (B, F)`` (FAR's units; < 0: clean).

        Uncached: frames ``[start_frame, start_frame + F)``, the last ``short_window`` at full resolution
        (every output frame is returned: the coarse ones through ``context_proj_out``). With a cache: one
        frame (``F == 1``), a denoising step or, at a negative timestep, its clean-context pass (see the
        module's docstring). ``actions``: ``(B, F)`` for these frames, or with a cache, ``(B, N)`` for
        every frame of the video up to this one (the short-term window's are needed again)."""
        cfg = self.config
        b, f, c, hh, ww = self.check_inputs(x, t)
        if bias is None and cfg.slope_scale > 0:
            bias = TemporalBias("flexrope", cfg.slope_scale)
        coarse_rot, fine_rot = self._rotators(hh, ww, rope, attention_scale)
        if cache is None:
            return self._uncached(x, t, start_frame, labels, actions, coarse_rot, fine_rot, bias)
        if f != 1:
            raise ValueError(f"FAR-Long's cache takes one frame per call; got {f}.")
        if bool((t < 0).all()):
            self._commit(x, start_frame, cache, labels, actions, coarse_rot, fine_rot, bias)
            return torch.zeros_like(x)
        return self._denoise(x, t, start_frame, cache, labels, actions, coarse_rot, fine_rot, bias)

    def _uncached(self, x, t, start, labels, actions, coarse_rot, fine_rot, bias) -> torch.Tensor:
        cfg = self.config
        b, f, _, hh, ww = x.shape
        nc = max(0, f - cfg.short_window)  # FAR: the last short_window frames at full resolution
        tc, tf = cfg.context_tokens_per_frame(hh, ww), cfg.tokens_per_frame(hh, ww)
        frames = torch.arange(start, start + f, device=x.device)
        act_c, act_f = (None, None) if actions is None else (actions[:, :nc], actions[:, nc:])
        # 1. Both streams' tokens and conditioning (FAR: the coarse frames' timestep doubled).
        xc, cc = self._tokens(x[:, :nc], True), self._cond(t[:, :nc] * 2, labels, act_c, tc)
        xf, cf = self._tokens(x[:, nc:], False), self._cond(t[:, nc:], labels, act_f, tf)
        # 2. Blocks over one frame-causal attention; 3. each stream's head.
        ctx = Uncached(frames[:nc], frames[nc:], coarse_rot, fine_rot, tc, tf, bias, cfg.num_heads)
        xc, xf = self._run(xc, cc, xf, cf, ctx)
        out = [self._head(xc, cc, nc, hh, ww, True), self._head(xf, cf, f - nc, hh, ww, False)]
        return torch.cat(out, dim=1).to(x.dtype)

    def _frame_actions(self, actions, frames: list[int]) -> torch.Tensor | None:
        if actions is None:
            return None
        if actions.shape[1] <= max(frames):
            raise ValueError(f"Frame {max(frames)} needs its action; the actions cover {actions.shape[1]} frames.")
        return actions[:, frames]

    def _denoise(self, x, t, start, cache, labels, actions, coarse_rot, fine_rot, bias) -> torch.Tensor:
        """A denoising step of frame ``start`` against both levels."""
        cfg = self.config
        _, _, _, hh, ww = x.shape
        if start != cache.end_frame:
            raise ValueError(f"FAR-Long's cache makes frame {cache.end_frame} next; got frame {start}.")
        tf = cfg.tokens_per_frame(hh, ww)
        xf, cf = self._tokens(x, False), self._cond(t, labels, self._frame_actions(actions, [start]), tf)
        ctx = FineOverCoarse(cache, [start], fine_rot, coarse_rot, tf, bias, cfg.num_heads, store=False,
                             append=False)
        empty = xf[:, :0]
        _, xf = self._run(empty, empty, xf, cf, ctx)
        return self._head(xf, cf, 1, hh, ww, False).to(x.dtype)

    def _commit(self, x, start, cache, labels, actions, coarse_rot, fine_rot, bias) -> None:
        """Frame ``start`` is clean: move frames leaving the short-term window to the coarse level, then hold
        the short-term frames' fine keys for the next frame."""
        cfg = self.config
        _, _, _, hh, ww = x.shape
        tc, tf = cfg.context_tokens_per_frame(hh, ww), cfg.tokens_per_frame(hh, ww)
        clean = torch.full(x.shape[:2], -1.0, device=x.device)  # FAR's clean context timestep
        cache.add_clean(start, x[:, 0], None if actions is None else self._frame_actions(actions, [start])[:, 0])
        leaving = cache.leaving()
        # 1. Each leaving frame's coarse tokens through every block, written to the coarse level.
        for frame in leaving:
            latents, act = cache.pop_clean(frame)
            xc = self._tokens(latents[:, None], True)
            cc = self._cond(clean * 2, labels, None if act is None else act[:, None], tc)
            cache.coarse.begin(frame, 1)
            inner = FrameAttention(on_device([frame], x.device), coarse_rot, heads=cfg.num_heads,
                                   tokens_per_frame=tc, cache=cache.coarse, chunk_size=1, bias=bias)
            empty = xc[:, :0]
            self._run(xc, cc, empty, empty, CoarseWrite(inner))
        # 2. The short-term frames' fine keys: all again when the coarse level changed, else the new frame's.
        frames = cache.short_frames(cache.end_frame) if leaving else [start]
        latents = torch.stack([cache.latents[fr] for fr in frames], dim=1)  # (B, n, C, H, W)
        acts = None if actions is None else torch.stack([cache.conds[fr] for fr in frames], dim=1)
        xf = self._tokens(latents, False)
        cf = self._cond(torch.full(latents.shape[:2], -1.0, device=x.device), labels, acts, tf)
        ctx = FineOverCoarse(cache, frames, fine_rot, coarse_rot, tf, bias, cfg.num_heads, store=True,
                             append=not leaving)
        empty = xf[:, :0]
        self._run(empty, empty, xf, cf, ctx)


__all__ = ["FarLong", "LongAttention"]
