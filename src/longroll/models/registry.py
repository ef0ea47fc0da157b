"""Model names the command line and the API accept."""

from __future__ import annotations

from longroll._validate import check_choice
from longroll.models.base import VideoModel

MODELS = ("tiny",)


def model_fps(name: str) -> float:
    """Frames per second of a model's videos, known without loading it."""
    check_choice("model", name, MODELS)
    from longroll.world.scene import FPS

    return float(FPS)


def load_model(name: str = "tiny", *, weights: str | None = None, device: str = "cpu") -> VideoModel:
    """Load a model by registry name from a local path (never downloads)."""
    check_choice("model", name, MODELS)
    from longroll.models.tiny.weights import load_tiny

    return load_tiny(weights, device=device)
