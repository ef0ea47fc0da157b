"""Participative Compression (Deep Forcing, arXiv 2512.05081 §4.3): a fixed-size store of the cached
tokens that recent frames attend to most.

When the window is full, the cache is split into the sink (``S`` frames, kept), the recent frames
(``R``, kept) and the candidates (every other cached frame, plus the tokens kept by earlier
compressions). Each candidate key ``k_j`` is scored by the recent queries (eq. 7)

    phi_j = sum_{r in recent} q_r^T k_j

and the top ``C = N - R - S`` frames' worth of tokens (``N``: the budget, eq. 8) are kept, in time
order (eq. 9), in this store; the other candidates are evicted. The paper's values (S 10, N 16, R 4
on Self Forcing's 21-frame cache) are in ``longroll.constants``.

What the paper leaves open, and what we chose:
- *Which queries.* The recent queries are the clean-context queries of the ``R`` newest generated
  frames (the frames the next chunk continues), kept by the cache as they are written.
- *Granularity.* One token set per layer, scored by the sum over batch (both guidance streams) and
  heads, so a kept token keeps its key and value in every head (each token has one position).
- *Rotation while scoring.* Queries and keys are scored as cached: rotated at their own positions
  when keys are cached rotated, un-rotated (content only) when positions are assigned at read time;
  there the kept tokens are then placed as a block between the sink and the recent frames
  (Temporal RoPE Unification, eq. 10-11): token ``i`` of the block at pseudo-frame ``i // T``.
- *When.* At the first forward of a chunk whose frames would evict a frame (the paper: when the
  window is full, at the first denoising step).

Legend: L layers, B batch, H heads, T tokens per frame, D head dim, Nc candidate tokens, C kept tokens.
"""

from __future__ import annotations

import torch


def participation_scores(recent_q: torch.Tensor, cand_k: torch.Tensor) -> torch.Tensor:
    """Eq. 7 summed over batch and heads: recent_q (L, B, H, Nq, D), cand_k (L, B, H, Nc, D) -> (L, Nc)."""
    q_sum = recent_q.float().sum(dim=3)  # (L, B, H, D): sum_r q_r, so the score is one matmul
    return torch.einsum("lbhd,lbhkd->lk", q_sum, cand_k.float())


def top_tokens(scores: torch.Tensor, time: torch.Tensor, space: torch.Tensor, capacity: int,
               tokens_per_frame: int) -> torch.Tensor:
    """Eq. 8-9: indices (L, C) of the ``capacity`` best-scoring candidates per layer, in time order.

    ``scores, time, space (L, Nc)``: each candidate's score, timeline position and spatial index.
    """
    c = min(capacity, scores.shape[1])
    top = scores.topk(c, dim=1).indices  # (L, C)
    order_key = torch.gather(time, 1, top) * tokens_per_frame + torch.gather(space, 1, top)
    return torch.gather(top, 1, order_key.argsort(dim=1))


class CompressedTokens:
    """The Top-C store: per-layer keys, values, timeline positions and spatial indices of kept tokens."""

    def __init__(self, num_layers: int, batch_size: int, num_heads: int, capacity: int, head_dim: int, *,
                 device, dtype) -> None:
        self.capacity = capacity
        self.k = torch.zeros(num_layers, batch_size, num_heads, capacity, head_dim, device=device, dtype=dtype)
        self.v = torch.zeros_like(self.k)
        self.time = torch.zeros(num_layers, capacity, dtype=torch.long, device=device)  # (L, C) timeline
        self.space = torch.zeros(num_layers, capacity, dtype=torch.long, device=device)  # (L, C) token in frame
        self.count = 0  # tokens held (0 until the first compression, then C)

    @property
    def nbytes(self) -> int:
        return self.k.nbytes + self.v.nbytes + self.time.nbytes + self.space.nbytes

    def candidates(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """The held tokens as candidates of the next compression: k, v (L, B, H, n, D), time, space (L, n)."""
        n = self.count
        return self.k[:, :, :, :n], self.v[:, :, :, :n], self.time[:, :n], self.space[:, :n]

    def store(self, k: torch.Tensor, v: torch.Tensor, time: torch.Tensor, space: torch.Tensor,
              index: torch.Tensor) -> None:
        """Keep candidates ``index (L, C)`` of k, v (L, B, H, Nc, D), time, space (L, Nc)."""
        c = index.shape[1]
        _, b, h, _, d = k.shape
        gather = index[:, None, None, :, None].expand(-1, b, h, -1, d)
        new_k, new_v = torch.gather(k, 3, gather), torch.gather(v, 3, gather)  # before overwriting the store
        self.time[:, :c] = torch.gather(time, 1, index)
        self.space[:, :c] = torch.gather(space, 1, index)
        self.k[:, :, :, :c] = new_k
        self.v[:, :, :, :c] = new_v
        self.count = c

    def clear(self) -> None:
        self.count = 0


__all__ = ["CompressedTokens", "participation_scores", "top_tokens"]
