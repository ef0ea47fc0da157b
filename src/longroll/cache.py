"""A frame-granular KV cache with an attention sink and a sliding window, in fixed memory.

The window holds ``W`` latent frames in total: ``N`` sink frames (the first frames of the video,
kept for the whole rollout, FLEX §3.4 / LongLive) plus a ring of ``R = W - N`` slots for the most
recent frames, the chunk being denoised included. Frame ``j`` lives in slot ``j`` if ``j < N``,
else in slot ``N + (j - N) mod R``; writing a new frame therefore evicts the frame ``R`` earlier in
O(1), with no copy of the cache (LongLive clones the whole cache on every forward instead).

Keys are stored either rotated at their absolute positions (Self Forcing's policy: cheapest) or
un-rotated and rotated on every read with the caller's current frequencies (needed for a dynamic
RoPE scale and for re-positioning). Both go through one ``rotate(x, frame_positions)`` callback
supplied by the model, so the model's attention code is the same for both policies.

Verbs: ``begin(start_frame, num_frames)`` claims slots for frames about to be written (a chunk, or
frames of the window recomputed after a prompt switch); ``write(layer, k, v)`` stores that chunk
(few-step denoising calls it once per step, overwriting); ``read(layer)`` returns the window;
``reset()`` empties it.

Legend: L layers, B batch, H heads, W window frames, T tokens per frame, D head dim.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from longroll._validate import check_int

# rotate(x (B, H, n*T, D), frame_positions (n,)) -> rotated x
KeyRotation = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class CacheConfig:
    """Size and policy of the attention window."""

    window: int = 12  # W: latent frames attended in total, sink and current chunk included
    sink: int = 3  # N: first frames kept for the whole rollout (0 = plain sliding window)
    rotated: bool = True  # store keys rotated at write time (False: rotate on read, for dynamic RoPE)

    def __post_init__(self) -> None:
        check_int("window", self.window, low=1)
        check_int("sink", self.sink, low=0)
        if self.sink >= self.window:
            raise ValueError(
                f"sink = {self.sink} must be smaller than window = {self.window} "
                f"(allowed range [0, {self.window - 1}]): the window also holds the chunk being generated."
            )

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
        self._end = 0  # one past the newest frame ever written
        self._chunk: tuple[int, int] | None = None  # (start_frame, num_frames) claimed by begin()
        self._chunk_slots: torch.Tensor | None = None  # (f,) slots of that chunk
        self._chunk_positions: torch.Tensor | None = None  # (f,) frames of that chunk

    # ------------------------------------------------------------------ queries
    @property
    def end_frame(self) -> int:
        """One past the newest frame written so far (the next chunk's start)."""
        return self._end

    @property
    def num_frames(self) -> int:
        """Frames currently in the window (at most W)."""
        return min(self._end, self.config.window)

    @property
    def nbytes(self) -> int:
        return self.k.nbytes + self.v.nbytes + self.positions.nbytes

    def slot(self, frame: int) -> int:
        """The slot that holds (or will hold) ``frame``."""
        n, r = self.config.sink, self.config.ring
        return frame if frame < n else n + (frame - n) % r

    def holds(self, frame: int) -> bool:
        """Whether ``frame`` is still in the window."""
        if frame < 0 or frame >= self._end:
            return False
        return frame < self.config.sink or frame >= self._end - self.config.ring

    def frame_positions(self) -> torch.Tensor:
        """Absolute latent-frame index of every frame in the window, in slot order: (n,)."""
        return self.positions[: self.num_frames]

    # ------------------------------------------------------------------ verbs
    def begin(self, start_frame: int, num_frames: int) -> None:
        """Claim slots for frames ``[start_frame, start_frame + num_frames)`` before writing them.

        Either the next frames (``start_frame == end_frame``; evicts the oldest non-sink frames) or
        frames still in the window (a recompute, e.g. re-caching under a new prompt).
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
                    f"{self.frame_positions().tolist()} and new frames must start at {self._end}."
                )
        elif start_frame > self._end:
            raise ValueError(f"Frames must be written in order: the next frame is {self._end}, got {start_frame}.")
        frames = list(range(start_frame, end))
        device = self.positions.device
        self._chunk = (start_frame, num_frames)
        self._chunk_slots = torch.tensor([self.slot(f) for f in frames], dtype=torch.long, device=device)
        self._chunk_positions = torch.tensor(frames, dtype=torch.long, device=device)
        self.positions.index_copy_(0, self._chunk_slots, self._chunk_positions)
        self._end = max(self._end, end)

    def write(self, layer: int, k: torch.Tensor, v: torch.Tensor, rotate: KeyRotation | None = None) -> None:
        """Store the claimed chunk's keys and values for ``layer``: ``k, v (B, H, f*T, D)``, keys un-rotated.

        With the rotated policy ``rotate`` is applied here at the chunk's absolute positions.
        """
        if self._chunk is None or self._chunk_slots is None or self._chunk_positions is None:
            raise RuntimeError("KVCache.write called before begin(start_frame, num_frames).")
        b, h, _, t, d = self.k.shape[1:]
        f = self._chunk[1]
        if k.shape != (b, h, f * t, d) or v.shape != k.shape:
            raise ValueError(f"KVCache.write expects k and v of shape {(b, h, f * t, d)}, got {tuple(k.shape)} "
                             f"and {tuple(v.shape)}.")
        if self.config.rotated and rotate is not None:
            k = rotate(k, self._chunk_positions)
        self.k[layer].index_copy_(2, self._chunk_slots, k.reshape(b, h, f, t, d).to(self.k.dtype))
        self.v[layer].index_copy_(2, self._chunk_slots, v.reshape(b, h, f, t, d).to(self.v.dtype))

    def read(self, layer: int, rotate: KeyRotation | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of the whole window for ``layer``: (B, H, n*T, D) each, slot order.

        Use ``frame_positions()`` for the frame of each slot. With the un-rotated policy the keys
        are rotated here by ``rotate`` at their absolute positions with the caller's frequencies.
        """
        n = self.num_frames
        b, h, _, t, d = self.k.shape[1:]
        k = self.k[layer, :, :, :n].reshape(b, h, n * t, d)
        v = self.v[layer, :, :, :n].reshape(b, h, n * t, d)
        if not self.config.rotated and rotate is not None:
            k = rotate(k, self.frame_positions())
        return k, v

    def reset(self) -> None:
        """Empty the window (e.g. before a new video); storage is kept, not reallocated."""
        self.k.zero_()
        self.v.zero_()
        self.positions.fill_(-1)
        self._end = 0
        self._chunk = self._chunk_slots = self._chunk_positions = None
