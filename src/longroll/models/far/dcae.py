"""FAR's image codec: a DC-AE (deep compression autoencoder) per dataset and resolution, 32 latent
channels, every frame to 8 x 8 latents, through diffusers' ``AutoencoderDC`` (FAR's own
``MyAutoencoderDC`` computes the same: ``bench/far_vs_reference.py`` checks it bit for bit).

Its shapes (showlab/FAR ``options/model_cfg/dcae/model_{8,16,32}x_c32_config.json``): one stage per
halving plus the first, ResBlocks with batch norm and ReLU in the first three stages and
EfficientViT blocks with RMS norm and SiLU after, pixel (un)shuffle between stages, latents scaled
by 0.2889. 64-pixel frames use the 8x codec, 128 the 16x, 256 the 32x. Frames go in and out as
uint8; the codec works on [-1, 1] (FAR's ``vae_encode`` / ``vae_decode``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from longroll.models.files import CheckpointError, check_tensors, read_tensors

FACTORS = (8, 16, 32)  # spatial compression of FAR's three codecs
LATENT_SIZE = 8  # latent rows and columns of every FAR codec (64 / 8, 128 / 16, 256 / 32)
SCALING = 0.2889  # scaling_factor of all three
# Per stage, the first n = log2(factor) + 1 of each (model_32x_c32_config.json lists all six).
_CHANNELS = (128, 256, 512, 512, 1024, 1024)
_ENCODER_LAYERS = (0, 4, 8, 2, 2, 2)
_DECODER_LAYERS = (0, 5, 10, 2, 2, 2)
_BLOCKS = ("ResBlock",) * 3 + ("EfficientViTBlock",) * 3
_ACTS = ("relu",) * 3 + ("silu",) * 3
_NORMS = ("batch_norm",) * 3 + ("rms_norm",) * 3


def dcae_options(factor: int) -> dict:
    """``AutoencoderDC`` keyword arguments of FAR's codec with spatial compression ``factor``."""
    if factor not in FACTORS:
        raise ValueError(f"FAR's DC-AE compresses by {', '.join(map(str, FACTORS))}; got {factor}.")
    n = int(math.log2(factor)) + 1
    return dict(in_channels=3, latent_channels=32, attention_head_dim=32, encoder_block_types=list(_BLOCKS[:n]),
                decoder_block_types=list(_BLOCKS[:n]), encoder_block_out_channels=list(_CHANNELS[:n]),
                decoder_block_out_channels=list(_CHANNELS[:n]), encoder_layers_per_block=list(_ENCODER_LAYERS[:n]),
                decoder_layers_per_block=list(_DECODER_LAYERS[:n]), encoder_qkv_multiscales=[[]] * n,
                decoder_qkv_multiscales=[[]] * n, upsample_block_type="pixel_shuffle",
                downsample_block_type="pixel_unshuffle", decoder_norm_types=list(_NORMS[:n]),
                decoder_act_fns=list(_ACTS[:n]), scaling_factor=SCALING)


def factor_for(size: int) -> int:
    """The codec of ``size``-pixel frames (8 x 8 latents)."""
    factor = size // LATENT_SIZE
    if size % LATENT_SIZE or factor not in FACTORS:
        raise ValueError(f"FAR's codecs take frames of {', '.join(str(f * LATENT_SIZE) for f in FACTORS)} pixels; "
                         f"got {size}.")
    return factor


def load_far_dcae(path: str | Path, size: int, *, options: dict | None = None, device=None,
                  dtype: torch.dtype = torch.float32):
    """FAR's DC-AE for ``size``-pixel frames: a ``.pth`` / ``.safetensors`` state dict as FAR ships it (the
    shapes of FAR's codec for that size, checked key by key), or a folder in diffusers layout
    (``config.json`` and its weights: the shapes it states); ``options`` replaces the codec's shapes (tests).
    Refused unless it maps ``size``-pixel frames to FAR's 8 x 8 latents."""
    from diffusers import AutoencoderDC

    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path} does not exist (longroll never downloads weights: give a local path).")
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise CheckpointError(f"{path} is a folder without config.json: give FAR's DC-AE file (.pth) or a "
                                  "DC-AE folder in diffusers layout.")
        model = AutoencoderDC.from_pretrained(str(path), local_files_only=True, low_cpu_mem_usage=False,
                                              torch_dtype=dtype)
    else:
        model = AutoencoderDC(**(options or dcae_options(factor_for(size))))
        state = read_tensors(path)
        state = state.get("state_dict", state) if isinstance(state.get("state_dict"), dict) else state
        check_tensors(state, model.state_dict(), str(path), kind=f"FAR's DC-AE for {size}-pixel frames")
        model.load_state_dict(state, strict=True)
    factor = 2 ** (len(model.config.encoder_block_out_channels) - 1)
    if size % factor or size // factor != LATENT_SIZE:
        raise CheckpointError(f"The DC-AE at {path} compresses by {factor}: {size}-pixel frames would make "
                              f"{size / factor:g} x {size / factor:g} latents; FAR's models take "
                              f"{LATENT_SIZE} x {LATENT_SIZE} (the {size // LATENT_SIZE}x codec of this release).")
    model = model.to(device=device) if path.is_dir() else model.to(device=device, dtype=dtype)
    return model.eval().requires_grad_(False)


class FarCodec:
    """uint8 frames <-> FAR's scaled latents through a DC-AE, frame by frame (an image codec)."""

    def __init__(self, dcae) -> None:
        self.dcae = dcae
        self.scale = float(dcae.config.scaling_factor)

    @torch.no_grad()
    def encode(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 ``(n, H, W, 3)`` -> latents ``(1, n, 32, H/f, W/f)``."""
        param = next(self.dcae.parameters())
        x = torch.from_numpy(np.ascontiguousarray(frames)).to(param.device).permute(0, 3, 1, 2)
        x = (x.float() / 127.5 - 1.0).to(param.dtype)
        return (self.dcae.encode(x).latent.float() * self.scale)[None]

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """Latents ``(1, f, 32, h, w)`` -> uint8 ``(f, H, W, 3)``."""
        param = next(self.dcae.parameters())
        x = self.dcae.decode((latents[0].float() / self.scale).to(param.device, param.dtype)).sample
        return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


__all__ = ["FACTORS", "LATENT_SIZE", "SCALING", "FarCodec", "dcae_options", "factor_for", "load_far_dcae"]
