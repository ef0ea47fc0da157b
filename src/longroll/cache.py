"""A frame-granular KV cache with an attention sink and a sliding window, in fixed memory.

The window holds ``W`` latent frames in total: ``N`` sink frames (the first frames of the video,
kept for the whole rollout, FLEX §3.4 / LongLive) plus a ring of ``R = W - N`` slots for the most
recent frames, the chunk being denoised included. Frame ``j`` lives in slot ``j`` if ``j < N``,
else in slot ``N + (j - N) mod R``; writing a new frame therefore evicts the frame ``R`` earlier in
O(1), with no copy of the cache (LongLive clones the whole cache on every forward instead).

Every slot also records its frame's *timeline* position (the frame index plus the gaps of every
RoPE Cut before it) and the temporal RoPE position of a key or query is given by the configured
policy (``longroll.rope.positions``): ``absolute`` (the timeline, as the released models) or
``relative`` (positions inside the window: StreamingLLM / Deep Sink / Infinity-RoPE).

Keys are stored either rotated at their absolute positions (Self Forcing's policy: cheapest) or
un-rotated and rotated on every read with the caller's current frequencies (needed for a dynamic
RoPE scale and for any position policy but ``absolute``). Both go through one
``rotate(x, positions)`` callback supplied by the model, so the model's attention code is the same
for every policy.

Verbs: ``begin(start_frame, num_frames)`` claims slots for frames about to be written (a chunk, or
frames of the window recomputed after a prompt switch); ``write(layer, k, v)`` stores that chunk
(few-step denoising calls it once per step, overwriting); ``read(layer)`` returns the window;
``flush(keep)`` drops every recent frame but the last ``keep`` (Infinity-RoPE's KV Flush);
``cut(gap)`` makes the frames written from now on ``gap`` positions later (RoPE Cut); ``reset()``
empties it.

Legend: L layers, B batch, H heads, W window frames, T tokens per frame, D head dim.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from longroll._validate import check_int
from longroll.rope.positions import POSITION_POLICIES, window_positions

# rotate(x (B, H, n*T, D), frame_positions (n,)) -> rotated x
KeyRotation = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class CacheConfig:
    """Size and policy of the attention window."""

    window: int = 12  # W: latent frames attended in total, sink and current chunk included
    sink: int = 3  # N: first frames kept for the whole rollout (0 = plain sliding window)
    rotated: bool = True  # store keys rotated at write time (False: rotate on read, for dynamic RoPE)
    positions: str = "absolute"  # temporal RoPE positions: "absolute" (timeline) or "relative" (in the window)
    anchor: int | None = None  # relative positions only: the newest frame's position (Infinity-RoPE: L_train - 1)

    def __post_init__(self) -> None:
        check_int("window", self.window, low=1)
        check_int("sink", self.sink, low=0)
        if self.sink >= self.window:
            raise ValueError(
                f"sink = {self.sink} must be smaller than window = {self.window} "
                f"(allowed range [0, {self.window - 1}]): the window also holds the chunk being generated."
            )
        if self.positions not in POSITION_POLICIES:
            raise ValueError(f"rope positions = {self.positions!r} is not one of {', '.join(POSITION_POLICIES)}.")
        if self.positions != "absolute" and self.rotated:
            raise ValueError(f"rope positions = {self.positions!r} move as the window slides, so keys must be cached "
                             "un-rotated: set rotated = False.")
        if self.anchor is not None:
            check_int("anchor", self.anchor, low=0)
            if self.positions != "relative":
                raise ValueError(f"anchor = {self.anchor} places the newest frame of a relative window; it needs "
                                 f"positions = 'relative', got {self.positions!r}.")

    @property
    def ring(self) -> int:
        """R: slots for recent frames (the current chunk included)."""
        return self.window - self.sink


class KVCache:
    """Preallocated per-layer keys and values for a window of latent frames, with their positions."""

    def __init__(
        self,
        config: CacheConfig,
        *,
        num_layers: int,
        batch_size: int,
        num_heads: int,
        tokens_per_frame: int,
        head_dim: int,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        for name, value in (("num_layers", num_layers), ("batch_size", batch_size), ("num_heads", num_heads),
                            ("tokens_per_frame", tokens_per_frame), ("head_dim", head_dim)):
            check_int(name, value, low=1)
        self.config = config
        self.tokens_per_frame = tokens_per_frame
        shape = (num_layers, batch_size, num_heads, config.window, tokens_per_frame, head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)  # (L, B, H, W, T, D)
        self.v = torch.zeros(shape, device=device, dtype=dtype)  # (L, B, H, W, T, D)
        self.positions = torch.full((config.window,), -1, dtype=torch.long, device=device)  # (W,) frame per slot
        self.timeline = torch.zeros((config.window,), dtype=torch.long, device=device)  # (W,) timeline per slot
        # Host-side bookkeeping (no device sync on the hot path): which slots hold a frame.
        self._frames: list[int | None] = [None] * config.window  # frame held by each slot
        self._end = 0  # one past the newest frame ever written
        self._offset = 0  # timeline - frame for frames written from now on (sum of RoPE Cut gaps)
        self._chunk: tuple[int, int] | None = None  # (start_frame, num_frames) claimed by begin()
        self._chunk_slots: torch.Tensor | None = None  # (f,) slots of that chunk
        self._chunk_positions: torch.Tensor | None = None  # (f,) frames of that chunk
        self._read_slots: torch.Tensor | None = None  # (n,) slots to read when they are not a prefix
        self._rope: tuple[torch.Tensor, torch.Tensor] | None = None  # (key positions, query positions) memo

    # ------------------------------------------------------------------ queries
    @property
    def end_frame(self) -> int:
        """One past the newest frame written so far (the next chunk's start)."""
        return self._end

    @property
    def num_frames(self) -> int:
        """Frames currently in the window (at most W)."""
        return sum(f is not None for f in self._frames)

    @property
    def nbytes(self) -> int:
        return self.k.nbytes + self.v.nbytes + self.positions.nbytes + self.timeline.nbytes

    def slot(self, frame: int) -> int:
        """The slot that holds (or will hold) ``frame``."""
        n, r = self.config.sink, self.config.ring
        return frame if frame < n else n + (frame - n) % r

    def holds(self, frame: int) -> bool:
        """Whether ``frame`` is still in the window."""
        return 0 <= frame < self._end and self._frames[self.slot(frame)] == frame

    def held_frames(self) -> list[int]:
        """The frames in the window, in time order."""
        return sorted(f for f in self._frames if f is not None)

    def _slots(self) -> torch.Tensor | slice:
        """The slots holding frames: a prefix slice, or an index tensor after a KV Flush left holes."""
        return slice(0, self.num_frames) if self._read_slots is None else self._read_slots

    def frame_positions(self) -> torch.Tensor:
        """Absolute latent-frame index of every frame in the window, in read order: (n,)."""
        return self.positions[self._slots()]

    def key_positions(self) -> torch.Tensor:
        """Temporal RoPE position of every frame in the window under the policy, in read order: (n,) float64."""
        return self._rope_positions()[0]

    def query_positions(self) -> torch.Tensor:
        """Temporal RoPE positions of the chunk claimed by ``begin``: (f,) float64."""
        return self._rope_positions()[1]

    def _rope_positions(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._chunk_slots is None:
            raise RuntimeError("KVCache positions asked before begin(start_frame, num_frames).")
        if self._rope is None:
            slots = self._slots()
            all_slots = torch.arange(self.config.window, device=self.positions.device)[slots]
            cfg = self.config
            keys = window_positions(self.timeline[slots], self.positions[slots] < cfg.sink, cfg.positions,
                                    anchor=cfg.anchor)
            where = {int(s): i for i, s in enumerate(all_slots.tolist())}
            query = keys[torch.tensor([where[int(s)] for s in self._chunk_slots.tolist()], device=keys.device)]
            self._rope = (keys, query)
        return self._rope

    # ------------------------------------------------------------------ verbs
    def begin(self, start_frame: int, num_frames: int) -> None:
        """Claim slots for frames ``[start_frame, start_frame + num_frames)`` before writing them.

        Either the next frames (``start_frame == end_frame``; evicts the oldest non-sink frames) or
        frames still in the window (a recompute, e.g. re-caching under a new prompt; they keep the
        timeline they were written with).
        """
        check_int("num_frames", num_frames, low=1, high=self.config.ring)
        check_int("start_frame", start_frame, low=0)
        end = start_frame + num_frames
        if start_frame < self._end:
            # Recompute: every frame must still be in the window and the chunk may not run past the end
            # unless it starts exactly at it.
            missing = [f for f in range(start_frame, min(end, self._end)) if not self.holds(f)]
            if missing or end > self._end:
                raise ValueError(
                    f"Cannot rewrite frames [{start_frame}, {end}): the window holds frames "
                    f"{self.held_frames()} and new frames must start at {self._end}."
                )
        elif start_frame > self._end:
            raise ValueError(f"Frames must be written in order: the next frame is {self._end}, got {start_frame}.")
        frames = list(range(start_frame, end))
        slots = [self.slot(f) for f in frames]
        device = self.positions.device
        self._chunk = (start_frame, num_frames)
        self._chunk_slots = torch.tensor(slots, dtype=torch.long, device=device)
        self._chunk_positions = torch.tensor(frames, dtype=torch.long, device=device)
        new = [(f, s) for f, s in zip(frames, slots) if f >= self._end]
        if new:
            new_slots = torch.tensor([s for _, s in new], dtype=torch.long, device=device)
            self.positions.index_copy_(0, new_slots, torch.tensor([f for f, _ in new], dtype=torch.long,
                                                                  device=device))
            self.timeline.index_copy_(0, new_slots, torch.tensor([f + self._offset for f, _ in new],
                                                                 dtype=torch.long, device=device))
            for f, s in new:
                self._frames[s] = f
        self._end = max(self._end, end)
        self._refresh()

    def write(self, layer: int, k: torch.Tensor, v: torch.Tensor, rotate: KeyRotation | None = None) -> None:
        """Store the claimed chunk's keys and values for ``layer``: ``k, v (B, H, f*T, D)``, keys un-rotated.

        With the rotated policy ``rotate`` is applied here at the chunk's timeline positions.
        """
        if self._chunk is None or self._chunk_slots is None or self._chunk_positions is None:
            raise RuntimeError("KVCache.write called before begin(start_frame, num_frames).")
        b, h, _, t, d = self.k.shape[1:]
        f = self._chunk[1]
        if k.shape != (b, h, f * t, d) or v.shape != k.shape:
            raise ValueError(f"KVCache.write expects k and v of shape {(b, h, f * t, d)}, got {tuple(k.shape)} "
                             f"and {tuple(v.shape)}.")
        if self.config.rotated and rotate is not None:
            k = rotate(k, self.query_positions())
        self.k[layer].index_copy_(2, self._chunk_slots, k.reshape(b, h, f, t, d).to(self.k.dtype))
        self.v[layer].index_copy_(2, self._chunk_slots, v.reshape(b, h, f, t, d).to(self.v.dtype))

    def read(self, layer: int, rotate: KeyRotation | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of the whole window for ``layer``: (B, H, n*T, D) each, read order.

        Use ``frame_positions()`` for the frame of each slot. With un-rotated keys they are rotated
        here by ``rotate`` at the policy's positions (``key_positions()``) with the caller's frequencies.
        """
        n = self.num_frames
        b, h, _, t, d = self.k.shape[1:]
        slots = self._slots()
        k = self.k[layer, :, :, slots].reshape(b, h, n * t, d)
        v = self.v[layer, :, :, slots].reshape(b, h, n * t, d)
        if not self.config.rotated and rotate is not None:
            k = rotate(k, self.key_positions())
        return k, v

    def flush(self, keep: int) -> None:
        """KV Flush (Infinity-RoPE §3.2): keep the sink and the last ``keep`` frames, drop the rest.

        Nothing is copied: the dropped slots are only marked empty, and the next frames fill them.
        """
        check_int("keep", keep, low=0, high=self.config.ring - 1)
        last = [f for f in self.held_frames() if f >= self.config.sink][-keep:] if keep else []
        for s, f in enumerate(self._frames):
            if f is not None and f >= self.config.sink and f not in last:
                self._frames[s] = None
                self.positions[s] = -1
        self._chunk = self._chunk_slots = self._chunk_positions = None
        self._refresh()

    def cut(self, gap: int) -> None:
        """RoPE Cut (Infinity-RoPE §3.3): frames written from now on sit ``gap`` timeline positions later."""
        check_int("gap", gap, low=0)
        self._offset += gap

    def reset(self) -> None:
        """Empty the window (e.g. before a new video); storage is kept, not reallocated."""
        self.k.zero_()
        self.v.zero_()
        self.positions.fill_(-1)
        self.timeline.zero_()
        self._frames = [None] * self.config.window
        self._end = self._offset = 0
        self._chunk = self._chunk_slots = self._chunk_positions = None
        self._refresh()

    def _refresh(self) -> None:
        """Recompute the read order after the set of held slots changed."""
        held = [s for s, f in enumerate(self._frames) if f is not None]
        prefix = held == list(range(len(held)))
        self._read_slots = None if prefix else torch.tensor(held, dtype=torch.long, device=self.positions.device)
        self._rope = None
