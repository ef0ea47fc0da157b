"""Ctrl-C and SIGTERM that are never lost.

A handler installed before any heavy import raises ``KeyboardInterrupt`` (``Terminated`` for SIGTERM,
a subclass, so every clean-up a Ctrl-C runs runs too) and also records the signal. Some imports
swallow an exception raised while they run (``import torch`` does, about 0.3 s into a process), so
the recorded signal is raised again at the next safe point (``check``: after the model loads, at
every chunk) unless it already reached the command's handler.
"""

from __future__ import annotations

import signal
import threading

_pending: list[int] = []


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be."""


def _handler(signum, frame) -> None:
    _pending.append(signum)
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def install() -> None:
    """Route SIGINT and SIGTERM through the handler (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _handler)
        signal.signal(signal.SIGTERM, _handler)


def check() -> None:
    """Raise a signal that arrived but was swallowed on its way (a no-op when none is pending)."""
    if _pending:
        signum = _pending[-1]
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def clear() -> None:
    """The signal reached its handler: forget it."""
    _pending.clear()


__all__ = ["Terminated", "check", "clear", "install"]
