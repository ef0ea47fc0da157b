"""Batch throughput on this machine: the same prompt suite on each backend, side by side.

For every backend (local with all cores; torchrun and Ray with ``--workers`` processes sharing
the cores) it runs ``longroll batch`` into a fresh folder and reports wall time, items per
minute, the ratio to the local run, and start-up overhead (the wall time of a second run that
finds every item complete: model load, process start, Ray start). It then checks that every
backend produced the same raw frames for every item (``frames_sha256`` in the manifests).

    python bench/bench_batch.py [--prompts 8] [--seeds 2] [--seconds 4] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPTS = ["a red circle on a navy background", "two yellow triangles on a black background",
           "a blue square and a white circle on a gray background", "a green triangle on a dark green background",
           "three cyan circles on a black background", "an orange square on a navy background",
           "a purple circle and a red triangle on a gray background", "a white square on a black background"]


def run(folder: Path, prompts: Path, args, backend: str) -> float:
    cmd = [sys.executable, "-m", "longroll", "batch", str(prompts), "--seeds", str(args.seeds), "--seconds",
           str(args.seconds), "--out", str(folder), "--backend", backend, "--no-progress", "--upscale", "2"]
    if backend != "local":
        cmd += ["--workers", str(args.workers)]
    env = dict(os.environ)
    if backend != "local":  # each worker gets its share of the cores
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // args.workers))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{backend} failed:\n{proc.stderr[-2000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backends", default="local,torchrun,ray")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    prompts = tmp / "prompts.txt"
    prompts.write_text("\n".join(PROMPTS[: args.prompts]) + "\n")
    items = args.prompts * args.seeds
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; {items} items of {args.seconds:g} s "
          f"({args.prompts} prompts x {args.seeds} seeds), built-in model, preset flex")
    results, hashes = {}, {}
    for backend in args.backends.split(","):
        folder = tmp / backend
        wall = run(folder, prompts, args, backend)
        idle = run(folder, prompts, args, backend)  # everything complete: start-up and bookkeeping only
        records = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines()]
        hashes[backend] = {r["key"]: r["frames_sha256"] for r in records}
        results[backend] = (wall, idle)
        workers = 1 if backend == "local" else args.workers
        print(f"{backend:>9} ({workers} worker{'s' if workers > 1 else ''}): {wall:6.1f} s wall, "
              f"{60 * items / wall:5.1f} items/min, start-up {idle:4.1f} s, "
              f"{items * args.seconds / wall:4.1f}x real time")
    base = results.get("local", next(iter(results.values())))[0]
    for backend, (wall, _) in results.items():
        print(f"throughput {backend} / local: {base / wall:.2f}")
    reference = next(iter(hashes.values()))
    same = all(h == reference for h in hashes.values())
    print(f"same raw frames for every item on every backend: {same}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
