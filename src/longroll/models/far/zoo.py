"""FAR's released models and how FAR's own evaluation runs each (showlab/FAR @e59536a, ``options/test/far``).

Each release is a transformer file (``FAR_<size>_<Dataset>_<Kind><Res>-<hash>.pth``) with a DC-AE of its
dataset and resolution (``DCAE_<Dataset>_Res<res>-<hash>.pth``). The transformer's architecture (B, M, L,
XL, Long) is read from its tensors; what the file cannot say (the dataset, hence the clip length, the
frame rate, the evaluation's context and guidance) is the release's, named by ``flavour`` or read from the
file's name as FAR publishes it.

| flavour              | FAR's model            | frames | clip | evaluation           | guidance |
|----------------------|------------------------|--------|------|----------------------|----------|
| `ucf101-uncond64`    | FAR-B, prediction      | 64 px  | 16   | 4 context, 12 new    | 1        |
| `bair-uncond64`      | FAR-B, prediction      | 64 px  | 30   | 2 context, 28 new    | 1        |
| `ucf101-uncond128`   | FAR-L, generation      | 128 px | 16   | 16 new               | 1        |
| `ucf101-cond128`     | FAR-L, class-cond.     | 128 px | 16   | 16 new               | 2        |
| `ucf101-uncond256`   | FAR-L / XL, generation | 256 px | 16   | 16 new               | 1        |
| `ucf101-cond256`     | FAR-L / XL, class-cond.| 256 px | 16   | 16 new               | 2        |
| `dmlab-action64`     | FAR-B-Long, actions    | 64 px  | 300  | 144 context, 156 new | 1.5      |
| `minecraft-action128`| FAR-M-Long, actions    | 128 px | 300  | 144 context, 156 new | 1.5      |

Frame rates: FAR states none. UCF-101's videos are 25 fps (its generation models sample every third
frame: 25/3 fps); for BAIR, DMLab and Minecraft longroll writes 10 fps, a display choice only (nothing
is conditioned on it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from longroll._validate import check_choice, check_float, check_int

UCF101_FPS = 25.0  # UCF-101's source videos
DISPLAY_FPS = 10.0  # longroll's choice for the datasets whose rate FAR does not state


@dataclass(frozen=True)
class FarRelease:
    """One released FAR model as FAR's evaluation runs it."""

    name: str  # longroll's flavour name
    dataset: str  # FAR's file-name spelling: UCF101, BAIR, DMLab, Minecraft
    kind: str  # FAR's file-name spelling: Uncond, Cond (class labels) or Action
    size: int  # frame side in pixels (the DC-AE's input)
    train_len: int  # frames of a training clip (the horizon)
    fps: float  # frames per second of its videos
    context: int  # context frames of FAR's evaluation protocol (0: generation from nothing)
    unroll: int  # frames FAR's evaluation predicts after them
    guidance: float  # guidance_scale of FAR's evaluation (1: none)
    long: bool = False  # a FAR-Long model (long short-term context)
    classes: int = 0  # class labels or actions of its condition (0: unconditional)

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, ("Uncond", "Cond", "Action"))
        check_int("size", self.size, low=8)
        check_int("train_len", self.train_len, low=1)
        check_float("fps", self.fps, low=0.0, low_open=True)
        check_int("context", self.context, low=0, high=self.train_len - 1)
        check_int("unroll", self.unroll, low=1)
        check_float("guidance", self.guidance, low=1.0)
        check_int("classes", self.classes, low=0 if self.kind == "Uncond" else 1)

    @property
    def condition(self) -> str | None:
        """FAR's condition type: None, "label" or "action"."""
        return {"Uncond": None, "Cond": "label", "Action": "action"}[self.kind]

    @property
    def dcae_prefix(self) -> str:
        """The name FAR gives this release's DC-AE file, before its hash."""
        return f"DCAE_{self.dataset}_Res{self.size}"


RELEASES: dict[str, FarRelease] = {r.name: r for r in (
    FarRelease("ucf101-uncond64", "UCF101", "Uncond", 64, 16, UCF101_FPS, 4, 12, 1.0),
    FarRelease("bair-uncond64", "BAIR", "Uncond", 64, 30, DISPLAY_FPS, 2, 28, 1.0),
    FarRelease("ucf101-uncond128", "UCF101", "Uncond", 128, 16, UCF101_FPS / 3, 0, 16, 1.0),
    FarRelease("ucf101-cond128", "UCF101", "Cond", 128, 16, UCF101_FPS / 3, 0, 16, 2.0, classes=101),
    FarRelease("ucf101-uncond256", "UCF101", "Uncond", 256, 16, UCF101_FPS / 3, 0, 16, 1.0),
    FarRelease("ucf101-cond256", "UCF101", "Cond", 256, 16, UCF101_FPS / 3, 0, 16, 2.0, classes=101),
    FarRelease("dmlab-action64", "DMLab", "Action", 64, 300, DISPLAY_FPS, 144, 156, 1.5, long=True, classes=4),
    FarRelease("minecraft-action128", "Minecraft", "Action", 128, 300, DISPLAY_FPS, 144, 156, 1.5, long=True,
               classes=4),
)}
FLAVOURS = tuple(RELEASES)
_FILE_NAME = re.compile(r"(UCF101|BAIR|DMLab|Minecraft)_(Uncond|Cond|Action)(\d+)", re.IGNORECASE)


def release_from_name(path: str | Path) -> FarRelease | None:
    """The release a file name written as FAR's (``FAR_L_UCF101_Cond128-c6f798bf.pth``) names, or None."""
    match = _FILE_NAME.search(Path(path).name)
    if match is None:
        return None
    name = f"{match[1].lower()}-{match[2].lower()}{match[3]}"
    return RELEASES.get(name)


def release_for(flavour: str | None, checkpoint: str | Path | None) -> FarRelease:
    """The release of ``flavour``, or the one the checkpoint's file name names; an error naming the
    flavours when neither says."""
    if flavour is not None:
        check_choice("flavour", flavour, RELEASES)
        return RELEASES[flavour]
    release = None if checkpoint is None else release_from_name(checkpoint)
    if release is None:
        raise ValueError(f"Which FAR release is {Path(str(checkpoint)).name!r}? Its name is not one FAR publishes; "
                         f"give --flavour, one of {', '.join(FLAVOURS)}.")
    return release


__all__ = ["DISPLAY_FPS", "FLAVOURS", "RELEASES", "UCF101_FPS", "FarRelease", "release_for", "release_from_name"]
