"""Configuration of the built-in model: the autoencoder and the frame-chunk-causal DiT.

Every derived size (latent grid, tokens per frame, RoPE split) comes from these fields.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from longroll._validate import check_choice, check_int
from longroll.constants import (
    FLEX_RHO,
    LONGLIVE_SINK,
    LONGLIVE_WINDOW,
    SELF_FORCING_CHUNK,
    SELF_FORCING_SHIFT,
    SELF_FORCING_TIMESTEPS,
    SELF_FORCING_TRAIN_LEN,
    TINY_UPSCALE,
    WAN21_TEMPORAL_DIM,
)
from longroll.rope.freqs import split_head, wan_axis_dims

MODULATIONS = ("single", "block")


@dataclass(frozen=True)
class AutoencoderConfig:
    """Small convolutional autoencoder: 4x spatial compression, no temporal compression."""

    resolution: int = 32  # frame height = width in pixels
    latent_channels: int = 8  # channels of the latent grid
    width: int = 48  # channels of the first conv stage (the second has twice as many)

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

    latent_channels: int = 8  # must match the autoencoder
    latent_size: int = 8  # latent grid height = width
    patch: int = 2  # spatial patch size on the latent grid
    width: int = 160  # hidden size
    depth: int = 6  # transformer blocks
    heads: int = 2  # attention heads
    mlp_ratio: float = 4.0  # FFN hidden size / width
    chunk_size: int = SELF_FORCING_CHUNK  # latent frames denoised together (bidirectional inside, causal across)
    train_len: int = SELF_FORCING_TRAIN_LEN  # L_train: latent frames per training clip (the horizon)
    rope_theta: float = 10000.0  # RoPE base
    # Temporal RoPE dims of each head; the two spatial axes share the rest equally. Wan2.1's 44
    # (22 planes, theta_m = 10000^(-2m/44)) makes the temporal geometry exactly the real model's in a
    # smaller head; None = Wan's own split of this head (d - 4*(d//6)), for small test models.
    temporal_rope_dim: int | None = WAN21_TEMPORAL_DIM
    # "single": one conditioning-to-modulation layer shared by every block plus a learned per-block
    # offset (PixArt-alpha's adaLN-single), which frees a third of the parameters for width;
    # "block": AdaLN-zero with a modulation layer in each block (DiT).
    modulation: str = "single"
    # Per-frame jump conditioning (shortcut models, Frans et al. 2024, arXiv 2410.12557): the model
    # also receives the size d of the step it is asked to take, d = 0 being the instantaneous
    # velocity; trained with self-consistency so that d = t predicts a sample in one jump.
    jump: bool = True
    # Prompt tokens read by cross-attention in every block (Wan's text cross-attention, scaled down:
    # one token per (colour, shape) object and one for the background), next to the pooled prompt in
    # the AdaLN conditioning, so each patch can bind to one object. Measured on the built-in world (model
    # card): no gain over the AdaLN bag of objects, so the shipped recipe leaves it off.
    cross_attention: bool = False
    # FAR's long short-term context (Gu et al. 2025, Sec. 3.3): frames older than the short-term window
    # become coarse tokens of ``context_patch x context_patch`` latent pixels (a multiple of ``patch``)
    # with their own embedder and attention projections (``models/tiny/long.py``). None = off.
    context_patch: int | None = None
    # Frames of the short-term window (full-resolution tokens), the chunk being made included; a multiple
    # of ``chunk_size``. Read only with ``context_patch``.
    short_window: int = 12

    def __post_init__(self) -> None:
        for name in ("latent_channels", "latent_size", "patch", "width", "depth", "heads", "chunk_size", "train_len"):
            check_int(name, getattr(self, name), low=1)
        if self.latent_size % self.patch:
            raise ValueError(f"latent_size = {self.latent_size} must be a multiple of patch = {self.patch}.")
        if self.width % self.heads:
            raise ValueError(f"width = {self.width} must be a multiple of heads = {self.heads}.")
        if self.train_len % self.chunk_size:
            raise ValueError(f"train_len = {self.train_len} must be a multiple of chunk_size = {self.chunk_size}.")
        check_choice("modulation", self.modulation, MODULATIONS)
        if self.context_patch is not None:
            check_int("context_patch", self.context_patch, low=2 * self.patch, high=self.latent_size)
            if self.context_patch % self.patch or self.latent_size % self.context_patch:
                raise ValueError(f"context_patch = {self.context_patch} must be a multiple of patch = {self.patch} "
                                 f"and divide latent_size = {self.latent_size}.")
            check_int("short_window", self.short_window, low=self.chunk_size)
            if self.short_window % self.chunk_size:
                raise ValueError(f"short_window = {self.short_window} must be a multiple of chunk_size = "
                                 f"{self.chunk_size} (the window moves a chunk at a time).")
        if self.temporal_rope_dim is None:
            wan_axis_dims(self.head_dim)  # raises if the head is too small for the 3-axis split
        else:
            split_head(self.head_dim, self.temporal_rope_dim)  # raises naming the allowed values

    @property
    def head_dim(self) -> int:
        return self.width // self.heads

    @property
    def rope_dims(self) -> tuple[int, int, int]:
        """(temporal, height, width) RoPE dims of a head."""
        if self.temporal_rope_dim is None:
            return wan_axis_dims(self.head_dim)
        return split_head(self.head_dim, self.temporal_rope_dim)

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

    @property
    def long(self) -> bool:
        """Whether the model has FAR's long short-term context."""
        return self.context_patch is not None

    @property
    def context_grid(self) -> int:
        """Coarse tokens along each spatial axis of a long-term frame."""
        return self.latent_size // (self.context_patch or self.patch)

    @property
    def context_tokens_per_frame(self) -> int:
        return self.context_grid * self.context_grid

    @property
    def context_patch_dim(self) -> int:
        return self.latent_channels * (self.context_patch or self.patch) ** 2

    def to_dict(self) -> dict:
        return asdict(self)


