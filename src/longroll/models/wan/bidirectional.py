"""Wan2.1 (bidirectional) through diffusers as a per-frame-timestep denoiser, with longroll's
temporal RoPE and temporal bias, for the diagonal (FIFO / MIGA) schedules.

diffusers' ``WanTransformer3DModel`` has no hook for any of this, so three small replacements:

1. Per-frame timesteps: its ``timestep`` may be ``(B, tokens)``, one value per token (the Wan2.2
   TI2V path); a per-frame ``t (B, F)`` is expanded to the frame's tokens.
2. Temporal RoPE: ``transformer.rope`` (a fixed 1024-row table read from position 0) is replaced
   by ``FrameRope``, which computes cos/sin for the frames' true positions (any offset, any gaps:
   a FIFO queue or MIGA's guidance frames) from a ``RopeFreqs``, so every scaling of
   ``longroll.rope`` applies and there is no 1024-frame limit.
3. Temporal bias: its blocks pass no attention mask, so a ``BiasProcessor`` on every
   self-attention adds the bias (FlexRoPE / ALiBi) without a mask (``attention.frame_biased_attention``).

Legend: B batch, F latent frames, C channels, H x W latent grid, T tokens per frame, D head dim.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from longroll.constants import MIGA_WAN_DIAGONAL
from longroll.models.base import DiagonalDefaults, ModelDefaults
from longroll.rope.bias import TemporalBias
from longroll.rope.freqs import RopeFreqs, rope_cos_sin, wan_rope_freqs
from longroll.sampler import FewStepSchedule


class FrameRope(nn.Module):
    """Stand-in for diffusers' ``WanRotaryPosEmbed``: same ``forward(hidden_states) -> (cos, sin)``
    contract, each ``(1, F*h*w, 1, D)`` in repeat-interleaved form, at the positions set last."""

    def __init__(self, head_dim: int, patch_size: tuple[int, int, int], theta: float = 10000.0,
                 heads: int | None = None) -> None:
        super().__init__()
        self.patch_size = tuple(patch_size)
        self.heads = heads  # for a per-head temporal jitter (LoL)
        self.base = wan_rope_freqs(head_dim, theta)
        self.freqs: RopeFreqs = self.base
        self.positions: torch.Tensor | None = None  # (F,) absolute frame positions; None = 0..F-1
        self.attention_scale = 1.0

    def set(self, positions: torch.Tensor | None, freqs: RopeFreqs | None, attention_scale: float) -> None:
        self.positions, self.freqs, self.attention_scale = positions, freqs or self.base, attention_scale

    def forward(self, hidden_states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        _, _, f, hh, ww = hidden_states.shape
        pt, ph, pw = self.patch_size
        positions = self.positions if self.positions is not None else torch.arange(f // pt)
        if positions.numel() != f // pt:
            raise ValueError(f"{positions.numel()} frame positions were set for {f // pt} latent frames.")
        per_head = self.freqs.jitter > 0 and self.heads is not None
        cos, sin = rope_cos_sin(self.freqs, positions.to(hidden_states.device), hh // ph, ww // pw,
                                attention_scale=self.attention_scale,
                                heads=self.heads if per_head else None)  # (N, D/2) or (H, N, D/2)
        if per_head:  # diffusers rotates (B, N, H, D): heads on the third axis
            expand = lambda a: a.repeat_interleave(2, dim=-1).transpose(0, 1)[None]  # noqa: E731 - (1, N, H, D)
        else:
            expand = lambda a: a.repeat_interleave(2, dim=-1)[None, :, None, :]  # noqa: E731 - (1, N, 1, D)
        return expand(cos), expand(sin)


def _bias_processor_class():
    from diffusers.models.transformers.transformer_wan import WanAttnProcessor, _get_qkv_projections

    class BiasProcessor(WanAttnProcessor):
        """``WanAttnProcessor`` whose self-attention adds a temporal bias without a dense mask.

        ``key_bias`` (``(1 or H, F, N)``: per query frame and key token, FlexRoPE's or ALiBi's) goes
        through ``attention.frame_biased_attention`` (the bias in extra key channels, so SDPA keeps its
        fused kernels); the projections, q/k norms and rotation are diffusers' own steps in its order.
        Without a bias, and for the cross-attention, diffusers' processor runs unchanged."""

        key_bias: torch.Tensor | None = None

        def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, rotary_emb=None):
            if self.key_bias is None or encoder_hidden_states is not None:
                return super().__call__(attn, hidden_states, encoder_hidden_states, attention_mask, rotary_emb)
            from longroll.attention import frame_biased_attention

            query, key, value = _get_qkv_projections(attn, hidden_states, None)
            query, key = attn.norm_q(query), attn.norm_k(key)
            query, key, value = (x.unflatten(2, (attn.heads, -1)) for x in (query, key, value))  # (B, N, H, D)
            if rotary_emb is not None:
                query, key = _rotate_pairs(query, *rotary_emb), _rotate_pairs(key, *rotary_emb)
            out = frame_biased_attention(query.transpose(1, 2), key.transpose(1, 2), value.transpose(1, 2),
                                         self.key_bias)  # (B, H, N, D)
            out = out.transpose(1, 2).flatten(2, 3).type_as(query)
            return attn.to_out[1](attn.to_out[0](out))

    return BiasProcessor


