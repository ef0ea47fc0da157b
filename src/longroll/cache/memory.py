"""MemRoPE's memory tokens (arXiv 2603.12513 §3): evicted frames folded into two exponential moving averages.

Every time frames leave the window their keys and values are pooled and folded into a long-term and
a short-term stream (eq. 3-4)

    mu_L <- (1 - alpha_L) mu_L + alpha_L k_bar,    mu_S <- (1 - alpha_S) mu_S + alpha_S k_bar

(the same for values) with the paper's rates alpha_L = 0.01 and alpha_S = 0.1. Keys are cached
un-rotated ("position-free caching", eq. 6): averaging keys rotated at different positions would mix
their phases (eq. 5). At read time the two streams sit as two pseudo-frames right after the sink and
before the recent frames, and everything is rotated at positions inside the window (eq. 7, "online
RoPE indexing": ``longroll.rope.positions`` with ``relative``).

What the paper leaves open, and what we chose:
- *Pooling.* ``frame``: every evicted token averaged into one vector (the paper's SpatialPool),
  repeated over the frame's token grid so each copy is rotated at its own spatial position;
  ``token``: averaged over the evicted frames only, per spatial position (keeps layout; the released
  code's alternative).
- *Start.* The paper's Algorithm 1 starts both streams at zero; with alpha_L = 0.01 the long stream
  would then stay near zero for about a hundred evictions, so both start at the first evicted frames'
  pooled key and value, as the released code does.
- *One update per eviction.* A chunk of frames leaving together is pooled into one update.

Legend: L layers, B batch, H heads, T tokens per frame, D head dim, n evicted frames.
"""

from __future__ import annotations

import torch

POOLINGS = ("frame", "token")


class MemoryTokens:
    """The two EMA streams: keys and values (L, B, H, 2, T, D), stream 0 long-term, stream 1 short-term."""

    def __init__(self, num_layers: int, batch_size: int, num_heads: int, tokens_per_frame: int, head_dim: int,
                 rates: tuple[float, float], pool: str, *, device, dtype) -> None:
        shape = (num_layers, batch_size, num_heads, 2, tokens_per_frame, head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        # (1, 1, 1, 2, 1, 1): each stream's rate, made once (a tensor made from host values per update
        # would copy to the device synchronously).
        self._rate = torch.tensor(rates, dtype=torch.float32).view(1, 1, 1, 2, 1, 1).to(device)
        self.pool = pool
        self.tokens_per_frame = tokens_per_frame
        self.updates = 0  # evictions folded in so far

    @property
    def count(self) -> int:
        """Tokens the streams add to the window (0 before the first eviction)."""
        return 2 * self.tokens_per_frame if self.updates else 0

    @property
    def nbytes(self) -> int:
        return self.k.nbytes + self.v.nbytes

    def update(self, k: torch.Tensor, v: torch.Tensor) -> None:
        """Fold evicted frames in: k, v (L, B, H, n, T, D)."""
        dims = (3, 4) if self.pool == "frame" else (3,)
        k_bar = k.float().mean(dim=dims, keepdim=True)  # (L, B, H, 1, 1 or T, D)
        v_bar = v.float().mean(dim=dims, keepdim=True)
        if self.updates == 0:
            self.k.copy_(k_bar.expand_as(self.k))
            self.v.copy_(v_bar.expand_as(self.v))
        else:
            rate = self._rate
            self.k.copy_((1 - rate) * self.k.float() + rate * k_bar)
            self.v.copy_((1 - rate) * self.v.float() + rate * v_bar)
        self.updates += 1

    def tokens(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of ``layer`` as tokens: (B, H, 2T, D) each, long-term stream first."""
        b, h, _, t, d = self.k.shape[1:]
        return self.k[layer].reshape(b, h, 2 * t, d), self.v[layer].reshape(b, h, 2 * t, d)

    def pseudo_frames(self, device) -> torch.Tensor:
        """Each token's pseudo-frame after the sink (0: long-term, 1: short-term): (2T,)."""
        return torch.arange(2, device=device).repeat_interleave(self.tokens_per_frame)

    def space(self, device) -> torch.Tensor:
        """Each token's index in the frame grid: (2T,)."""
        return torch.arange(self.tokens_per_frame, device=device).repeat(2)

    def clear(self) -> None:
        self.updates = 0


__all__ = ["POOLINGS", "MemoryTokens"]
