"""Rotating the query and key tokens of whole frames, once per frame set within a forward pass.

Every layer of one forward rotates the same frames (the chunk's queries, the window's keys), so
the cos/sin tables are computed once and reused. The memo is keyed by the positions tensor itself
(its storage address, offset, length and version counter), never by its values: reading values
would force a device-to-host copy on every layer of a GPU forward. The memo holds a reference to
every tensor it has seen, so an address cannot be reused while it lives, and an in-place update of
a positions tensor (the cache's ``index_copy_``) bumps its version and misses the memo.

Legend: B batch, H heads, n frames, T tokens per frame, D head dim.
"""

from __future__ import annotations

import torch

from longroll.rope.freqs import RopeFreqs, apply_rotary, rope_cos_sin, token_cos_sin


class FrameRotator:
    """Rotates ``(B, H, n*T, D)`` tokens of ``n`` frames on an ``height x width`` token grid (``stride``: grid
    positions apart, for tokens that each cover ``stride x stride`` of the model's grid)."""

    def __init__(self, freqs: RopeFreqs, height: int, width: int, *, attention_scale: float = 1.0,
                 stride: int = 1) -> None:
        self.freqs, self.height, self.width, self.scale, self.stride = freqs, height, width, attention_scale, stride
        self._memo: dict[tuple[int, int, int, int], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def cos_sin(self, frames: torch.Tensor, heads: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(n*T, D/2)`` cos and sin (fp32) for frames at positions ``frames (n,)``; ``(H, n*T, D/2)`` when
        the frequencies carry a per-head jitter."""
        key = (frames.data_ptr(), frames.storage_offset(), frames.numel(), frames._version, heads)
        hit = self._memo.get(key)
        if hit is None:
            cos, sin = rope_cos_sin(self.freqs, frames, self.height, self.width, attention_scale=self.scale,
                                    dtype=torch.float32, heads=heads, stride=self.stride)
            hit = self._memo[key] = (frames, cos, sin)  # keep ``frames`` alive: its address stays unique
        return hit[1], hit[2]

    def __call__(self, x: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """Rotate ``x (B, H, n*T, D)`` (frame-major tokens) at ``frames (n,)``."""
        cos, sin = self.cos_sin(frames, x.shape[1] if self.freqs.jitter > 0 else None)
        return apply_rotary(x, cos, sin)

    def rows(self, x: torch.Tensor, frames: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Rotate ``x (B, H, N, D)``, the tokens ``index (N,)`` of the frames at ``frames (n,)``, with those
        rows of the frames' cos / sin tables: the same bits as rotating every token and taking those."""
        heads = x.shape[1] if self.freqs.jitter > 0 else None
        cos, sin = self.cos_sin(frames, heads)
        return apply_rotary(x, cos.index_select(-2, index), sin.index_select(-2, index))

    def same_as(self, other) -> bool:
        """Whether ``other`` rotates exactly as this one (the same frequencies object, grid and scale)."""
        mine = (self.height, self.width, self.scale, self.stride)
        return isinstance(other, FrameRotator) and other.freqs is self.freqs and \
            (other.height, other.width, other.scale, other.stride) == mine

    def tokens(self, x: torch.Tensor, time: torch.Tensor, space: torch.Tensor) -> torch.Tensor:
        """Rotate single tokens ``x (B, H, N, D)`` at temporal positions ``time (N,)`` and grid indices
        ``space (N,)``."""
        if self.stride != 1:
            raise ValueError("Single tokens are rotated on the model's own grid (stride 1); this rotator's tokens "
                             f"sit {self.stride} apart.")
        cos, sin = token_cos_sin(self.freqs, time, space, self.width, attention_scale=self.scale,
                                 heads=x.shape[1] if self.freqs.jitter > 0 else None)
        return apply_rotary(x, cos, sin)


__all__ = ["FrameRotator"]
