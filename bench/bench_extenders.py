"""Every horizon extender against plain extrapolation: time per chunk and memory from 8 s to 4 minutes.

Run: python bench/bench_extenders.py [--weights PATH] [--quick] [--presets a,b,...]
For each preset, two rollouts (the preset and ``none``) are advanced chunk by chunk alternately, past
the point where the window is full (so compression, memory streams and replays are all active), and
the median time per chunk is compared; then a fresh process generates 8 s and 4 minutes (1 minute
with --quick) to MP4 with the preset and reports its peak RSS. Ratios are measured side by side in
one run; copy the table into bench/RESULTS.md with the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

PROMPT = "a red circle and a blue square on a navy background"


def peak_rss(preset: str, seconds: float, weights: str | None) -> dict:
    """Generate ``seconds`` of video with ``preset`` in a fresh process; its peak RSS and wall time."""
    code = f"""
import json, resource, time, tempfile, os, torch
torch.set_num_threads({os.cpu_count() or 2})
from longroll.models.registry import load_model
from longroll.pipelines.generate import generate
model = load_model("tiny", weights={weights!r})
out = os.path.join(tempfile.mkdtemp(), "v.mp4")
t = time.time()
generate({PROMPT!r}, seconds={seconds}, out=out, model=model, preset={preset!r}, progress=False)
print(json.dumps({{"wall": time.time() - t, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def chunk_times(model, presets: list[str], warm: int, rounds: int) -> dict[str, float]:
    """Median time of one chunk (denoise + decode) per preset, all rollouts advanced alternately."""
    import torch

    from longroll.pipelines.presets import resolve_preset
    from longroll.pipelines.rollout import rollout

    cond = model.encode_prompt(PROMPT)
    f = model.defaults.chunk_size
    streams = {}
    for name in presets:
        config = resolve_preset(name, model.denoiser)
        streams[name] = rollout(model.denoiser, cond, num_frames=(warm + rounds + 2) * f, config=config,
                                generator=torch.Generator().manual_seed(0))
    times = {name: [] for name in presets}
    with torch.no_grad():
        for it in streams.values():
            for _ in range(warm):
                model.decode(next(it).latents)
        for _ in range(rounds):
            for name, it in streams.items():
                t = time.perf_counter()
                model.decode(next(it).latents)
                times[name].append(time.perf_counter() - t)
    return {name: statistics.median(v) for name, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--quick", action="store_true", help="1 minute instead of 4 and fewer chunks")
    parser.add_argument("--presets", default=None, help="comma-separated presets (default: every chunk-wise one)")
    args = parser.parse_args()
    import torch

    from longroll.models.registry import load_model
    from longroll.pipelines.presets import PRESETS

    torch.set_num_threads(os.cpu_count() or 2)
    model = load_model("tiny", weights=args.weights)
    d = model.defaults
    presets = args.presets.split(",") if args.presets else list(PRESETS)
    if "none" not in presets:
        presets = ["none", *presets]
    warm = -(-d.train_len // d.chunk_size) + 2  # past the largest window any preset uses
    rounds = 16 if args.quick else 48
    long_s = 60.0 if args.quick else 240.0
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; "
          f"model: tiny (L_train {d.train_len}, chunk {d.chunk_size}, window {d.window}, sink {d.sink}); "
          f"{rounds} alternating chunks after {warm} warm-up chunks")
    times = chunk_times(model, presets, warm, rounds)
    print(f"\n| preset | ms per chunk | / none | peak RSS 8 s (MB) | peak RSS {long_s:.0f} s (MB) | ratio | "
          f"{long_s:.0f} s real-time factor |")
    print("|---|---|---|---|---|---|---|")
    for name in presets:
        short, long = peak_rss(name, 8.0, args.weights), peak_rss(name, long_s, args.weights)
        print(f"| `{name}` | {times[name] * 1e3:.1f} | {times[name] / times['none']:.3f} | {short['rss_mb']:.0f} | "
              f"{long['rss_mb']:.0f} | {long['rss_mb'] / short['rss_mb']:.3f} | {long_s / long['wall']:.1f}x |",
              flush=True)


if __name__ == "__main__":
    main()
