"""How each family of causal Wan checkpoints is rolled out, and the adapter the rollout drives.

A flavour's defaults come from its record (``flavours.RECORDS``: the family's own released
inference, read from its repository), so ``--preset none`` reproduces it:

| flavour                      | chunk | own window / sink         | timesteps (warp shift)         | switch   |
|------------------------------|-------|---------------------------|--------------------------------|----------|
| `self-forcing`               | 3     | 21 / 0                    | 1000 750 500 250 (5)           | -        |
| `longlive`                   | 3     | 12 / 3                    | 1000 750 500 250 (5)           | longlive |
| `causvid`                    | 3     | 21 / 0                    | 1000 757 522 (as written, grid 8) | -     |
| `causal-forcing`             | 3     | 21 / 0                    | 1000 750 500 250 (5)           | -        |
| `causal-forcing-frame`       | 1     | 21 / 0                    | 1000 750 500 250 (5)           | -        |
| `causal-forcing-frame-2step` | 1     | 21 / 0                    | 1000 500 (5), first chunk 4    | -        |
| `causal-forcing-frame-1step` | 1     | 21 / 0                    | 1000 (5), first chunk 4        | -        |
| `reward-forcing`             | 3     | 9 / 3, EMA sink, relative | 1000 750 500 250 (5)           | -        |
| `rolling-forcing`            | 3     | 21 / 3, `rolling` schedule| 1000 800 600 400 200 (5)       | -        |

The sink presets (``sink``, ``flex``, ``cache-relative``, ...) use LongLive's 12 / 3 on every
flavour: it is the window that keeps memory flat and was trained in by LongLive. FLEX states its
gate for L_train = 21 (alpha 0.1, beta 2.5) and, for LongLive, whose streams are tuned to 240
frames, alpha 1 and beta 15. Families without a prompt switch of their own re-cache the window
under the new prompt (``recache``). Everything here is a default: presets and overrides refine it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from longroll._validate import check_choice, check_int
from longroll.constants import LONGLIVE_SINK, LONGLIVE_WINDOW, MIGA_WAN_DIAGONAL, SELF_FORCING_TRAIN_LEN, WAN21_FPS
from longroll.models.base import DiagonalDefaults, ModelDefaults, NativeRollout
from longroll.models.causal_wan.flavours import RECORDS, FlavourRecord, record_for
from longroll.models.causal_wan.model import CausalWan, WanContext
from longroll.sampler import FewStepSchedule

VAE_STRIDE = (4, 8, 8)  # Wan VAE: 4x in time (after the first frame), 8x8 in space
WAN_FPS = WAN21_FPS  # Wan2.1 video frame rate


@dataclass(frozen=True)
class WanRolloutSpec:
    """What a causal Wan checkpoint was trained for and how to roll it out by default."""

    flavour: str = "self-forcing"  # one of FLAVOURS (its record gives chunk, steps, own window, switch)
    height: int = 480  # video height in pixels (multiple of 16)
    width: int = 832  # video width in pixels (multiple of 16)
    train_len: int | None = None  # L_train in latent frames (None: the record's)
    window: int = LONGLIVE_WINDOW  # window of the sink presets, sink and current chunk included
    sink: int = LONGLIVE_SINK  # sink frames of the sink presets
    flex_alpha: float | None = None  # FLEX gate alpha for this model (None: 0.1 scaled by L_train / 21)
    flex_beta: float | None = None  # FLEX gate beta (None: 2.5 scaled by L_train / 21)

    def __post_init__(self) -> None:
        check_choice("flavour", self.flavour, FLAVOURS)
        for name in ("height", "width"):
            check_int(name, getattr(self, name), low=16)
            if getattr(self, name) % 16:
                raise ValueError(f"{name} = {getattr(self, name)} must be a multiple of 16 (VAE stride 8 x patch 2).")
        if self.train_len is not None:
            check_int("train_len", self.train_len, low=self.chunk_size)
        check_int("window", self.window, low=self.chunk_size)
        check_int("sink", self.sink, low=0, high=self.window - self.chunk_size)

    @property
    def record(self) -> FlavourRecord:
        return RECORDS[self.flavour]

    @property
    def chunk_size(self) -> int:
        return self.record.chunk

    @property
    def horizon(self) -> int:
        """L_train in latent frames."""
        return self.record.train_len if self.train_len is None else self.train_len

    @property
    def latent_hw(self) -> tuple[int, int]:
        return self.height // VAE_STRIDE[1], self.width // VAE_STRIDE[2]

    def schedule(self) -> FewStepSchedule:
        """The family's own sampler: its timestep list (warped by its shift, or as written), fresh noise
        between steps (``renoise``)."""
        r = self.record
        return FewStepSchedule(timesteps=r.timesteps, first_timesteps=r.first_timesteps,
                               shift=1.0 if r.warp_shift is None else r.warp_shift, grid_shift=r.grid_shift,
                               sampler="renoise")

    def defaults(self) -> ModelDefaults:
        """The family's rollout defaults: its own window, sink and sampler (``none``), the sink presets'
        window, a clean-context pass at its context timestep, MIGA's diagonal settings for Wan2.1."""
        r = self.record
        return ModelDefaults(
            train_len=self.horizon, chunk_size=r.chunk, window=self.window, sink=self.sink,
            schedule=self.schedule(), context_timestep=r.context_timestep, flex_alpha=self.flex_alpha,
            flex_beta=self.flex_beta, frames_per_latent=VAE_STRIDE[0], upscale=1,
            native=NativeRollout(window=r.window, sink=r.sink, positions=r.positions, sink_ema=r.sink_ema,
                                 switch=r.switch or "recache"),
            # FIFO / MIGA see the 21-frame clip every flavour was trained on (LongLive's 240 is its stream).
            diagonal=DiagonalDefaults(window=SELF_FORCING_TRAIN_LEN, **MIGA_WAN_DIAGONAL))


# Flavours longroll reproduces; the FLEX gate LongLive's paper states for its 240-frame streams.
FLAVOURS: dict[str, dict] = {name: {} for name, r in RECORDS.items() if r.reproduced}
FLAVOURS["longlive"] = {"flex_alpha": 1.0, "flex_beta": 15.0}


def spec_for(flavour: str, **overrides) -> WanRolloutSpec:
    """The default spec of a checkpoint family, with field overrides (None keeps the default)."""
    record_for(flavour)  # a clear error for an unknown flavour, or one recorded but not reproduced
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
