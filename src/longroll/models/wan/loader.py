"""Bidirectional Wan2.1 through diffusers as a ``VideoModel`` (``--model wan``): the model MIGA
and FIFO-Diffusion run on. Transformer, UMT5 prompts and the streaming VAE all come from one local
Wan2.1 directory in diffusers layout (``transformer/``, ``text_encoder/``, ``tokenizer/``,
``vae/``), or the transformer from ``path`` and the rest from ``base``. It has no chunk-wise
rollout (every frame attends to every other): the chunk schedule refuses it, FIFO and MIGA run.
"""

from __future__ import annotations

from pathlib import Path

import torch

from longroll.constants import WAN21_FPS
from longroll.io.hashing import file_sha256
from longroll.models.base import VideoModel


def load_wan(path: str | Path, *, base: str | Path | None = None, height: int | None = None,
             width: int | None = None, train_len: int | None = None, device: str | torch.device | None = None,
             dtype: torch.dtype | None = None) -> VideoModel:
    """Load Wan2.1 (diffusers layout) from local paths; never downloads."""
    from longroll.models.wan.bidirectional import DiffusersWanDenoiser, load_wan_transformer
    from longroll.models.wan.text import UMT5TextEncoder
    from longroll.models.wan.vae import StreamingWanDecoder, load_wan_vae

    # 1. Cheap checks: every path, the frame size.
    path = Path(path)
    parts = Path(base) if base is not None else path
    for name, p in (("path", path), ("base", parts)):
        if not p.exists():
            raise ValueError(f"{name} {p} does not exist (longroll never downloads weights: give a local path).")
    if not ((parts / "vae").is_dir() and (parts / "text_encoder").is_dir()):
        raise ValueError(f"No text encoder and VAE in {parts}: give a Wan2.1 directory in diffusers layout "
                         f"(text_encoder/, tokenizer/, vae/), or base=DIR (--base).")
    height, width = height or 480, width or 832
    for name, v in (("height", height), ("width", width)):
        if v % 16:
            raise ValueError(f"{name} = {v} must be a multiple of 16 (VAE stride 8 x patch 2).")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = dtype or (torch.bfloat16 if device.type == "cuda" else torch.float32)
    # 2. Transformer, text encoder, VAE.
    transformer = load_wan_transformer(path, device=device, dtype=dtype)
    denoiser = DiffusersWanDenoiser(transformer, train_len=train_len or 21, height=height, width=width)
    text = UMT5TextEncoder.from_directory(parts, device=device)
    vae = load_wan_vae(parts, device=device, dtype=torch.float32 if device.type == "cpu" else dtype)

    def encode_prompt(prompt: str):
        with torch.no_grad():
            return text(prompt).to(device)

    return VideoModel(name="wan", denoiser=denoiser, encode_prompt=encode_prompt, decode=None, fps=WAN21_FPS,
                      weights_sha256=file_sha256(path), weights_path=str(path), causal_first_frame=True,
                      new_decoder=lambda: StreamingWanDecoder(vae), frame_size=(height, width),
                      load_options={"base": None if base is None else str(base), "height": height, "width": width,
                                    "train_len": denoiser.defaults.train_len})


__all__ = ["load_wan"]
