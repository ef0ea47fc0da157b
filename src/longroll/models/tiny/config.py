"""Configuration of the built-in model: the autoencoder and the frame-chunk-causal DiT.

Every derived size (latent grid, tokens per frame, RoPE split) comes from these fields.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from longroll._validate import check_int
from longroll.rope.freqs import wan_axis_dims


@dataclass(frozen=True)
class AutoencoderConfig:
    """Small convolutional autoencoder: 4x spatial compression, no temporal compression."""

    resolution: int = 32  # frame height = width in pixels
    latent_channels: int = 4  # channels of the latent grid
    width: int = 32  # channels of the first conv stage (the second has twice as many)

    def __post_init__(self) -> None:
        check_int("resolution", self.resolution, low=8)
        if self.resolution % 4:
            raise ValueError(f"resolution = {self.resolution} must be a multiple of 4 (4x spatial compression).")
        check_int("latent_channels", self.latent_channels, low=1)
        check_int("width", self.width, low=4)

    @property
    def latent_size(self) -> int:
        return self.resolution // 4


@dataclass(frozen=True)
class DiTConfig:
    """Frame-chunk-causal DiT over latent patches with Wan's 3D RoPE split."""

    latent_channels: int = 4  # must match the autoencoder
    latent_size: int = 8  # latent grid height = width
    patch: int = 2  # spatial patch size on the latent grid
    width: int = 128  # hidden size
    depth: int = 6  # transformer blocks
    heads: int = 4  # attention heads
    mlp_ratio: float = 4.0  # FFN hidden size / width
    chunk_size: int = 4  # latent frames denoised together (bidirectional inside, causal across)
    train_len: int = 16  # L_train: latent frames per training clip (the horizon)
    rope_theta: float = 10000.0  # RoPE base

    def __post_init__(self) -> None:
        for name in ("latent_channels", "latent_size", "patch", "width", "depth", "heads", "chunk_size", "train_len"):
            check_int(name, getattr(self, name), low=1)
        if self.latent_size % self.patch:
            raise ValueError(f"latent_size = {self.latent_size} must be a multiple of patch = {self.patch}.")
        if self.width % self.heads:
            raise ValueError(f"width = {self.width} must be a multiple of heads = {self.heads}.")
        if self.train_len % self.chunk_size:
            raise ValueError(f"train_len = {self.train_len} must be a multiple of chunk_size = {self.chunk_size}.")
        wan_axis_dims(self.head_dim)  # raises if the head is too small for the 3-axis split

    @property
    def head_dim(self) -> int:
        return self.width // self.heads

    @property
    def grid(self) -> int:
        """Tokens along each spatial axis of a frame."""
        return self.latent_size // self.patch

    @property
    def tokens_per_frame(self) -> int:
        return self.grid * self.grid

    @property
    def patch_dim(self) -> int:
        return self.latent_channels * self.patch * self.patch

    def to_dict(self) -> dict:
        return asdict(self)
