"""Studio jobs: one video each, run by a pool of worker threads, controlled while they run.

A ``StudioJob`` is a resolved plan plus its controls: prompt switches and cuts asked for live
(``LiveSwitches``, taken at the next chunk), pause / resume (the worker waits between chunks) and
stop (the run ends after the current chunk; the file keeps what was made, its sidecar says it is
incomplete). Everything a job produces goes to its ``send`` callback (the page's socket): frames
as they are decoded, progress, live evaluation rows, the switch timeline, the end.

``WorkerPool`` runs jobs first come, first served on ``workers`` threads with at most ``max_queue``
waiting (a full queue refuses with its length); a queued job knows its position; a job cancelled
(its page closed) leaves the queue or stops at its next chunk, freeing its worker. One job failing
never stops the pool.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from longroll.pipelines.live import LiveSwitches

log = logging.getLogger(__name__)


class Stopped(Exception):
    """Raised in a job's chunk callback to end its run (stop, cancel, page closed)."""


class QueueFull(ValueError):
    """The pool's queue holds its maximum of waiting jobs."""


@dataclass
class StudioJob:
    """One video being made for one page."""

    id: str  # generated name stem of its files
    plan: object  # GenerationPlan (resolved, validated)
    send: Callable[[object], None]  # thread-safe: a dict (JSON message) or bytes (frames) to the page
    live: LiveSwitches = field(default_factory=LiveSwitches)
    state: str = "queued"  # queued, running, paused, done, stopped, failed
    lead: int | None = None  # frames the run may be ahead of what the page shows (None: as fast as it can)
    watched: int = 0  # the last frame the page reported showing
    waited: float = 0.0  # seconds spent paused or keeping pace (not making video)
    _running: threading.Event = field(default_factory=threading.Event)  # cleared while paused
    _stop: threading.Event = field(default_factory=threading.Event)
    _pace: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self._running.set()

    def pause(self) -> None:
        if self.state == "running":
            self._running.clear()
            self.state = "paused"

    def resume(self) -> None:
        if self.state == "paused":
            self.state = "running"
            self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused job wakes up to stop
        with self._pace:
            self._pace.notify_all()

    def watching(self, frame: int) -> None:
        """The page shows ``frame`` now (a paced run goes on while it is within ``lead`` of it)."""
        with self._pace:
            self.watched = max(self.watched, int(frame))
            self._pace.notify_all()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def checkpoint(self, made: int = 0) -> None:
        """Between chunks: wait while paused, and while ``made`` frames are more than ``lead`` ahead of
        what the page shows (so a live switch lands near what is being watched); raise ``Stopped``
        once stopped."""
        t0 = time.perf_counter()
        self._running.wait()
        if self.lead is not None:
            with self._pace:
                while made - self.watched > self.lead and not self._stop.is_set():
                    self._pace.wait(timeout=1.0)
        self.waited += time.perf_counter() - t0
        if self._stop.is_set():
            raise Stopped


class WorkerPool:
    """``workers`` threads running jobs from one queue (``execute(job)`` does the work)."""

    def __init__(self, execute: Callable[[StudioJob], None], *, workers: int = 1, max_queue: int = 8) -> None:
        self.execute = execute
        self.max_queue = max_queue
        self.pending: list[StudioJob] = []
        self.running: set[str] = set()
        self._cond = threading.Condition()
        self._closed = False
        self.threads = [threading.Thread(target=self._work, name=f"studio-worker-{i}", daemon=True)
                        for i in range(workers)]
        for t in self.threads:
            t.start()

    def submit(self, job: StudioJob) -> int:
        """Queue ``job``; its position (1 = next); ``QueueFull`` when the queue is full."""
        with self._cond:
            if len(self.pending) >= self.max_queue:
                raise QueueFull(f"The queue is full ({len(self.pending)} videos waiting, at most {self.max_queue}); "
                                "try again when one finishes.")
            self.pending.append(job)
            self._cond.notify()
            return len(self.pending)

    def position(self, job: StudioJob) -> int | None:
        with self._cond:
            return self.pending.index(job) + 1 if job in self.pending else None

    def cancel(self, job: StudioJob) -> None:
        """Leave the queue, or stop at the next chunk."""
        with self._cond:
            if job in self.pending:
                self.pending.remove(job)
                job.state = "stopped"
                self._announce_positions()
                return
        job.stop()

    def busy(self) -> int:
        with self._cond:
            return len(self.running)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            for job in self.pending:
                job.state = "stopped"
            self.pending.clear()
            self._cond.notify_all()

    def _announce_positions(self) -> None:
        for i, job in enumerate(self.pending):
            job.send({"type": "queued", "job": job.id, "position": i + 1})

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self.pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = self.pending.pop(0)
                self.running.add(job.id)
                self._announce_positions()
            job.state = "running"
            t0 = time.time()
            try:
                self.execute(job)
            except Exception as err:  # one failed video never stops the server
                log.exception("studio job %s failed", job.id)
                job.state = "failed"
                job.send({"type": "error", "message": f"The generation failed: {type(err).__name__}: {err}"})
            finally:
                with self._cond:
                    self.running.discard(job.id)
                log.info("studio job %s %s after %.1f s", job.id, job.state, time.time() - t0)


__all__ = ["StudioJob", "QueueFull", "Stopped", "WorkerPool"]
