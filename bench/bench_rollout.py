"""Rollout benchmark: real-time factor, flat time per chunk, flat memory, FLEX overhead.

Run: python bench/bench_rollout.py [--weights PATH] [--quick]
Prints ratios measured side by side in this one run (machines are noisy); copy the table into
bench/RESULTS.md with the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

PROMPT = "a red circle and a blue square on a navy background"


def _model(weights):
    from longroll.models.registry import load_model
    from longroll.models.tiny.weights import random_tiny

    try:
        return load_model("tiny", weights=weights), "trained"
    except FileNotFoundError:
        return random_tiny(0), "random-init (no weights found)"


def child_peak_rss(seconds: float, weights: str | None) -> dict:
    """Generate a video to MP4 in a fresh process; report its peak RSS and wall time."""
    code = f"""
import json, resource, time, tempfile, os, torch
torch.set_num_threads({os.cpu_count() or 2})
from longroll.pipelines.generate import generate
import bench_rollout as b
model, _ = b._model({weights!r})
out = os.path.join(tempfile.mkdtemp(), "v.mp4")
t = time.time()
generate(b.PROMPT, seconds={seconds}, out=out, model=model)
print(json.dumps({{"wall": time.time() - t, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main_job_cli_vs_api(seconds: float, weights: str | None, rounds: int) -> dict:
    """The README's main job end to end in fresh processes (start-up and model load included), the
    command line and the Python API alternately: {"cli": [walls], "api": [walls]}."""
    walls: dict = {"cli": [], "api": []}
    longroll = os.path.join(os.path.dirname(sys.executable), "longroll")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "v.mp4")
        weights_arg = ["--weights", weights] if weights else []
        cli = [longroll, "generate", PROMPT, "--seconds", f"{seconds:g}", "--out", out, "--overwrite", *weights_arg]
        api = [sys.executable, "-c", "import longroll\nfrom longroll.models.registry import load_model\n"
               f"longroll.generate({PROMPT!r}, seconds={seconds!r}, out={out!r}, overwrite=True, "
               f"model=load_model('tiny', weights={weights!r}))"]
        for _ in range(rounds):
            for name, cmd in (("cli", cli), ("api", api)):
                t = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True)
                walls[name].append(time.perf_counter() - t)
    return walls


def _stream(model, preset: str, chunks: int):
    import torch

    from longroll.pipelines.presets import resolve_preset
    from longroll.pipelines.rollout import rollout

    config = resolve_preset(preset, model.denoiser)
    return rollout(model.denoiser, model.encode_prompt(PROMPT), num_frames=chunks * model.defaults.chunk_size,
                   config=config, generator=torch.Generator().manual_seed(0))


def lockstep(streams: list, rounds: int) -> list[float]:
    """Median time of one chunk (denoise + decode) of each (iterator, bucket, model) stream, advancing
    them alternately so that the machine's drift during the run affects all of them equally."""
    import torch

    with torch.no_grad():
        for _ in range(rounds):
            for it, bucket, model in streams:
                t = time.perf_counter()
                model.decode(next(it).latents)
                bucket.append(time.perf_counter() - t)
    return [statistics.median(bucket) for _, bucket, _ in streams]


def early_vs_late(model, preset: str, late_chunk: int, rounds: int = 12) -> tuple[float, float]:
    """Chunk time at chunk ~5 and at ``late_chunk`` of two rollouts of one preset, timed alternately."""
    import torch

    total = late_chunk + rounds + 8
    late_it, early_it = _stream(model, preset, total), _stream(model, preset, total)
    with torch.no_grad():
        for _ in range(late_chunk):
            next(late_it)
        for _ in range(4):
            next(early_it)
    early, late = lockstep([(early_it, [], model), (late_it, [], model)], rounds)
    return early, late


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--quick", action="store_true", help="shorter runs (for a smoke test)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(os.cpu_count() or 2)
    model, kind = _model(args.weights)
    f = model.defaults.chunk_size
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; "
          f"model: tiny ({kind}); chunk {f} latent frames = {f / model.fps:.2f} s")
    long_s = 60.0 if args.quick else 4 * 60.0 + 10

    # 1. Real-time factor of the default preset at 32 s (the whole main job: denoise + decode + encode MP4).
    with tempfile.TemporaryDirectory() as tmp:
        from longroll.pipelines.generate import generate

        generate(PROMPT, seconds=2, out=os.path.join(tmp, "warm.mp4"), model=model)
        t = time.perf_counter()
        generate(PROMPT, seconds=32, out=os.path.join(tmp, "v.mp4"), model=model)
        wall = time.perf_counter() - t
    print(f"real-time factor, flex, 32 s to MP4: {32 / wall:.1f}x ({wall:.2f} s wall; target >= 8x)")

    # 2. Flat time per chunk: chunks 5.. vs chunks 500.., timed alternately.
    late_idx = 100 if args.quick else 500
    early, late = early_vs_late(model, "flex", late_idx)
    print(f"time per chunk (flex, alternating): chunk ~5 {early * 1e3:.1f} ms, chunk ~{late_idx} {late * 1e3:.1f} ms, "
          f"ratio {late / early:.3f} (target <= 1.1)")

    # 3. FLEX overhead against plain extrapolation: two rollouts advanced chunk by chunk, alternately.
    rounds = 32 if args.quick else 64  # 64 chunks = 32 s of video each
    flex, none = lockstep([(_stream(model, "flex", rounds), [], model), (_stream(model, "none", rounds), [], model)],
                          rounds)
    print(f"flex / none time per chunk: {flex * 1e3:.1f} / {none * 1e3:.1f} ms = {flex / none:.3f} "
          f"(medians over {rounds} alternating chunks; target <= 1.02)")

    # 4. Flat memory: peak RSS of a fresh process at 8 s vs 4 minutes.
    short = child_peak_rss(8.0, args.weights)
    long = child_peak_rss(long_s, args.weights)
    print(f"peak RSS: 8 s {short['rss_mb']:.0f} MB, {long_s:.0f} s {long['rss_mb']:.0f} MB, "
          f"ratio {long['rss_mb'] / short['rss_mb']:.3f} (target <= 1.1); "
          f"{long_s:.0f} s took {long['wall']:.1f} s ({long_s / long['wall']:.1f}x real time)")

    # 5. The README's main job (60 s) in fresh processes: command line vs Python API, alternately.
    job_s, rounds = (20.0, 1) if args.quick else (60.0, 3)
    walls = main_job_cli_vs_api(job_s, args.weights, rounds)
    cli, api = statistics.median(walls["cli"]), statistics.median(walls["api"])
    print(f"main job {job_s:g} s, fresh process, medians of {rounds} alternating runs: command line {cli:.1f} s "
          f"({job_s / cli:.1f}x real time), Python API {api:.1f} s ({job_s / api:.1f}x), API / CLI {api / cli:.3f}")


if __name__ == "__main__":
    main()