# The recipe initialises its weights with torch.manual_seed(seed) (seed 0 for the shipped weights), so
# user seeds are salted before they seed the noise (longroll.noise.noise_seed says why).
TINY_SEED_SALT = "longroll-tiny-noise"
CLEAN_T = -1.0  # timestep value that marks a clean context frame (FAR's dedicated clean timestep)


def tiny_defaults(config: DiTConfig, inference: dict | None = None):
    """The built-in family's rollout defaults: a scale model of a Self Forcing checkpoint, so its
    window, sink, sampler and antiphase correlation are the ``self-forcing`` flavour's: its own
    inference (``none``) attends its whole training clip with no sink, as Self Forcing's 21 frames;
    the sink presets use LongLive's 12 / 3.

    ``inference`` (from the weights' JSON) overrides fields for weights trained for another
    sampler: {"window", "sink", "rho", "preset", "schedule": {FewStepSchedule fields},
    "diagonal": {DiagonalDefaults fields}}."""
    from dataclasses import replace

    from longroll.cache.multilevel import REFUSES
    from longroll.models.base import DiagonalDefaults, ModelDefaults, NativeRollout
    from longroll.sampler import FewStepSchedule

    inference = dict(inference or {})
    schedule = FewStepSchedule(timesteps=SELF_FORCING_TIMESTEPS, shift=SELF_FORCING_SHIFT, sampler="renoise")
    if "schedule" in inference:
        schedule = FewStepSchedule(**inference.pop("schedule"))
    diagonal = DiagonalDefaults(**inference.pop("diagonal", {}))
    window = min(LONGLIVE_WINDOW, config.train_len)
    # Its own inference attends its training clip; with long short-term context, whatever the window holds.
    native = NativeRollout(window=None if config.long else config.train_len)
    base = ModelDefaults(train_len=config.train_len, chunk_size=config.chunk_size, window=window,
                         sink=min(LONGLIVE_SINK, max(0, window - config.chunk_size)), schedule=schedule,
                         context_timestep=CLEAN_T, rho=FLEX_RHO, jumps=config.jump, frames_per_latent=1,
                         upscale=TINY_UPSCALE, diagonal=diagonal, native=native,
                         seed_salt=TINY_SEED_SALT, refuses=REFUSES if config.long else ())
    unknown = sorted(set(inference) - {"window", "sink", "rho", "preset"})
    if unknown:
        raise ValueError(f"Unknown inference setting(s) {', '.join(unknown)} in the weights' JSON; known: "
                         f"window, sink, rho, preset, schedule, diagonal.")
    return replace(base, **inference)
