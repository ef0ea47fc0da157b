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

    steps: int = 6  # denoising steps per chunk (the length of ``timesteps`` when that is given)
    shift: float = 2.0  # timestep shift (>1 spends more steps at high noise)
    sampler: str = "euler"  # one of SAMPLERS
    cfg: float = 1.0  # classifier-free guidance scale (1 = off; > 1 needs a model trained with prompt dropout)
    # An explicit list of timesteps on Wan's 0-1000 scale, first = 1000 (e.g. Self Forcing's
    # [1000, 750, 500, 250]), warped by ``shift`` (1 = used as written, as CausVid's list); replaces
    # the uniform grid of ``steps``. None: the uniform grid.
    timesteps: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.timesteps is not None:
            ts = tuple(float(check_float("timestep", v, low=0.0, high=1000.0, low_open=True))
                       for v in self.timesteps)
            if not ts or any(b >= a for a, b in zip(ts, ts[1:])):
                raise ValueError(f"timesteps = {list(self.timesteps)} must be a non-empty, strictly decreasing list "
                                 f"in (0, 1000].")
            object.__setattr__(self, "timesteps", ts)
            object.__setattr__(self, "steps", len(ts))
        check_int("steps", self.steps, low=1, high=1000)
        check_float("shift", self.shift, low=0.0, low_open=True)
        check_choice("sampler", self.sampler, SAMPLERS)
        check_float("cfg", self.cfg, low=1.0, high=50.0)

    def sigmas(self) -> torch.Tensor:
        """Noise levels from the first level down to 0: (steps + 1,) float64, strictly decreasing."""
        if self.timesteps is not None:
            grid = torch.tensor([*self.timesteps, 0.0], dtype=torch.float64) / 1000.0
        else:
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
