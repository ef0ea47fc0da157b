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

**PackForcing, zero-shot** (Mao et al. 2026, arXiv 2603.25730; ``CacheConfig.pack``): the same three
partitions (sink, a compressed middle, recent frames at full resolution), the middle's tokens packed
about 32x before the Top-C selection bounds them. PackForcing's trained compressor (progressive 3D
convolutions beside a low-resolution VAE re-encoding) is not training-free; its zero-shot mode is what
this is, and what longroll chose where only the paper's abstract and README were reachable:

- *Packing.* ``pack_tokens``: frames leaving the recent partition are packed in time pairs
  (``PACK_FRAMES``) and ``p x p`` blocks of their token grid (``PACK_SPACE`` 4: 2 x 4 x 4 = 32x), each
  pack the mean of its un-rotated keys and of its values (a partial block at the grid's edge or a
  single frame left over averages what it has); a pack sits at its block's centre token and at its
  frames' mean timeline, rounded down.
- *Top-k context selection.* The packs compete with the packs kept before under Deep Forcing's
  participation score (the recent frames' queries), so the middle stays ``C`` frames' worth of tokens
  (at 32x, 32 C frames of history) however long the video runs.
- *Temporal RoPE adjustment.* Under relative positions the kept packs are spread over the middle's
  ``C`` positions between the sink and the recent frames, continuously, by their timeline:
  ``sink + C (t - t_min) / (t_max - t_min + 1)`` (Deep Forcing stacks its tokens frame by frame there).

Legend: L layers, B batch, H heads, T tokens per frame, D head dim, Nc candidate tokens, C kept tokens.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PACK_FRAMES = 2  # PackForcing zero-shot: frames per pack (longroll's reading of "~32x": 2 x 4 x 4)
PACK_SPACE = 4  # PackForcing zero-shot: a pack covers PACK_SPACE x PACK_SPACE tokens of a frame's grid
PACK_MIDDLE = 1 / 6  # PackForcing preset: share of the window given to the packed middle (longroll's choice)


def pack_tokens(k: torch.Tensor, v: torch.Tensor, time: torch.Tensor, grid: tuple[int, int], space: int,
                frames: int = PACK_FRAMES) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pack ``n`` frames' tokens: k, v ``(L, B, H, n, T, D)`` (keys un-rotated), timelines ``time (n,)`` ->
    packed k, v ``(L, B, H, M, D)``, ``time (L, M)`` and ``space (L, M)``, M = ceil(n / frames) x
    ceil(rows / space) x ceil(cols / space): every ``frames`` consecutive frames and ``space x space`` block of
    the ``grid = (rows, cols)`` averaged, at its frames' mean timeline (rounded down) and its block's centre."""
    num_layers, b, h, n, t, d = k.shape
    rows, cols = grid
    if rows * cols != t:
        raise ValueError(f"A grid of {rows} x {cols} does not hold the {t} tokens of a frame.")
    starts = list(range(0, n, frames))
    packed_k, packed_v = [], []
    for store, out in ((k, packed_k), (v, packed_v)):
        for s in starts:
            mean = store[:, :, :, s:s + frames].float().mean(dim=3)  # (L, B, H, T, D)
            plane = mean.reshape(-1, rows, cols, d).permute(0, 3, 1, 2)  # (L*B*H, D, rows, cols)
            # ceil_mode with no padding: a block cut by the grid's edge is the mean of the tokens it holds.
            pooled = F.avg_pool2d(plane, space, stride=space, ceil_mode=True)  # (L*B*H, D, r', c')
            out.append(pooled.flatten(2).transpose(1, 2).reshape(num_layers, b, h, -1, d))
    pk = torch.cat(packed_k, dim=3).to(k.dtype)  # (L, B, H, M, D)
    pv = torch.cat(packed_v, dim=3).to(v.dtype)
    block_rows, block_cols = -(-rows // space), -(-cols // space)
    r = torch.clamp(torch.arange(block_rows) * space + space // 2, max=rows - 1)
    c = torch.clamp(torch.arange(block_cols) * space + space // 2, max=cols - 1)
    centres = (r[:, None] * cols + c[None, :]).flatten().to(time.device)  # (r' c',)
    times = torch.stack([time[s:s + frames].double().mean().floor().long() for s in starts])  # (groups,)
    pack_time = times.repeat_interleave(centres.numel())  # (M,)
    pack_space = centres.repeat(len(starts))
    return pk, pv, pack_time[None].expand(num_layers, -1), pack_space[None].expand(num_layers, -1)


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


__all__ = ["PACK_FRAMES", "PACK_MIDDLE", "PACK_SPACE", "CompressedTokens", "pack_tokens", "participation_scores",
           "top_tokens"]
