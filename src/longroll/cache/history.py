"""The history between the sink and the tail: Relax Forcing's selected frames and FadeMem's faded entries.

Both keep ``CacheConfig.history`` slots of the window between the sink and the ring for frames the ring
lets go; ``longroll.cache.kv.KVCache`` holds them and calls these rules whenever frames leave the ring.

**Relax Forcing** (Zhao et al. 2026, arXiv 2603.21366): the window as sink, a few history frames chosen
among those the ring let go, and the tail of recent frames.

Relax Forcing splits the temporal memory into three roles: the *sink* (the first frames, global anchors),
the *tail* (the most recent frames, short-term continuity) and a few *history* frames selected from the
rest by a relaxation score ``r(h) = S(h) - lambda R(h)``: relevance minus redundancy. This module is the
selection rule; ``longroll.cache.kv.KVCache`` keeps the frames (``CacheConfig.history`` slots between the
sink and the ring) and calls it whenever frames leave the ring.

What longroll chose where the paper's text was not reachable here (its abstract and introduction were):

- a frame's descriptor is its values at the middle layer, averaged over the batch and the heads, every
  token kept in place (T x D): the content of the frame where it is, independent of RoPE (keys carry
  their rotation, values do not);
- relevance ``S(h)`` is the cosine similarity of the candidate's descriptor to the newest frame of the tail
  (what is being continued), redundancy ``R(h)`` the largest cosine similarity to a frame already in the
  window's tail or already selected; the history is chosen greedily, one frame at a time, by the largest
  ``S - lambda R`` (maximal marginal relevance, Carbonell and Goldstein 1998), ties to the more recent frame;
- candidates are the frames held as history plus those the ring lets go at this chunk, so a frame stays
  only as long as it keeps winning;
- the "hybrid RoPE" for non-contiguous memory: under ``positions = relative`` the sink and the history
  frames take consecutive positions right before the tail (in time order) and the tail keeps its own
  geometry, so every distance a query sees stays inside the window; under ``absolute`` they keep their
  timeline positions.

**FadeMem** (Lu et al. 2026, arXiv 2606.10671; ``CacheConfig.fade = p``): the history slots hold *entries*,
each the span-weighted mean of adjacent frames (keys un-rotated, values, timeline position). A frame leaving
the ring enters as a fine entry of one frame; while there are more entries than slots, two adjacent entries
are merged, under a power-law allocation so that the memory is dense near and sparse far. What longroll chose
(again the paper's text beyond its abstract was not reachable): the pair merged is the one with the smallest
combined span over its allowance ``(r + 1)^p``, ``r`` the pair's rank from the newest (0: the two newest
entries), ties to the older pair; at equilibrium an entry ``r`` ranks from the tail spans about ``r^p``
frames. Merged keys are averaged un-rotated (keys rotated at different positions would mix their phases),
and an entry's position is its frames' span-weighted mean timeline, rounded.

**RECAP-Forcing** (arXiv 2608.26671; ``CacheConfig.history_rule = "novelty"``): the history slots hold a
*novelty bank*, frames kept because they showed content that appeared then, instead of the most recent
ones. The paper finds new content with optical flow on the frames; the cache never sees pixels, so longroll
finds it the way flow does, by correspondence, in the model's own features: each token of a candidate frame
(values at the middle layer, as above) is matched to its most similar token anywhere in the frames the
window keeps (the sink, the tail and the bank chosen so far: a search over every displacement, block matching's
unbounded window), and a frame's novelty is the mean over its tokens of ``1 - best cosine``, content that
no kept frame can explain. The bank is chosen greedily, the most novel first (ties to the more recent
frame), each choice joining the references of the next, among the bank held and the frames the ring lets
go. Positions are as for Relax Forcing.

Legend: n candidates, m tail frames, E = T x D descriptor width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

RELAX_LAMBDA = 0.5  # weight of redundancy against relevance (longroll's choice: the paper's value not reachable)
RELAX_HISTORY = 3  # history frames of the preset's window, as many as the sink (longroll's choice, likewise)
FADE_POWER = 2.0  # FadeMem: exponent of the power-law allocation (longroll's choice: the paper's value not reachable)


def frame_descriptors(v: torch.Tensor) -> torch.Tensor:
    """Values of some frames ``(B, H, n, T, D)`` -> one descriptor per frame ``(n, T*D)`` (float32)."""
    return v.float().mean(dim=(0, 1)).flatten(1)


def select_history(candidates: torch.Tensor, tail: torch.Tensor, newest: torch.Tensor, count: int,
                   lam: float = RELAX_LAMBDA) -> list[int]:
    """Indices (ascending) of the ``count`` candidates to keep: greedily the largest ``S - lam R``.

    ``candidates (n, E)`` in time order, ``tail (m, E)`` the frames the window keeps anyway, ``newest (E,)``
    the frame being continued. ``S`` is the cosine similarity to ``newest``; ``R`` the largest cosine
    similarity to a tail frame or an already chosen candidate (0 when there is none)."""
    n = candidates.shape[0]
    if count >= n:
        return list(range(n))
    # A few vectors: scored on the host, one copy in, instead of a device read per candidate and step.
    candidates, tail, newest = candidates.cpu(), tail.cpu(), newest.cpu()
    c = F.normalize(candidates.float(), dim=1)
    relevance = c @ F.normalize(newest.float(), dim=0)  # (n,)
    others = F.normalize(tail.float(), dim=1) if tail.numel() else c[:0]
    redundancy = (c @ others.T).amax(dim=1) if others.shape[0] else torch.zeros_like(relevance)  # (n,)
    chosen: list[int] = []
    for _ in range(count):
        score = relevance - lam * redundancy
        if chosen:
            score[chosen] = float("-inf")
        best = float(score.max())
        # Ties to the more recent candidate (the larger index).
        pick = max(i for i in range(n) if i not in chosen and float(score[i]) == best)
        chosen.append(pick)
        redundancy = torch.maximum(redundancy, c @ c[pick])
    return sorted(chosen)


def token_descriptors(v: torch.Tensor) -> torch.Tensor:
    """Values of some frames ``(B, H, n, T, D)`` -> one descriptor per token ``(n, T, D)`` (float32)."""
    return v.float().mean(dim=(0, 1))


def select_novel(candidates: torch.Tensor, references: torch.Tensor, count: int) -> list[int]:
    """Indices (ascending) of the ``count`` candidates a novelty bank keeps: greedily the largest novelty.

    ``candidates (n, T, D)`` per-token descriptors in time order, ``references (m, T, D)`` the frames the
    window keeps anyway. A frame's novelty is the mean over its tokens of ``1 - max cos`` to every token of
    the references and of the candidates already chosen (1 when there are none)."""
    n = candidates.shape[0]
    if count >= n:
        return list(range(n))
    c = F.normalize(candidates.cpu().float(), dim=-1)  # (n, T, D)
    refs = F.normalize(references.cpu().float(), dim=-1).flatten(0, 1)  # (m*T, D)
    best = (c @ refs.T).amax(dim=-1) if refs.shape[0] else torch.full(c.shape[:2], -1.0)  # (n, T)
    chosen: list[int] = []
    for _ in range(count):
        novelty = (1 - best.clamp(min=-1.0)).mean(dim=1)  # (n,)
        if chosen:
            novelty[chosen] = float("-inf")
        top = float(novelty.max())
        pick = max(i for i in range(n) if i not in chosen and float(novelty[i]) == top)  # ties: the more recent
        chosen.append(pick)
        best = torch.maximum(best, (c @ c[pick].T).amax(dim=-1))
    return sorted(chosen)


def fade_groups(spans: list[int], budget: int, power: float = FADE_POWER) -> list[list[int]]:
    """FadeMem's merges: entries of ``spans`` frames each (oldest first) grouped into at most ``budget`` runs of
    adjacent entries (oldest first), merging at each step the adjacent pair with the smallest combined span over
    ``(r + 1) ** power``, ``r`` the pair's rank from the newest; ties to the older pair."""
    groups = [[i] for i in range(len(spans))]
    sizes = list(spans)
    while len(groups) > max(1, budget):
        m = len(groups)
        costs = [(sizes[i] + sizes[i + 1]) / (m - 2 - i + 1) ** power for i in range(m - 1)]
        i = min(range(m - 1), key=lambda j: (costs[j], j))
        groups[i:i + 2] = [groups[i] + groups[i + 1]]
        sizes[i:i + 2] = [sizes[i] + sizes[i + 1]]
    return groups


HISTORY_RULES = ("relevance", "novelty")  # Relax Forcing's relevance minus redundancy, RECAP-Forcing's novelty bank

__all__ = ["FADE_POWER", "HISTORY_RULES", "RELAX_HISTORY", "RELAX_LAMBDA", "fade_groups", "frame_descriptors",
           "select_history", "select_novel", "token_descriptors"]
