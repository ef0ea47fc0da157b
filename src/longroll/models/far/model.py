"""FAR's transformer (short-context FAR: FAR-B / M / L / XL), on longroll's attention and cache.

Module names follow FAR's own (``x_embedder``, ``timestep_embedder.linear_1``, ``transformer_blocks.N
.attn.to_q``, ``norm_out.linear``, ...), so its released state dicts load as they are. Per forward:

1. patchify the latents (B, F, C, H, W) into frame-major tokens and embed them (``x_embedder``);
2. one timestep embedding per frame (sinusoidal, cos first, then an MLP), plus the class label's
   embedding or each frame's action's: the conditioning of every token of its frame;
3. blocks: adaLN-zero (shift, scale, gate) around a self-attention with per-head RMS q/k norms and
   3-axis RoPE at the frames' absolute positions, and around a tanh-GELU MLP; the attention is
   frame-causal (chunks of one frame) without a cache, or over the cached window with one
   (``attention.FrameAttention``: the same attention, written once per frame);
4. adaLN head (scale, shift) and the output projection, unpatchified.

FAR's clean context frames carry the timestep -1 (``context_timestep_idx = -1``); the caller gives
per-frame timesteps in FAR's units (the flow-matching sigma times 1000).

Legend: B batch, F frames, C channels, H x W latent size, T tokens per frame, D model width.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from longroll.attention import FrameAttention
from longroll.cache import KVCache
from longroll.models.far.config import FarConfig
from longroll.rope.bias import TemporalBias
from longroll.rope.freqs import RopeFreqs, axes_rope_freqs
from longroll.rope.rotator import FrameRotator


def timestep_features(t: torch.Tensor, dim: int) -> torch.Tensor:
    """``t (N,)`` -> ``(N, dim)`` sinusoidal features ``[cos(t w_i), sin(t w_i)]`` with
    ``w_i = 10000^(-i / (dim/2 - 1))``: diffusers' ``Timesteps(dim, flip_sin_to_cos=True,
    downscale_freq_shift=1)``, which FAR uses."""
    half = dim // 2
    w = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / (half - 1))
    args = t.float()[:, None] * w[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class TimestepMLP(nn.Module):
    """``linear_1 -> SiLU -> linear_2`` (diffusers' ``TimestepEmbedding``)."""

    def __init__(self, in_dim: int, dim: int) -> None:
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.silu(self.linear_1(x)))


class LabelTable(nn.Module):
    """A class or action embedding with one extra row for the dropped label (diffusers' ``LabelEmbedding``)."""

    def __init__(self, num_classes: int, dim: int) -> None:
        super().__init__()
        self.embedding_table = nn.Embedding(num_classes + 1, dim)

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        return self.embedding_table(labels)


class AdaNormZero(nn.Module):
    """LayerNorm (no affine) modulated by ``linear(silu(c))`` = (shift, scale, gate)."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, 3 * dim)
        self.eps = eps

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shift, scale, gate = self.linear(F.silu(c)).chunk(3, dim=-1)
        return F.layer_norm(x, x.shape[-1:], eps=self.eps) * (1 + scale) + shift, gate


class HeadRMSNorm(nn.Module):
    """RMS norm over each head's channels, computed in fp32, with a learnt scale (diffusers' ``RMSNorm``)."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.float() * torch.rsqrt(x.float().pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return (y * self.weight.float()).to(x.dtype)


class FarAttention(nn.Module):
    """Self-attention with per-head RMS q/k norms (names as diffusers' ``Attention``: ``to_q``, ``to_out.0``)."""

    def __init__(self, cfg: FarConfig) -> None:
        super().__init__()
        d = cfg.dim
        self.heads = cfg.num_heads
        self.to_q, self.to_k, self.to_v = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.norm_q, self.norm_k = HeadRMSNorm(cfg.head_dim, cfg.eps), HeadRMSNorm(cfg.head_dim, cfg.eps)
        self.to_out = nn.ModuleList([nn.Linear(d, d), nn.Dropout(0.0)])

    def forward(self, x: torch.Tensor, layer: int, ctx: FrameAttention) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = (p(x).view(b, n, self.heads, -1).transpose(1, 2) for p in (self.to_q, self.to_k, self.to_v))
        out = ctx.attend(layer, self.norm_q(q), self.norm_k(k), v)  # (B, H, N, d)
        return self.to_out[0](out.transpose(1, 2).reshape(b, n, -1))


