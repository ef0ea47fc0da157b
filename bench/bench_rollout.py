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


def chunk_times(model, preset: str, seconds: float) -> list[float]:
    """Wall time of every chunk (denoise + decode) of one rollout."""
    import torch

    from longroll.pipelines.presets import resolve_preset
    from longroll.pipelines.rollout import rollout

    cond = model.encode_prompt(PROMPT)
    config = resolve_preset(preset, model.denoiser)
    times = []
    with torch.no_grad():
        it = rollout(model.denoiser, cond, num_frames=model.latent_frames(seconds), config=config,
                     generator=torch.Generator().manual_seed(0))
        while True:
            t = time.perf_counter()
            try:
                chunk = next(it)
            except StopIteration:
                break
            model.decode(chunk.latents)
            times.append(time.perf_counter() - t)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--quick", action="store_true", help="shorter runs (for a smoke test)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(os.cpu_count() or 2)
    model, kind = _model(args.weights)
    f = model.denoiser.chunk_size
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

    # 2. Flat time per chunk: chunk 5 vs chunk 500 of one long rollout.
    times = chunk_times(model, "flex", long_s)
    early = statistics.median(times[3:8])
    late_idx = min(500, len(times) - 3)
    late = statistics.median(times[late_idx - 2:late_idx + 3])
    print(f"time per chunk: chunk 5 {early * 1e3:.1f} ms, chunk {late_idx} {late * 1e3:.1f} ms, "
          f"ratio {late / early:.3f} (target <= 1.1)")

    # 3. FLEX overhead against plain extrapolation, interleaved runs of 32 s.
    flex, none = [], []
    for _ in range(2 if args.quick else 4):
        for preset, bucket in (("flex", flex), ("none", none)):
            bucket.append(sum(chunk_times(model, preset, 32.0)))
    ratio = statistics.median(flex) / statistics.median(none)
    print(f"flex / none wall time at 32 s: {ratio:.3f} (median of {len(flex)} interleaved runs; target <= 1.02)")

    # 4. Flat memory: peak RSS of a fresh process at 8 s vs 4 minutes.
    short = child_peak_rss(8.0, args.weights)
    long = child_peak_rss(long_s, args.weights)
    print(f"peak RSS: 8 s {short['rss_mb']:.0f} MB, {long_s:.0f} s {long['rss_mb']:.0f} MB, "
          f"ratio {long['rss_mb'] / short['rss_mb']:.3f} (target <= 1.1); "
          f"{long_s:.0f} s took {long['wall']:.1f} s ({long_s / long['wall']:.1f}x real time)")


if __name__ == "__main__":
    main()
