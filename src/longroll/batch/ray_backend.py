"""The ``ray`` backend: one actor per worker holding a loaded model, items handed out one at a time.

The driver keeps the queue. Each actor gets one item; when it answers, its record goes to the
manifest (the driver is the only writer) and it gets the next item, so fast workers take more.
An item whose actor dies (killed, out of memory, node lost) goes back to the front of the queue
and a fresh actor takes the dead one's place; after ``max_attempts`` deaths on one item it is
reported as failed. An item that raises inside a healthy actor (a bad prompt) fails once, with
its reason, and is not retried. Works on a local Ray started here (and stopped at the end) and on
an existing cluster (``address``); the output folder must then be shared by the nodes.
"""

from __future__ import annotations

import logging
import os
import socket
from collections import deque

from longroll.batch.runner import BatchJob, Summary
from longroll.progress import progress_bar

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # starts of one item before it is reported as failed (its workers kept dying)
PROBE_TIMEOUT_S = 5.0


def _import_ray():
    try:
        import ray
    except ImportError as err:
        raise ValueError("The ray backend needs Ray: pip install 'longroll[dist]'.") from err
    return ray


def check_address(address: str) -> None:
    """Fail fast, with a clear message, when a Ray address does not answer (before any work)."""
    if address in ("auto", "local"):
        return
    text = address.split("://", 1)[-1]
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"The Ray address {address!r} is not HOST:PORT (e.g. 10.0.0.1:6379, ray://head:10001, "
                         "or auto).")
    try:
        with socket.create_connection((host, int(port)), timeout=PROBE_TIMEOUT_S):
            pass
    except OSError as err:
        raise ValueError(f"The Ray address {address!r} does not answer ({err.strerror or err}); start the cluster "
                         "with 'ray start --head' there, or leave --ray-address out for a local Ray.") from None


class ItemActor:
    """A Ray actor: opens the job's worker (loads the model) once, then runs items."""

    def __init__(self, job: BatchJob, device: str | None, threads: int) -> None:
        import torch

        torch.set_num_threads(max(1, threads))
        self.worker = job.open_worker(device)

    def run(self, item) -> tuple[str, object]:
        """("ok", record) or ("error", reason): an item's own error is an answer, not a crash."""
        try:
            return "ok", self.worker(item)
        except Exception as err:  # noqa: BLE001 - reported to the driver with its reason
            return "error", f"{type(err).__name__}: {err}"


def run_ray(job: BatchJob, *, workers: int, address: str | None = None, device: str | None = None,
            show_progress: bool = True, max_attempts: int = MAX_ATTEMPTS) -> Summary:
    """Run ``job`` on ``workers`` Ray actors (see the module docstring)."""
    ray = _import_ray()
    if address:
        check_address(address)
    todo, skipped = job.plan()
    summary = Summary(job.what, skipped=[item.key for item in skipped])
    if not todo:
        return summary
    started_here = not ray.is_initialized()
    if started_here:
        kwargs = {"address": address} if address else {"num_cpus": max(workers, os.cpu_count() or 1)}
        try:
            ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING, **kwargs)
        except (ConnectionError, RuntimeError) as err:
            cause = str(err.__cause__ or err).strip().splitlines()
            raise ValueError(f"Cannot join the Ray cluster at {address!r}: {cause[-1] if cause else err} (a cluster "
                             "with token authentication needs RAY_AUTH_TOKEN or ~/.ray/auth_token here).") from None
    try:
        job.prepare()
        return _drive(ray, job, todo, summary, workers=workers, device=device, show_progress=show_progress,
                      max_attempts=max_attempts)
    finally:
        if started_here:
            ray.shutdown()


def _drive(ray, job: BatchJob, todo: list, summary: Summary, *, workers: int, device: str | None, show_progress: bool,
           max_attempts: int) -> Summary:
    resources = ray.cluster_resources()
    gpus = resources.get("GPU", 0) >= workers and device != "cpu"
    cpus = max(1, int(resources.get("CPU", 1)) // workers)
    actor_cls = ray.remote(num_cpus=cpus, num_gpus=1 if gpus else 0, max_restarts=0)(ItemActor)

    def new_actor():
        return actor_cls.remote(job, None if gpus else (device or "cpu"), cpus)

    actors = {slot: new_actor() for slot in range(workers)}
    replacements_left = workers * max_attempts
    queue, attempts, in_flight = deque(todo), {}, {}
    bar = progress_bar(len(todo), desc=job.what, unit="item", enabled=show_progress)

    def submit(slot: int) -> None:
        item = queue.popleft()
        attempts[item.key] = attempts.get(item.key, 0) + 1
        in_flight[actors[slot].run.remote(item)] = (slot, item)

    try:
        for slot in list(actors):
            if queue:
                submit(slot)
        while in_flight:
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            slot, item = in_flight.pop(ready[0])
            try:
                status, value = ray.get(ready[0])
            except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError) as err:
                # The worker died with the item: redo the item, replace the worker.
                log.warning("worker %d died during %s (%s); the item is redone", slot, item.key, type(err).__name__)
                ray.kill(actors.pop(slot), no_restart=True)
                if attempts[item.key] < max_attempts:
                    queue.appendleft(item)
                    summary.retried += 1
                else:
                    last = [line for line in str(err).splitlines() if line.strip()][-1:] or [type(err).__name__]
                    summary.failed[item.key] = f"its worker died {attempts[item.key]} times (last: {last[0].strip()})"
                    bar.update(1)
                if replacements_left > 0:
                    replacements_left -= 1
                    actors[slot] = new_actor()
            else:
                if status == "ok":
                    job.record(value)
                    summary.done.append(item.key)
                else:
                    summary.failed[item.key] = value
                bar.update(1)
            if queue and slot in actors:
                submit(slot)
            if queue and not in_flight:  # every worker is gone and cannot be replaced
                for rest in queue:
                    summary.failed[rest.key] = "no worker left (they kept dying)"
                queue.clear()
    finally:
        bar.close()
        for actor in actors.values():
            ray.kill(actor, no_restart=True)
    return summary


__all__ = ["ItemActor", "MAX_ATTEMPTS", "check_address", "run_ray"]
