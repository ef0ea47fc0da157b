"""Diagonal denoising: FIFO-Diffusion and MIGA, streaming, for models with per-frame timesteps."""

from longroll.pipelines.fifo.config import DIAGONAL_KINDS, DiagonalConfig, resolve_diagonal
from longroll.pipelines.fifo.engine import DiagonalStats
from longroll.pipelines.fifo.fifo import fifo_rollout
from longroll.pipelines.fifo.miga import miga_rollout
from longroll.pipelines.fifo.reflection import consistency_score

__all__ = ["DIAGONAL_KINDS", "DiagonalConfig", "DiagonalStats", "consistency_score", "diagonal_rollout",
           "fifo_rollout", "miga_rollout", "resolve_diagonal"]


def diagonal_rollout(den, cond, *, num_frames: int, config: DiagonalConfig, noise, **kwargs):
    """FIFO or MIGA by ``config.kind``; yields clean latent chunks."""
    fn = fifo_rollout if config.kind == "fifo" else miga_rollout
    return fn(den, cond, num_frames=num_frames, config=config, noise=noise, **kwargs)
