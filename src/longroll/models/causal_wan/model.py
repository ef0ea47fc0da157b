"""The causal Wan2.1 transformer (Self Forcing / LongLive / CausVid), written once, cleanly.

Same computation as Wan2.1's ``WanModel`` and diffusers' ``WanTransformer3DModel``, with what a
chunk-wise rollout needs: per-frame timesteps (AdaLN modulation per latent frame), attention
through ``longroll.cache`` (sink + window, keys stored rotated or not), RoPE positions computed
from absolute frame indices (no 1024-row table: the length is unbounded) through ``longroll.rope``
(so every temporal scaling applies), an optional temporal bias, and cross-attention keys and
values computed once per prompt (``encode_context``).

Parameter names are the original Wan names (``blocks.N.self_attn.q``, ``blocks.N.norm3``,
``head.modulation``, ...), the names Self Forcing, LongLive and CausVid checkpoints use;
``CausalWan.from_diffusers`` shares a diffusers model's tensors under these names.

Norms, modulation and the time embedding run in fp32 whatever the weights' dtype (as diffusers
keeps them), the linear layers in the weights' dtype (bf16 on GPU).

Legend: B batch, C latent channels, F latent frames, H x W latent grid, h x w token grid,
T = h*w tokens per frame, D width, N heads, Dh head dim, L text tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from longroll.attention import FrameAttention, attending, fast_attention, frame_attend_op
from longroll.cache import KVCache
from longroll.models.causal_wan.config import CausalWanConfig
from longroll.rope.bias import TemporalBias
from longroll.rope.freqs import RopeFreqs, wan_rope_freqs
from longroll.rope.rotator import FrameRotator

FP32_PARAMS = ("modulation", "norm3", "time_embedding")  # parameter names kept in fp32 by ``cast``


def sinusoidal_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Wan's timestep embedding: ``t (N,)`` in [0, 1000] -> ``(N, dim)`` = [cos(t w_i), sin(t w_i)],
    ``w_i = 10000^(-i / (dim/2))``, computed in float64 and returned as float32."""
    half = dim // 2
    w = torch.pow(10000.0, -torch.arange(half, dtype=torch.float64, device=t.device) / half)
    args = t.to(torch.float64)[:, None] * w[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1).float()


class FP32LayerNorm(nn.LayerNorm):
    """LayerNorm computed in fp32 (input and affine weights upcast), result in fp32."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = None if self.weight is None else self.weight.float()
        b = None if self.bias is None else self.bias.float()
        return F.layer_norm(x.float(), self.normalized_shape, w, b, self.eps)


class RMSNorm(nn.Module):
    """Wan's RMSNorm over the whole width (all heads), computed in fp32."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.float() * torch.rsqrt(x.float().pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return y.type_as(x) * self.weight


