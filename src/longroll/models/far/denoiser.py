"""FAR as the rollouts see it: frame-wise chunks, FAR's sampler and clean-context timestep, class or
action conditioning as the condition tensor.

FAR's own inference (``far/pipelines/pipeline_far.py``, ``generate``): one frame at a time, 50 Euler
steps of diffusers' ``FlowMatchEulerDiscreteScheduler`` (1000 training timesteps, shift 1: the
timesteps 1000 ... 1 evenly, then 0), the finished frames as context at timestep -1, keys and values
cached; classifier-free guidance against the dropped label (the embedding table's last row) for
every frame, context frames included. In longroll's terms: the chunk rollout with chunks of one
frame, the explicit timestep list, a clean-context pass at -1/1000, and ``GuidedDenoiser`` with
``null_condition``. The condition is one tensor: class labels ``(B,)`` or the whole video's actions
``(B, N)`` (each forward takes the rows of its frames), empty ``(B, 0)`` for an unconditional model.
"""

from __future__ import annotations

import torch
from torch import nn

from longroll.models.base import DiagonalDefaults, ModelDefaults
from longroll.models.far.long import FarLong
from longroll.models.far.model import Far
from longroll.sampler import FewStepSchedule

FAR_STEPS = 50  # num_inference_steps of every released config (options/test/far/*.yml)
FAR_CLEAN_TIMESTEP = -1.0  # context_timestep_idx: clean context frames' timestep, on FAR's 0-1000 scale


def far_schedule(steps: int = FAR_STEPS, *, cfg: float = 1.0) -> FewStepSchedule:
    """FAR's sampler: ``FlowMatchEulerDiscreteScheduler.set_timesteps(steps)`` with 1000 training timesteps
    and shift 1, i.e. timesteps evenly from 1000 to 1, then 0, and plain Euler steps; ``cfg``: the
    guidance scale of FAR's evaluation of the model."""
    timesteps = torch.linspace(1000.0, 1.0, steps, dtype=torch.float64).tolist()
    return FewStepSchedule(timesteps=tuple(timesteps), shift=1.0, sampler="euler", cfg=cfg)


# What FAR-Long's multi-level cache cannot take (models.base.REFUSABLE), and why.
LONG_REFUSES = (
    ("fifo", "FAR-Long sees its long-term frames only clean (it is trained so), and FIFO's queue holds noisy ones"),
    ("miga", "FAR-Long sees its long-term frames only clean (it is trained so), and MIGA's queue holds noisy ones"),
    ("rolling", "its multi-level cache makes one frame at a time"),
    ("relative", "its two levels keep FAR's absolute positions (coarse tokens at every 4th row and column)"),
    ("compression", "its coarse level is already a compression (a few tokens per frame) and keeps them whole"),
    ("memory", "its coarse level keeps every long-term frame's own tokens"),
    ("rolling-sink", "its coarse level is written once per frame and never replayed"),
    ("ema-sink", "its coarse level is written once per frame and never folded"),
    ("dynamic", "its fine level keeps keys rotated when written"),
    ("switch", "its world models take one action per frame instead of prompts"),
)


def far_defaults(train_len: int, *, steps: int = FAR_STEPS, cfg: float = 1.0, upscale: int = 4,
                 long: bool = False) -> ModelDefaults:
    """A FAR model's defaults: it attends to every frame of its training clip (``train_len``), one
    frame at a time; the sink presets keep its first frame. ``cfg``: FAR's guidance for the model;
    ``upscale``: enlargement of written videos for viewing (its frames are 64 to 256 pixels). ``long``:
    FAR-Long (the window bounds its coarse level; what its cache cannot take is refused, with the reason)."""
    return ModelDefaults(
        train_len=train_len, chunk_size=1, window=train_len, sink=1, schedule=far_schedule(steps, cfg=cfg),
        context_timestep=FAR_CLEAN_TIMESTEP / 1000.0, frames_per_latent=1, upscale=upscale, preset="none",
        diagonal=DiagonalDefaults(window=train_len, k=1), refuses=LONG_REFUSES if long else ())


class FarDenoiser(nn.Module):
    """The rollout's view of a ``Far``: latents ``(B, f, C, H, W)`` and noise levels in [0, 1] in (a
    negative level: a clean context frame), velocity out; FAR's timestep scale (x 1000) stays inside."""

    def __init__(self, model: Far | FarLong, defaults: ModelDefaults, latent_hw: tuple[int, int]) -> None:
        super().__init__()
        self.model, self.defaults, self.latent_hw = model, defaults, latent_hw
        self.null_trained = model.config.condition is not None  # FAR drops labels and actions in training

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        return (self.model.config.in_channels, *self.latent_hw)

    @property
    def rope_freqs(self):
        return self.model.rope_freqs

    def new_cache(self, cache_config, batch_size: int = 1, *, device=None, dtype=None):
        return self.model.new_cache(cache_config, batch_size, height=self.latent_hw[0], width=self.latent_hw[1],
                                    device=device)

    def null_condition(self, cond: torch.Tensor) -> torch.Tensor:
        """The dropped label (the embedding table's last row) in place of every label or action."""
        return torch.full_like(cond, self.model.config.num_classes)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None, *, cache=None,
                start_frame: int = 0, rope=None, attention_scale: float = 1.0, bias=None) -> torch.Tensor:
        """x (B, f, C, H, W), t (B, f) in [0, 1] -> velocity (B, f, C, H, W) in x's dtype."""
        kind = self.model.config.condition
        labels = cond if kind == "label" else None
        actions = None
        if kind == "action" and cache is not None and self.model.config.long:
            actions = cond  # FAR-Long's cache needs the short-term window's actions again: the whole video's
        elif kind == "action":
            if cond is None or cond.shape[1] < start_frame + x.shape[1]:
                have = 0 if cond is None else cond.shape[1]
                raise ValueError(f"Frames [{start_frame}, {start_frame + x.shape[1]}) need their actions; the "
                                 f"video's actions cover {have} frames.")
            actions = cond[:, start_frame:start_frame + x.shape[1]]
        return self.model(x, t * 1000.0, start_frame=start_frame, cache=cache, labels=labels, actions=actions,
                          rope=rope, attention_scale=attention_scale, bias=bias)


__all__ = ["FAR_CLEAN_TIMESTEP", "FAR_STEPS", "LONG_REFUSES", "FarDenoiser", "far_defaults", "far_schedule"]
