"""Additive temporal attention biases over latent-frame distance.

- ``flexrope``: FAR's FlexRoPE temporal decay, ``-lambda * |i - j|`` with one scalar for all heads.
- ``alibi``: ALiBi (Press et al. 2022), one slope per head ``2^(-8h/H)``, for comparison.

Biases are built for a query chunk against the frames present in a KV window, at the temporal
positions the rotation uses (the cache's position policy: the timeline, or positions inside the
window), then expanded to tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from longroll._validate import check_choice, check_float, check_int
from longroll.constants import FLEXROPE_LAMBDA

BIAS_KINDS = ("none", "flexrope", "alibi")


def alibi_slopes(num_heads: int) -> torch.Tensor:
    """ALiBi head slopes ``2^(-8h/H)`` for ``h = 1..H``, float64, shape (H,)."""
    # Press et al. 2022, §3: geometric sequence starting at 2^(-8/H).
    check_int("num_heads", num_heads, low=1)
    h = torch.arange(1, num_heads + 1, dtype=torch.float64)
    return 2.0 ** (-8.0 * h / num_heads)


def frame_distance(query_frames: torch.Tensor, key_frames: torch.Tensor) -> torch.Tensor:
    """``|i - j|`` for query frames (Fq,) against key frames (Fk,): float32 (Fq, Fk)."""
    return (query_frames[:, None] - key_frames[None, :]).abs().float()


@dataclass(frozen=True)
class TemporalBias:
    """Which temporal decay to add to the attention logits."""

    kind: str = "none"  # one of BIAS_KINDS
    strength: float = FLEXROPE_LAMBDA  # FlexRoPE lambda (per frame of distance); ignored by alibi and none

    def __post_init__(self) -> None:
        check_choice("temporal bias", self.kind, BIAS_KINDS)
        check_float("flexrope lambda", self.strength, low=0.0)

    @property
    def active(self) -> bool:
        return self.kind == "alibi" or (self.kind == "flexrope" and self.strength > 0)

    def frame_bias(self, query_frames: torch.Tensor, key_frames: torch.Tensor, num_heads: int) -> torch.Tensor | None:
        """Bias per (head, query frame, key frame): (1 or H, Fq, Fk) float32, or None when inactive."""
        if not self.active:
            return None
        dist = frame_distance(query_frames, key_frames)  # (Fq, Fk)
        if self.kind == "flexrope":
            # FAR (Gu et al. 2025) FlexRoPE: logits - lambda * |i - j|.
            return (-self.strength * dist)[None]
        slopes = alibi_slopes(num_heads).to(dist)  # (H,)
        return -slopes[:, None, None] * dist[None]

    def token_bias(
        self, query_frames: torch.Tensor, key_frames: torch.Tensor, num_heads: int, tokens_per_frame: int
    ) -> torch.Tensor | None:
        """The frame bias expanded to tokens: (1 or H, Fq*T, Fk*T), frame-major token order."""
        bias = self.frame_bias(query_frames, key_frames, num_heads)
        if bias is None:
            return None
        return expand_frame_bias(bias, tokens_per_frame, tokens_per_frame)


def expand_frame_bias(bias: torch.Tensor, query_tokens: int, key_tokens: int) -> torch.Tensor:
    """Repeat a (..., Fq, Fk) frame-level bias to (..., Fq*Tq, Fk*Tk) tokens."""
    return bias.repeat_interleave(query_tokens, dim=-2).repeat_interleave(key_tokens, dim=-1)
