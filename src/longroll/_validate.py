"""Input validation shared by every config: full-sentence errors naming the value and the allowed range.

Each helper raises ``ValueError`` before any tensor work, so a bad value never costs a model load.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


def check_int(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` if it is an int inside [low, high], else raise a ValueError naming both."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}.")
    _check_bounds(name, value, low, high)
    return value


def check_float(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float if it is finite and inside the interval, else raise a ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}.")
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        allowed = _range_text(low, high, low_open, high_open)
        raise ValueError(f"{name} must be a finite number, got {value!r}{allowed}.")
    _check_bounds(name, value, low, high, low_open, high_open)
    return value


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise a ValueError listing them."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}.")
    return value


def excerpt(value: Any, limit: int = 80) -> str:
    """``value`` as an error message quotes it (``repr``), cut to about ``limit`` characters: a long prompt
    is never echoed whole."""
    text = repr(value)
    if len(text) <= limit + 2:
        return text
    whole = len(value) if isinstance(value, str) else len(text)
    return f"{text[:limit]}... ({whole} characters)"


def _range_text(low, high, low_open=False, high_open=False) -> str:
    if low is None and high is None:
        return ""
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f" (allowed range {left}{lo}, {hi}{right})"


def _check_bounds(name, value, low, high, low_open=False, high_open=False) -> None:
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise ValueError(f"{name} = {value!r} is out of range{_range_text(low, high, low_open, high_open)}.")
