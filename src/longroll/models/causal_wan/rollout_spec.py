"""How each family of causal Wan checkpoints is rolled out, and the adapter the rollout drives.

| flavour        | L_train | chunk | window / sink | steps (sigmas)                          | FLEX alpha / beta |
|----------------|---------|-------|---------------|-----------------------------------------|-------------------|
| `self-forcing` | 21      | 3     | 12 / 3        | 4, shift 5: 1, .9375, .8333, .625       | 0.1 / 2.5         |
| `longlive`     | 240     | 3     | 12 / 3        | 4, shift 5                              | 1 / 15            |
| `causvid`      | 21      | 3     | 12 / 3        | 3, shift 5                              | 0.1 / 2.5         |

Self Forcing and LongLive: ``denoising_step_list [1000, 750, 500, 250]`` warped through shift 5
(``configs/*.yaml``), fresh noise between steps, a clean-context pass at t = 0. LongLive is tuned
on streams of up to 240 latent frames with a 12-frame window and a 3-frame sink (its own
``L_train`` is therefore 240, and FLEX's gate is stated for it as alpha 1, beta 15). Self Forcing
checkpoints are trained on 21 frames with full attention; the 12 / 3 window is LongLive's,
the one that keeps memory flat. Everything here is a default: presets and overrides refine it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from longroll._validate import check_choice, check_float, check_int
from longroll.constants import MIGA_WAN_DIAGONAL, SELF_FORCING_TRAIN_LEN, WAN21_FPS
from longroll.models.base import DiagonalDefaults, ModelDefaults
from longroll.models.causal_wan.model import CausalWan, WanContext
from longroll.schedule import FewStepSchedule

VAE_STRIDE = (4, 8, 8)  # Wan VAE: 4x in time (after the first frame), 8x8 in space
WAN_FPS = WAN21_FPS  # Wan2.1 video frame rate


@dataclass(frozen=True)
class WanRolloutSpec:
    """What a causal Wan checkpoint was trained for and how to roll it out by default."""

    flavour: str = "self-forcing"  # one of FLAVOURS
    height: int = 480  # video height in pixels (multiple of 16)
    width: int = 832  # video width in pixels (multiple of 16)
    chunk_size: int = 3  # latent frames per block (num_frame_per_block)
    train_len: int = 21  # L_train in latent frames
    window: int = 12  # default attention window in latent frames, sink and current chunk included
    sink: int = 3  # default sink frames for the sink presets
    steps: int = 4  # denoising steps per chunk
    shift: float = 5.0  # timestep shift of the few-step schedule
    flex_alpha: float | None = None  # FLEX gate alpha for this model (None: 0.1 scaled by L_train / 21)
    flex_beta: float | None = None  # FLEX gate beta (None: 2.5 scaled by L_train / 21)

    def __post_init__(self) -> None:
        check_choice("flavour", self.flavour, FLAVOURS)
        for name in ("height", "width"):
            check_int(name, getattr(self, name), low=16)
            if getattr(self, name) % 16:
                raise ValueError(f"{name} = {getattr(self, name)} must be a multiple of 16 (VAE stride 8 x patch 2).")
        check_int("chunk_size", self.chunk_size, low=1)
        check_int("train_len", self.train_len, low=self.chunk_size)
        check_int("window", self.window, low=self.chunk_size)
        check_int("sink", self.sink, low=0, high=self.window - self.chunk_size)
        check_int("steps", self.steps, low=1, high=1000)
        check_float("shift", self.shift, low=0.0, low_open=True)

    @property
    def latent_hw(self) -> tuple[int, int]:
        return self.height // VAE_STRIDE[1], self.width // VAE_STRIDE[2]

    def defaults(self) -> ModelDefaults:
        """The family's rollout defaults (Self Forcing's sampler: fresh noise between steps, a
        clean-context pass at t = 0; MIGA's diagonal settings for Wan2.1)."""
        return ModelDefaults(
            train_len=self.train_len, chunk_size=self.chunk_size, window=self.window, sink=self.sink,
            schedule=FewStepSchedule(steps=self.steps, shift=self.shift, sampler="renoise"),
            context_timestep=0.0, flex_alpha=self.flex_alpha, flex_beta=self.flex_beta,
            frames_per_latent=VAE_STRIDE[0], upscale=1,
            # FIFO / MIGA see the 21-frame clip every flavour was trained on (LongLive's 240 is its stream).
            diagonal=DiagonalDefaults(window=SELF_FORCING_TRAIN_LEN, **MIGA_WAN_DIAGONAL))


FLAVOURS: dict[str, dict] = {
    "self-forcing": {},
    "longlive": {"train_len": 240, "flex_alpha": 1.0, "flex_beta": 15.0},
    "causvid": {"steps": 3},
}


def spec_for(flavour: str, **overrides) -> WanRolloutSpec:
    """The default spec of a checkpoint family, with field overrides (None keeps the default)."""
    check_choice("flavour", flavour, FLAVOURS)
    fields = {**FLAVOURS[flavour], **{k: v for k, v in overrides.items() if v is not None}}
    return WanRolloutSpec(flavour=flavour, **fields)


class CausalWanDenoiser(nn.Module):
    """The rollout's view of a ``CausalWan`` (see ``longroll.pipelines.rollout`` for the contract):
    latents ``(B, f, C, H, W)`` and noise levels in [0, 1] in, velocity out; Wan's layout and its
    timestep scale (x 1000) stay inside."""

    def __init__(self, model: CausalWan, spec: WanRolloutSpec) -> None:
        super().__init__()
        self.model, self.spec = model, spec
        model.chunk_size = spec.chunk_size
        model.config.tokens_per_frame(*spec.latent_hw)  # raises if the resolution does not patch
        self.defaults = spec.defaults()

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        return (self.model.config.in_channels, *self.spec.latent_hw)

    @property
    def rope_freqs(self):
        return self.model.rope_freqs

    def new_cache(self, cache_config, batch_size: int = 1, *, device=None, dtype=None):
        return self.model.new_cache(cache_config, *self.spec.latent_hw, batch_size, device=device,
                                    dtype=self.model.dtype)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: WanContext | torch.Tensor, *, cache=None,
                start_frame: int = 0, rope=None, attention_scale: float = 1.0, bias=None) -> torch.Tensor:
        """x (B, f, C, H, W), t (B, f) in [0, 1] -> velocity (B, f, C, H, W) in x's dtype."""
        v = self.model(x.transpose(1, 2), t * 1000.0, cond, start_frame=start_frame, cache=cache, rope=rope,
                       attention_scale=attention_scale, bias=bias)
        return v.transpose(1, 2).to(x.dtype)


__all__ = ["FLAVOURS", "VAE_STRIDE", "WAN_FPS", "CausalWanDenoiser", "WanRolloutSpec", "spec_for"]
