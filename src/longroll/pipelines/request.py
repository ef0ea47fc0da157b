"""What a user asks for: a ``GenerationRequest``, checked on its own when it is built.

A request is plain data (it travels to batch workers, and a server builds one per page): the
prompt and its switches, the length, the seed, the method (preset and overrides), the schedule
and its options, the output. Everything that needs no model is validated in ``__post_init__``, so
a bad value is refused before any model is loaded or file created; ``longroll.pipelines.plan``
then resolves it against a model, once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from longroll._validate import check_choice, check_float, check_int

MAX_SECONDS = 24 * 3600.0  # a day of video: beyond this a length is a typo, not a plan


def check_seconds(seconds: float) -> float:
    return check_float("seconds", seconds, low=0.0, high=MAX_SECONDS, low_open=True)


def check_length(seconds: float, fps: float) -> int:
    """Video frames of ``seconds`` at ``fps``; a length shorter than one frame is an error."""
    frames = int(round(check_seconds(seconds) * fps))
    if frames < 1:
        raise ValueError(f"seconds = {seconds:g} is shorter than one frame at {fps:g} fps (allowed: at least "
                         f"{1 / fps:g} s).")
    return frames


@dataclass(frozen=True)
class PromptSchedule:
    """The prompt at time 0 and later switches: ((seconds, prompt), ...) sorted by time."""

    entries: tuple[tuple[float, str], ...]

    @classmethod
    def build(cls, prompt: str, switches: Sequence[tuple[float, str]] = (), *, seconds: float) -> "PromptSchedule":
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("The prompt is empty; say what the video shows.")
        entries = [(0.0, prompt)]
        for at, text in sorted(switches, key=lambda s: s[0]):
            if not (0 < at < seconds):
                raise ValueError(f"A prompt switch at {at:g}s is outside the video (allowed range (0, {seconds:g})s).")
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"The prompt switch at {at:g}s has no prompt.")
            entries.append((float(at), text))
        return cls(tuple(entries))

    def to_list(self) -> list[dict]:
        return [{"at_seconds": at, "prompt": p} for at, p in self.entries]


_SWITCH = re.compile(r"^\s*(?P<at>\d+(?:\.\d+)?)\s*(?P<unit>s|f)?\s*:\s*(?P<prompt>.+?)\s*$")


def parse_switch(text: str, fps: float) -> tuple[float, str]:
    """``"12s:a red circle on a navy background"`` (or ``"96f:..."`` in frames) -> (seconds, prompt)."""
    m = _SWITCH.match(text)
    if not m:
        raise ValueError(f"Cannot parse the switch {text!r}: write TIME:PROMPT, e.g. '12s:a red circle on a navy "
                         f"background' (TIME in seconds with 's', or in frames with 'f').")
    at = float(m.group("at"))
    if m.group("unit") == "f":
        at /= fps
    return at, m.group("prompt").strip().strip('"')


@dataclass(frozen=True)
class GenerationRequest:
    """One video to make. ``preset`` and ``upscale`` None take the model's defaults."""

    prompt: str  # what the video shows from its start
    seconds: float  # length of the video
    seed: int = 0  # same seed, same frames
    switches: tuple[tuple[float, str], ...] = ()  # (seconds, prompt): LongLive-style prompt switches
    preset: str | None = None  # horizon-extension preset (None: the model's default)
    overrides: dict = field(default_factory=dict)  # preset fields refined one by one (presets.OVERRIDES)
    schedule: str = "chunk"  # how the video is rolled out (pipelines.schedules.SCHEDULES)
    schedule_options: dict = field(default_factory=dict)  # the schedule's own settings (FIFO / MIGA)
    out: str | None = None  # .mp4, .gif or a folder/ for PNG frames; None: frames are returned
    upscale: int | None = None  # nearest-neighbour enlargement of written frames (None: the model's default)
    overwrite: bool = False  # replace an existing output (and its sidecar); refused otherwise

    def __post_init__(self) -> None:
        from longroll.pipelines.presets import OVERRIDES, PRESETS
        from longroll.pipelines.schedules import SCHEDULES

        check_seconds(self.seconds)
        check_int("seed", self.seed, low=0)
        object.__setattr__(self, "switches", tuple((float(at), str(p)) for at, p in self.switches))
        PromptSchedule.build(self.prompt, self.switches, seconds=self.seconds)
        if self.preset is not None:
            check_choice("preset", self.preset, PRESETS)
        unknown = sorted(set(self.overrides) - set(OVERRIDES))
        if unknown:
            raise ValueError(f"Unknown override(s) {', '.join(unknown)}; valid: {', '.join(OVERRIDES)}.")
        check_choice("schedule", self.schedule, SCHEDULES)
        spec = SCHEDULES[self.schedule]
        spec.check_options(self.schedule_options, self.overrides)
        if self.switches and not spec.switches:
            raise ValueError(f"Prompt switches need the chunk schedule; the {self.schedule} schedule takes one "
                             f"prompt.")
        if self.upscale is not None:
            check_int("upscale", self.upscale, low=1, high=64)
        if self.out is not None:
            from longroll.io.atomic import check_output_path
            from longroll.io.video import output_kind

            kind = output_kind(self.out)
            path = check_output_path(str(self.out).rstrip("/"), folder_output=kind == "png")
            if path.exists() and not self.overwrite:
                raise ValueError(f"The output {str(path)!r} exists; pass overwrite=True (--overwrite) to replace it, "
                                 f"or choose another name.")

    @property
    def prompts(self) -> PromptSchedule:
        return PromptSchedule.build(self.prompt, self.switches, seconds=self.seconds)

    @property
    def out_path(self) -> Path | None:
        return None if self.out is None else Path(str(self.out).rstrip("/"))


__all__ = ["MAX_SECONDS", "GenerationRequest", "PromptSchedule", "check_length", "check_seconds", "parse_switch"]
