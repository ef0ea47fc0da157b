"""Timed prompt scripts (storyboards): ``"a red circle on a black background [4s] | two blue squares [6s#]"``.

A script is shots separated by ``|``; each shot is a prompt followed by its duration in brackets,
``[4s]`` or ``[2.5s]``. A ``#`` after the duration (``[6s#]``) makes the shot start with a hard cut
(the cache is flushed and the timeline jumps: Infinity-RoPE's KV Flush + RoPE Cut); without it the
shot starts with a smooth prompt switch (LongLive's re-cache, as ``--switch``). This is
Infinity-RoPE's prompt syntax (its README: ``action[10s] | action2[10s#]``); its subtitle part
(``; ...``) is not taken. A plain prompt (no bracketed duration) is not a script.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from longroll._validate import excerpt

_SHOT = re.compile(r"^(?P<prompt>.*?)\s*\[\s*(?P<dur>[^\]#]*?)\s*(?P<cut>#)?\s*\]\s*$", re.S)
_DURATION = re.compile(r"^(?P<value>[-+]?\d+(?:\.\d+)?)\s*s$")
_HAS_DURATION = re.compile(r"\[\s*[^\]]*\]\s*(\||$)")


@dataclass(frozen=True)
class Shot:
    """One shot of a script."""

    prompt: str  # what the shot shows
    seconds: float  # its duration
    cut: bool  # True: starts with a hard cut; False: a smooth switch (the first shot: neither)


def is_script(text: str) -> bool:
    """Whether ``text`` is a timed script (some shot ends with a bracketed duration)."""
    return isinstance(text, str) and bool(_HAS_DURATION.search(text))


def parse_script(text: str) -> tuple[Shot, ...]:
    """The shots of a script; a malformed one is refused naming the shot (1-based) and what is wrong."""
    parts = text.split("|")
    shots = []
    for i, part in enumerate(parts, start=1):
        where = f"Shot {i} of the script ({excerpt(part.strip())})"
        m = _SHOT.match(part.strip())
        if not m:
            raise ValueError(f"{where} has no duration: end every shot with one in brackets, e.g. "
                             f"'a red circle on a black background [4s]' ('#' inside for a cut: [4s#]).")
        prompt, dur = m.group("prompt").strip(), m.group("dur")
        if not prompt:
            raise ValueError(f"{where} is empty: write what the shot shows before its duration.")
        d = _DURATION.match(dur)
        if not d:
            raise ValueError(f"{where} has the duration {dur!r}; write seconds with an 's', e.g. [4s] or [2.5s].")
        seconds = float(d.group("value"))
        if seconds <= 0:
            raise ValueError(f"{where} lasts {seconds:g}s; a shot must last more than 0 s.")
        cut = m.group("cut") is not None
        if cut and i == 1:
            raise ValueError(f"{where} starts with a cut, but nothing comes before the first shot; drop its '#'.")
        shots.append(Shot(prompt, seconds, cut))
    return tuple(shots)


def script_text(shots: tuple[Shot, ...]) -> str:
    """A script written back from its shots (the canonical form recorded in sidecars)."""
    return " | ".join(f"{s.prompt} [{s.seconds:g}s{'#' if s.cut else ''}]" for s in shots)


__all__ = ["Shot", "is_script", "parse_script", "script_text"]