def _rotate_pairs(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """RoPE on interleaved pairs ``(x[2i], x[2i+1])`` of ``x (B, N, H, D)`` with ``cos, sin`` as
    ``FrameRope`` gives them (each frequency repeated twice), as diffusers' Wan applies it."""
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)
    c, s = cos[..., 0::2], sin[..., 1::2]
    return torch.stack([x1 * c - x2 * s, x1 * s + x2 * c], dim=-1).flatten(-2).type_as(x)


class DiffusersWanDenoiser(nn.Module):
    """A diffusers ``WanTransformer3DModel`` driven with per-frame noise levels, frame positions,
    temporal RoPE scaling and temporal bias; ``forward`` speaks longroll's layout (B, F, C, H, W)
    and noise levels in [0, 1]."""

    def __init__(self, transformer: nn.Module, *, train_len: int = 21, height: int = 480, width: int = 832,
                 shift: float = 5.0) -> None:
        """``train_len``: latent frames of the model's native clip (21 = 81 video frames for Wan2.1);
        ``height`` x ``width``: video size in pixels (latents are 8x smaller); ``shift``: the
        flow-matching shift of its noise levels (MIGA uses 5 on Wan2.1)."""
        super().__init__()
        cfg = transformer.config
        self.transformer = transformer
        self.latent_shape = (cfg.in_channels, height // 8, width // 8)
        # Bidirectional: no chunk-wise rollout; FIFO / MIGA with MIGA's Wan2.1 settings (per-frame
        # timesteps through diffusers' per-token timesteps; a clean frame is at t = 0).
        self.defaults = ModelDefaults(
            train_len=train_len, chunk_size=None, window=train_len, sink=0,
            schedule=FewStepSchedule(steps=50, shift=shift, sampler="euler"), context_timestep=0.0,
            frames_per_latent=4, upscale=1, diagonal=DiagonalDefaults(**MIGA_WAN_DIAGONAL))
        self.heads = cfg.num_attention_heads
        self.frame_rope = FrameRope(cfg.attention_head_dim, cfg.patch_size, heads=cfg.num_attention_heads)
        transformer.rope = self.frame_rope
        processor = _bias_processor_class()
        self.processors = {name: processor() for name in transformer.attn_processors if ".attn1." in name}
        transformer.set_attn_processor({name: self.processors.get(name, proc)
                                        for name, proc in transformer.attn_processors.items()})

    @property
    def rope_freqs(self) -> RopeFreqs:
        return self.frame_rope.base

    @property
    def latent_channels(self) -> int:
        return self.transformer.config.in_channels

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, *, start_frame: int = 0,
                frame_positions: torch.Tensor | None = None, rope: RopeFreqs | None = None,
                attention_scale: float = 1.0, bias: TemporalBias | None = None) -> torch.Tensor:
        """Velocity for ``x (B, F, C, H, W)`` at per-frame noise levels ``t (B, F)`` in [0, 1].

        Frames sit at ``frame_positions (F,)`` (default ``start_frame + arange(F)``); ``cond`` is
        the text-encoder states ``(B, L, text_dim)``.
        """
        b, f, _, hh, ww = x.shape
        if t.shape != (b, f):
            raise ValueError(f"t must hold one noise level per frame, shape {(b, f)}; got {tuple(t.shape)}.")
        _, ph, pw = self.transformer.config.patch_size
        tokens = (hh // ph) * (ww // pw)
        positions = frame_positions if frame_positions is not None else torch.arange(start_frame, start_frame + f)
        positions = positions.to(x.device)
        self.frame_rope.set(positions, rope, attention_scale)
        frame_bias = None if bias is None else bias.frame_bias(positions, positions, self.heads)
        key_bias = None if frame_bias is None else frame_bias.repeat_interleave(tokens, dim=-1)  # (1|H, F, F*T)
        for proc in self.processors.values():
            proc.key_bias = key_bias
        dtype = next(self.transformer.parameters()).dtype
        timestep = (t * 1000.0).repeat_interleave(tokens, dim=1)  # (B, F*T): one timestep per token
        try:
            out = self.transformer(x.transpose(1, 2).to(dtype), timestep, cond.to(dtype), return_dict=False)[0]
        finally:  # the wrapped transformer is left as a plain call would find it: positions 0.., its own RoPE
            self.frame_rope.set(None, None, 1.0)
            for proc in self.processors.values():
                proc.key_bias = None
        return out.transpose(1, 2).to(x.dtype)


def load_wan_transformer(path: str | Path, *, device="cpu", dtype: torch.dtype = torch.float32):
    """diffusers ``WanTransformer3DModel`` from a local directory (``DIR/transformer`` or ``DIR``).

    Built from its ``config.json`` and its safetensors shards directly: diffusers' ``from_pretrained``
    needs ``accelerate`` for this model class (it keeps some modules in fp32)."""
    from diffusers import WanTransformer3DModel
    from safetensors.torch import load_file

    path = Path(path)
    folder = path / "transformer" if (path / "transformer" / "config.json").is_file() else path
    if not (folder / "config.json").is_file():
        raise ValueError(f"{path} has no Wan transformer in diffusers layout (expected transformer/config.json).")
    shards = sorted(folder.glob("*.safetensors"))
    if not shards:
        raise ValueError(f"{folder} has no .safetensors weights.")
    model = WanTransformer3DModel.from_config(WanTransformer3DModel.load_config(str(folder)))
    state = {}
    for shard in shards:
        state.update(load_file(str(shard)))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{folder} does not match its config: missing {missing[:5]}, unexpected {unexpected[:5]}.")
    return model.to(device=device, dtype=dtype).eval().requires_grad_(False)


__all__ = ["DiffusersWanDenoiser", "FrameRope", "load_wan_transformer"]
