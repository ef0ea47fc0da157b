"""What a FAR model is conditioned on, as a user writes it: a UCF-101 class name, or one action per frame.

- Class labels: the class name is the prompt (``"PlayingGuitar"``, or ``"playing guitar"``: case,
  spaces and underscores do not matter), checked against the 101 names. FAR's data lists (the json
  files behind its ``UCFDataset``) are not public, so the label order is UCF-101's own
  ``classInd.txt`` (label = line number - 1): the alphabetical order of that file, which differs from
  Python's ``sorted`` of the folder names at two pairs (HammerThrow / Hammering, JumpRope /
  JumpingJack). A different order is given as a text file of the names, one per line, in label order.
- Actions: a text file with one integer action per frame (whitespace, commas or a JSON list),
  checked against the model's action space and the video's length. They travel as the prompt
  ``actions: 0*30 1*12 2`` (run-length: an action and how many frames in a row), so that the sidecar
  records them and a replay makes the same video.
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
ACTIONS = "actions:"  # the prompt of an action-conditioned model starts so


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


def actions_prompt(actions: tuple[int, ...]) -> str:
    """The actions as a prompt, run-length written: ``actions: 0*30 1*12 2``."""
    runs, i = [], 0
    while i < len(actions):
        j = i
        while j + 1 < len(actions) and actions[j + 1] == actions[i]:
            j += 1
        runs.append(str(actions[i]) if j == i else f"{actions[i]}*{j - i + 1}")
        i = j + 1
    return f"{ACTIONS} {' '.join(runs)}"


def parse_actions_prompt(prompt: str) -> tuple[int, ...]:
    """The actions of a prompt ``actions: 0*30 1*12 2`` (ValueError naming the bad run)."""
    if not prompt.strip().lower().startswith(ACTIONS):
        raise ValueError(f"This FAR model is action-conditioned: give its actions with --actions FILE (one integer "
                         f"per frame), not the prompt {prompt[:40]!r}.")
    actions: list[int] = []
    for run in prompt.strip()[len(ACTIONS):].split():
        value, _, count = run.partition("*")
        try:
            action, times = int(value), int(count) if count else 1
        except ValueError:
            raise ValueError(f"Cannot read the actions run {run!r}: write ACTION or ACTION*FRAMES.") from None
        if action < 0 or times < 1:
            raise ValueError(f"The actions run {run!r} needs an action >= 0 and at least one frame.")
        actions.extend([action] * times)
    if not actions:
        raise ValueError("The actions prompt holds no action.")
    return tuple(actions)


def check_actions(actions: tuple[int, ...], num_actions: int, frames: int) -> None:
    """Actions cover ``frames`` frames and lie in the model's action space [0, num_actions)."""
    bad = [(i, a) for i, a in enumerate(actions) if not 0 <= a < num_actions]
    if bad:
        raise ValueError(f"Action {bad[0][1]} of frame {bad[0][0]} is not in this model's action space "
                         f"(allowed range [0, {num_actions - 1}]).")
    if len(actions) < frames:
        raise ValueError(f"The video has {frames} frames but the actions cover {len(actions)}; give one action "
                         "per frame (context frames included).")


UCF101_NAME = re.compile(r"v_(?P<cls>[A-Za-z]+)_g\d+_c\d+")  # UCF-101's file names: v_ApplyEyeMakeup_g01_c01.avi
ACTION_SIDECARS = (".actions.txt", ".actions.json")  # a video's actions beside it, where its file cannot hold them


def video_prompt(path: str | Path, condition: str | None, names: tuple[str, ...], num_actions: int) -> str:
    """The prompt of one of FAR's test videos, from the file as FAR's data is laid out: a UCF-101 file's class
    (``v_<Class>_gNN_cNN``), the ``actions`` array of a DMLab or Minecraft ``.npz`` (or a ``STEM.actions.txt``
    beside the video), or ``unconditional``."""
    path = Path(path)
    if condition == "label":
        match = UCF101_NAME.search(path.stem)
        if match is None:
            raise ValueError(f"Cannot tell the class of {path.name!r}: a class-conditioned FAR model reads it from "
                             "UCF-101's file names (v_<Class>_gNN_cNN), or give --prompt-file with a \"video\" per "
                             "prompt.")
        return names[class_label(match["cls"], names)]
    if condition == "action":
        actions = None
        if path.suffix.lower() == ".npz":
            import numpy as np

            with np.load(path, allow_pickle=False) as data:
                if "actions" in data.files:
                    actions = tuple(int(a) for a in data["actions"].reshape(-1))
        for suffix in ACTION_SIDECARS:
            sidecar = path.with_name(path.stem + suffix)
            if actions is None and sidecar.is_file():
                actions = read_actions(sidecar)
        if actions is None:
            raise ValueError(f"No actions for {path.name!r}: an action-conditioned FAR model reads them from the "
                             f"'actions' array of a .npz or from {path.stem}{ACTION_SIDECARS[0]} beside the video.")
        check_actions(actions, num_actions, 0)
        return actions_prompt(actions)
    return UNCONDITIONAL


__all__ = ["ACTIONS", "UCF101_CLASSES", "UNCONDITIONAL", "actions_prompt", "check_actions", "class_label",
           "parse_actions_prompt", "read_actions", "read_class_names", "video_prompt"]
