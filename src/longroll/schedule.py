"""Few-step flow-matching schedules: noise levels, Euler steps and re-noising.

Convention (Wan / Self Forcing): ``x_t = (1 - sigma) x0 + sigma noise``, the model predicts the
velocity ``v = noise - x0``, so ``x0 = x_t - sigma v``. Levels come from a uniform grid warped by
the usual shift ``sigma' = s sigma / (1 + (s - 1) sigma)``.

- ``euler``: the deterministic probability-flow ODE step ``x <- x + (sigma_next - sigma) v``.
- ``renoise``: Self Forcing's few-step sampler: predict x0, then re-noise it to the next level
  with fresh noise (drawn by the caller's noise sampler when FLEX's option asks for it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from longroll._validate import check_choice, check_float, check_int

SAMPLERS = ("euler", "renoise")


@dataclass(frozen=True)
class FewStepSchedule:
    """How each chunk is denoised."""

    steps: int = 6  # denoising steps per chunk
    shift: float = 2.0  # timestep shift (>1 spends more steps at high noise)
    sampler: str = "euler"  # one of SAMPLERS
    cfg: float = 1.0  # classifier-free guidance scale (1 = off; > 1 needs a model trained with prompt dropout)

    def __post_init__(self) -> None:
        check_int("steps", self.steps, low=1, high=1000)
        check_float("shift", self.shift, low=0.0, low_open=True)
        check_choice("sampler", self.sampler, SAMPLERS)
        check_float("cfg", self.cfg, low=1.0, high=50.0)

    def sigmas(self) -> torch.Tensor:
        """Noise levels from 1 down to 0: (steps + 1,) float64, strictly decreasing."""
        grid = torch.linspace(1.0, 0.0, self.steps + 1, dtype=torch.float64)
        return self.shift * grid / (1 + (self.shift - 1) * grid)


def to_x0(x_t: torch.Tensor, v: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
    """Clean estimate from a velocity prediction: ``x0 = x_t - sigma v``."""
    return x_t - sigma * v


def euler_step(x_t: torch.Tensor, v: torch.Tensor, sigma: float, sigma_next: float) -> torch.Tensor:
    """One ODE step of the flow: ``x + (sigma_next - sigma) v``."""
    return x_t + (sigma_next - sigma) * v


def renoise(x0: torch.Tensor, noise: torch.Tensor, sigma_next: float | torch.Tensor) -> torch.Tensor:
    """Put a clean estimate back at level ``sigma_next`` with the given noise."""
    return (1 - sigma_next) * x0 + sigma_next * noise
