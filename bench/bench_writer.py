"""The writer thread against writing on the rollout's own thread (issue 41).

``run()`` decodes, writes (libx264 through PyAV) and hashes each chunk on a thread of its own, at most
``WRITER_DEPTH`` chunks behind the rollout (``pipelines.behind``); ``writer_thread=False`` does it on
the rollout's thread, which waits for each chunk's file work. This times both, alternated, on the
shipped built-in model writing an MP4 (the main job), and checks that both write the same raw frames:

    python bench/bench_writer.py [--seconds 60] [--repeats 3] [--upscale 4]

On this 2-core CPU the rollout and the encoder share the cores, so the thread can hide only the
encoder's waits; on a GPU machine the rollout runs on the device while decode's host copy, the hash
and libx264 run on the CPU, which is where the thread pays.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--upscale", type=int, default=None, help="output upscale (default: the model's)")
    args = parser.parse_args()

    from longroll.models.registry import load_model
    from longroll.pipelines.plan import resolve
    from longroll.pipelines.request import GenerationRequest
    from longroll.pipelines.run import run

    model = load_model("tiny")
    folder = Path(tempfile.mkdtemp(prefix="bench_writer_"))

    def make(threaded: bool):
        out = folder / f"{threaded}.mp4"
        plan = resolve(GenerationRequest(prompt="a red circle and a blue square on a navy background",
                                         seconds=args.seconds, out=str(out), overwrite=True,
                                         upscale=args.upscale), model)
        t0 = time.perf_counter()
        result = run(plan, model, writer_thread=threaded)
        return time.perf_counter() - t0, result

    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}; shipped "
          f"model, {args.seconds:g} s of MP4, {args.repeats} alternated repeats (median)")
    make(True)  # warm-up
    times, hashes = {True: [], False: []}, {True: set(), False: set()}
    for _ in range(args.repeats):
        for threaded in (False, True):
            seconds, result = make(threaded)
            times[threaded].append(seconds)
            hashes[threaded].add(result.frames_sha256)
    on, off = statistics.median(times[True]), statistics.median(times[False])
    print(f"  writer on its own thread {on:6.2f} s   on the rollout's thread {off:6.2f} s   on / off {on / off:.3f}"
          f"   same raw frames: {hashes[True] == hashes[False] and len(hashes[True]) == 1}")


if __name__ == "__main__":
    main()
