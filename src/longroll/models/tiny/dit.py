"""The built-in denoiser: a frame-chunk-causal DiT over latent patches (FAR / Self Forcing style).

- Tokens: each latent frame (C, S, S) is cut into ``patch x patch`` patches -> T tokens per frame.
- Attention: bidirectional inside a chunk of latent frames, causal across chunks; 3D RoPE with
  Wan's head split (``longroll.rope``), so every temporal scaling applies; optional temporal bias;
  with a ``KVCache`` the forward runs one chunk against the cached window (sink + recent frames).
- Conditioning: per-frame AdaLN-zero from the frame's timestep (diffusion forcing: every frame
  has its own noise level) plus the parsed prompt (sum of (colour, shape) embeddings and the
  background). A negative timestep marks a clean context frame (FAR's dedicated clean timestep).
  With ``config.cross_attention`` every block also cross-attends to the prompt's tokens (one per
  object, one for the background), as Wan's blocks attend to the text encoder's tokens.
- Output: the flow-matching velocity ``v = noise - x0`` for ``x_t = (1 - t) x0 + t noise``.

Legend: B batch, F frames, C latent channels, S latent size, g token grid, T = g*g tokens per
frame, D width, H heads, Dh head dim.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from longroll.attention import FrameAttention
from longroll.cache import KVCache
from longroll.models.tiny.config import CLEAN_T, DiTConfig, tiny_defaults
from longroll.rope.bias import TemporalBias
from longroll.rope.freqs import RopeFreqs, axes_rope_freqs
from longroll.rope.rotator import FrameRotator
from longroll.world.vocab import BACKGROUNDS, COLOURS, MAX_OBJECTS, SHAPES, ObjectSpec, Prompt

NUM_PAIRS = len(COLOURS) * len(SHAPES)  # (colour, shape) embeddings; index NUM_PAIRS pads
NULL_BACKGROUND = -1  # background id of the "no prompt" row (classifier-free guidance)


def encode_prompt(prompt: Prompt) -> torch.Tensor:
    """Prompt -> (MAX_OBJECTS + 1,) long: (colour, shape) pair ids padded with NUM_PAIRS, then background id."""
    colours, backgrounds = list(COLOURS), list(BACKGROUNDS)
    ids = [colours.index(o.colour) * len(SHAPES) + SHAPES.index(o.shape) for o in prompt.objects]
    ids += [NUM_PAIRS] * (MAX_OBJECTS - len(ids))
    return torch.tensor(ids + [backgrounds.index(prompt.background)], dtype=torch.long)


def decode_prompt(ids: torch.Tensor) -> Prompt:
    """The inverse of ``encode_prompt``: (MAX_OBJECTS + 1,) ids -> Prompt (pads dropped)."""
    colours, backgrounds = list(COLOURS), list(BACKGROUNDS)
    objects = tuple(ObjectSpec(colours[i // len(SHAPES)], SHAPES[i % len(SHAPES)])
                    for i in ids[:MAX_OBJECTS].tolist() if i != NUM_PAIRS)
    return Prompt(objects, backgrounds[int(ids[MAX_OBJECTS])])


def null_prompt(cond: torch.Tensor) -> torch.Tensor:
    """The "no prompt" rows for prompt ids ``cond`` (B, MAX_OBJECTS + 1): all pads, null background."""
    null = torch.full_like(cond, NUM_PAIRS)
    null[:, MAX_OBJECTS] = NULL_BACKGROUND
    return null


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of t in [0, 1] (scaled to [0, 1000]): (...,) -> (..., dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = (t.float() * 1000.0)[..., None] * freqs
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class Block(nn.Module):
    """AdaLN-zero transformer block with qk-norm self-attention.

    With ``modulation = "block"`` the block maps the conditioning to its six modulations itself;
    with ``"single"`` it receives them from the model's shared layer and adds its own learned
    offsets (``table``), as PixArt-alpha's adaLN-single.
    """

    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        d, self.heads = config.width, config.heads
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(d, 3 * d)
        self.q_norm = nn.RMSNorm(config.head_dim, eps=1e-6)
        self.k_norm = nn.RMSNorm(config.head_dim, eps=1e-6)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        hidden = int(d * config.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, d))
        if config.modulation == "block":
            self.ada = nn.Linear(d, 6 * d)
            nn.init.zeros_(self.ada.weight)
            nn.init.zeros_(self.ada.bias)
        else:
            self.table = nn.Parameter(torch.zeros(6 * d))
        if config.cross_attention:  # Wan's order: self-attention, cross-attention, FFN
            self.norm3 = nn.LayerNorm(d, eps=1e-6)  # affine, as Wan's cross_attn_norm
            self.cross_q = nn.Linear(d, d)
            self.cross_kv = nn.Linear(d, 2 * d)
            self.cross_q_norm = nn.RMSNorm(config.head_dim, eps=1e-6)
            self.cross_k_norm = nn.RMSNorm(config.head_dim, eps=1e-6)
            self.cross_proj = nn.Linear(d, d)
            nn.init.zeros_(self.cross_proj.weight)  # zero at init: the block starts as one without it
            nn.init.zeros_(self.cross_proj.bias)

    def cross_attend(self, x: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        """Cross-attention of x (B, F, T, D) to prompt tokens text (B, L, D) where text_mask (B, L) is
        True: (B, F, T, D), added to the residual stream (no gate, as Wan)."""
        b, f, t, d = x.shape
        q = self.cross_q(self.norm3(x)).reshape(b, f * t, self.heads, -1).transpose(1, 2)  # (B, H, F*T, Dh)
        k, v = self.cross_kv(text).reshape(b, -1, 2, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k = self.cross_q_norm(q), self.cross_k_norm(k.to(q.dtype))  # (B, H, L, Dh)
        out = F.scaled_dot_product_attention(q, k, v.to(q.dtype), attn_mask=text_mask[:, None, None, :])
        return self.cross_proj(out.transpose(1, 2).reshape(b, f, t, d))

    def forward(self, x, c, layer, ctx, text=None) -> torch.Tensor:
        """x (B, F, T, D) tokens; c (B, F, D) per-frame conditioning, or (B, F, 6D) shared modulations
        for adaLN-single; ctx: the forward's attention context; text: (prompt tokens (B, L, D), their
        mask (B, L)) for blocks with cross-attention."""
        b, f, t, d = x.shape
        mod = self.ada(F.silu(c)) if hasattr(self, "ada") else c + self.table  # (B, F, 6D)
        shift1, scale1, gate1, shift2, scale2, gate2 = mod[:, :, None].chunk(6, dim=-1)
        h = modulate(self.norm1(x), shift1, scale1).reshape(b, f * t, d)
        q, k, v = self.qkv(h).reshape(b, f * t, 3, self.heads, -1).permute(2, 0, 3, 1, 4)  # 3 x (B, H, F*T, Dh)
        q, k = self.q_norm(q), self.k_norm(k)
        out = ctx.attend(layer, q, k, v)  # (B, H, F*T, Dh)
        out = out.transpose(1, 2).reshape(b, f, t, d)
        x = x + gate1 * self.proj(out)
        if text is not None:
            x = x + self.cross_attend(x, *text)
        x = x + gate2 * self.mlp(modulate(self.norm2(x), shift2, scale2))
        return x


class TinyDiT(nn.Module):
    """Frame-chunk-causal flow-matching DiT for the built-in world."""

    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        self.config = config
        d = config.width
        self.patch_embed = nn.Linear(config.patch_dim, d)
        self.t_mlp = nn.Sequential(nn.Linear(256, d), nn.SiLU(), nn.Linear(d, d))
        if config.jump:  # embedding of the jump size d, zero at init (the model starts as a flow model)
            self.jump_mlp = nn.Sequential(nn.Linear(256, d), nn.SiLU(), nn.Linear(d, d))
            nn.init.zeros_(self.jump_mlp[2].weight)
            nn.init.zeros_(self.jump_mlp[2].bias)
        if config.modulation == "single":
            self.ada = nn.Linear(d, 6 * d)  # shared by every block (adaLN-single)
            nn.init.zeros_(self.ada.weight)
            nn.init.zeros_(self.ada.bias)
        self.clean_embed = nn.Parameter(torch.zeros(d))
        self.pair_embed = nn.Embedding(NUM_PAIRS + 1, d, padding_idx=NUM_PAIRS)
        self.bg_embed = nn.Embedding(len(BACKGROUNDS), d)
        self.cond_mlp = nn.Sequential(nn.SiLU(), nn.Linear(d, d))
        self.null_cond = nn.Parameter(torch.zeros(d))  # the "no prompt" conditioning (prompt dropout, guidance)
        self.null_trained = True  # False for weights trained without prompt dropout (no guidance then)
        if config.cross_attention:  # prompt tokens for cross-attention (Wan's text_embedding, scaled down)
            self.text_mlp = nn.Sequential(nn.Linear(d, d), nn.GELU(approximate="tanh"), nn.Linear(d, d))
            self.null_token = nn.Parameter(torch.zeros(d))  # the background token of the "no prompt" row
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.depth))
        self.final_norm = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.final_ada = nn.Linear(d, 2 * d)
        self.head = nn.Linear(d, config.patch_dim)
        for m in (self.final_ada, self.head):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)
        self.rope_freqs = axes_rope_freqs(config.rope_dims, config.rope_theta)  # computed, never a checkpoint table
        self.defaults = tiny_defaults(config)  # the loader replaces it when the weights state their own

    # What the schedules read (``longroll.models.base.Denoiser``), and nothing more.
    @property
    def latent_shape(self) -> tuple[int, int, int]:
        return (self.config.latent_channels, self.config.latent_size, self.config.latent_size)

    def new_cache(self, cache_config, batch_size: int = 1, *, device=None, dtype=None) -> KVCache:
        """An empty KV cache shaped for this model."""
        cfg = self.config
        return KVCache(cache_config, num_layers=cfg.depth, batch_size=batch_size, num_heads=cfg.heads,
                       tokens_per_frame=cfg.tokens_per_frame, head_dim=cfg.head_dim,
                       device=device or self.head.weight.device, dtype=dtype or torch.float32,
                       grid=(cfg.grid, cfg.grid))

    def condition(self, cond: torch.Tensor) -> torch.Tensor:
        """Prompt ids (B, MAX_OBJECTS + 1) -> conditioning vector (B, D); null rows get ``null_cond``."""
        pairs = self.pair_embed(cond[:, :MAX_OBJECTS]).sum(dim=1)
        background = cond[:, MAX_OBJECTS]
        vec = self.cond_mlp(pairs + self.bg_embed(background.clamp(min=0)))
        return torch.where((background == NULL_BACKGROUND)[:, None], self.null_cond.to(vec.dtype), vec)

    def prompt_tokens(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Prompt ids (B, MAX_OBJECTS + 1) -> tokens (B, MAX_OBJECTS + 1, D) and mask (B, MAX_OBJECTS + 1):
        one token per object (padding slots masked out) and the background token, always present
        (for null rows it is ``null_token`` and it is the only one)."""
        objects = self.pair_embed(cond[:, :MAX_OBJECTS])  # (B, K, D)
        background = cond[:, MAX_OBJECTS]
        bg = torch.where((background == NULL_BACKGROUND)[:, None], self.null_token.to(objects.dtype),
                         self.bg_embed(background.clamp(min=0)))  # (B, D)
        tokens = self.text_mlp(torch.cat([objects, bg[:, None]], dim=1))
        mask = torch.cat([cond[:, :MAX_OBJECTS] != NUM_PAIRS,
                          torch.ones_like(background[:, None], dtype=torch.bool)], 1)
        return tokens, mask

    def null_condition(self, cond: torch.Tensor) -> torch.Tensor:
        """The unconditional counterpart of ``cond`` (for classifier-free guidance)."""
        return null_prompt(cond)

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        cond: torch.Tensor,
        *,
        cache: KVCache | None = None,
        start_frame: int = 0,
        rope: RopeFreqs | None = None,
        attention_scale: float = 1.0,
        bias: TemporalBias | None = None,
        jump: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Velocity for latents ``x (B, F, C, S, S)`` at per-frame timesteps ``t (B, F)`` (negative = clean).

        ``rope`` replaces the model's RoPE table (e.g. with scaled temporal planes); ``cache`` makes
        this a chunk forward against the cached window starting at ``start_frame``. ``jump (B, F)``
        (models with ``config.jump``) asks for the mean velocity over a step of that size, so that
        ``x - d * v`` lands at level ``t - d``; None or 0 is the instantaneous velocity.
        """
        cfg = self.config
        b, f, c, s, _ = x.shape
        # 1. Patchify and embed: (B, F, C, S, S) -> (B, F, T, D)
        h = self.patch_embed(patchify(x, cfg.patch))
        # 2. Per-frame conditioning: timestep (or the clean marker) + prompt.
        cvec = self.frame_conditioning(t, cond, jump)  # (B, F, D)
        # 3. Attention context: positions, RoPE, mask or cache, temporal bias.
        frames = torch.arange(start_frame, start_frame + f, device=x.device)
        if cache is not None:
            cache.begin(start_frame, f)
        rotator = FrameRotator(rope or self.rope_freqs, cfg.grid, cfg.grid, attention_scale=attention_scale)
        ctx = FrameAttention(frames, rotator, heads=cfg.heads, tokens_per_frame=cfg.tokens_per_frame, cache=cache,
                             chunk_size=cfg.chunk_size, bias=bias)
        # 4. Transformer blocks (adaLN-single: the modulations are computed once for all of them).
        mod = self.modulations(cvec)  # (B, F, 6D) or (B, F, D)
        text = self.prompt_tokens(cond) if cfg.cross_attention else None
        for layer, block in enumerate(self.blocks):
            h = block(h, mod, layer, ctx, text)
        # 5. Output norm, projection and unpatchify.
        return self.output(h, cvec)

    # Pieces of the forward that the variant with long short-term context (``long.py``) shares.
    def frame_conditioning(self, t: torch.Tensor, cond: torch.Tensor, jump: torch.Tensor | None) -> torch.Tensor:
        """Per-frame conditioning (B, F, D): timestep (and jump) embedding, or the clean marker, plus the prompt."""
        t_emb = self.t_mlp(timestep_embedding(t.clamp(min=0), 256))  # (B, F, D)
        if self.config.jump:  # no jump given = the instantaneous velocity (d = 0)
            d = torch.zeros_like(t) if jump is None else jump
            t_emb = t_emb + self.jump_mlp(timestep_embedding(d, 256))
        elif jump is not None:
            raise ValueError("This model was not trained with jump conditioning (config.jump is false).")
        t_emb = torch.where((t < 0)[..., None], self.clean_embed.to(t_emb.dtype), t_emb)
        return t_emb + self.condition(cond)[:, None]

    def modulations(self, cvec: torch.Tensor) -> torch.Tensor:
        """What the blocks receive: the shared modulations (B, F, 6D) (adaLN-single) or the conditioning itself."""
        return self.ada(F.silu(cvec)) if self.config.modulation == "single" else cvec

    def output(self, h: torch.Tensor, cvec: torch.Tensor) -> torch.Tensor:
        """Final norm, projection and unpatchify: tokens (B, F, T, D) -> velocity (B, F, C, S, S)."""
        shift, scale = self.final_ada(F.silu(cvec))[:, :, None].chunk(2, dim=-1)
        out = self.head(modulate(self.final_norm(h), shift, scale))  # (B, F, T, C*p*p)
        return unpatchify(out, self.config.patch, self.config.latent_channels)


def patchify(x: torch.Tensor, p: int) -> torch.Tensor:
    """(B, F, C, S, S) -> (B, F, (S/p)^2, C*p*p): row-major patches, each flattened as (C, p, p)."""
    b, f, c, s, _ = x.shape
    g = s // p
    return x.reshape(b, f, c, g, p, g, p).permute(0, 1, 3, 5, 2, 4, 6).reshape(b, f, g * g, c * p * p)


def unpatchify(tokens: torch.Tensor, p: int, channels: int) -> torch.Tensor:
    """The inverse of ``patchify``: (B, F, g*g, C*p*p) -> (B, F, C, g*p, g*p)."""
    b, f, n, _ = tokens.shape
    g = int(round(n ** 0.5))
    out = tokens.reshape(b, f, g, g, channels, p, p).permute(0, 1, 4, 2, 5, 3, 6)
    return out.reshape(b, f, channels, g * p, g * p)


__all__ = ["CLEAN_T", "NUM_PAIRS", "TinyDiT", "decode_prompt", "encode_prompt", "modulate", "null_prompt", "patchify",
           "timestep_embedding", "unpatchify"]
