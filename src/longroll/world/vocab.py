"""The built-in world's vocabulary and the prompt parser.

Prompts are plain English over a fixed vocabulary, e.g. ``"a red circle and a blue square on a
dark green background"`` or ``"two yellow triangles on a black background"``. Parsing returns the
objects (colour, shape) and the background; anything outside the vocabulary is a clear error that
lists it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from longroll._validate import excerpt

# Colours are named RGB values (0-255), chosen far apart from each other and from every background.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40),
    "green": (50, 205, 60),
    "blue": (50, 100, 255),
    "yellow": (245, 225, 40),
    "purple": (165, 60, 225),
    "orange": (255, 145, 20),
    "white": (245, 245, 245),
    "cyan": (40, 225, 230),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0),
    "gray": (105, 105, 105),
    "navy": (15, 22, 85),
    "dark green": (22, 72, 34),
}
COUNTS: dict[str, int] = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3}
MAX_OBJECTS = 3
DEFAULT_BACKGROUND = "black"


@dataclass(frozen=True)
class ObjectSpec:
    """One prompted object: a colour and a shape from the vocabulary."""

    colour: str
    shape: str

    def __str__(self) -> str:
        return f"{self.colour} {self.shape}"


@dataclass(frozen=True)
class Prompt:
    """A parsed prompt: 1-3 objects over a background."""

    objects: tuple[ObjectSpec, ...]
    background: str

    def text(self) -> str:
        """A canonical prompt text that parses back to this prompt."""
        groups: list[tuple[ObjectSpec, int]] = []
        for obj in self.objects:
            if groups and groups[-1][0] == obj:
                groups[-1] = (obj, groups[-1][1] + 1)
            else:
                groups.append((obj, 1))
        words = {1: "a", 2: "two", 3: "three"}
        parts = [f"{words[n]} {o.colour} {o.shape}{'s' if n > 1 else ''}" for o, n in groups]
        items = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        return f"{items} on a {self.background} background"


def vocabulary_text() -> str:
    """The vocabulary as readable text (for ``longroll world --list`` and error messages)."""
    return (
        f"counts: {', '.join(COUNTS)}; colours: {', '.join(COLOURS)}; shapes: {', '.join(SHAPES)} "
        f"(plural with -s); backgrounds: {', '.join(BACKGROUNDS)}. Form: '<count> <colour> <shape>[, and ...] "
        f"on a <background> background' with at most {MAX_OBJECTS} objects, e.g. "
        f"'a red circle and a blue square on a dark green background'."
    )


def vocabulary_words() -> tuple[str, ...]:
    """Every word a prompt of the built-in world is made of, sorted (offered as a user types)."""
    return tuple(sorted({*COUNTS, *COLOURS, *SHAPES, *(s + "s" for s in SHAPES), *BACKGROUNDS,
                         "and", "on", "background"}))


class PromptError(ValueError):
    """A prompt outside the built-in world's vocabulary or grammar."""

    def __init__(self, prompt: str, reason: str) -> None:
        super().__init__(f"Cannot parse prompt {excerpt(prompt)}: {reason}. Vocabulary: {vocabulary_text()}")


def parse_prompt(prompt: str) -> Prompt:
    """Parse a prompt of the built-in world into objects and background."""
    if not isinstance(prompt, str) or not prompt.strip():
        raise PromptError(str(prompt), "it is empty")
    text = prompt.strip().lower().rstrip(".")
    background = DEFAULT_BACKGROUND
    match = re.fullmatch(r"(?P<items>.+?)\s+(?:on|over)\s+(?:an?|the)\s+(?P<bg>.+?)\s+background", text)
    if match:
        text, bg = match.group("items"), match.group("bg")
        if bg not in BACKGROUNDS:
            raise PromptError(prompt, f"unknown background {excerpt(bg)}")
        background = bg
    elif re.search(r"\b(on|over|background)\b", text):
        raise PromptError(prompt, "the background must be written as 'on a <background> background'")
    items = [p for p in re.split(r"\s*,\s*(?:and\s+)?|\s+and\s+", text) if p]
    objects: list[ObjectSpec] = []
    for item in items:
        words = item.split()
        if len(words) != 3:
            raise PromptError(prompt, f"{excerpt(item)} is not '<count> <colour> <shape>'")
        count_word, colour, shape = words
        if count_word not in COUNTS:
            raise PromptError(prompt, f"unknown count {excerpt(count_word)}")
        if colour not in COLOURS:
            raise PromptError(prompt, f"unknown colour {excerpt(colour)}")
        count = COUNTS[count_word]
        singular = shape[:-1] if count > 1 and shape.endswith("s") else shape
        if singular not in SHAPES:
            raise PromptError(prompt, f"unknown shape {excerpt(shape)}")
        if (count > 1) != (shape != singular):
            raise PromptError(prompt, f"{excerpt(item)} mixes singular and plural")
        objects.extend([ObjectSpec(colour, singular)] * count)
    if not objects or len(objects) > MAX_OBJECTS:
        raise PromptError(prompt, f"it names {len(objects)} objects; the world holds 1 to {MAX_OBJECTS}")
    return Prompt(tuple(objects), background)
