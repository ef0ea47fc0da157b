"""The benchmark's prompts on any model: a prompt file, or longroll's own suite.

A prompt file is plain text (one prompt a line; blank lines and lines starting with ``#`` skipped)
or JSONL (``.jsonl``: one object a line with ``prompt`` and optionally ``seconds``, the lengths of
that prompt's videos in seconds, a number or a list, in place of ``--seconds``, ``category``, the row
group of the report's per-category table, and ``video``, its true video for the predict protocol, a
path inside ``--videos`` or absolute).

The predict protocol's ``--videos DIR`` without a prompt file makes one item per video of the folder
(``videos_suite``), named by its file and prompted as the model reads such a file (``video_prompt``:
FAR's class from a UCF-101 name, its actions from a DMLab ``.npz``).

longroll's own suite (``suite.jsonl`` beside this module, written for longroll) has 32 prompts in
the five categories the long-video papers and VBench-Long report: single subjects, scenes, motion,
camera motion and several subjects; each describes something that can go on for minutes (an
action that repeats or continues, a scene that holds), so that what fails over time is the model,
not the prompt. On the built-in model the prompts come from the world's stratified rule
(``bench.prompts``), with the object count as their category.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from longroll.pipelines.request import MAX_SECONDS, check_prompt_text

SUITE = Path(__file__).with_name("suite.jsonl")  # longroll's own prompt suite
KEYS = ("prompt", "seconds", "category", "video")  # what a JSONL line may hold


@dataclass(frozen=True)
class SuitePrompt:
    """One prompt of the benchmark."""

    text: str  # the prompt; the item's name in the report when ``prompt`` is given
    category: str = ""  # its group in the report ("" : none)
    seconds: tuple[float, ...] | None = None  # its own lengths (None: the benchmark's)
    video: str | None = None  # its true video (predict protocol); None: found by name in --videos
    prompt: str | None = None  # what the model is prompted with when it is not ``text`` (a video's item)

    @property
    def model_text(self) -> str:
        """The text the model is prompted with."""
        return self.text if self.prompt is None else self.prompt


def read_prompt_file(path: str | Path) -> list[SuitePrompt]:
    """The prompts of a file (see the module docstring); every line checked, the bad one named."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"The prompt file {str(path)!r} does not exist.")
    prompts: list[SuitePrompt] = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path.name}, line {number}"
        if path.suffix == ".jsonl":
            try:
                entry = json.loads(line)
            except ValueError as err:
                raise ValueError(f"{where} is not JSON ({err.msg}); a .jsonl prompt file has one object a line, "
                                 "e.g. {\"prompt\": \"a fox in snow\", \"seconds\": [10, 30]}.") from None
            if not isinstance(entry, dict) or not isinstance(entry.get("prompt"), str):
                raise ValueError(f"{where} has no \"prompt\" text.")
            unknown = sorted(set(entry) - set(KEYS))
            if unknown:
                raise ValueError(f"{where} has unknown key(s) {', '.join(unknown)}; allowed: {', '.join(KEYS)}.")
            video = entry.get("video")
            if video is not None and not isinstance(video, str):
                raise ValueError(f"{where}: video = {video!r} must be a path (inside --videos, or absolute).")
            prompts.append(SuitePrompt(_text(entry["prompt"], where), str(entry.get("category", "")),
                                       _seconds(entry.get("seconds"), where), video))
        else:
            prompts.append(SuitePrompt(_text(line, where)))
    if not prompts:
        raise ValueError(f"The prompt file {str(path)!r} has no prompts.")
    seen: dict[str, int] = {}
    for p in prompts:
        seen[p.text, p.video] = seen.get((p.text, p.video), 0) + 1
    repeated = [t for (t, _), n in seen.items() if n > 1]
    if repeated:  # a prompt is a unit of the paired design: twice would weigh it twice
        raise ValueError(f"The prompt file {str(path)!r} repeats {repeated[0]!r}; every prompt once (use --seeds "
                         "for more videos of a prompt).")
    named = {}
    for p in prompts:  # one prompt over several true videos: each its own item, named by its video
        if p.video is not None and sum(1 for q in prompts if q.text == p.text) > 1:
            p = SuitePrompt(f"{Path(p.video).stem}", p.category, p.seconds, p.video, p.text)
        named.setdefault(p.text, p)
    if len(named) < len(prompts):
        raise ValueError(f"The prompt file {str(path)!r} names two items alike; give each prompt's videos "
                         "different file names.")
    return list(named.values())


def videos_suite(folder: str | Path, model) -> list[SuitePrompt]:
    """One item per video of ``folder`` (the predict protocol's true videos), sorted by name: named by its file,
    prompted with ``model.video_prompt`` of it. A model without one (a text-to-video model) needs a prompt file."""
    from longroll.io.init_frames import ARRAY_SUFFIXES
    from longroll.io.video import READABLE_SUFFIXES

    if getattr(model, "video_prompt", None) is None:
        raise ValueError(f"The {model.name} model cannot tell a video's prompt from its file: give --prompt-file "
                         "with the prompt of each video (JSONL \"video\" names its file).")
    files = sorted(p for p in Path(folder).iterdir()
                   if p.is_file() and p.suffix.lower() in READABLE_SUFFIXES + ARRAY_SUFFIXES)
    if not files:
        raise ValueError(f"--videos {str(folder)!r} holds no video ({', '.join(READABLE_SUFFIXES + ARRAY_SUFFIXES)}).")
    return [SuitePrompt(p.stem, video=p.name, prompt=model.video_prompt(str(p))) for p in files]


def default_suite(model) -> list[SuitePrompt]:
    """longroll's suite, or on the built-in world its stratified prompts (32)."""
    if getattr(model, "world", False):
        from longroll.bench.prompts import stratified_prompts
        from longroll.world.vocab import parse_prompt

        return [SuitePrompt(t, f"{len(parse_prompt(t).objects)} object(s)") for t in stratified_prompts(32)]
    return read_prompt_file(SUITE)


def _text(text: str, where: str) -> str:
    return check_prompt_text(text, f"The prompt of {where}").strip()


def _seconds(value, where: str) -> tuple[float, ...] | None:
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    if not values or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= MAX_SECONDS
                         for v in values):
        raise ValueError(f"{where}: seconds = {value!r} must be a length in seconds in (0, {MAX_SECONDS:g}], or a "
                         "list of them.")
    return tuple(float(v) for v in values)


__all__ = ["SUITE", "SuitePrompt", "default_suite", "read_prompt_file", "videos_suite"]
