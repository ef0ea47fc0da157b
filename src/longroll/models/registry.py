"""Model names the command line and the API accept."""

from __future__ import annotations

from longroll._validate import check_choice
from longroll.models.base import VideoModel

MODELS = ("tiny", "causal-wan")


def model_fps(name: str) -> float:
    """Frames per second of a model's videos, known without loading it."""
    check_choice("model", name, MODELS)
    if name == "causal-wan":
        from longroll.models.causal_wan.rollout_spec import WAN_FPS

        return WAN_FPS
    from longroll.world.scene import FPS

    return float(FPS)


def weights_identity(name: str, weights: str | None = None, **options) -> str:
    """The sha256 of the weights ``load_model`` would read, without loading them (memoised for Wan)."""
    from pathlib import Path

    check_choice("model", name, MODELS)
    if name == "causal-wan":
        if weights is None:
            raise ValueError("The causal-wan model needs a checkpoint: --checkpoint PATH.")
        import hashlib

        from longroll.models.causal_wan.loader import file_sha256

        if not Path(weights).exists():
            raise FileNotFoundError(f"The checkpoint {str(weights)!r} does not exist.")
        digest = file_sha256(Path(weights))
        lora = options.get("lora")
        return digest if lora is None else hashlib.sha256((digest + file_sha256(Path(lora))).encode()).hexdigest()
    from longroll.models.tiny.weights import file_sha256, shipped_weights

    path = Path(weights) if weights is not None else shipped_weights()
    if not path.is_file():
        raise FileNotFoundError(f"No weights for the built-in model at {str(path)!r}.")
    return file_sha256(path)


def load_model(name: str = "tiny", *, weights: str | None = None, device: str | None = None, **options) -> VideoModel:
    """Load a model by registry name from a local path (never downloads).

    ``tiny``: ``weights`` defaults to the shipped file. ``causal-wan``: ``weights`` is the
    checkpoint (file or directory) and ``options`` go to ``load_causal_wan`` (base, flavour, lora,
    lora_alpha, ema, trust_pickle, height, width, train_len, dtype).
    """
    check_choice("model", name, MODELS)
    if name == "causal-wan":
        if weights is None:
            raise ValueError("The causal-wan model needs a checkpoint: --checkpoint PATH (a Self Forcing, LongLive "
                             "or CausVid file, or a Wan2.1 directory).")
        from longroll.models.causal_wan.loader import load_causal_wan

        return load_causal_wan(weights, device=device, **options)
    if options:
        raise ValueError(f"The tiny model takes no options; got {', '.join(sorted(options))}.")
    from longroll.models.tiny.weights import load_tiny

    return load_tiny(weights, device=device or "cpu")
