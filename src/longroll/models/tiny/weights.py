"""Loading the built-in model: the shipped weights inside the package, or a path, or random init."""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from longroll.io.hashing import file_sha256
from longroll.models.base import VideoModel
from longroll.models.tiny.autoencoder import Autoencoder, frames_to_tensor, tensor_to_frames
from longroll.models.tiny.config import AutoencoderConfig, DiTConfig, tiny_defaults
from longroll.models.tiny.dit import TinyDiT, encode_prompt
from longroll.models.tiny.long import build_dit
from longroll.world.scene import FPS
from longroll.world.vocab import parse_prompt, vocabulary_words


def shipped_weights() -> Path:
    """Path of the weights that ship inside the package (may not exist in a source checkout yet)."""
    return Path(str(resources.files("longroll") / "weights" / "tiny.safetensors"))


def _build(ae: Autoencoder, dit: TinyDiT, sha: str, path: str | None) -> VideoModel:
    ae.eval()
    dit.eval()

    def decode(latents: torch.Tensor) -> np.ndarray:
        b, f = latents.shape[:2]
        with torch.no_grad():
            frames = ae.decode(latents.reshape(b * f, *latents.shape[2:]).float())
        return tensor_to_frames(frames).cpu().numpy()

    def encode(prompt: str) -> torch.Tensor:
        return encode_prompt(parse_prompt(prompt))[None].to(next(dit.parameters()).device)

    def encode_frames(frames: np.ndarray) -> torch.Tensor:
        """uint8 (n, R, R, 3) -> clean latents (1, n, C, S, S), as the training latents were made."""
        with torch.no_grad():
            latents = ae.encode(frames_to_tensor(frames).to(next(ae.parameters()).device))
        return latents[None]

    r = ae.config.resolution
    return VideoModel("tiny", dit, encode, decode, float(FPS), sha, path, autoencoder=ae, encode_frames=encode_frames,
                      frame_size=(r, r), vocabulary=vocabulary_words(), world=True)


@functools.lru_cache(maxsize=1)
def shipped_defaults():
    """The shipped built-in model's ``ModelDefaults``, read from its JSON alone (no weights loaded): what help
    texts quote as the built-in model's defaults. None when the shipped files are missing or unreadable."""
    meta_path = shipped_weights().with_suffix(".json")
    try:
        meta = json.loads(meta_path.read_text())
        return tiny_defaults(DiTConfig(**meta["dit"]), meta.get("inference"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_tiny(weights: str | Path | None = None, *, device: str | torch.device = "cpu") -> VideoModel:
    """The built-in model from ``weights`` (default: the shipped file) and the JSON beside it."""
    path = Path(weights) if weights is not None else shipped_weights()
    if not path.is_file():
        raise FileNotFoundError(
            f"No weights for the built-in model at {str(path)!r}. Train them with 'longroll train-tiny "
            f"--export DIR' or pass the path of a tiny.safetensors file."
        )
    meta_path = path.with_suffix(".json")
    if not meta_path.is_file():
        raise FileNotFoundError(f"The config {str(meta_path)!r} must sit next to the weights {str(path)!r}.")
    from safetensors.torch import load_file

    # 1. The config beside the weights, each failure naming the file.
    try:
        meta = json.loads(meta_path.read_text())
        ae = Autoencoder(AutoencoderConfig(**meta["autoencoder"]))
        dit = build_dit(DiTConfig(**meta["dit"]))
        dit.defaults = tiny_defaults(dit.config, meta.get("inference"))  # weights trained for another sampler say so
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"The config {str(meta_path)!r} is not a valid built-in model config "
                         f"({type(err).__name__}: {err}).") from None
    # 2. The weights: their SHA-256 against the one recorded at export (memoised by size and mtime).
    sha = file_sha256(path)
    if meta.get("sha256") not in (None, sha):
        raise ValueError(f"The weights {str(path)!r} are damaged or were replaced: their SHA-256 is {sha[:16]}..., "
                         f"{str(meta_path)!r} records {meta['sha256'][:16]}.... Reinstall longroll or export them "
                         f"again with 'longroll train-tiny --export DIR'.")
    try:
        tensors = load_file(str(path))
    except Exception as err:  # safetensors raises its own error type for truncated or corrupt headers
        raise ValueError(f"The weights {str(path)!r} cannot be read ({type(err).__name__}: {err}); the file is "
                         f"truncated or not a safetensors file.") from None
    for prefix, module in (("ae.", ae), ("dit.", dit)):
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        missing, unexpected = module.load_state_dict(state, strict=False)
        if module is dit:  # weights from before prompt dropout have no unconditional embedding
            dit.null_trained = "null_cond" not in missing
            missing = [k for k in missing if k != "null_cond"]
        if missing or unexpected:
            raise ValueError(f"{str(path)!r} does not match the {prefix[:-1]} config: missing {missing[:5]}, "
                             f"unexpected {unexpected[:5]}.")
    return _build(ae.to(device), dit.to(device), sha, str(path))


def save_tiny(ae: Autoencoder, dit: TinyDiT, target: str | Path, *, extra: dict | None = None) -> Path:
    """Write ``tiny.safetensors`` (``ae.*`` and ``dit.*`` tensors) and ``tiny.json`` into folder ``target``."""
    from dataclasses import asdict

    from safetensors.torch import save_file

    from longroll.io.atomic import atomic_output, write_json

    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    tensors = {f"ae.{k}": v.detach().float().cpu().contiguous() for k, v in ae.state_dict().items()}
    tensors.update({f"dit.{k}": v.detach().float().cpu().contiguous() for k, v in dit.state_dict().items()
                    if k != "null_cond" or getattr(dit, "null_trained", True)})  # an untrained null is left out
    with atomic_output(target / "tiny.safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={"format": "longroll-tiny", "version": "1"})
    meta = {"autoencoder": asdict(ae.config), "dit": asdict(dit.config), **(extra or {})}
    meta["sha256"] = file_sha256(target / "tiny.safetensors")  # checked at every load
    write_json(target / "tiny.json", meta)
    return target / "tiny.safetensors"


def random_tiny(seed: int = 0, *, dit: DiTConfig | None = None, ae: AutoencoderConfig | None = None) -> VideoModel:
    """An untrained built-in model (for tests and development)."""
    torch.manual_seed(seed)
    return _build(Autoencoder(ae or AutoencoderConfig()), build_dit(dit or DiTConfig()), "random-init", None)
