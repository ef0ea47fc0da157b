"""Ctrl-C and SIGTERM that are never lost.

A handler installed before any heavy import raises ``KeyboardInterrupt`` (``Terminated`` for SIGTERM,
a subclass, so every clean-up a Ctrl-C runs runs too) and also records the signal. Some imports
swallow an exception raised while they run (``import torch`` does, about 0.3 s into a process), so
the recorded signal is raised again at the next safe point (``check``: after the model loads, at
every chunk) unless it already reached the command's handler. Inside ``deferred()`` (the first
import of torch) the handler only records: an exception raised while torch's C++ start-up runs
Python code aborts the process (pybind11 ``error_already_set`` -> ``std::terminate``, exit -6), so
the signal is raised when the block ends instead.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_pending: list[int] = []
_deferring: list[bool] = []  # non-empty inside deferred(): record, do not raise


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be."""


def _handler(signum, frame) -> None:
    _pending.append(signum)
    if not _deferring:
        raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


@contextmanager
def deferred() -> Iterator[None]:
    """Record a signal that arrives inside the block without raising it there; raise it when the block
    ends normally (for code whose native parts abort on a Python exception, like torch's first import)."""
    _deferring.append(True)
    try:
        yield
    finally:
        _deferring.pop()
    check()


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


__all__ = ["Terminated", "check", "clear", "deferred", "install"]
