"""The built-in latent autoencoder: RGB frames (32x32) <-> latent grids (4 x 8 x 8), frame by frame.

No temporal compression, so a latent frame is a video frame and streaming decode is trivial.
Latents are normalised with per-channel statistics measured on the training set after training,
so the denoiser sees roughly unit-variance inputs.

Legend: N frames (batch and time folded), C latent channels, S latent size.
"""

from __future__ import annotations

import torch
from torch import nn

from longroll.models.tiny.config import AutoencoderConfig


class _Res(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.GroupNorm(8, ch), nn.SiLU(), nn.Conv2d(ch, ch, 3, padding=1),
                                  nn.GroupNorm(8, ch), nn.SiLU(), nn.Conv2d(ch, ch, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Autoencoder(nn.Module):
    """Conv encoder (two stride-2 stages) and mirrored decoder."""

    def __init__(self, config: AutoencoderConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        self.encoder = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1), nn.SiLU(),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), _Res(2 * w),  # (N, 2w, R/2, R/2)
            nn.Conv2d(2 * w, 2 * w, 4, stride=2, padding=1), _Res(2 * w),  # (N, 2w, R/4, R/4)
            nn.GroupNorm(8, 2 * w), nn.SiLU(), nn.Conv2d(2 * w, config.latent_channels, 3, padding=1),
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(config.latent_channels, 2 * w, 3, padding=1), _Res(2 * w),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(2 * w, 2 * w, 3, padding=1), _Res(2 * w),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(2 * w, w, 3, padding=1), nn.SiLU(),
            nn.Conv2d(w, w, 3, padding=1), nn.SiLU(), nn.Conv2d(w, 3, 3, padding=1),
        )
        # Per-channel latent statistics, measured after training (identity until then).
        self.register_buffer("latent_mean", torch.zeros(config.latent_channels))
        self.register_buffer("latent_std", torch.ones(config.latent_channels))

    def encode_raw(self, frames: torch.Tensor) -> torch.Tensor:
        """Unnormalised latents of frames in [-1, 1]: (N, 3, R, R) -> (N, C, S, S)."""
        return self.encoder(frames)

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """Normalised latents of frames in [-1, 1]: (N, 3, R, R) -> (N, C, S, S)."""
        return (self.encoder(frames) - self.latent_mean[:, None, None]) / self.latent_std[:, None, None]

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Frames in about [-1, 1] from normalised latents: (N, C, S, S) -> (N, 3, R, R)."""
        raw = latents * self.latent_std[:, None, None] + self.latent_mean[:, None, None]
        return self.decoder(raw)

    def decode_raw(self, raw: torch.Tensor) -> torch.Tensor:
        return self.decoder(raw)


def frames_to_tensor(frames) -> torch.Tensor:
    """uint8 (N, H, W, 3) numpy or tensor -> float (N, 3, H, W) in [-1, 1]."""
    x = torch.as_tensor(frames)
    return x.permute(0, 3, 1, 2).float() / 127.5 - 1.0


def tensor_to_frames(x: torch.Tensor) -> torch.Tensor:
    """float (N, 3, H, W) in [-1, 1] -> uint8 (N, H, W, 3)."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
