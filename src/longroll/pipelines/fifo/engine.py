"""Pieces every diagonal schedule shares: the noise-level grid, one windowed forward with
per-frame levels and context frames, the first clip, and the counters a benchmark reports.

Legend: B batch, n frames, C channels, H x W latent grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from longroll.devices import on_device
from longroll.sampler import FewStepSchedule


def levels(steps: int, shift: float) -> torch.Tensor:
    """Ascending noise levels ``lv[0] = 0 < ... < lv[steps] = 1`` (float64): the shifted grid."""
    return FewStepSchedule(steps=steps, shift=shift).sigmas().flip(0)


@dataclass
class DiagonalStats:
    """What a diagonal rollout did (for tests and the benchmark)."""

    forwards: int = 0  # model passes
    frames_in: int = 0  # frames fed to the model, context included
    steps_per_frame: list[int] = field(default_factory=list)  # denoising steps of every emitted frame
    judgements: int = 0  # chunks judged by self-reflection
    triggers: int = 0  # judgements whose score drop exceeded delta
    adopted: int = 0  # triggers where a candidate beat the current chunk
    peak_queue_frames: int = 0  # largest number of latent frames held at once
    scores: list[float] = field(default_factory=list)  # MIGA consistency score of each judged chunk, in order

    @property
    def drops(self) -> list[float]:
        """Falls of the score between successive judgements (what ``delta`` is compared with)."""
        return [a - b for a, b in zip(self.scores, self.scores[1:])]

    @property
    def trigger_share(self) -> float:
        return self.triggers / self.judgements if self.judgements else 0.0

    def to_dict(self) -> dict:
        return {"forwards": self.forwards, "frames_in": self.frames_in, "judgements": self.judgements,
                "triggers": self.triggers, "adopted": self.adopted, "trigger_share": round(self.trigger_share, 4),
                "peak_queue_frames": self.peak_queue_frames, "frames_out": len(self.steps_per_frame),
                "scores": self.scores}


class WindowRunner:
    """Runs the denoiser on a window of frames with per-frame noise levels, clean context first.

    ``velocity(frames, level_idx, context)`` returns the velocity of ``frames`` only; context frames
    (clean, or MIGA guidance frames with their own levels) are inputs, never outputs.
    """

    def __init__(self, den, cond, lv: torch.Tensor, stats: DiagonalStats, *, rope=None, attention_scale: float = 1.0,
                 bias=None) -> None:
        self.den, self.cond, self.stats = den, cond, stats
        self.lv = lv.tolist()
        self.rope, self.attention_scale, self.bias = rope, attention_scale, bias
        self.clean_t = float(den.defaults.context_timestep)

    def t_of(self, level_idx: list[int]) -> list[float]:
        """Noise level per frame (a clean frame, level 0, takes the model's context timestep)."""
        return [self.clean_t if i == 0 else self.lv[i] for i in level_idx]

    def velocity(self, frames: torch.Tensor, level_idx: list[int], context: torch.Tensor | None = None,
                 context_idx: list[int] | None = None) -> torch.Tensor:
        """frames (B, n, C, H, W) at ``level_idx`` (n,), after ``context`` (B, m, C, H, W) at ``context_idx``."""
        b, n = frames.shape[:2]
        t = self.t_of(level_idx)
        x = frames
        if context is not None and context.shape[1]:
            x = torch.cat([context, frames], dim=1)
            t = self.t_of(context_idx) + t
        tt = on_device(t, frames.device, frames.dtype).expand(b, -1)
        v = self.den(x, tt, self.cond, start_frame=0, rope=self.rope, attention_scale=self.attention_scale,
                     bias=self.bias)
        self.stats.forwards += 1
        self.stats.frames_in += x.shape[1]
        return v[:, x.shape[1] - n:]

    def step(self, frames: torch.Tensor, level_idx: list[int], v: torch.Tensor) -> torch.Tensor:
        """One Euler step per frame: from ``lv[l]`` to ``lv[l - 1]``."""
        d = on_device([self.lv[i - 1] - self.lv[i] for i in level_idx], frames.device, frames.dtype)
        return frames + d.view(1, -1, *([1] * (frames.dim() - 2))) * v


def unified_denoise(runner: WindowRunner, x: torch.Tensor, from_level: int, to_level: int = 0,
                    context: torch.Tensor | None = None, context_idx: list[int] | None = None) -> torch.Tensor:
    """Denoise ``x (B, n, ...)`` jointly, every frame at one shared level, from ``lv[from_level]`` to
    ``lv[to_level]``, after ``context`` frames (clean unless ``context_idx`` gives their levels): the
    normally generated first clip, MIGA's stage 2 (the condition the model was trained on) and its
    self-reflection candidates."""
    if context is not None and context_idx is None:
        context_idx = [0] * context.shape[1]
    for level in range(from_level, to_level, -1):
        idx = [level] * x.shape[1]
        x = runner.step(x, idx, runner.velocity(x, idx, context, context_idx))
    return x


__all__ = ["DiagonalStats", "WindowRunner", "levels", "unified_denoise"]
