"""Same items, same raw frames on every backend: local (two threads), torchrun and Ray (one thread a worker),
with classifier-free guidance on (its prompt and null-prompt passes once rounded differently with the
number of threads when they ran as one batch of two)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from longroll.batch.backends import run_job
from longroll.batch.generation import BatchSettings, GenerationJob
from longroll.batch.manifest import Manifest

PROMPTS = ["a red circle on a navy background", "two yellow triangles on a black background"]


def _job(tmp_path: Path, name: str) -> GenerationJob:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("\n".join(PROMPTS) + "\n")
    settings = BatchSettings(seconds=1.5, preset="flex", overrides={"cfg": 2.0}, upscale=1)  # the shipped weights
    return GenerationJob(str(prompts), str(tmp_path / name), 1, settings)


def _hashes(folder: Path) -> dict[str, str]:
    return {r["key"]: r["frames_sha256"] for r in Manifest(folder).records()}


@pytest.mark.slow
def test_local_torchrun_and_ray_make_the_same_frames_with_guidance(tmp_path):
    """On the shipped model's shapes (the random fixture's happen to round alike on any thread count)."""
    from longroll.models.tiny.weights import shipped_weights

    ray = pytest.importorskip("ray")
    if not shipped_weights().is_file():
        pytest.skip("no shipped weights in this checkout")
    # 1. Local, in this process, on two threads.
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        local = _job(tmp_path, "local")
        assert run_job(local, backend="local", workers=1, show_progress=False).ok
    finally:
        torch.set_num_threads(threads)
    want = _hashes(tmp_path / "local")
    assert len(want) == len(PROMPTS)
    # 2. torchrun: two ranks of one thread each.
    args = ["batch", str(tmp_path / "prompts.txt"), "--seeds", "1", "--seconds", "1.5", "--preset", "flex",
            "--cfg", "2", "--upscale", "1", "--no-progress", "--out", str(tmp_path / "torchrun"),
            "--backend", "torchrun", "--workers", "2"]
    proc = subprocess.run([sys.executable, "-m", "longroll", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _hashes(tmp_path / "torchrun") == want
    # 3. Ray: two actors of one CPU (one thread) each.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        assert run_job(_job(tmp_path, "ray"), backend="ray", workers=2, show_progress=False).ok
    finally:
        ray.shutdown()
    assert _hashes(tmp_path / "ray") == want
