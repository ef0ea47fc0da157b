"""The model families longroll loads, one table: a new family joins by adding one entry.

| name         | what                                                        | weights                       |
|--------------|-------------------------------------------------------------|-------------------------------|
| `tiny`       | the built-in model (chunk-wise, FIFO, MIGA)                 | shipped, or a tiny.safetensors |
| `causal-wan` | Self Forcing / LongLive / CausVid checkpoints (causal Wan2.1) | a checkpoint file or folder  |
| `wan`        | Wan2.1 through diffusers, bidirectional (FIFO, MIGA)         | a diffusers Wan2.1 folder     |
| `far`        | FAR's released models (frame-autoregressive, DC-AE latents)  | FAR's .pth and its DC-AE      |

Everything loads from local paths; nothing is downloaded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from longroll._validate import check_choice
from longroll.constants import WAN21_FPS
from longroll.models.base import VideoModel
from longroll.world.scene import FPS as WORLD_FPS


@dataclass(frozen=True)
class Family:
    """How to load one model family and what is known about it before loading."""

    name: str
    fps: float  # frames per second of its videos
    options: tuple[str, ...]  # loading options it takes (besides weights and device)
    needs_weights: bool  # False: it has shipped weights
    load: Callable[..., VideoModel]  # (weights, device=..., **options) -> VideoModel
    weights_help: str  # what --weights / --checkpoint must be
    # Frames per second when they depend on the weights or options: (weights, options) -> fps; None: ``fps``.
    fps_for: Callable[[str | None, dict], float] | None = None
    # The sha256 of what decides the frames when more than the weights file does: (weights, options) -> hex.
    identity: Callable[[str, dict], str] | None = None


def _load_tiny(weights, *, device=None, **options) -> VideoModel:
    from longroll.models.tiny.weights import load_tiny

    return load_tiny(weights, device=device or "cpu")


def _load_causal_wan(weights, *, device=None, **options) -> VideoModel:
    from longroll.models.causal_wan.loader import load_causal_wan

    return load_causal_wan(weights, device=device, **options)


def _load_wan(weights, *, device=None, **options) -> VideoModel:
    from longroll.models.wan.loader import load_wan

    return load_wan(weights, device=device, **options)


def _load_far(weights, *, device=None, **options) -> VideoModel:
    from longroll.models.far.loader import load_far_model

    return load_far_model(weights, device=device, **options)


def _far_fps(weights: str | None, options: dict) -> float:
    from longroll.models.far.zoo import release_for

    return release_for(options.get("flavour"), weights).fps


def _far_identity(weights: str, options: dict) -> str:
    from longroll.models.far.loader import far_identity, find_dcae
    from longroll.models.far.zoo import release_for

    checkpoint = Path(weights)
    dcae = options.get("dcae")
    dcae = Path(dcae) if dcae is not None else find_dcae(checkpoint, release_for(options.get("flavour"), weights))
    return far_identity(checkpoint, dcae)


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("tiny", float(WORLD_FPS), (), False, _load_tiny, "a tiny.safetensors file (default: the shipped weights)"),
    Family("causal-wan", WAN21_FPS, ("base", "flavour", "lora", "lora_alpha", "ema", "trust_pickle", "height", "width",
                                "train_len", "dtype", "compile"), True, _load_causal_wan,
           "a Self Forcing, LongLive or CausVid checkpoint, or a Wan2.1 directory"),
    Family("wan", WAN21_FPS, ("base", "height", "width", "train_len", "dtype"), True, _load_wan,
           "a Wan2.1 directory in diffusers layout"),
    Family("far", 0.0, ("flavour", "dcae", "classes", "trust_pickle", "dtype"), True, _load_far,
           "a FAR transformer file (FAR_<size>_<Dataset>_<Kind><res>-<hash>.pth) with its DC-AE", fps_for=_far_fps,
           identity=_far_identity),
)}
MODELS = tuple(FAMILIES)


def model_fps(name: str, weights: str | None = None, options: dict | None = None) -> float:
    """Frames per second of a family's videos, known without loading it (for FAR, from its release)."""
    check_choice("model", name, FAMILIES)
    family = FAMILIES[name]
    return family.fps if family.fps_for is None else family.fps_for(weights, options or {})


def check_options(name: str, weights: str | None, options: dict) -> Family:
    """Options and weights a family takes, checked without loading anything."""
    check_choice("model", name, FAMILIES)
    family = FAMILIES[name]
    unknown = sorted(set(options) - set(family.options))
    if unknown:
        allowed = ", ".join(family.options) or "none"
        raise ValueError(f"The {name} model takes no option {', '.join(unknown)} (its options: {allowed}).")
    if family.needs_weights and weights is None:
        raise ValueError(f"The {name} model needs a checkpoint: --checkpoint PATH ({family.weights_help}).")
    return family


def weights_identity(name: str, weights: str | None = None, **options) -> str:
    """The sha256 of the weights ``load_model`` would read, without loading them (memoised)."""
    from longroll.io.hashing import file_sha256

    family = check_options(name, weights, options)
    if not family.needs_weights and weights is None:
        from longroll.models.tiny.weights import shipped_weights

        weights = str(shipped_weights())
    path = Path(weights)
    if not path.exists():
        raise FileNotFoundError(f"No weights for the {name} model at {str(path)!r}.")
    if family.identity is not None:
        return family.identity(weights, options)
    digest = file_sha256(path)
    lora = options.get("lora")
    return digest if lora is None else hashlib.sha256((digest + file_sha256(Path(lora))).encode()).hexdigest()


def load_model(name: str = "tiny", *, weights: str | None = None, device: str | None = None, **options) -> VideoModel:
    """Load a model by family name from local paths (never downloads)."""
    family = check_options(name, weights, options)
    return family.load(weights, device=device, **options)


__all__ = ["FAMILIES", "MODELS", "Family", "check_options", "load_model", "model_fps", "weights_identity"]
