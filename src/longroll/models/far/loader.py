"""A FAR release as a ``VideoModel``: its transformer, its DC-AE, and its condition as a prompt.

Everything comes from local paths. The transformer from ``checkpoint`` (``models/far/checkpoints.py``);
the DC-AE from ``dcae`` (FAR's ``.pth``, or a diffusers folder), or, when none is given, found where
FAR's download puts it: ``DCAE_<Dataset>_Res<size>-*.pth`` beside the checkpoint or in a ``dcae/``
folder next to the checkpoint's folder (FAR's ``FAR_Models/{video_generation, ..., dcae}``). The
release (``flavour``, or read from the file's name) gives the clip length, frame rate, size and
guidance of FAR's own evaluation (``models/far/zoo.py``). Paths are checked before anything loads;
float32 on the CPU, bfloat16 on a GPU (FAR's ``mixed_precision: bf16``) unless ``dtype`` says otherwise.

The prompt: a class name for a class-conditioned model (``models/far/labels.py``), the word
``unconditional`` for a model without a condition (any other prompt would be ignored, so it is refused),
the actions for an action-conditioned one (``actions: 0*30 1*12 ...``, what ``--actions FILE`` makes),
checked against its action space and, when the video is planned, against its length.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from longroll.io.hashing import file_sha256
from longroll.models.base import VideoModel
from longroll.models.far.checkpoints import load_far
from longroll.models.far.dcae import LATENT_SIZE, FarCodec, load_far_dcae
from longroll.models.far.denoiser import FarDenoiser, far_defaults
from longroll.models.far.labels import (
    UCF101_CLASSES,
    UNCONDITIONAL,
    check_actions,
    class_label,
    parse_actions_prompt,
    read_class_names,
    video_prompt,
)
from longroll.models.far.zoo import FarRelease, release_for


def find_dcae(checkpoint: Path, release: FarRelease) -> Path:
    """The release's DC-AE where FAR's download puts it, or an error naming the places looked at."""
    places = [checkpoint.parent, checkpoint.parent / "dcae", checkpoint.parent.parent / "dcae"]
    for place in places:
        found = sorted(place.glob(f"{release.dcae_prefix}*.pth")) + sorted(place.glob(f"{release.dcae_prefix}*"
                                                                                        ".safetensors"))
        if found:
            return found[0]
    raise ValueError(f"No DC-AE given and none named {release.dcae_prefix}-*.pth in {', '.join(map(str, places))}: "
                     f"give --dcae PATH (FAR's DCAE file for {release.dataset} at {release.size} pixels, or a "
                     "diffusers DC-AE folder).")


def far_identity(checkpoint: Path, dcae: Path) -> str:
    """One sha256 of the transformer and the codec (both decide the frames)."""
    codec = file_sha256(dcae) if dcae.is_file() else hashlib.sha256(
        "".join(file_sha256(f) for f in sorted(dcae.rglob("*")) if f.is_file()).encode()).hexdigest()
    return hashlib.sha256((file_sha256(checkpoint) + codec).encode()).hexdigest()


def load_far_model(
    checkpoint: str | Path,
    *,
    flavour: str | None = None,
    dcae: str | Path | None = None,
    classes: str | Path | None = None,
    trust_pickle: bool = False,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> VideoModel:
    """Load a released FAR model from local paths. ``classes``: a text file of the class names in label
    order (default: UCF-101's ``classInd.txt`` order)."""
    # 1. Cheap checks first: the release, every path, the class names.
    checkpoint = Path(checkpoint)
    release = release_for(flavour, checkpoint)
    if not checkpoint.exists():
        raise ValueError(f"checkpoint {checkpoint} does not exist (longroll never downloads weights: give a local "
                         "path).")
    dcae = Path(dcae) if dcae is not None else find_dcae(checkpoint, release)
    if not dcae.exists():
        raise ValueError(f"dcae {dcae} does not exist (longroll never downloads weights: give a local path).")
    names = read_class_names(classes) if classes is not None else UCF101_CLASSES
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = dtype or (torch.bfloat16 if device.type == "cuda" else torch.float32)
    # 2. The transformer, checked against the release: its condition and classes.
    model = load_far(checkpoint, trust_pickle=trust_pickle)
    cfg = model.config
    if cfg.condition != release.condition or (release.classes and cfg.num_classes != release.classes):
        held = f"{cfg.condition} conditioning over {cfg.num_classes}" if cfg.condition else "no conditioning"
        raise ValueError(f"{checkpoint.name} holds a model with {held}; the {release.name} release is "
                         f"{release.kind.lower()}" + (f" over {release.classes}" if release.classes else "")
                         + ": give the matching --flavour.")
    if cfg.condition == "label" and len(names) != cfg.num_classes:
        raise ValueError(f"The class list names {len(names)} classes; this model has {cfg.num_classes}.")
    model = model.to(device=device, dtype=dtype)
    # 3. The codec, and the denoiser at the codec's latent size.
    codec = FarCodec(load_far_dcae(dcae, release.size, device=device,
                                   dtype=torch.float32 if device.type == "cpu" else dtype))
    if cfg.long != release.long:
        raise ValueError(f"{checkpoint.name} holds a {'FAR-Long' if cfg.long else 'short-context FAR'} model; the "
                         f"{release.name} release is {'FAR-Long' if release.long else 'short-context'}: give the "
                         "matching --flavour.")
    defaults = far_defaults(release.train_len, cfg=release.guidance, upscale=max(1, 256 // release.size),
                            long=release.long)
    denoiser = FarDenoiser(model, defaults, (LATENT_SIZE, LATENT_SIZE))

    def encode_prompt(prompt: str) -> torch.Tensor:
        if cfg.condition == "label":
            return torch.tensor([class_label(prompt, names)], device=device)
        if cfg.condition == "action":
            actions = parse_actions_prompt(prompt)
            check_actions(actions, cfg.num_classes, 0)
            return torch.tensor([actions], device=device)  # (1, N): the whole video's actions
        if prompt.strip().lower() != UNCONDITIONAL:
            raise ValueError(f"The {release.name} model is unconditional, so the prompt {prompt[:40]!r} would be "
                             f"ignored; give the prompt {UNCONDITIONAL!r}.")
        return torch.zeros((1, 0), dtype=torch.long, device=device)

    def check_cond(cond: torch.Tensor, frames: int) -> None:
        if cfg.condition == "action" and cond.shape[1] < frames:
            raise ValueError(f"The video has {frames} frames (context included) but the actions cover "
                             f"{cond.shape[1]}; give one action per frame (--actions FILE), or a shorter --seconds.")

    return VideoModel(name="far", denoiser=denoiser, encode_prompt=encode_prompt, decode=codec.decode,
                      fps=release.fps, weights_sha256=far_identity(checkpoint, dcae), weights_path=str(checkpoint),
                      autoencoder=codec.dcae, encode_frames=codec.encode, frame_size=(release.size, release.size),
                      check_cond=check_cond,
                      video_prompt=lambda path: video_prompt(path, cfg.condition, names, cfg.num_classes),
                      load_options={"flavour": release.name, "dcae": str(dcae),
                                    "classes": None if classes is None else str(classes)})


__all__ = ["far_identity", "find_dcae", "load_far_model"]
