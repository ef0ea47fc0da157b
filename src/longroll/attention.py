"""Attention over a query chunk and a window of cached frames, and the masks training needs.

``windowed_attention`` is scaled dot-product attention with an optional additive bias (temporal
decay) and boolean mask; everything else about a window (which frames, where they sit in time)
comes from ``longroll.cache`` and ``longroll.rope``. PyTorch SDPA picks the fastest kernel for the
device (flash / memory-efficient on GPU, a fused kernel on CPU).

Legend: B batch, H heads, Nq query tokens, Nk key tokens, D head dim, F frames, T tokens per frame.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def windowed_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    bias: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """``softmax(q k^T / sqrt(D) + bias) v`` over allowed keys: q (B, H, Nq, D), k/v (B, H, Nk, D).

    ``bias`` broadcasts to (B, H, Nq, Nk) and is added to the logits; ``mask`` (bool, True = may
    attend) broadcasts likewise. Both are optional; with neither this is plain full attention.
    """
    attn_mask = None
    if mask is not None:
        attn_mask = torch.zeros(mask.shape, dtype=q.dtype, device=q.device).masked_fill(~mask, float("-inf"))
    if bias is not None:
        bias = bias.to(q.dtype)
        attn_mask = bias if attn_mask is None else attn_mask + bias
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)


def fast_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    bias: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """``windowed_attention``, through flash-attn when it is installed, on GPU, in half precision,
    with neither bias nor mask (the cached rollout's case); PyTorch SDPA otherwise."""
    if bias is None and mask is None and q.is_cuda and q.dtype in (torch.float16, torch.bfloat16):
        flash = _flash_attn()
        if flash is not None:
            out = flash(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))  # (B, N, H, D) layout
            return out.transpose(1, 2)
    return windowed_attention(q, k, v, bias=bias, mask=mask)


_FLASH: list = []


def _flash_attn():
    """flash-attn's ``flash_attn_func`` if importable (looked up once), else None."""
    if not _FLASH:
        try:
            from flash_attn import flash_attn_func
        except ImportError:
            flash_attn_func = None
        _FLASH.append(flash_attn_func)
    return _FLASH[0]


def chunk_causal_mask(frame_chunks: torch.Tensor, tokens_per_frame: int) -> torch.Tensor:
    """Frame-chunk-causal mask: a token sees every token of its own chunk and of earlier chunks.

    ``frame_chunks (F,)`` gives each frame's chunk index; returns bool (F*T, F*T), True = may attend.
    """
    allowed = frame_chunks[:, None] >= frame_chunks[None, :]  # (F, F)
    return allowed.repeat_interleave(tokens_per_frame, 0).repeat_interleave(tokens_per_frame, 1)


def frame_chunks(num_frames: int, chunk_size: int, *, device=None) -> torch.Tensor:
    """Chunk index of each of ``num_frames`` frames for chunks of ``chunk_size``: (F,)."""
    return torch.arange(num_frames, device=device) // chunk_size
