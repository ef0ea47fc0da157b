"""What a FAR model is conditioned on, as a user writes it: a UCF-101 class name, or one action per frame.

- Class labels: the class name is the prompt (``"PlayingGuitar"``, or ``"playing guitar"``: case,
  spaces and underscores do not matter), checked against the 101 names. FAR's data lists (the json
  files behind its ``UCFDataset``) are not public, so the label order is UCF-101's own
  ``classInd.txt`` (label = line number - 1): the alphabetical order of that file, which differs from
  Python's ``sorted`` of the folder names at two pairs (HammerThrow / Hammering, JumpRope /
  JumpingJack). A different order is given as a text file of the names, one per line, in label order.
- Actions: a text file with one integer action per frame (whitespace, commas or a JSON list),
  checked against the model's action space and the video's length.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

# UCF-101's classInd.txt, in its order (label 0 = ApplyEyeMakeup).
UCF101_CLASSES = (
    "ApplyEyeMakeup", "ApplyLipstick", "Archery", "BabyCrawling", "BalanceBeam", "BandMarching", "BaseballPitch",
    "Basketball", "BasketballDunk", "BenchPress", "Biking", "Billiards", "BlowDryHair", "BlowingCandles",
    "BodyWeightSquats", "Bowling", "BoxingPunchingBag", "BoxingSpeedBag", "BreastStroke", "BrushingTeeth",
    "CleanAndJerk", "CliffDiving", "CricketBowling", "CricketShot", "CuttingInKitchen", "Diving", "Drumming",
    "Fencing", "FieldHockeyPenalty", "FloorGymnastics", "FrisbeeCatch", "FrontCrawl", "GolfSwing", "Haircut",
    "Hammering", "HammerThrow", "HandstandPushups", "HandstandWalking", "HeadMassage", "HighJump", "HorseRace",
    "HorseRiding", "HulaHoop", "IceDancing", "JavelinThrow", "JugglingBalls", "JumpingJack", "JumpRope",
    "Kayaking", "Knitting", "LongJump", "Lunges", "MilitaryParade", "Mixing", "MoppingFloor", "Nunchucks",
    "ParallelBars", "PizzaTossing", "PlayingCello", "PlayingDaf", "PlayingDhol", "PlayingFlute", "PlayingGuitar",
    "PlayingPiano", "PlayingSitar", "PlayingTabla", "PlayingViolin", "PoleVault", "PommelHorse", "PullUps", "Punch",
    "PushUps", "Rafting", "RockClimbingIndoor", "RopeClimbing", "Rowing", "SalsaSpin", "ShavingBeard", "Shotput",
    "SkateBoarding", "Skiing", "Skijet", "SkyDiving", "SoccerJuggling", "SoccerPenalty", "StillRings",
    "SumoWrestling", "Surfing", "Swing", "TableTennisShot", "TaiChi", "TennisSwing", "ThrowDiscus",
    "TrampolineJumping", "Typing", "UnevenBars", "VolleyballSpiking", "WalkingWithDog", "WallPushups",
    "WritingOnBoard", "YoYo",
)
UNCONDITIONAL = "unconditional"  # the prompt of a model without a condition


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).lower()


def read_class_names(path: str | Path) -> tuple[str, ...]:
    """Class names in label order from a text file, one per line (``classInd.txt``'s ``N Name`` lines too)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"No class list at {str(path)!r}: give a text file of the class names, one per line.")
    names = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts:
            names.append(parts[-1])
    keys = [_key(n) for n in names]
    if len(set(keys)) != len(keys):
        raise ValueError(f"The class list {str(path)!r} names a class twice.")
    return tuple(names)


def class_label(prompt: str, names: tuple[str, ...]) -> int:
    """The label of the class ``prompt`` names (case, spaces and underscores ignored)."""
    keys = {_key(n): i for i, n in enumerate(names)}
    label = keys.get(_key(prompt))
    if label is None:
        close = [n for n in names if _key(prompt)[:4] and _key(n).startswith(_key(prompt)[:4])]
        hint = f" (close: {', '.join(close[:5])})" if close else ""
        raise ValueError(f"{prompt!r} is not one of this model's {len(names)} classes{hint}; the prompt of a "
                         f"class-conditioned FAR model is a class name, e.g. {names[0]!r}.")
    return label


def read_actions(path: str | Path) -> tuple[int, ...]:
    """One integer action per frame from a file: numbers separated by whitespace or commas, or a JSON list."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"No actions file at {str(path)!r}: give a text file with one integer action per frame.")
    text = path.read_text().strip()
    try:
        values = json.loads(text) if text.startswith("[") else [int(v) for v in re.split(r"[\s,]+", text) if v]
    except ValueError as err:
        raise ValueError(f"The actions file {str(path)!r} must hold integers (one action per frame): {err}.") from err
    if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise ValueError(f"The actions file {str(path)!r} must hold a list of integers (one action per frame).")
    if not values:
        raise ValueError(f"The actions file {str(path)!r} holds no action.")
    bad = [(i, v) for i, v in enumerate(values) if v < 0]
    if bad:
        raise ValueError(f"Action {bad[0][1]} of frame {bad[0][0]} in {str(path)!r} is negative; actions are "
                         "integers from 0.")
    return tuple(values)


def check_actions(actions: tuple[int, ...], num_actions: int, frames: int) -> None:
    """Actions cover ``frames`` frames and lie in the model's action space [0, num_actions)."""
    bad = [(i, a) for i, a in enumerate(actions) if not 0 <= a < num_actions]
    if bad:
        raise ValueError(f"Action {bad[0][1]} of frame {bad[0][0]} is not in this model's action space "
                         f"(allowed range [0, {num_actions - 1}]).")
    if len(actions) < frames:
        raise ValueError(f"The video has {frames} frames but the actions cover {len(actions)}; give one action "
                         "per frame (context frames included).")


__all__ = ["UCF101_CLASSES", "UNCONDITIONAL", "check_actions", "class_label", "read_actions", "read_class_names"]
