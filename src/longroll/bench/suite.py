"""The benchmark's prompts on any model: a prompt file, or longroll's own suite.

A prompt file is plain text (one prompt a line; blank lines and lines starting with ``#`` skipped)
or JSONL (``.jsonl``: one object a line with ``prompt`` and optionally ``seconds``, the lengths of
that prompt's videos in seconds, a number or a list, in place of ``--seconds``, and ``category``,
the row group of the report's per-category table).

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
KEYS = ("prompt", "seconds", "category")  # what a JSONL line may hold


@dataclass(frozen=True)
class SuitePrompt:
    """One prompt of the benchmark."""

    text: str  # the prompt
    category: str = ""  # its group in the report ("" : none)
    seconds: tuple[float, ...] | None = None  # its own lengths (None: the benchmark's)


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
            prompts.append(SuitePrompt(_text(entry["prompt"], where), str(entry.get("category", "")),
                                       _seconds(entry.get("seconds"), where)))
        else:
            prompts.append(SuitePrompt(_text(line, where)))
    if not prompts:
        raise ValueError(f"The prompt file {str(path)!r} has no prompts.")
    seen: dict[str, int] = {}
    for p in prompts:
        seen[p.text] = seen.get(p.text, 0) + 1
    repeated = [t for t, n in seen.items() if n > 1]
    if repeated:  # a prompt is a unit of the paired design: twice would weigh it twice
        raise ValueError(f"The prompt file {str(path)!r} repeats {repeated[0]!r}; every prompt once (use --seeds "
                         "for more videos of a prompt).")
    return prompts


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


__all__ = ["SUITE", "SuitePrompt", "default_suite", "read_prompt_file"]
