"""``run_job``: run a batch job on one of the backends (local, torchrun, Ray).

This module sits above ``runner`` (the job base class and the local backend), ``distributed``
and ``ray_backend``, which import only ``runner``: no import circle.
"""

from __future__ import annotations

from collections.abc import Sequence

from longroll._validate import check_choice, check_int
from longroll.batch.runner import BatchJob, Summary, run_local

BACKENDS = ("local", "torchrun", "ray")


def run_job(job: BatchJob, *, backend: str = "local", workers: int = 1, device: str | None = None,
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


__all__ = ["BACKENDS", "run_job"]
