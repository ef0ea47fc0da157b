"""Running a batch job on a backend: the job protocol, sharding, the local backend and the summary.

A job (``GenerationJob``, ``EvaluationJob``) knows its items, which of them are already done
(``plan``), how to open a worker (loads the model once; ``worker(item)`` makes one item and
returns its manifest record) and where the manifest is. The backends only move items:

- ``local``: one process, one worker, items in order.
- ``torchrun``: rank-strided shards, one worker per rank (``distributed.py``).
- ``ray``: one actor per worker, items handed out one at a time, a dead worker's item redone
  (``ray_backend.py``).

Every backend appends a record only after the item's files are complete, and every backend ends
with the same ``Summary`` (done, skipped, failed with reasons).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from longroll._validate import check_choice, check_int

log = logging.getLogger(__name__)

BACKENDS = ("local", "torchrun", "ray")
T = TypeVar("T")


class Job(Protocol):
    """What a backend needs from a batch job."""

    what: str  # "generate" or "evaluate" (for messages)
    items: list  # every item, in a fixed order (the torchrun shards stride over it)
    out: str  # output folder (torchrun's rank 0 writes last_run.json there)

    def prepare(self) -> None:
        """Create the output folder and write its settings file (once, before any item)."""

    def plan(self) -> tuple[list[Any], list[Any]]:
        """(items still to do, items skipped because a complete record exists)."""

    def open_worker(self, device: str | None = None) -> Callable[[Any], dict]:
        """A worker holding what every item needs (the model); ``worker(item)`` returns its record."""

    def record(self, record: dict) -> None:
        """Append a completed item's record to the manifest."""


@dataclass
class Summary:
    """What a run did: keys of done and skipped items, failed items with their reasons."""

    what: str = "batch"
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # item key -> reason
    retried: int = 0  # items started again after their worker died

    @property
    def ok(self) -> bool:
        return not self.failed

    def merge(self, other: "Summary") -> "Summary":
        self.done += other.done
        self.skipped += other.skipped
        self.failed.update(other.failed)
        self.retried += other.retried
        return self

    def text(self) -> str:
        redone = f", {self.retried} redone after a worker died" if self.retried else ""
        lines = [f"{self.what}: {len(self.done)} done, {len(self.skipped)} skipped (already complete), "
                 f"{len(self.failed)} failed{redone}"]
        for key, reason in sorted(self.failed.items()):
            lines.append(f"  failed {key}: {reason}")
        return "\n".join(lines)


class FolderJob:
    """What both jobs share: a folder with ``batch.json`` and ``manifest.jsonl``, and the done-or-not rule.

    Subclasses give ``out``, ``items``, ``folder_settings()``, ``item_hash(item)`` and
    ``output_path(item, record)``. An item is done when its last record has its current settings
    hash and its output file exists; anything else is (re)made."""

    out: str
    items: list

    def folder_settings(self) -> dict:
        raise NotImplementedError

    def item_hash(self, item: Any) -> str:
        raise NotImplementedError

    def output_path(self, item: Any, record: dict):
        raise NotImplementedError

    @property
    def manifest(self):
        from longroll.batch.manifest import Manifest

        return Manifest(self.out)

    def prepare(self) -> None:
        """Create the folder and write ``batch.json`` (once, by the driver or rank 0)."""
        from pathlib import Path

        from longroll.batch.manifest import write_batch_settings

        Path(self.out).mkdir(parents=True, exist_ok=True)
        write_batch_settings(self.out, self.folder_settings())

    def plan(self) -> tuple[list, list]:
        """(items to make, items complete with the current settings)."""
        latest = self.manifest.latest()
        todo, skipped = [], []
        for item in self.items:
            rec = latest.get(item.key)
            done = rec is not None and rec.get("settings_hash") == self.item_hash(item) and \
                self.output_path(item, rec).is_file()
            (skipped if done else todo).append(item)
        return todo, skipped

    def record(self, record: dict) -> None:
        self.manifest.append(record)


def shard(items: Sequence[T], rank: int, world: int) -> list[T]:
    """Rank-strided shard ``items[rank::world]``: every item in exactly one shard, none dropped."""
    check_int("world size", world, low=1)
    check_int("rank", rank, low=0, high=world - 1)
    return list(items[rank::world])


def item_key(item: Any) -> str:
    return item.key


def progress(total: int, desc: str, enabled: bool = True):
    """A tqdm bar over items (a silent stand-in without tqdm or when disabled)."""
    if enabled:
        try:
            from tqdm import tqdm

            return tqdm(total=total, desc=desc, unit="item", smoothing=0.1)
        except ImportError:  # pragma: no cover
            pass

    class _Silent:
        def update(self, n: int = 1) -> None:
            pass

        def set_postfix_str(self, s: str) -> None:
            pass

        def close(self) -> None:
            pass

    return _Silent()


def run_items(job: Job, items: Sequence[Any], worker: Callable[[Any], dict], *, show_progress: bool = True,
              desc: str | None = None) -> Summary:
    """Run ``items`` one after another with ``worker``, recording each; failures are kept, not raised.

    ``KeyboardInterrupt`` stops the run: the interrupted item has no record (its partial file is
    redone by the next run) and the interruption propagates."""
    summary = Summary(job.what)
    bar = progress(len(items), desc or job.what, show_progress)
    try:
        for item in items:
            try:
                record = worker(item)
            except KeyboardInterrupt:
                raise
            except Exception as err:  # noqa: BLE001 - one bad item must not stop the batch
                log.warning("%s %s failed: %s", job.what, item_key(item), err)
                summary.failed[item_key(item)] = f"{type(err).__name__}: {err}"
            else:
                job.record(record)
                summary.done.append(item_key(item))
            bar.update(1)
    finally:
        bar.close()
    return summary


def run_local(job: Job, *, device: str | None = None, show_progress: bool = True) -> Summary:
    """The ``local`` backend: one model load in this process, every pending item in order."""
    todo, skipped = job.plan()
    summary = Summary(job.what, skipped=[item_key(i) for i in skipped])
    if not todo:
        return summary
    job.prepare()
    worker = job.open_worker(device)
    return summary.merge(run_items(job, todo, worker, show_progress=show_progress))


def run_job(job: Job, *, backend: str = "local", workers: int = 1, device: str | None = None,
            ray_address: str | None = None, show_progress: bool = True, argv: Sequence[str] | None = None) -> Summary:
    """Run ``job`` on ``backend`` with ``workers`` workers (see the module docstring)."""
    check_choice("backend", backend, BACKENDS)
    check_int("workers", workers, low=1, high=4096)
    if backend == "local":
        if workers != 1:
            raise ValueError(f"workers = {workers} needs --backend torchrun or ray; the local backend runs one "
                             "worker in this process (allowed: 1).")
        return run_local(job, device=device, show_progress=show_progress)
    if backend == "torchrun":
        from longroll.batch.distributed import run_torchrun

        return run_torchrun(job, workers=workers, device=device, show_progress=show_progress, argv=argv)
    from longroll.batch.ray_backend import run_ray

    return run_ray(job, workers=workers, address=ray_address, device=device, show_progress=show_progress)


__all__ = ["BACKENDS", "FolderJob", "Job", "Summary", "progress", "run_items", "run_job", "run_local", "shard"]