class FeedForward(nn.Module):
    """``net.0.proj -> tanh-GELU -> net.2`` (diffusers' ``FeedForward`` with ``gelu-approximate``)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.ModuleList([nn.Module(), nn.Dropout(0.0), nn.Linear(hidden, dim)])
        self.net[0].proj = nn.Linear(dim, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net[2](F.gelu(self.net[0].proj(x), approximate="tanh"))


class FarBlock(nn.Module):
    def __init__(self, cfg: FarConfig) -> None:
        super().__init__()
        self.norm1 = AdaNormZero(cfg.dim, cfg.eps)
        self.attn = FarAttention(cfg)
        self.norm2 = AdaNormZero(cfg.dim, cfg.eps)
        self.mlp = FeedForward(cfg.dim, int(cfg.dim * cfg.mlp_ratio))

    def forward(self, x: torch.Tensor, c: torch.Tensor, layer: int, ctx: FrameAttention) -> torch.Tensor:
        y, gate = self.norm1(x, c)
        x = x + gate * self.attn(y, layer, ctx)
        y, gate = self.norm2(x, c)
        return x + gate * self.mlp(y)


class AdaNormOut(nn.Module):
    """The head's LayerNorm (no affine) modulated by ``linear(silu(c))`` = (scale, shift)."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.linear = nn.Linear(dim, 2 * dim)
        self.eps = eps

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        scale, shift = self.linear(F.silu(c)).chunk(2, dim=-1)
        return F.layer_norm(x, x.shape[-1:], eps=self.eps) * (1 + scale) + shift


class FrameConditioning:
    """Per-frame conditioning of FAR's models (short and long): timestep embedding plus the class label's or
    each frame's action's (its ``timestep_embedder`` and ``label_embedder`` / ``action_embedder``)."""

    config: FarConfig

    def build_conditioning(self, cfg: FarConfig) -> None:
        """The timestep embedder and the label's or the actions' table (FAR's module names)."""
        self.timestep_embedder = TimestepMLP(cfg.freq_dim, cfg.dim)
        if cfg.condition == "label":
            self.label_embedder = LabelTable(cfg.num_classes, cfg.dim)
        elif cfg.condition == "action":
            self.action_embedder = LabelTable(cfg.num_classes, cfg.dim)

    def check_inputs(self, x: torch.Tensor, t: torch.Tensor) -> tuple[int, int, int, int, int]:
        """``x (B, F, C, H, W)`` with the model's channels and one timestep per frame in ``t (B, F)``: x's shape."""
        b, f, c, hh, ww = x.shape
        if c != self.config.in_channels:
            raise ValueError(f"x has {c} channels; this model takes {self.config.in_channels} (x is (B, F, C, H, W)).")
        if t.shape != (b, f):
            raise ValueError(f"t must hold one timestep per frame, shape {(b, f)}; got {tuple(t.shape)}.")
        return b, f, c, hh, ww

    def conditioning(self, t: torch.Tensor, labels: torch.Tensor | None,
                     actions: torch.Tensor | None) -> torch.Tensor:
        """Per-frame conditioning ``(B, F, D)`` from timesteps ``t (B, F)``, class ``labels (B,)`` or
        ``actions (B, F)``."""
        b, f = t.shape
        param = self.x_embedder.weight
        c = self.timestep_embedder(timestep_features(t.reshape(-1), self.config.freq_dim).to(param.dtype))
        c = c.reshape(b, f, self.config.dim)
        if self.config.condition == "label":
            if labels is None or labels.shape != (b,):
                raise ValueError(f"This FAR model is class-conditioned: give labels of shape {(b,)}.")
            c = c + self.label_embedder(labels)[:, None]
        elif self.config.condition == "action":
            if actions is None or actions.shape != (b, f):
                raise ValueError(f"This FAR model is action-conditioned: give one action per frame, shape {(b, f)}.")
            c = c + self.action_embedder(actions)
        return c


