"""Additive temporal attention biases over latent-frame distance.

- ``flexrope``: FAR's FlexRoPE temporal decay, ``-lambda * |i - j|`` with one scalar for all heads.
- ``alibi``: ALiBi (Press et al. 2022), one slope per head ``2^(-8h/H)``, for comparison.
- ``recency``: Recency Forcing's training-free variant (arXiv 2609.19729), a non-positive bias on the
  *history* (the keys before the chunk being denoised) that depends on the denoising step:
  ``b(i, j) = -gamma * sigma * max(0, s_i - p_j)``, ``sigma`` the chunk's noise level in [0, 1]
  (``TemporalBias.at``), ``s_i`` the first position of query frame i's chunk, ``p_j`` the key's.

Biases are built for a query chunk against the frames present in a KV window, at the temporal
positions the rotation uses (the cache's position policy: the timeline, or positions inside the
window), then expanded to tokens. Every one depends on (query frame, key) only, so that attention
folds it into extra key channels and the fused kernels still apply (``attention.frame_biased_attention``);
the recency bias depends on the key alone within a chunk (one channel).

What longroll chose for Recency Forcing, whose text beyond its abstract was not reachable here: the
bias grows linearly with a history frame's distance before the chunk (ALiBi's shape, one slope for
every head) and with the chunk's noise level, so that the noisiest steps, which lay out structure and
motion, lean on the recent frames, and the last steps, which refine appearance, see the whole window
as the model was trained to; a clean-context pass (sigma 0) is unbiased, so the keys a chunk leaves
in the cache are the model's own. The distance is taken at the cache's positions, so under relative
positions a sink sits right before the window and keeps a bounded bias. The rule needs one noise level
per forward: the chunk-wise schedule has it; FIFO, MIGA and Rolling Forcing's staggered windows are
refused (``check_level``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from longroll._validate import check_choice, check_float, check_int
from longroll.constants import FLEXROPE_LAMBDA, RECENCY_GAMMA

BIAS_KINDS = ("none", "flexrope", "alibi", "recency")
LEVEL_BIASES = ("recency",)  # kinds that depend on the denoising step (TemporalBias.at)


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
    # Per frame of distance: FlexRoPE's lambda, or Recency Forcing's gamma (at noise level 1); ignored by
    # alibi and none. None: the kind's own (FLEXROPE_LAMBDA, RECENCY_GAMMA).
    strength: float | None = None
    level: float = 1.0  # noise level in [0, 1] of the step the bias is built for (recency; set by ``at``)

    def __post_init__(self) -> None:
        check_choice("temporal bias", self.kind, BIAS_KINDS)
        if self.strength is None:
            object.__setattr__(self, "strength", RECENCY_GAMMA if self.kind == "recency" else FLEXROPE_LAMBDA)
        check_float("recency gamma" if self.kind == "recency" else "flexrope lambda", self.strength, low=0.0)
        check_float("bias level", self.level, low=0.0, high=1.0)

    ADDED_OFF = {"level": 1.0}  # added after results were cached; a stored config always has it at 1

    @classmethod
    def stable_dict(cls, data: dict) -> dict:
        """A bias's dict without the added fields at their stored value (see ``CacheConfig.stable_dict``)."""
        return {k: v for k, v in data.items() if not (k in cls.ADDED_OFF and v == cls.ADDED_OFF[k])}

    @property
    def active(self) -> bool:
        return self.kind == "alibi" or (self.kind in ("flexrope", "recency") and self.strength > 0)

    @property
    def per_level(self) -> bool:
        """Whether the bias depends on the denoising step's noise level (``at``)."""
        return self.kind in LEVEL_BIASES and self.active

    def at(self, level: float) -> "TemporalBias":
        """This bias for a step at noise level ``level`` in [0, 1] (itself for the kinds that do not depend on it;
        ``none`` for a recency bias at level 0, so that a clean-context pass is the model's own)."""
        if not self.per_level:
            return self
        return replace(self, level=float(level)) if level > 0 else TemporalBias()

    def check_level(self, schedule: str) -> None:
        """Refuse a step-dependent bias under a schedule that denoises frames at several levels in one forward."""
        if self.per_level:
            raise ValueError(f"The {self.kind} bias weighs the history before the chunk being denoised by that "
                             f"chunk's noise level; the {schedule} schedule denoises frames at several levels in one "
                             "forward. Use it with the chunk schedule.")

    def frame_bias(self, query_frames: torch.Tensor, key_frames: torch.Tensor, num_heads: int, *,
                   present: torch.Tensor | None = None) -> torch.Tensor | None:
        """Bias per (head, query frame, key frame): (1 or H, Fq, Fk) float32, or None when inactive.

        ``present (Fq,)``: for recency, the first position of each query frame's chunk (keys from there on are
        not history); None: the earliest query position (the queries are one chunk)."""
        if not self.active:
            return None
        if self.kind == "recency":
            start = query_frames.min().expand(query_frames.shape) if present is None else present  # (Fq,)
            age = (start.double()[:, None] - key_frames.double()[None, :]).clamp(min=0).float()  # (Fq, Fk)
            return (-(self.strength * self.level) * age)[None]
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
