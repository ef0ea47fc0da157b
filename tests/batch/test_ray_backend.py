"""The Ray backend on a local Ray: 2 actors, one killed mid-run, nothing lost, nothing twice."""

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from longroll.batch.evaluation import EvaluationJob
from longroll.batch.generation import BatchSettings, GenerationJob
from longroll.batch.manifest import Manifest
from longroll.batch.ray_backend import check_address, run_ray
from longroll.cli import main

PROMPTS = ["a red circle on a navy background", "a blue square on a black background",
           "two yellow triangles on a dark green background", "a white circle on a gray background"]


def test_a_ray_address_that_does_not_answer_fails_fast(tmp_path):
    t0 = time.time()
    with pytest.raises(ValueError, match="does not answer"):
        check_address("127.0.0.1:1")
    with pytest.raises(ValueError, match="is not HOST:PORT"):
        check_address("nowhere")
    assert time.time() - t0 < 10
    prompts = tmp_path / "p.txt"
    prompts.write_text(PROMPTS[0] + "\n")
    assert main(["batch", str(prompts), "--out", str(tmp_path / "out"), "--backend", "ray",
                 "--ray-address", "127.0.0.1:1"]) == 2
    assert not (tmp_path / "out").exists()


def _actor_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"ItemActor" in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


@pytest.mark.slow
def test_local_ray_two_workers_one_killed_loses_nothing(tmp_path, tiny_weights):
    ray = pytest.importorskip("ray")
    if not Path("/proc").is_dir():
        pytest.skip("needs /proc to find the worker processes")
    prompts = tmp_path / "p.txt"
    prompts.write_text("\n".join(PROMPTS) + "\n")
    job = GenerationJob(str(prompts), str(tmp_path / "out"), 2,
                        BatchSettings(seconds=3.0, preset="none", weights=str(tiny_weights), upscale=1))
    killed = []

    def killer():
        deadline = time.time() + 240
        while time.time() < deadline and not Manifest(job.out).records():
            time.sleep(0.2)
        pids = _actor_pids()
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        summary = run_ray(job, workers=2, show_progress=False)
        thread.join(timeout=5)
        evaluation = EvaluationJob(job.out, segment_seconds=1.0)  # the folder's evaluation on the same cluster
        evaluated = run_ray(evaluation, workers=2, show_progress=False)
    finally:
        ray.shutdown()
    assert killed, "no worker process was found to kill"
    assert summary.ok, summary.text()
    assert summary.retried >= 1  # the killed worker's item was redone elsewhere
    keys = [r["key"] for r in Manifest(job.out).records()]
    assert sorted(keys) == sorted(i.key for i in job.items)  # every item, none twice
    assert len({r["worker"] for r in Manifest(job.out).records()}) >= 2
    for item in job.items:
        assert (Path(job.out) / f"{item.name}.mp4").is_file()
    assert evaluated.ok and len(evaluated.done) == len(job.items)
    assert sorted(r["key"] for r in Manifest(evaluation.out).records()) == sorted(
        f"{i.name}.mp4" for i in job.items)