class Far(FrameConditioning, nn.Module):
    """FAR's transformer: velocity of latent frames given per-frame timesteps, frame-causal over the
    frames it is given and the cached window before them."""

    def __init__(self, config: FarConfig) -> None:
        super().__init__()
        if config.long:
            raise ValueError("This configuration has long short-term context (context_patch_size): build FarLong.")
        cfg = self.config = config
        p = cfg.patch_size
        self.x_embedder = nn.Linear(cfg.in_channels * p * p, cfg.dim)
        self.build_conditioning(cfg)
        self.transformer_blocks = nn.ModuleList(FarBlock(cfg) for _ in range(cfg.num_layers))
        self.norm_out = AdaNormOut(cfg.dim, cfg.eps)
        self.proj_out = nn.Linear(cfg.dim, p * p * cfg.out_channels)
        self.rope_freqs = axes_rope_freqs(cfg.axes_dims, cfg.rope_theta)  # computed, never a table

    def new_cache(self, cache_config, batch_size: int, *, height: int, width: int, dtype=None,
                  device=None) -> KVCache:
        """A KV cache for this model's layers and heads at latent size ``height x width``."""
        cfg = self.config
        param = next(self.parameters())
        return KVCache(cache_config, num_layers=cfg.num_layers, batch_size=batch_size, num_heads=cfg.num_heads,
                       tokens_per_frame=cfg.tokens_per_frame(height, width), head_dim=cfg.head_dim,
                       device=device or param.device, dtype=dtype or param.dtype,
                       grid=(height // cfg.patch_size, width // cfg.patch_size))

    def forward(self, x: torch.Tensor, t: torch.Tensor, *, start_frame: int = 0, cache: KVCache | None = None,
                labels: torch.Tensor | None = None, actions: torch.Tensor | None = None,
                rope: RopeFreqs | None = None, attention_scale: float = 1.0,
                bias: TemporalBias | None = None) -> torch.Tensor:
        """Velocity for ``x (B, F, C, H, W)`` at per-frame timesteps ``t (B, F)`` (FAR's units; -1: clean).

        Without a cache the frames are ``[start_frame, start_frame + F)`` attending frame-causally to each
        other; with one they attend to the cached window too and are written into it. ``bias``: a temporal
        bias (FAR's ``slope_scale`` is FlexRoPE's, used when no bias is given)."""
        cfg = self.config
        b, f, c, hh, ww = self.check_inputs(x, t)
        p = cfg.patch_size
        h, w = hh // p, ww // p
        tokens_per_frame = h * w
        dtype = self.x_embedder.weight.dtype
        # 1. Patchify: (B, F, C, H, W) -> (B, F*T, C*p*p), channels then patch rows and columns.
        tokens = x.to(dtype).reshape(b, f, c, h, p, w, p).permute(0, 1, 3, 5, 2, 4, 6).reshape(b, f * h * w, -1)
        tokens = self.x_embedder(tokens)
        # 2. Conditioning of every token of its frame.
        cond = self.conditioning(t, labels, actions).repeat_interleave(tokens_per_frame, dim=1)  # (B, F*T, D)
        # 3. Attention context: absolute frame positions, rotation, cache or frame-causal chunks, bias.
        frames = torch.arange(start_frame, start_frame + f, device=x.device)
        if cache is not None:
            cache.begin(start_frame, f)
        if bias is None and cfg.slope_scale > 0:
            bias = TemporalBias("flexrope", cfg.slope_scale)
        rotator = FrameRotator(rope or self.rope_freqs, h, w, attention_scale=attention_scale)
        ctx = FrameAttention(frames, rotator, heads=cfg.num_heads, tokens_per_frame=tokens_per_frame, cache=cache,
                             chunk_size=1, bias=bias)
        for layer, block in enumerate(self.transformer_blocks):
            tokens = block(tokens, cond, layer, ctx)
        # 4. Head, unpatchified: (B, F*T, p*p*C) -> (B, F, C, H, W).
        out = self.proj_out(self.norm_out(tokens, cond))
        out = out.reshape(b, f, h, w, cfg.out_channels, p, p).permute(0, 1, 4, 2, 5, 3, 6)
        return out.reshape(b, f, cfg.out_channels, hh, ww).to(x.dtype)


__all__ = ["Far", "timestep_features"]
