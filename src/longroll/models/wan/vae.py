"""The Wan VAE through diffusers' ``AutoencoderKLWan``, decoded causally chunk by chunk.

The Wan VAE is causal in time: latent frame 0 decodes to 1 video frame, every later latent frame
to 4 (``1 + 4 (n - 1)`` frames for ``n`` latents), each conditioned on the previous ones through
per-convolution feature caches. ``AutoencoderKLWan.decode`` clears those caches on every call, so
decoding chunk by chunk through it would restart the causal state at every chunk (the seam
LongLive's chunked decode has). ``StreamingWanDecoder`` keeps its own caches across calls, so a
chunk's frames leave for the writer as soon as the chunk is denoised and the result equals
decoding the whole latent video at once. A continuation (``--init``) first runs the init's latents
through it (``prime``), so the new frames continue the same causal state.

``WanFrameEncoder`` is the other direction, for ``--init``: ``1 + 4k`` video frames to ``1 + k``
normalised latents (the posterior mean, as Self Forcing's ``encode_to_latent`` takes).

Legend: B batch, C latent channels (16), f latent frames, H x W latent grid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def load_wan_vae(path: str | Path, *, device="cpu", dtype: torch.dtype = torch.float32):
    """``AutoencoderKLWan`` from a local diffusers directory (``DIR/vae`` or ``DIR`` itself)."""
    from diffusers import AutoencoderKLWan

    path = Path(path)
    folder = path / "vae" if (path / "vae" / "config.json").is_file() else path
    if not (folder / "config.json").is_file():
        raise ValueError(f"{path} has no Wan VAE in diffusers layout (expected vae/config.json and its "
                         "safetensors, as in Wan-AI/Wan2.1-T2V-1.3B-Diffusers).")
    return AutoencoderKLWan.from_pretrained(str(folder), torch_dtype=dtype, local_files_only=True).to(device).eval()


def _decoder_conv_count(vae) -> int:
    counts = getattr(vae, "_cached_conv_counts", None)
    if counts is not None:
        return counts["decoder"]
    from diffusers.models.autoencoders.autoencoder_kl_wan import WanCausalConv3d

    return sum(isinstance(m, WanCausalConv3d) for m in vae.decoder.modules())


def _latent_stats(vae) -> tuple[torch.Tensor, torch.Tensor]:
    """The VAE's per-channel latent mean and std, shaped to broadcast over ``(B, C, f, H, W)``."""
    cfg = vae.config
    return (torch.tensor(cfg.latents_mean, dtype=torch.float32).view(1, -1, 1, 1, 1),
            torch.tensor(cfg.latents_std, dtype=torch.float32).view(1, -1, 1, 1, 1))


class StreamingWanDecoder:
    """Decodes one video's normalised latents chunk by chunk, keeping the causal state in between."""

    def __init__(self, vae) -> None:
        self.vae = vae
        self.mean, self.std = _latent_stats(vae)
        self._feat: list = [None] * _decoder_conv_count(vae)
        self._first = True
        self.frames_out = 0  # video frames decoded so far

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalised latents ``(B, C, f, H, W)`` -> video ``(B, 3, f', 8H, 8W)`` in [-1, 1], where
        f' = 4 f, or 1 + 4 (f - 1) for the video's first chunk."""
        vae = self.vae
        param = next(vae.parameters())
        z = latents.float() * self.std.to(latents.device) + self.mean.to(latents.device)
        x = vae.post_quant_conv(z.to(param.device, param.dtype))  # 1x1x1: frame by frame
        outs = []
        for i in range(x.shape[2]):
            idx = [0]
            outs.append(vae.decoder(x[:, :, i:i + 1], feat_cache=self._feat, feat_idx=idx, first_chunk=self._first))
            self._first = False
        out = torch.cat(outs, dim=2)
        if getattr(vae.config, "patch_size", None) is not None:
            from diffusers.models.autoencoders.autoencoder_kl_wan import unpatchify

            out = unpatchify(out, patch_size=vae.config.patch_size)
        self.frames_out += out.shape[2]
        return out.clamp(-1.0, 1.0)

    def prime(self, latents: torch.Tensor) -> None:
        """Run the frames a video continues from, ``(1, f, C, H, W)``, through the causal state (their
        frames are not returned: the output already holds them)."""
        self.decode(latents.transpose(1, 2))

    def __call__(self, latents: torch.Tensor) -> np.ndarray:
        """The rollout's chunk ``(1, f, C, H, W)`` -> uint8 frames ``(f', 8H, 8W, 3)``."""
        video = self.decode(latents.transpose(1, 2))[0]  # (3, f', 8H, 8W)
        return ((video.float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 3, 0).cpu().numpy()


class WanFrameEncoder:
    """uint8 video frames ``(1 + 4k, H, W, 3)`` -> normalised latents ``(1, 1 + k, C, H/8, W/8)``."""

    def __init__(self, vae) -> None:
        self.vae = vae
        self.mean, self.std = _latent_stats(vae)

    @torch.no_grad()
    def __call__(self, frames: np.ndarray) -> torch.Tensor:
        n = len(frames)
        if n < 1 or (n - 1) % 4:
            raise ValueError(f"The Wan VAE encodes 1 + 4k frames (1, 5, 9, ...), got {n}.")
        param = next(self.vae.parameters())
        x = torch.from_numpy(np.ascontiguousarray(frames)).to(param.device)
        x = x.permute(3, 0, 1, 2)[None]  # (1, 3, n, H, W)
        x = (x.float() / 127.5 - 1.0).to(param.dtype)
        mu = self.vae.encode(x).latent_dist.mode().float()  # (1, C, 1 + k, H/8, W/8)
        z = (mu - self.mean.to(mu.device)) / self.std.to(mu.device)
        return z.transpose(1, 2).contiguous()


__all__ = ["StreamingWanDecoder", "WanFrameEncoder", "load_wan_vae"]
