"""VBench's model-based consistency dimensions, per segment, from weights the user has locally.

- ``subject_consistency``: DINO features (VBench uses ViT-B/16 DINO); ``background_consistency``:
  CLIP image features (VBench: ViT-B/32). For every frame after a segment's first, the cosine
  similarity of its feature to the segment's first frame and to the previous frame, each clipped
  at 0, averaged; then averaged over the segment (VBench's formula, per VBench-Long clip).
- ``aesthetic_quality``: VBench's aesthetic quality: LAION's linear aesthetic head (``sa_0_4_vit_l_14_linear.pth``:
  ``weight`` (1, 768), ``bias`` (1)) on the L2-normalised CLIP ViT-L/14 image embedding of every frame, divided
  by 10, averaged over the segment. Its folder is the CLIP model's with the head's ``.pth`` file beside it.
- Weights come from a local directory in Hugging Face layout (``save_pretrained``): the model and
  its image processor (``preprocessor_config.json``), loaded with ``local_files_only``; nothing is
  downloaded. ``transformers`` is imported only here, when asked for (the ``eval-models`` extra).
- MUSIQ (imaging quality) is not computed: it has no implementation in ``transformers``, and the one
  VBench uses (``pyiqa`` 0.1.16, whose architecture module imports the whole package) needs
  ``torchvision``: ``pip install pyiqa`` resolves to torch 2.14 with the CUDA libraries (several GB)
  in place of the pinned CPU torch 2.13.0, plus about 50 more packages (``datasets``,
  ``bitsandbytes``, ``tensorboard``, ``facexlib``, ``numba``, ...), checked with ``pip install
  --dry-run`` on 2026-12-03.

Legend: n frames, D feature size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

KINDS = {"dino": "subject_consistency", "clip": "background_consistency"}


class FeatureConsistency:
    """One image model and the consistency it measures."""

    def __init__(self, kind: str, path: str | Path, *, device: str | torch.device = "cpu") -> None:
        if kind not in KINDS:
            raise ValueError(f"kind = {kind!r} is not one of {', '.join(KINDS)}.")
        path = Path(path)
        if not (path / "config.json").is_file() or not (path / "preprocessor_config.json").is_file():
            raise ValueError(f"{path} is not a local {kind.upper()} model directory (expected config.json, its "
                             "weights and preprocessor_config.json, as save_pretrained writes them; longroll never "
                             "downloads weights).")
        try:
            from transformers import AutoImageProcessor, AutoModel, CLIPVisionModelWithProjection
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ValueError("Model-based metrics need transformers: pip install 'longroll[eval-models]'.") from err
        self.kind, self.key, self.device = kind, KINDS[kind], torch.device(device)
        self.processor = AutoImageProcessor.from_pretrained(str(path), local_files_only=True)
        loader = CLIPVisionModelWithProjection if kind == "clip" else AutoModel
        self.model = loader.from_pretrained(str(path), local_files_only=True).to(self.device).eval()

    @torch.no_grad()
    def features(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 frames (n, H, W, 3) -> L2-normalised features (n, D)."""
        inputs = self.processor(images=list(frames), return_tensors="pt").to(self.device)
        out = self.model(**inputs)
        feats = out.image_embeds if self.kind == "clip" else out.last_hidden_state[:, 0]  # CLIP projection / CLS
        return torch.nn.functional.normalize(feats.float(), dim=-1)

    def segment(self, frames: np.ndarray) -> float | None:
        """VBench's consistency of one segment (None for a single frame)."""
        if len(frames) < 2:
            return None
        f = self.features(frames)
        to_first = (f[1:] @ f[0]).clamp(min=0)
        to_previous = (f[1:] * f[:-1]).sum(dim=-1).clamp(min=0)
        return float(((to_first + to_previous) / 2).mean())


class AestheticQuality:
    """VBench's aesthetic quality: LAION's linear head on CLIP ViT-L/14 image embeddings (module docstring)."""

    key = "aesthetic_quality"

    def __init__(self, path: str | Path, *, device: str | torch.device = "cpu") -> None:
        state = self.check(path)
        self.clip = FeatureConsistency("clip", path, device=device)
        self.head = torch.nn.Linear(state["weight"].shape[1], 1).to(self.clip.device)
        self.head.load_state_dict(state)

    @staticmethod
    def check(path: str | Path) -> dict:
        """The head's state, checked against the CLIP's ``config.json`` (its projection width) without loading
        the CLIP: a wrong folder fails before any model is loaded."""
        import json

        path = Path(path)
        heads = sorted(path.glob("*.pth")) if path.is_dir() else []
        if len(heads) != 1:
            raise ValueError(f"--aesthetic {str(path)!r} must be a local CLIP ViT-L/14 folder with exactly one .pth "
                             f"file beside it, LAION's linear aesthetic head (found {len(heads)}); longroll never "
                             "downloads weights.")
        try:
            config = json.loads((path / "config.json").read_text())
            width = int(config.get("projection_dim") or config["vision_config"]["projection_dim"])
        except (OSError, ValueError, KeyError, TypeError):
            raise ValueError(f"{path / 'config.json'} does not state a CLIP projection width (projection_dim).") \
                from None
        state = torch.load(heads[0], map_location="cpu", weights_only=True)
        linear = isinstance(state, dict) and set(state) == {"weight", "bias"}
        if not linear or tuple(state["weight"].shape) != (1, width):
            raise ValueError(f"{heads[0]} is not a linear aesthetic head for this CLIP (expected weight (1, {width}) "
                             "and bias (1), as LAION's sa_0_4_vit_l_14_linear.pth).")
        return state

    @torch.no_grad()
    def segment(self, frames: np.ndarray) -> float:
        """Mean aesthetic score of the segment's frames, on VBench's scale (LAION's score / 10)."""
        return float(self.head(self.clip.features(frames)).mean() / 10)


def load_feature_models(dino: str | Path | None = None, clip: str | Path | None = None,
                        aesthetic: str | Path | None = None, *, device: str | torch.device = "cpu") -> list:
    """The models the user gave (none: an empty list, the weight-free metrics only)."""
    models: list = [FeatureConsistency(kind, path, device=device) for kind, path in (("dino", dino), ("clip", clip))
                    if path is not None]
    if aesthetic is not None:
        models.append(AestheticQuality(aesthetic, device=device))
    return models


__all__ = ["KINDS", "AestheticQuality", "FeatureConsistency", "load_feature_models"]
