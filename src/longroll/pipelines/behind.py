"""``Behind``: a consumer on its own thread, a bounded queue behind the producer.

The rollout produces chunks; what is done with them (decoding and writing a file, scoring them in the
benchmark) runs on another thread, so that the accelerator is not idle while a chunk is encoded or
hashed. The queue is bounded (``depth`` items): the producer waits only when the consumer is that far
behind, so memory stays flat however long the video. Order is kept (one consumer thread).

Errors cross back: an exception in the consumer is raised on the producer's thread at its next
``put`` or at ``finish`` (a studio's stop raised from ``on_chunk`` ends the rollout this way); the
consumer keeps draining the queue after it failed, so the producer never waits forever. When the
producer fails (Ctrl-C lands on the main thread), ``cancel`` lets the consumer finish what is queued
(at most ``depth`` items: a video keeps every chunk that was made) and waits for it, so nothing is
written after the producer's clean-up begins; a second Ctrl-C while it waits drops what is still
queued.

Grad mode and the intra-op thread count are per thread in PyTorch: the consumer runs under
``torch.no_grad`` with the process's default thread count (the producer's ``one_thread`` pin, where
a guided forward has it, does not reach it).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_END = object()  # the producer has no more items


class Behind(Generic[T, R]):
    """``target(items)`` on its own thread, ``items`` yielding what ``put`` gives, in order.

    Use: ``with Behind(target, depth=2) as b: for x in xs: b.put(x)`` then ``b.result`` (the block
    ends with ``finish`` when it ran through, ``cancel`` when it raised)."""

    def __init__(self, target: Callable[[Iterator[T]], R], *, depth: int = 2, name: str = "longroll-behind") -> None:
        if depth < 1:
            raise ValueError(f"depth = {depth}: the queue must hold at least one item (allowed range [1, inf)).")
        self._target, self._name = target, name
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._cancelled = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._got_end = False  # the consumer has taken the end marker
        self.result: R | None = None

    # ------------------------------------------------------------------ consumer side
    def _items(self) -> Iterator[T]:
        while not self._got_end:
            item = self._queue.get()
            if item is _END:
                self._got_end = True
            elif self._cancelled.is_set():
                continue  # skipped: the producer failed
            else:
                yield item

    def _run(self) -> None:
        import torch

        try:
            with torch.no_grad():
                self.result = self._target(self._items())
        except BaseException as err:  # noqa: BLE001 - raised again on the producer's thread
            self._error = err
        # The target may stop before the end marker (it failed, or it had enough): keep taking what the
        # producer puts, so that a producer waiting on a full queue goes on.
        while not self._got_end:
            self._got_end = self._queue.get() is _END

    # ------------------------------------------------------------------ producer side
    def start(self) -> Behind[T, R]:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        return self

    def put(self, item: T) -> None:
        """Queue one item (waits while the queue is full); raises the consumer's error if it failed."""
        if self._error is not None:
            raise self._error
        self._queue.put(item)

    @property
    def failed(self) -> bool:
        return self._error is not None

    def finish(self) -> R | None:
        """No more items: wait for the consumer to take them all; its error, if any, is raised here."""
        self._end()
        if self._error is not None:
            raise self._error
        return self.result

    def cancel(self, *, skip: bool = False) -> None:
        """The producer failed: the consumer takes what is queued (``skip``: drops it) and stops; wait
        for it. Its own error, if any, is dropped: the producer's is the one that propagates."""
        if skip:
            self._cancelled.set()
        self._end()

    def _end(self) -> None:
        """Queue the end marker and wait for the consumer. A Ctrl-C while waiting makes it skip what is
        still queued (the item in hand finishes: what it writes must not be closed under it) and is
        raised when it has stopped."""
        if self._thread is None:
            return
        interrupted, end_queued = None, False
        while True:
            try:
                if not end_queued:
                    self._queue.put(_END)
                    end_queued = True
                self._thread.join()
                break
            except KeyboardInterrupt as err:
                self._cancelled.set()
                interrupted = err
        self._thread = None
        if interrupted is not None:
            raise interrupted

    def __enter__(self) -> Behind[T, R]:
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.cancel()


__all__ = ["Behind"]
