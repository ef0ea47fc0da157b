"""Which temporal RoPE position each cached frame and each query frame gets: the position policies.

A cached frame carries its *timeline* position ``tau``: its latent-frame index plus the gaps of every
RoPE Cut before it (``tau = j`` when there was no cut). A policy maps the timelines of the frames
in the window to the positions the temporal rotary planes see. Keys under any policy other than
``absolute`` are cached un-rotated and rotated on every read ("online RoPE indexing"), since their
positions move as the window slides.

``absolute`` (Self Forcing, LongLive, CausVid as released)
    ``p(j) = tau_j``. Past ``L_train`` a query at frame 200 sees its sink at distance 200: outside
    every distance the model was trained on.

``relative`` (StreamingLLM, arXiv 2309.17453 §3.2, "positions within the cache"; LongLive's
"infinite" model; Deep Sink's re-alignment, arXiv 2512.05081 eq. 5-6)
    The window holds ``N' <= N`` sink frames and a tail of recent frames whose oldest timeline is
    ``tau_0``. Sink frame ``i`` (time order) gets ``p = i``; a tail frame gets
    ``p = N' + (tau - tau_0)``. So the sink sits right before the tail, the tail keeps its own
    relative geometry (a cut's gap included), and every distance a query sees is below the window
    (plus any cut gap) whatever the length. StreamingLLM assigns positions by rank in the cache;
    for a contiguous tail (no KV Flush, no cut) this is exactly that rank. Deep Forcing's eq. 6
    rotates the sink keys by ``Delta_sink = s_tail - s_sink``; we place the sink's last frame one
    position *before* the tail's first (``Delta_sink - 1``), so no two frames share a position
    (the paper's equation read literally would put both on ``s_tail``; our choice, stated here).

``anchor`` (Infinity-RoPE's Block-Relativistic RoPE, arXiv 2511.20649 §3.1)
    ``relative`` shifted so that the newest frame of the window sits at ``anchor``, the model's
    last trained frame ``L_train - 1``: the block being generated is always "at the horizon" and
    earlier blocks are rotated backward relative to it. RoPE attention depends only on position
    differences, so this equals ``relative`` up to float rounding (tested); the shift matters for
    a model whose attention also sees absolute positions, and it is what the paper defines.

Legend: n frames in the window, f query frames.
"""

from __future__ import annotations

import torch

from longroll._validate import check_choice

POSITION_POLICIES = ("absolute", "relative")


def window_positions(
    timeline: torch.Tensor,
    is_sink: torch.Tensor,
    policy: str,
    *,
    anchor: int | None = None,
    reserved: int = 0,
) -> torch.Tensor:
    """RoPE positions of the frames in a window under ``policy``: float64 (n,), same order as the input.

    ``timeline (n,)``: each frame's timeline position; ``is_sink (n,) bool``: whether it is a sink
    frame; ``anchor``: with ``relative``, the position of the newest frame (None = sink from 0);
    ``reserved``: with ``relative``, positions left free between the sink and the tail (for the
    Participative Compression block).
    """
    check_choice("rope positions", policy, POSITION_POLICIES)
    tau = timeline.to(torch.float64)
    if policy == "absolute" or tau.numel() == 0:
        return tau.clone()
    # Device-side throughout (no nonzero, no .item()): a GPU forward never waits for the host here.
    is_sink = is_sink.to(torch.bool)
    n_sink = is_sink.sum().to(torch.float64)
    # A sink frame's position is its rank among the sink frames in timeline order (ties: in input order).
    index = torch.arange(tau.numel(), device=tau.device)
    before = (tau[None, :] < tau[:, None]) | ((tau[None, :] == tau[:, None]) & (index[None, :] < index[:, None]))
    rank = (is_sink[None, :] & before).sum(dim=1).to(torch.float64)  # (n,)
    tail_start = torch.where(is_sink, torch.full_like(tau, float("inf")), tau).min()
    pos = torch.where(is_sink, rank, n_sink + reserved + (tau - tail_start))
    if anchor is not None:
        pos = pos + (float(anchor) - pos.max())
    return pos


def largest_distance(query: torch.Tensor, keys: torch.Tensor) -> float:
    """The largest |query - key| temporal distance a set of query positions sees over a window."""
    return float((query[:, None] - keys[None, :]).abs().max()) if query.numel() and keys.numel() else 0.0


__all__ = ["POSITION_POLICIES", "largest_distance", "window_positions"]
