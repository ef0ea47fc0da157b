"""Tiny FAR files laid out as FAR's download lays them out: a transformer named as FAR names its releases and a
DC-AE in diffusers layout (a few thousand weights, compressing by 8 or 16 as FAR's 64- and 128-pixel codecs)."""

from __future__ import annotations

from pathlib import Path

import torch

from longroll.models.far.checkpoints import build_far
from longroll.models.far.config import FarConfig

TINY_FAR = dict(num_layers=2, num_heads=2, head_dim=16, axes_dims=(4, 6, 6))


def tiny_dcae_options(stages: int) -> dict:
    """An ``AutoencoderDC`` that compresses by ``2 ** (stages - 1)`` with 32 latent channels, as FAR's."""
    channels = [8] + [32] * (stages - 1)
    return dict(in_channels=3, latent_channels=32, attention_head_dim=8, encoder_block_types=["ResBlock"] * stages,
                decoder_block_types=["ResBlock"] * stages, encoder_block_out_channels=channels,
                decoder_block_out_channels=channels, encoder_layers_per_block=[0] + [1] * (stages - 1),
                decoder_layers_per_block=[0] + [1] * (stages - 1), encoder_qkv_multiscales=[[]] * stages,
                decoder_qkv_multiscales=[[]] * stages, upsample_block_type="pixel_shuffle",
                downsample_block_type="pixel_unshuffle", decoder_norm_types=["batch_norm"] * stages,
                decoder_act_fns=["relu"] * stages, scaling_factor=0.2889)


def tiny_far(seed: int = 0, **config):
    """A FAR transformer (``FarLong`` with a ``context_patch_size``) with random weights everywhere (FAR
    zero-initialises its adaLN and head)."""
    torch.manual_seed(seed)
    model = build_far(FarConfig(**{**TINY_FAR, **config})).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.1)
    return model


def far_release_files(root: Path, name: str = "FAR_L_UCF101_Cond128-test.pth", *, stages: int = 5,
                      **config) -> tuple[Path, Path]:
    """``root/FAR_Models/video_generation/<name>`` and ``root/dcae`` (a diffusers folder); returns both."""
    from diffusers import AutoencoderDC

    folder = root / "FAR_Models" / "video_generation"
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(1)
    AutoencoderDC(**tiny_dcae_options(stages)).eval().save_pretrained(root / "dcae")
    if not config:
        config = dict(condition="label", num_classes=101)
    torch.save(tiny_far(**config).state_dict(), folder / name)
    return folder / name, root / "dcae"
