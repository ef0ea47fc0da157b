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
from longroll.pipelines.preset_rules import AUTO

MAX_SECONDS = 24 * 3600.0  # a day of video: beyond this a length is a typo, not a plan
# The longest prompt (or timed script) any front end takes: UMT5 reads at most 512 tokens, and an error
# message never echoes more than an excerpt of what it was given.
MAX_PROMPT_CHARS = 2_000


def check_prompt_text(text, what: str = "The prompt") -> str:
    """A non-empty prompt of at most ``MAX_PROMPT_CHARS`` characters (ValueError otherwise)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{what} is empty; say what the video shows.")
    if len(text) > MAX_PROMPT_CHARS:
        raise ValueError(f"{what} has {len(text)} characters (allowed: at most {MAX_PROMPT_CHARS}).")
    return text


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
class PromptTimeline:
    """The prompt at time 0 and later switches: ((seconds, prompt), ...) sorted by time, and for each
    entry whether it starts with a hard cut (never the first)."""

    entries: tuple[tuple[float, str], ...]
    cuts: tuple[bool, ...] = ()  # per entry: a hard cut (KV Flush + RoPE Cut) rather than a smooth switch

    @classmethod
    def build(cls, prompt: str, switches: Sequence[tuple[float, str]] = (), *, seconds: float,
              cuts: Sequence[float] = ()) -> "PromptTimeline":
        check_prompt_text(prompt)
        entries = [(0.0, prompt)]
        for at, text in sorted(switches, key=lambda s: s[0]):
            if not (0 < at < seconds):
                raise ValueError(f"A prompt switch at {at:g}s is outside the video (allowed range (0, {seconds:g})s).")
            check_prompt_text(text, f"The prompt of the switch at {at:g}s")
            entries.append((float(at), text))
        times = [at for at, _ in entries[1:]]
        for at in cuts:
            if not any(abs(at - t) < 1e-9 for t in times):
                raise ValueError(f"A cut at {at:g}s has no prompt switch at that time (switches at "
                                 f"{', '.join(f'{t:g}s' for t in times) or 'none'}).")
        flags = (False,) + tuple(any(abs(at - c) < 1e-9 for c in cuts) for at in times)
        return cls(tuple(entries), flags)

    def to_list(self) -> list[dict]:
        cuts = self.cuts or (False,) * len(self.entries)
        return [{"at_seconds": at, "prompt": p, "cut": cut} for (at, p), cut in zip(self.entries, cuts)]


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

    prompt: str  # what the video shows from its start, or a timed script (pipelines.script)
    seconds: float | None = None  # length of the video (None: a script's total)
    seed: int = 0  # same seed, same frames
    switches: tuple[tuple[float, str], ...] = ()  # (seconds, prompt): LongLive-style prompt switches
    cuts: tuple[float, ...] = ()  # switch times that are hard cuts (KV Flush + RoPE Cut)
    script: str | None = None  # the script the prompt, switches and cuts came from (set when built from one)
    preset: str | None = None  # horizon-extension preset (None: the model's default; "auto": the benchmark's
    #                            rule answer recorded for the weights, pipelines.preset_rules)
    overrides: dict = field(default_factory=dict)  # preset fields refined one by one (presets.OVERRIDES)
    schedule: str = "chunk"  # how the video is rolled out (pipelines.schedules.SCHEDULES)
    schedule_options: dict = field(default_factory=dict)  # the schedule's own settings (FIFO / MIGA)
    out: str | None = None  # .mp4, .gif or a folder/ for PNG frames; None: frames are returned
    upscale: int | None = None  # nearest-neighbour enlargement of written frames (None: the model's default)
    overwrite: bool = False  # replace an existing output (and its sidecar); refused otherwise
    init: str | None = None  # a video, image or PNG folder to continue from (seconds then count the new part)
    init_frames: int | None = None  # keep only the last N frames of the init (None: all)
    init_in_output: bool = True  # the output starts with the init frames
    # The prompt timeline, built (and so checked) once when the request is made.
    timeline: PromptTimeline | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        from longroll.pipelines.overrides import check_names
        from longroll.pipelines.presets import PRESETS
        from longroll.pipelines.rollouts import SCHEDULES

        check_prompt_text(self.prompt)  # a script's whole text too, before it is cut into shots
        self._expand_script()
        if self.seconds is None:
            raise ValueError("Give the video's length in seconds (only a timed script brings its own).")
        check_seconds(self.seconds)
        check_int("seed", self.seed, low=0, high=2**63 - 1)  # what torch.Generator.manual_seed takes
        object.__setattr__(self, "switches", tuple((float(at), str(p)) for at, p in self.switches))
        object.__setattr__(self, "cuts", tuple(float(at) for at in self.cuts))
        object.__setattr__(self, "timeline", PromptTimeline.build(self.prompt, self.switches, seconds=self.seconds,
                                                                  cuts=self.cuts))
        if self.preset is not None:
            check_choice("preset", self.preset, (*PRESETS, AUTO))
        check_names(self.overrides)
        check_choice("schedule", self.schedule, SCHEDULES)
        spec = SCHEDULES[self.schedule]
        spec.check_options(self.schedule_options, self.overrides)
        if self.preset not in (None, AUTO):
            spec.check_preset(self.preset)
        if self.switches and not spec.switches:
            what = "A timed script's shots" if self.script else "Prompt switches"
            able = " or ".join(s.name for s in SCHEDULES.values() if s.switches)
            raise ValueError(f"{what} need the {able} schedule; the {self.schedule} schedule takes one prompt.")
        if self.upscale is not None:
            check_int("upscale", self.upscale, low=1, high=64)
        if self.init is not None:
            from longroll.io.init_frames import check_init_path

            check_init_path(self.init)
            if not spec.init:
                able = " or ".join(s.name for s in SCHEDULES.values() if s.init)
                raise ValueError(f"Continuing from --init needs the {able} schedule (the cache takes the frames); the "
                                 f"{self.schedule} schedule starts from noise.")
        if self.init_frames is not None:
            check_int("init_frames", self.init_frames, low=1)
            if self.init is None:
                raise ValueError("init_frames (--init-frames) needs an init (--init) to take the frames from.")
        if self.out is not None:
            from longroll.io.atomic import check_output_path
            from longroll.io.video import check_no_live_writer, output_kind

            kind = output_kind(self.out)
            path = check_output_path(str(self.out).rstrip("/"), folder_output=kind == "png")
            if path.exists() and not self.overwrite:
                raise ValueError(f"The output {str(path)!r} exists; replace it with --overwrite (overwrite=True "
                                 f"from Python), or choose another name.")
            check_no_live_writer(path)

    def _expand_script(self) -> None:
        """A script prompt becomes its first shot, switches at the shot boundaries and the cut times."""
        from longroll.pipelines.script import is_script, parse_script, script_text

        if not is_script(self.prompt):
            return
        if self.switches:
            raise ValueError("A timed script brings its own prompt switches; drop the separate switches "
                             "(--switch) or write them as shots of the script.")
        shots = parse_script(self.prompt)
        total = sum(s.seconds for s in shots)
        if self.seconds is not None and abs(float(self.seconds) - total) > 1e-6:
            raise ValueError(f"The script's shots add up to {total:g}s but seconds = {self.seconds:g}; give "
                             f"{total:g} or leave the length out.")
        starts, t = [], 0.0
        for s in shots[:-1]:
            t += s.seconds
            starts.append(t)
        object.__setattr__(self, "script", script_text(shots))
        object.__setattr__(self, "seconds", total)
        object.__setattr__(self, "prompt", shots[0].prompt)
        object.__setattr__(self, "switches", tuple((at, s.prompt) for at, s in zip(starts, shots[1:])))
        object.__setattr__(self, "cuts", tuple(at for at, s in zip(starts, shots[1:]) if s.cut))

    @property
    def prompts(self) -> PromptTimeline:
        return self.timeline

    @property
    def out_path(self) -> Path | None:
        return None if self.out is None else Path(str(self.out).rstrip("/"))


__all__ = ["MAX_PROMPT_CHARS", "MAX_SECONDS", "GenerationRequest", "PromptTimeline", "check_length",
           "check_prompt_text", "check_seconds", "parse_switch"]
