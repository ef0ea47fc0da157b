"""FAR's multi-level KV cache (Gu et al. 2025, Sec. 3.3 and Fig. 4): long-term frames at a coarse level,
the short-term window at the fine one.

A model with long short-term context sees the frames of its short-term window (``short_window`` frames,
the chunk being made included: one frame for FAR, ``chunk_size`` for the built-in model's variant) as
full-resolution tokens and every earlier frame as a few coarse tokens. Its inference caches the two apart:

- **coarse level** (L2): the coarse keys and values of every long-term frame, a ``KVCache`` of its own
  (few tokens per frame; the cache config's window and sink bound it, as for any model). A coarse frame
  attends only to coarse frames up to itself, so its keys never change once written: each frame is
  written once, when it leaves the short-term window (a chunk at a time).
- **fine level** (L1): the keys and values of the clean frames of the short-term window. They attend to
  the whole coarse level, which grows by one frame each time the window moves, so the window is computed
  again then, in one pass over its frames (FAR's own cache does the same); while the window only grows
  (the first ``short_window`` frames) the new frame is appended to the frames kept.

This module holds the data and the bookkeeping (which frames are where, the clean latents the fine
level is recomputed from); the model runs the passes. Pure torch: no model is imported.

Legend: B batch, H heads, n frames, T fine tokens per frame, D head dim.
"""

from __future__ import annotations

import torch

from longroll._validate import check_int
from longroll.cache.kv import KVCache


class MultiLevelCache:
    """A coarse ``KVCache`` of the long-term frames and the fine keys and values of the short-term window."""

    def __init__(self, coarse: KVCache, short_window: int, num_layers: int, *, chunk_size: int = 1) -> None:
        check_int("chunk_size", chunk_size, low=1)
        check_int("short_window", short_window, low=chunk_size + 1)
        if short_window % chunk_size:
            raise ValueError(f"short_window = {short_window} must be a multiple of chunk_size = {chunk_size}.")
        self.coarse, self.short_window, self.num_layers = coarse, short_window, num_layers
        self.chunk_size = chunk_size
        self.latents: dict[int, torch.Tensor] = {}  # frame -> clean latents (B, C, H, W) of the short-term window
        self.conds: dict[int, torch.Tensor] = {}  # frame -> its condition row (B,) (actions), where it has one
        self.fine_frames: list[int] = []  # frames whose fine keys are held, in time order
        self.fine_k: list[torch.Tensor | None] = [None] * num_layers  # (B, H, n*T, D) per layer, rotated
        self.fine_v: list[torch.Tensor | None] = [None] * num_layers
        self._end = 0  # one past the newest clean frame

    # ------------------------------------------------------------------ queries
    @property
    def end_frame(self) -> int:
        """One past the newest clean frame (the next frame to make)."""
        return self._end

    def long_end(self, frame: int) -> int:
        """Frames before this one are long-term when the chunk starting at ``frame`` is made (FAR: total
        frames >= the window)."""
        return max(0, frame + self.chunk_size - self.short_window)

    def short_frames(self, frame: int) -> list[int]:
        """The clean frames of the short-term window when the chunk starting at ``frame`` is made."""
        return list(range(self.long_end(frame), frame))

    def held_frames(self) -> list[int]:
        """Every frame either level holds, in time order."""
        return sorted(set(self.coarse.held_frames()) | set(self.fine_frames))

    @property
    def nbytes(self) -> int:
        fine = sum(t.nbytes for t in (*self.fine_k, *self.fine_v) if t is not None)
        clean = sum(t.nbytes for t in (*self.latents.values(), *self.conds.values()))
        return self.coarse.nbytes + fine + clean

    # ------------------------------------------------------------------ verbs
    def add_clean(self, frame: int, latents: torch.Tensor, cond: torch.Tensor | None = None) -> None:
        """Record the clean latents ``(B, C, H, W)`` of the next frame (and its condition row)."""
        if frame != self._end:
            raise ValueError(f"FAR's multi-level cache takes frames in order: the next frame is {self._end}, got "
                             f"{frame} (a frame once written is not rewritten: prompt switches and flushes do not "
                             "apply to it).")
        self.latents[frame] = latents
        if cond is not None:
            self.conds[frame] = cond
        self._end = frame + 1

    def leaving(self) -> list[int]:
        """Frames that are long-term for the next frame but not yet in the coarse level (in order)."""
        start = self.coarse.end_frame
        return [f for f in range(start, self.long_end(self._end)) if f in self.latents]

    def pop_clean(self, frame: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The clean latents (and condition) of a frame leaving the short-term window; forgotten here."""
        return self.latents.pop(frame), self.conds.pop(frame, None)

    def set_fine(self, layer: int, frames: list[int], k: torch.Tensor, v: torch.Tensor, *, append: bool) -> None:
        """Hold the fine keys (rotated) and values of ``frames`` for ``layer``: after the held ones
        (``append``) or in their place."""
        if append and self.fine_k[layer] is not None:
            k, v = torch.cat([self.fine_k[layer], k], dim=2), torch.cat([self.fine_v[layer], v], dim=2)
        self.fine_k[layer], self.fine_v[layer] = k, v
        if layer == self.num_layers - 1:
            self.fine_frames = (self.fine_frames if append else []) + list(frames)

    def fine(self, layer: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The held fine keys and values of ``layer``: (B, H, n*T, D) each, or None before any."""
        return self.fine_k[layer], self.fine_v[layer]

    def flush(self, keep: int) -> None:
        raise ValueError("FAR's multi-level cache keeps every frame it was given: a KV Flush (a prompt switch's "
                         "or a cut's) does not apply to it.")

    def cut(self, gap: int) -> None:
        raise ValueError("FAR's multi-level cache keeps its frames at their own positions: a RoPE Cut does not "
                         "apply to it.")


# What a multi-level cache cannot take (``longroll.models.base.REFUSABLE``), and why: a model that has one
# refuses these parts at resolve (its ``ModelDefaults.refuses``).
REFUSES = (
    ("fifo", "its long-term frames are seen only clean (it is trained so), and FIFO's queue holds noisy ones"),
    ("miga", "its long-term frames are seen only clean (it is trained so), and MIGA's queue holds noisy ones"),
    ("rolling", "its multi-level cache makes one chunk at a time"),
    ("relative", "its two levels keep absolute positions (the coarse tokens at their patches' rows and columns)"),
    ("compression", "its coarse level is already a compression (a few tokens per frame) and keeps them whole"),
    ("memory", "its coarse level keeps every long-term frame's own tokens"),
    ("rolling-sink", "its coarse level is written once per frame and never replayed"),
    ("ema-sink", "its coarse level is written once per frame and never folded"),
    ("dynamic", "its fine level keeps keys rotated when written"),
    ("switch", "its multi-level cache keeps every frame it was given (no flush or re-cache)"),
)

__all__ = ["REFUSES", "MultiLevelCache"]
