"""Diagonal schedules (FIFO-Diffusion, MIGA) on the built-in model: flat memory, cost per output
frame against the chunk-wise rollout, and how often MIGA's self-reflection triggers.

1. Peak RSS of a fresh process generating 8 s and 4 minutes to MP4, per schedule (target: ratio
   at most 1.15), with the wall time of each.
2. Cost per output frame, measured side by side: the three schedules produce 16 s of latents in
   one process, interleaved (each advanced one yield at a time), so machine drift hits all alike.
3. Self-reflection: judged chunks, triggers, adoptions over the 16 s runs.

Run: python bench/bench_diagonal.py [--weights PATH] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

PROMPT = "a red circle and a blue square on a navy background"


def child_peak_rss(schedule: str, seconds: float, weights: str | None) -> dict:
    code = f"""
import json, resource, time, tempfile, os, torch
from longroll.models.registry import load_model
from longroll.pipelines.generate import generate
model = load_model("tiny", weights={weights!r})
out = os.path.join(tempfile.mkdtemp(), "v.mp4")
t = time.time()
generate({PROMPT!r}, seconds={seconds}, out=out, model=model, schedule={schedule!r})
print(json.dumps({{"wall": time.time() - t, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def interleaved_cost(model, seconds: float) -> dict:
    """Seconds of compute per output frame of each schedule, advancing the three alternately."""
    import torch

    from longroll.noise import NoiseConfig
    from longroll.pipelines.fifo import DiagonalStats, diagonal_rollout, resolve_diagonal
    from longroll.pipelines.presets import resolve_preset
    from longroll.pipelines.rollout import rollout

    den = model.denoiser
    cond = model.encode_prompt(PROMPT)
    frames = int(seconds * model.fps)
    streams, stats = {}, {}
    streams["chunk"] = rollout(den, cond, num_frames=frames, config=resolve_preset("none", den),
                               generator=torch.Generator().manual_seed(0))
    for kind in ("fifo", "miga"):
        stats[kind] = DiagonalStats()
        streams[kind] = diagonal_rollout(den, cond, num_frames=frames, config=resolve_diagonal(kind, den),
                                         noise=NoiseConfig().sampler(torch.Generator().manual_seed(0)),
                                         stats=stats[kind])
    spent = dict.fromkeys(streams, 0.0)
    made = dict.fromkeys(streams, 0)
    live = set(streams)
    with torch.no_grad():
        while live:
            for name in list(live):
                t = time.perf_counter()
                try:
                    chunk = next(streams[name])
                except StopIteration:
                    live.discard(name)
                    continue
                spent[name] += time.perf_counter() - t
                made[name] += chunk.latents.shape[1]
    out = {name: {"s_per_frame": spent[name] / made[name], "frames": made[name]} for name in streams}
    for name in out:
        out[name]["vs_chunk"] = out[name]["s_per_frame"] / out["chunk"]["s_per_frame"]
    for kind, st in stats.items():
        out[kind].update(st.to_dict())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    import torch

    from longroll.models.registry import load_model

    torch.set_num_threads(os.cpu_count() or 2)
    model = load_model("tiny", weights=args.weights)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")
    report: dict = {"cost": interleaved_cost(model, 8.0 if args.quick else 16.0)}
    for name, r in report["cost"].items():
        extra = (f"; reflection: {r['judgements']} judged, {r['triggers']} triggered ({r['trigger_share']:.1%}), "
                 f"{r['adopted']} adopted" if name == "miga" else "")
        print(f"{name:>5}: {r['s_per_frame'] * 1e3:.1f} ms per output frame = {r['vs_chunk']:.1f}x chunk-wise{extra}")
    long_s = 60.0 if args.quick else 240.0
    report["memory"] = {}
    for schedule in ("chunk", "fifo", "miga"):
        short, long = child_peak_rss(schedule, 8.0, args.weights), child_peak_rss(schedule, long_s, args.weights)
        report["memory"][schedule] = {"short": short, "long": long, "ratio": long["rss_mb"] / short["rss_mb"]}
        print(f"{schedule:>5}: peak RSS 8 s {short['rss_mb']:.0f} MB, {long_s:.0f} s {long['rss_mb']:.0f} MB, ratio "
              f"{long['rss_mb'] / short['rss_mb']:.3f} (target <= 1.15); {long_s:.0f} s took {long['wall']:.0f} s "
              f"({long_s / long['wall']:.2f}x real time)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)


if __name__ == "__main__":
    main()
