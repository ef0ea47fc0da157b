"""The ``torchrun`` backend: cost-balanced shards over ``torch.distributed`` (gloo on CPU, nccl on GPU).

Launched by ``torchrun --nproc-per-node N -m longroll batch ... --backend torchrun`` (or by
``longroll batch ... --backend torchrun --workers N``, which starts torchrun itself). Every rank
builds the same job from the same arguments; rank 0 alone decides which items are still to make
(``job.plan``, before any rank makes one) and sends the list to the others, and every rank takes its
share of that list, split by ``runner.shard`` into shards of near-equal cost (``job.item_cost``: a
video's seconds), so a resumed run's remaining items are spread evenly and no rank idles through the
tail while another makes long videos; the shards depend on the items left and their costs, never on
timing. Each rank loads the model once and makes its share in the job's order, appending its records
under a file lock. At the end the ranks' summaries are gathered and rank 0 writes ``DIR/last_run.json``.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

from longroll.batch.runner import BatchJob, Summary, run_items, shard

log = logging.getLogger(__name__)

LAST_RUN = "last_run.json"
LAUNCHED = "LONGROLL_LAUNCHED_TORCHRUN"  # set for the ranks that ``launch`` starts: their parent reports


def in_torchrun() -> bool:
    """Whether this process was started by torchrun (its environment has RANK and WORLD_SIZE)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and "LOCAL_RANK" in os.environ


def reports_here() -> bool:
    """Whether this process prints the summary and writes aggregates: a process outside torchrun, or
    rank 0 of a torchrun started by hand (when ``launch`` started it, the parent reports)."""
    if not in_torchrun():
        return True
    return os.environ.get("RANK") == "0" and LAUNCHED not in os.environ


def write_summary(folder: str | Path, summary: Summary) -> None:
    from longroll.io.atomic import write_json

    write_json(Path(folder) / LAST_RUN, asdict(summary))


def read_summary(folder: str | Path) -> Summary | None:
    path = Path(folder) / LAST_RUN
    if not path.exists():
        return None
    return Summary(**json.loads(path.read_text()))


def launch(workers: int, argv: Sequence[str], folder: str | Path) -> Summary:
    """Start ``workers`` processes of this command under torchrun and return rank 0's summary."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={workers}",
           "-m", "longroll", *argv]
    log.info("launching %d processes: %s", workers, " ".join(cmd[:6]))
    marker = Path(folder) / LAST_RUN
    before = marker.stat().st_mtime_ns if marker.exists() else None
    rc = subprocess.call(cmd, env={**os.environ, LAUNCHED: "1"})
    summary = read_summary(folder)
    if summary is None or (before is not None and marker.stat().st_mtime_ns == before):
        raise RuntimeError(f"torchrun exited with status {rc} before the ranks finished; see the log above.")
    return summary


def run_torchrun(job: BatchJob, *, workers: int, device: str | None = None, show_progress: bool = True,
                 argv: Sequence[str] | None = None) -> Summary:
    """Run this rank's shard (under torchrun), or launch torchrun with ``workers`` ranks (outside it)."""
    if not in_torchrun():
        if argv is None:
            raise ValueError("The torchrun backend runs under torchrun: 'torchrun --nproc-per-node N -m longroll "
                             "batch ... --backend torchrun'.")
        job.prepare()
        return launch(workers, argv, job.out)
    import torch
    import torch.distributed as dist

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ["LOCAL_RANK"])
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    use_cuda = torch.cuda.is_available() and (device is None or str(device).startswith("cuda"))
    if use_cuda:
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    else:
        device = "cpu"
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))
    # Items can take hours on one rank while another waits in the final gather.
    dist.init_process_group("nccl" if use_cuda else "gloo", timeout=timedelta(days=7))
    try:
        # 1. Rank 0 prepares the folder and plans; every rank receives the same list of items to make.
        planned: list = [None]
        if rank == 0:
            job.prepare()
            planned = [[item.key for item in job.plan()[0]]]
        dist.broadcast_object_list(planned, src=0)
        todo_keys = set(planned[0])
        todo = [item for item in job.items if item.key in todo_keys]
        # 2. This rank's share: near-equal cost per rank, in the job's order.
        my_todo = shard(todo, rank, world, [job.item_cost(item) for item in todo])
        summary = Summary(job.what, skipped=[item.key for item in job.items if item.key not in todo_keys]
                          if rank == 0 else [])
        if my_todo:
            try:  # a rank that cannot load its model must still reach the gather, or the others wait forever
                worker = job.open_worker(device)
            except Exception as err:  # noqa: BLE001 - reported per item in the summary
                log.error("rank %d could not start its worker: %s", rank, err)
                summary.failed.update({item.key: f"rank {rank} could not start its worker: {err}" for item in my_todo})
            else:
                summary.merge(run_items(job, my_todo, worker, show_progress=show_progress and rank == 0,
                                        desc=f"{job.what} (rank 0 of {world})"))
        gathered: list = [None] * world
        dist.all_gather_object(gathered, asdict(summary))
        total = Summary(job.what)
        for part in gathered:
            total.merge(Summary(**part))
        if rank == 0:
            write_summary(job.out, total)
        return total
    finally:
        dist.destroy_process_group()


__all__ = ["LAST_RUN", "in_torchrun", "launch", "read_summary", "reports_here", "run_torchrun", "write_summary"]