class WanAttention(nn.Module):
    """q, k, v, o projections with qk-norm; self- or cross-attention (the caller decides)."""

    def __init__(self, dim: int, heads: int, eps: float, qk_norm: bool) -> None:
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))
        self.norm_q = RMSNorm(dim, eps) if qk_norm else nn.Identity()
        self.norm_k = RMSNorm(dim, eps) if qk_norm else nn.Identity()

    def _heads(self, x: torch.Tensor) -> torch.Tensor:  # (B, n, D) -> (B, N, n, Dh)
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

    def query(self, x: torch.Tensor) -> torch.Tensor:
        return self._heads(self.norm_q(self.q(x)))

    def key_value(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._heads(self.norm_k(self.k(x))), self._heads(self.v(x))

    def out(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, n, Dh) -> (B, n, D)
        return self.o(x.transpose(1, 2).flatten(2))


@dataclass
class WanContext:
    """A prompt's cross-attention keys and values for every layer, computed once per prompt."""

    keys: list[torch.Tensor]  # per layer (B, N, L, Dh)
    values: list[torch.Tensor]  # per layer (B, N, L, Dh)


class WanBlock(nn.Module):
    """Self-attention, cross-attention and FFN with per-frame AdaLN modulation."""

    def __init__(self, cfg: CausalWanConfig) -> None:
        super().__init__()
        d = cfg.dim
        self.norm1 = FP32LayerNorm(d, cfg.eps, elementwise_affine=False)
        self.self_attn = WanAttention(d, cfg.num_heads, cfg.eps, cfg.qk_norm)
        self.norm3 = FP32LayerNorm(d, cfg.eps, elementwise_affine=True) if cfg.cross_attn_norm else nn.Identity()
        self.cross_attn = WanAttention(d, cfg.num_heads, cfg.eps, cfg.qk_norm)
        self.norm2 = FP32LayerNorm(d, cfg.eps, elementwise_affine=False)
        self.ffn = nn.Sequential(nn.Linear(d, cfg.ffn_dim), nn.GELU(approximate="tanh"), nn.Linear(cfg.ffn_dim, d))
        self.modulation = nn.Parameter(torch.randn(1, 6, d) / d**0.5)

    def forward(self, x: torch.Tensor, e0: torch.Tensor, ck: torch.Tensor, cv: torch.Tensor, layer: int,
                ctx: FrameAttention) -> torch.Tensor:
        """x (B, F, T, D); e0 (B, F, 6, D) fp32; ck, cv (B, N, L, Dh) this layer's prompt keys/values."""
        b, f, t, d = x.shape
        mod = (self.modulation.float()[None] + e0)[:, :, :, None]  # (B, F, 6, 1, D)
        shift, scale, gate, c_shift, c_scale, c_gate = mod.unbind(2)  # each (B, F, 1, D)
        dtype = x.dtype
        # Self-attention over the chunk and the cached window.
        y = (self.norm1(x) * (1 + scale) + shift).to(dtype).reshape(b, f * t, d)
        a = self.self_attn
        q = a.query(y)
        k, v = a.key_value(y)
        if torch.compiler.is_compiling():  # the cache stays eager: one opaque operator (longroll.attention)
            y = a.o(frame_attend_op()(q, k, v, layer).flatten(2)).reshape(b, f, t, d)
        else:
            y = a.out(ctx.attend(layer, q, k, v)).reshape(b, f, t, d)
        x = (x.float() + y.float() * gate).to(dtype)
        # Cross-attention to the prompt (keys/values precomputed per prompt).
        y = self.norm3(x).to(dtype).reshape(b, f * t, d)
        c = self.cross_attn
        y = c.out(fast_attention(c.query(y), ck.to(dtype), cv.to(dtype))).reshape(b, f, t, d)
        x = x + y
        # FFN.
        y = self.ffn((self.norm2(x) * (1 + c_scale) + c_shift).to(dtype))
        return (x.float() + y.float() * c_gate).to(dtype)


class WanHead(nn.Module):
    """Final modulated norm and projection back to patches."""

    def __init__(self, cfg: CausalWanConfig) -> None:
        super().__init__()
        d = cfg.dim
        self.norm = FP32LayerNorm(d, cfg.eps, elementwise_affine=False)
        self.head = nn.Linear(d, cfg.out_channels * math.prod(cfg.patch_size))
        self.modulation = nn.Parameter(torch.randn(1, 2, d) / d**0.5)

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:  # x (B, F, T, D), e (B, F, D) fp32
        shift, scale = (self.modulation.float()[None] + e[:, :, None])[:, :, :, None].unbind(2)  # (B, F, 1, D)
        return self.head((self.norm(x) * (1 + scale) + shift).to(x.dtype))


class CausalWan(nn.Module):
    """Causal Wan2.1 text-to-video transformer with per-frame timesteps and a sink + window KV cache."""

    def __init__(self, config: CausalWanConfig, *, chunk_size: int | None = 3) -> None:
        """``chunk_size``: latent frames denoised together; an uncached forward over more frames is
        chunk-causal (bidirectional inside a chunk, causal across). None: bidirectional."""
        super().__init__()
        cfg = self.config = config
        self.chunk_size = chunk_size
        d = cfg.dim
        self.patch_embedding = nn.Conv3d(cfg.in_channels, d, kernel_size=cfg.patch_size, stride=cfg.patch_size)
        self.text_embedding = nn.Sequential(nn.Linear(cfg.text_dim, d), nn.GELU(approximate="tanh"), nn.Linear(d, d))
        self.time_embedding = nn.Sequential(nn.Linear(cfg.freq_dim, d), nn.SiLU(), nn.Linear(d, d))
        self.time_projection = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))
        self.blocks = nn.ModuleList(WanBlock(cfg) for _ in range(cfg.num_layers))
        self.head = WanHead(cfg)
        with torch.device("cpu"):  # also when the module is built on the meta device
            self.rope_freqs = wan_rope_freqs(cfg.head_dim, cfg.rope_theta)  # computed, never a checkpoint table

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_diffusers(cls, transformer: nn.Module, *, chunk_size: int | None = 3) -> CausalWan:
        """Build on a diffusers ``WanTransformer3DModel``, sharing its parameter tensors (no copy)."""
        from longroll.models.causal_wan.keys import diffusers_to_native

        config = CausalWanConfig.from_diffusers(dict(transformer.config))
        with torch.device("meta"):
            model = cls(config, chunk_size=chunk_size)
        state = diffusers_to_native(dict(transformer.named_parameters()))
        model.load_state_dict(state, strict=True, assign=True)
        return model

    def compile_blocks(self, **options) -> CausalWan:
        """``torch.compile`` every block: one graph per block with no break (its self-attention is the
        opaque ``longroll::frame_attend``), shared by all blocks, recompiled only when the chunk's shape
        changes. ``options`` go to ``torch.compile``."""
        frame_attend_op()  # registered before any tracing
        for block in self.blocks:
            block.compile(**options)
        return self

    def cast(self, dtype: torch.dtype) -> CausalWan:
        """Weights to ``dtype`` except modulation, affine norms and the time embedding (kept fp32)."""
        self.to(dtype)
        for name, p in self.named_parameters():
            if any(part in name for part in FP32_PARAMS):
                p.data = p.data.float()
        return self

    @property
    def dtype(self) -> torch.dtype:
        return self.patch_embedding.weight.dtype

    def new_cache(self, cache_config, latent_height: int, latent_width: int, batch_size: int = 1, *,
                  device=None, dtype: torch.dtype | None = None) -> KVCache:
        """An empty KV cache for latent frames of ``latent_height x latent_width``."""
        cfg = self.config
        return KVCache(cache_config, num_layers=cfg.num_layers, batch_size=batch_size, num_heads=cfg.num_heads,
                       tokens_per_frame=cfg.tokens_per_frame(latent_height, latent_width), head_dim=cfg.head_dim,
                       device=device or self.patch_embedding.weight.device, dtype=dtype or self.dtype,
                       grid=(latent_height // cfg.patch_size[1], latent_width // cfg.patch_size[2]))

    # ------------------------------------------------------------------ prompt
    def encode_context(self, context: torch.Tensor) -> WanContext:
        """Text-encoder states ``(B, L, text_dim)`` -> per-layer cross-attention keys and values.

        As Wan's own model does, a context shorter than ``text_len`` is zero-padded to it (the padded
        rows are embedded and attended like any other), so padded and unpadded states agree."""
        cfg = self.config
        if context.ndim != 3 or context.shape[-1] != cfg.text_dim:
            raise ValueError(f"context must be (B, L, {cfg.text_dim}) text-encoder states, got "
                             f"{tuple(context.shape)}.")
        if context.shape[1] > cfg.text_len:
            raise ValueError(f"The context has {context.shape[1]} tokens; this model attends to at most "
                             f"text_len = {cfg.text_len} (allowed range [1, {cfg.text_len}]).")
        context = torch.nn.functional.pad(context, (0, 0, 0, cfg.text_len - context.shape[1]))  # (B, text_len, C)
        c = self.text_embedding(context.to(self.dtype))  # (B, L, D)
        kv = [block.cross_attn.key_value(c) for block in self.blocks]
        return WanContext([k for k, _ in kv], [v for _, v in kv])

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        context: torch.Tensor | WanContext,
        *,
        start_frame: int = 0,
        cache: KVCache | None = None,
        rope: RopeFreqs | None = None,
        attention_scale: float = 1.0,
        bias: TemporalBias | None = None,
    ) -> torch.Tensor:
        """Flow prediction for ``x (B, C, F, H, W)`` at per-frame timesteps ``t (B, F)`` in [0, 1000].

        ``context``: text-encoder states ``(B, L, text_dim)`` or their ``encode_context``. With a
        ``cache`` the frames are ``[start_frame, start_frame + F)`` of a rollout and attend to the
        cached window; without, they attend to each other (chunk-causally beyond ``chunk_size``).
        ``rope`` replaces the RoPE frequencies (e.g. FLEX-scaled temporal planes).
        """
        cfg = self.config
        b, c, f, hh, ww = x.shape
        if c != cfg.in_channels:
            raise ValueError(f"x has {c} channels; this model takes {cfg.in_channels} (x is (B, C, F, H, W)).")
        if t.shape != (b, f):
            raise ValueError(f"t must hold one timestep per frame, shape {(b, f)}; got {tuple(t.shape)}.")
        _, ph, pw = cfg.patch_size
        h, w = hh // ph, ww // pw
        tokens_per_frame = cfg.tokens_per_frame(hh, ww)
        dtype = self.dtype
        # 1. Patchify: (B, C, F, H, W) -> (B, F, T, D).
        tokens = self.patch_embedding(x.to(dtype)).flatten(3).permute(0, 2, 3, 1).contiguous()
        # 2. Per-frame time embedding (fp32) and its six modulation vectors.
        emb = sinusoidal_embedding(t.reshape(-1), cfg.freq_dim)
        e = self.time_embedding(emb.to(self.time_embedding[0].weight.dtype)).float()  # (B*F, D)
        e0 = self.time_projection(e.to(self.time_projection[1].weight.dtype)).float()  # (B*F, 6D)
        e, e0 = e.reshape(b, f, -1), e0.reshape(b, f, 6, -1)
        # 3. Prompt keys and values (once per prompt when the caller passes a WanContext).
        ctx_kv = context if isinstance(context, WanContext) else self.encode_context(context)
        # 4. Attention context: absolute frame positions, rotation, cache or mask, temporal bias.
        frames = torch.arange(start_frame, start_frame + f, device=x.device)
        if cache is not None:
            cache.begin(start_frame, f)
        rotator = FrameRotator(rope or self.rope_freqs, h, w, attention_scale=attention_scale)
        attn = FrameAttention(frames, rotator, heads=cfg.num_heads, tokens_per_frame=tokens_per_frame, cache=cache,
                              chunk_size=self.chunk_size, bias=bias)
        # 5. Blocks.
        with attending(attn):
            for layer, block in enumerate(self.blocks):
                tokens = block(tokens, e0, ctx_kv.keys[layer], ctx_kv.values[layer], layer, attn)
        # 6. Head and unpatchify: (B, F, T, C*ph*pw) -> (B, C, F, H, W).
        out = self.head(tokens, e)
        out = out.reshape(b, f, h, w, ph, pw, cfg.out_channels).permute(0, 6, 1, 2, 4, 3, 5)
        return out.reshape(b, cfg.out_channels, f, hh, ww).to(x.dtype)


__all__ = ["CausalWan", "WanContext", "sinusoidal_embedding"]
