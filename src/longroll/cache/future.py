"""Future Forcing (Luo et al. 2026, arXiv 2605.30083): which cached tokens the *future* queries will need.

The paper's observation: the queries a trained causal video model makes move with RoPE, but before
RoPE (their content) their distribution stays nearly the same over the whole video; so the history of
queries is a proxy of the future ones. Future Forcing scores cached tokens by their importance under that
proxy, keeps the best within a fixed cache, and merges redundant tokens instead of dropping them. Here it is
a scorer and a merge rule for the compressed middle of ``longroll.cache.compression`` (sink, Top-C
middle, recent frames; ``CacheConfig.future``), in place of Deep Forcing's recent-query score.

What longroll chose, the paper's text beyond its abstract not being reachable here:

- *The proxy.* Per layer and head, the running mean ``mu`` and per-channel variance ``s^2`` of every
  pre-RoPE query of the clean-context passes so far (each frame counted once, when the next chunk
  begins), a Gaussian ``q ~ N(mu, diag s^2)``.
- *Importance.* A key's expected attention mass under the proxy, in logits:
  ``log E[exp(q.k / sqrt(D))] = mu.k / sqrt(D) + sum_d s_d^2 k_d^2 / (2 D)`` (the Gaussian's moment
  generating function), combined over heads by log-sum-exp (a token matters when any head will look at
  it) and summed over the batch (both guidance streams), as Deep Forcing sums.
- *Merging.* A candidate not kept whose key (all heads, the batch, concatenated, centred on the candidates'
  mean) has cosine similarity at least ``FUTURE_MERGE_COS`` with its nearest kept token is merged into it
  (uncentred, the keys' shared offset makes nearly every pair look alike: measured on the built-in model,
  median cosine 0.9998; centred 0.55, and about 9% of the tokens not kept merge): the group's keys, values and
  timeline averaged with weights ``exp(importance)``, so the merged token keeps the proxy's expected logit
  of the group (``mu.k`` is linear in ``k``) and the values the proxy would have mixed; the rest are
  dropped. Keys are un-rotated (positions are given at read time), so averaging keys mixes no phases.

Legend: L layers, B batch, H heads, D head dim, Nc candidate tokens, C kept tokens.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

FUTURE_MERGE_COS = 0.9  # cosine above which a dropped token is redundant with a kept one (longroll's choice)


class QueryStats:
    """Running mean and variance of pre-RoPE queries per layer and head (float32, fixed size)."""

    def __init__(self, num_layers: int, num_heads: int, head_dim: int, *, device) -> None:
        self.count = 0  # query vectors seen (per head)
        self.total = torch.zeros(num_layers, num_heads, head_dim, device=device)  # (L, H, D) sum of q
        self.squares = torch.zeros(num_layers, num_heads, head_dim, device=device)  # (L, H, D) sum of q^2

    @property
    def nbytes(self) -> int:
        return self.total.nbytes + self.squares.nbytes

    def update(self, q: torch.Tensor) -> None:
        """Add queries ``q (L, B, H, n, T, D)`` (pre-RoPE)."""
        q = q.float()
        self.total += q.sum(dim=(1, 3, 4))
        self.squares += q.square().sum(dim=(1, 3, 4))
        self.count += q.shape[1] * q.shape[3] * q.shape[4]

    def moments(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``mu, s^2`` (L, H, D); zeros before any query."""
        n = max(self.count, 1)
        mean = self.total / n
        return mean, (self.squares / n - mean.square()).clamp(min=0)

    def clear(self) -> None:
        self.count = 0
        self.total.zero_()
        self.squares.zero_()


def future_scores(stats: QueryStats, cand_k: torch.Tensor) -> torch.Tensor:
    """Importance of candidates ``cand_k (L, B, H, Nc, D)`` (un-rotated) under the proxy: (L, Nc)."""
    mean, var = stats.moments()  # (L, H, D)
    d = cand_k.shape[-1]
    k = cand_k.float()
    logits = torch.einsum("lhd,lbhnd->lbhn", mean, k) / d**0.5 + torch.einsum("lhd,lbhnd->lbhn", var, k.square()) / (
        2 * d)  # (L, B, H, Nc)
    return torch.logsumexp(logits, dim=2).sum(dim=1)


def merge_redundant(cand_k: torch.Tensor, cand_v: torch.Tensor, time: torch.Tensor, scores: torch.Tensor,
                    index: torch.Tensor, threshold: float = FUTURE_MERGE_COS) -> None:
    """Merge, in place at the kept rows ``index (L, C)``, every candidate not kept that is redundant with its
    nearest kept token: ``cand_k, cand_v (L, B, H, Nc, D)``, ``time (L, Nc)`` timelines, ``scores (L, Nc)``
    importance (the weights are ``exp(score)``, shifted per layer for range)."""
    num_layers, b, h, n, _ = cand_k.shape
    for layer in range(num_layers):
        kept = index[layer]  # (C,)
        dropped = torch.ones(n, dtype=torch.bool, device=cand_k.device)
        dropped[kept] = False
        others = dropped.nonzero().flatten()  # (No,)
        if not others.numel():
            continue
        raw = cand_k[layer].float().permute(2, 0, 1, 3).reshape(n, -1)  # (Nc, B*H*D)
        feats = F.normalize(raw - raw.mean(dim=0, keepdim=True), dim=1)  # centred: keys share a large offset
        sim = feats[others] @ feats[kept].T  # (No, C)
        best, nearest = sim.max(dim=1)
        merge = best >= threshold
        if not merge.any():
            continue
        src = torch.cat([kept, others[merge]])  # the kept tokens and those merged into them
        dst = torch.cat([torch.arange(kept.numel(), device=kept.device), nearest[merge]])  # (n_src,) group
        w = (scores[layer, src] - scores[layer, src].max()).exp()  # (n_src,)
        total = torch.zeros(kept.numel(), device=w.device).index_add_(0, dst, w)  # (C,)
        for store in (cand_k, cand_v):
            x = store[layer].float()[:, :, src] * w[:, None]  # (B, H, n_src, D)
            mixed = x.new_zeros(b, h, kept.numel(), x.shape[-1]).index_add_(2, dst, x) / total[:, None]
            store[layer, :, :, kept] = mixed.to(store.dtype)
        t = torch.zeros(kept.numel(), dtype=torch.float64, device=w.device).index_add_(
            0, dst, w.double() * time[layer, src].double())
        time[layer, kept] = (t / total.double()).floor().to(time.dtype)


__all__ = ["FUTURE_MERGE_COS", "QueryStats", "future_scores", "merge_redundant"]
