"""A causal Wan checkpoint as a ``VideoModel``: transformer, UMT5 prompts, streaming VAE decode.

Everything comes from local paths. The transformer from ``checkpoint`` (any format of
``checkpoints``); the text encoder and the VAE from ``base``, a Wan2.1 directory in diffusers
layout (``text_encoder/``, ``tokenizer/``, ``vae/``, as Wan-AI/Wan2.1-T2V-1.3B-Diffusers ships),
or from the checkpoint directory when it holds them. Paths are checked before anything loads.
bf16 on GPU, fp32 on CPU, unless ``dtype`` says otherwise.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import torch

from longroll.io.hashing import file_sha256
from longroll.models.base import VideoModel
from longroll.models.causal_wan.checkpoints import build_causal_wan, load_causal_wan_state
from longroll.models.causal_wan.rollout_spec import WAN_FPS, CausalWanDenoiser, spec_for

log = logging.getLogger(__name__)


def _parts_dir(checkpoint: Path, base: Path | None) -> Path:
    for candidate in (base, checkpoint if checkpoint.is_dir() else None):
        if candidate is not None and (candidate / "vae").is_dir() and (candidate / "text_encoder").is_dir():
            return candidate
    raise ValueError(f"No text encoder and VAE found: give base=DIR (--base), a Wan2.1 directory in diffusers layout "
                     f"with text_encoder/, tokenizer/ and vae/ (checked: {base or 'no --base'}, {checkpoint}).")


def load_causal_wan(
    checkpoint: str | Path,
    *,
    base: str | Path | None = None,
    flavour: str = "self-forcing",
    lora: str | Path | None = None,
    lora_alpha: float | None = None,
    ema: bool | None = None,
    trust_pickle: bool = False,
    height: int | None = None,
    width: int | None = None,
    train_len: int | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    compile: bool = False,
) -> VideoModel:
    """Load a causal Wan2.1 checkpoint (Self Forcing, LongLive, CausVid, Causal Forcing, Reward Forcing, ...)
    from local paths. ``ema`` None: the EMA weights where the flavour's own inference uses them and the
    file has them. ``compile``: ``torch.compile`` the transformer's blocks (``CausalWan.compile_blocks``:
    one graph without breaks, compiled at the first chunk; the frames differ from eager ones by rounding,
    so the sidecar records it)."""
    # 1. Cheap checks first: the rollout spec and every path.
    spec = spec_for(flavour, height=height, width=width, train_len=train_len)
    checkpoint = Path(checkpoint)
    base = Path(base) if base is not None else None
    for name, p in (("checkpoint", checkpoint), ("base", base), ("lora", lora)):
        if p is not None and not Path(p).exists():
            raise ValueError(f"{name} {p} does not exist (longroll never downloads weights: give a local path).")
    parts = _parts_dir(checkpoint, base)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = dtype or (torch.bfloat16 if device.type == "cuda" else torch.float32)
    # 2. Transformer (LoRA merged), checked key by key.
    if ema is None:
        ema = None if spec.record.ema else False
    config, state = load_causal_wan_state(checkpoint, base=base, lora=lora, lora_alpha=lora_alpha, ema=ema,
                                          trust_pickle=trust_pickle)
    model = build_causal_wan(config, state, str(checkpoint), chunk_size=spec.chunk_size).cast(dtype).to(device)
    model.eval().requires_grad_(False)
    if compile:
        model.compile_blocks()
    denoiser = CausalWanDenoiser(model, spec)
    # 3. Text encoder and VAE.
    from longroll.models.wan.text import UMT5TextEncoder
    from longroll.models.wan.vae import StreamingWanDecoder, WanFrameEncoder, load_wan_vae

    text = UMT5TextEncoder.from_directory(parts, device=device)
    if text.text_dim != config.text_dim:
        raise ValueError(f"The text encoder in {parts} is {text.text_dim} wide; the transformer expects "
                         f"{config.text_dim}.")
    vae = load_wan_vae(parts, device=device, dtype=torch.float32 if device.type == "cpu" else dtype)

    def encode_prompt(prompt: str):
        with torch.no_grad():
            return model.encode_context(text(prompt).to(device))

    weights_hash = file_sha256(checkpoint) if lora is None else hashlib.sha256(
        (file_sha256(checkpoint) + file_sha256(Path(lora))).encode()).hexdigest()
    return VideoModel(name="causal-wan", denoiser=denoiser, encode_prompt=encode_prompt, decode=None, fps=WAN_FPS,
                      weights_sha256=weights_hash, weights_path=str(checkpoint),
                      causal_first_frame=True, new_decoder=lambda: StreamingWanDecoder(vae),
                      encode_frames=WanFrameEncoder(vae), frame_size=(spec.height, spec.width),
                      load_options={"base": None if base is None else str(base), "flavour": flavour,
                                    "lora": None if lora is None else str(lora), "lora_alpha": lora_alpha, "ema": ema,
                                    "height": spec.height, "width": spec.width, "train_len": spec.train_len,
                                    **({"compile": True} if compile else {})})


__all__ = ["file_sha256", "load_causal_wan"]
