"""Few-step flow-matching schedules: noise levels, Euler steps and re-noising.

Convention (Wan / Self Forcing): ``x_t = (1 - sigma) x0 + sigma noise``, the model predicts the
velocity ``v = noise - x0``, so ``x0 = x_t - sigma v``. Levels come from a uniform grid warped by
the usual shift ``sigma' = s sigma / (1 + (s - 1) sigma)``.

- ``euler``: the deterministic probability-flow ODE step ``x <- x + (sigma_next - sigma) v``.
- ``renoise``: Self Forcing's few-step sampler: predict x0, then re-noise it to the next level
  with fresh noise (drawn by the caller's noise sampler when FLEX's option asks for it).

A family's released sampler may state an explicit timestep list (``timesteps``), warped by its
shift (Self Forcing's ``warp_denoising_step``) or used as written (CausVid), a longer list for the
first chunk only (Causal Forcing++), and a scheduler that rounds every level to the nearest point of
its 1000-point training grid for re-noising and the x0 estimate while the model still sees the
listed timestep (CausVid's ``FlowMatchScheduler`` at shift 8: ``grid_shift``).
"""

from __future__ import annotations

import itertools
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
    # Timesteps of the first chunk only (same scale and warp; Causal Forcing++'s 1- and 2-step
    # models denoise the first chunk in 4 steps). None: the first chunk is like the others.
    first_timesteps: tuple[float, ...] | None = None
    # Shift of the family scheduler's 1000-point training grid that re-noising and the x0 estimate
    # round each level to (CausVid: 8; the model still sees the listed level). None: exact levels.
    grid_shift: float | None = None

    def __post_init__(self) -> None:
        for name in ("timesteps", "first_timesteps"):
            value = getattr(self, name)
            if value is None:
                continue
            ts = tuple(float(check_float("timestep", v, low=0.0, high=1000.0, low_open=True)) for v in value)
            if not ts or any(b >= a for a, b in itertools.pairwise(ts)):
                raise ValueError(f"{name} = {list(value)} must be a non-empty, strictly decreasing list in (0, 1000].")
            object.__setattr__(self, name, ts)
        if self.timesteps is not None:
            object.__setattr__(self, "steps", len(self.timesteps))
        check_int("steps", self.steps, low=1, high=1000)
        check_float("shift", self.shift, low=0.0, low_open=True)
        check_choice("sampler", self.sampler, SAMPLERS)
        check_float("cfg", self.cfg, low=1.0, high=50.0)
        if self.grid_shift is not None:
            check_float("grid_shift", self.grid_shift, low=0.0, low_open=True)

    def levels(self, chunk: int = 0) -> torch.Tensor:
        """Noise levels the model is asked at for chunk number ``chunk``, from the first down to 0:
        (steps + 1,) float64, strictly decreasing."""
        listed = self.first_timesteps if chunk == 0 and self.first_timesteps is not None else self.timesteps
        if listed is not None:
            grid = torch.tensor([*listed, 0.0], dtype=torch.float64) / 1000.0
        else:
            grid = torch.linspace(1.0, 0.0, self.steps + 1, dtype=torch.float64)
        return warp(grid, self.shift)

    def sigmas(self, chunk: int = 0) -> torch.Tensor:
        """Noise levels of re-noising and the x0 estimate for chunk number ``chunk``: the levels, or
        with ``grid_shift`` each rounded to the nearest point of the scheduler's training grid."""
        levels = self.levels(chunk)
        if self.grid_shift is None:
            return levels
        # The grid of a flow-matching scheduler set to 1000 training timesteps with sigma_min 0 and
        # one extra step: 1000 uniform points from 1 down to 0.001, warped; 0 stays 0.
        grid = warp(torch.linspace(1.0, 0.0, GRID_POINTS + 1, dtype=torch.float64)[:-1], self.grid_shift)
        nearest = (grid[None, :] - levels[:-1, None]).abs().argmin(dim=1)
        return torch.cat([grid[nearest], levels[-1:]])


GRID_POINTS = 1000  # training timesteps of the Wan families' flow-matching scheduler


def warp(sigma: torch.Tensor, shift: float) -> torch.Tensor:
    """The shift warp ``s sigma / (1 + (s - 1) sigma)``."""
    return shift * sigma / (1 + (shift - 1) * sigma)


def to_x0(x_t: torch.Tensor, v: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
    """Clean estimate from a velocity prediction: ``x0 = x_t - sigma v``."""
    return x_t - sigma * v


def euler_step(x_t: torch.Tensor, v: torch.Tensor, sigma: float, sigma_next: float) -> torch.Tensor:
    """One ODE step of the flow: ``x + (sigma_next - sigma) v``."""
    return x_t + (sigma_next - sigma) * v


def renoise(x0: torch.Tensor, noise: torch.Tensor, sigma_next: float | torch.Tensor) -> torch.Tensor:
    """Put a clean estimate back at level ``sigma_next`` with the given noise."""
    return (1 - sigma_next) * x0 + sigma_next * noise
