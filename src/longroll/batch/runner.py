"""Running a batch job on a backend: the job base class, sharding, the local backend and the summary.

A job (``GenerationJob``, ``EvaluationJob``) knows its items, which of them are already done
(``plan``), how to open a worker (loads the model once; ``worker(item)`` makes one item and
returns its manifest record) and where the manifest is. The backends only move items:

- ``local``: one process, one worker, items in order.
- ``torchrun``: shards of the items still to make, balanced by each item's cost (its seconds of
  video), one worker per rank (``distributed.py``).
- ``ray``: one actor per worker, items handed out one at a time, a dead worker's item redone
  (``ray_backend.py``).

``backends.run_job`` picks one; the backends import this module, never the other way round.

Every backend appends a record only after the item's files are complete, and every backend ends
with the same ``Summary`` (done, skipped, failed with reasons).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from longroll._validate import check_int
from longroll.progress import progress_bar

log = logging.getLogger(__name__)

T = TypeVar("T")


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


class BatchJob:
    """A batch job: a folder with ``batch.json`` and ``manifest.jsonl``, and the done-or-not rule.

    Subclasses give ``what``, ``out``, ``items``, ``folder_settings()``, ``item_hash(item)``,
    ``output_path(item, record)`` and ``open_worker(device)`` (a worker holding what every item
    needs, the model; ``worker(item)`` makes the item and returns its record). An item is done when
    its last record has its current settings hash and its output file exists; anything else is
    (re)made."""

    what: str  # "generate" or "evaluate" (for messages)
    out: str  # output folder
    items: list  # every item, in a fixed order (each torchrun shard keeps it)

    def folder_settings(self) -> dict:
        raise NotImplementedError

    def open_worker(self, device: str | None = None) -> Callable[[Any], dict]:
        raise NotImplementedError

    def item_hash(self, item: Any) -> str:
        raise NotImplementedError

    def item_cost(self, item: Any) -> float:
        """What the item costs to make, relative to the others (torchrun balances its shards by it)."""
        return 1.0

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
        """Append a completed item's record to the manifest."""
        self.manifest.append(record)


def balanced_shards(costs: Sequence[float], world: int) -> list[list[int]]:
    """The indices of ``costs`` split into ``world`` shards of near-equal total cost.

    Longest processing time first: item by item, dearest first (ties: the earlier item), each goes to
    the shard with the least cost so far (ties: the lower rank); each shard then lists its items in
    their original order, so every rank still works through the items in the job's order. The largest
    shard exceeds the smallest by at most one item's cost (the greedy's bound), and equal costs give
    the rank-strided split ``[rank::world]``. Deterministic: the same costs, the same shards."""
    check_int("world size", world, low=1)
    for i, c in enumerate(costs):
        if not (c >= 0 and c < float("inf")):
            raise ValueError(f"Item {i} has the cost {c!r}; an item's cost is a finite number >= 0.")
    loads, shards = [0.0] * world, [[] for _ in range(world)]
    for i in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        r = min(range(world), key=lambda r: (loads[r], r))
        loads[r] += costs[i]
        shards[r].append(i)
    return [sorted(s) for s in shards]


def shard(items: Sequence[T], rank: int, world: int, costs: Sequence[float] | None = None) -> list[T]:
    """Rank ``rank``'s share of ``items``: every item in exactly one shard, none dropped, the shards'
    total ``costs`` (one per item; None: all equal, the rank-strided ``items[rank::world]``) near-equal
    (``balanced_shards``)."""
    check_int("world size", world, low=1)
    check_int("rank", rank, low=0, high=world - 1)
    if costs is None:
        return list(items[rank::world])
    if len(costs) != len(items):
        raise ValueError(f"{len(costs)} costs were given for {len(items)} items; give one cost per item.")
    return [items[i] for i in balanced_shards(costs, world)[rank]]


def run_items(job: BatchJob, items: Sequence[Any], worker: Callable[[Any], dict], *, show_progress: bool = True,
              desc: str | None = None) -> Summary:
    """Run ``items`` one after another with ``worker``, recording each; failures are kept, not raised.

    ``KeyboardInterrupt`` stops the run: the interrupted item has no record (its partial file is
    redone by the next run) and the interruption propagates."""
    summary = Summary(job.what)
    bar = progress_bar(len(items), desc=desc or job.what, unit="item", enabled=show_progress)
    try:
        for item in items:
            try:
                record = worker(item)
            except KeyboardInterrupt:
                raise
            except Exception as err:  # noqa: BLE001 - one bad item must not stop the batch
                log.warning("%s %s failed: %s", job.what, item.key, err)
                summary.failed[item.key] = f"{type(err).__name__}: {err}"
            else:
                job.record(record)
                summary.done.append(item.key)
            bar.update(1)
    finally:
        bar.close()
    return summary


def run_local(job: BatchJob, *, device: str | None = None, show_progress: bool = True) -> Summary:
    """The ``local`` backend: one model load in this process, every pending item in order."""
    todo, skipped = job.plan()
    summary = Summary(job.what, skipped=[i.key for i in skipped])
    if not todo:
        return summary
    worker = job.open_worker(device)  # loads the model and checks every prompt before anything is written
    job.prepare()
    return summary.merge(run_items(job, todo, worker, show_progress=show_progress))


__all__ = ["BatchJob", "Summary", "run_items", "run_local", "shard"]
