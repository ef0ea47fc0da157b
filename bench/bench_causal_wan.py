"""Causal Wan2.1 rollout speed and memory (the GPU target of the real-checkpoints issue).

Full-size Wan2.1-T2V-1.3B shapes with random weights (speed does not depend on the values), bf16,
480 x 832, for every flavour (its chunk, steps and own window under ``--preset none``, or the
preset given), one clean-context pass per chunk, prompt keys/values computed once. Reports latent
frames per second, video frames per second (4 per latent frame), per-chunk time early vs late in a
long rollout (flat, or does it grow like LongLive's cache clone?), and peak GPU memory. The VAE and
the text encoder are not timed (the transformer is what the FPS claims compare).

Run on a GPU: python bench/bench_causal_wan.py [--seconds 240] [--preset flex] [--flavour longlive] [--compile]
On CPU for a smoke run: python bench/bench_causal_wan.py --small --seconds 4

Side by side with a family's own code (``causal_wan_vs_reference.py``): ``--reference PATH`` (a
local checkout of guandeh17/Self-Forcing, or of NVlabs/LongLive's branch v1.0) compares longroll
with that family's inference on the same weights, device and dtype, one line per measurement with
its ``longroll / reference`` ratio:
    python bench/bench_causal_wan.py --reference ~/Self-Forcing --layers 30 --height 480 --width 832
    python bench/bench_causal_wan.py --reference ~/LongLive --layers 4 --height 128 --width 128 --seconds 30
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch


def build(flavour: str, small: bool, device: torch.device, dtype: torch.dtype):
    from longroll.models.causal_wan import CausalWanConfig
    from longroll.models.causal_wan.rollout_spec import spec_for

    if small:
        config = CausalWanConfig(dim=128, ffn_dim=256, num_heads=1, num_layers=2, text_dim=64)
        spec = spec_for(flavour, height=64, width=96)
    else:
        config = CausalWanConfig()  # Wan2.1-T2V-1.3B
        spec = spec_for(flavour)
    return random_denoiser(config, spec, device, dtype)


def random_denoiser(config, spec, device, dtype: torch.dtype, seed: int = 0):
    """A causal Wan of ``config`` with random weights (N(0, 0.02)), cast to ``dtype`` (modulation and
    norms kept fp32) on ``device``, as the rollout's denoiser for ``spec`` (the benches' model)."""
    from longroll.models.causal_wan import CausalWan
    from longroll.models.causal_wan.rollout_spec import CausalWanDenoiser

    torch.manual_seed(seed)
    with torch.device(device):
        model = CausalWan(config, chunk_size=spec.chunk_size)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.02)
    model.cast(dtype).eval().requires_grad_(False)
    return CausalWanDenoiser(model, spec)


def measure(flavour: str, args, device: torch.device, dtype: torch.dtype) -> dict:
    """One flavour's rollout: time per chunk (median, early vs late) and peak GPU memory."""
    from longroll.pipelines.presets import resolve_preset
    from longroll.pipelines.rollout import rollout

    den = build(flavour, args.small, device, dtype)
    if args.compile:
        den.model.compile_blocks()
    config = resolve_preset(args.preset, den)
    latents = 1 + int((args.seconds * 16 - 1) // 4)
    text = torch.randn(1, 512, den.model.config.text_dim, device=device)
    with torch.no_grad():
        cond = den.model.encode_context(text)
    times, start = [], time.perf_counter()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    with torch.no_grad():
        for chunk in rollout(den, cond, num_frames=latents, config=config, generator=torch.Generator().manual_seed(0)):
            chunk.latents.sum().item()  # wait for the chunk (a real writer needs its values)
            now = time.perf_counter()
            times.append(now - start)
            start = now
    warm = times[2:] or times
    per_chunk = statistics.median(warm)
    k = max(1, len(warm) // 10)
    early, late = statistics.median(warm[:k]), statistics.median(warm[-k:])
    f = den.defaults.chunk_size
    return {
        "flavour": flavour, "preset": args.preset, "window": config.cache.window, "sink": config.cache.sink,
        "steps": config.schedule.steps, "chunk": f, "chunks": len(times), "latent_frames": len(times) * f,
        "seconds_per_chunk": round(per_chunk, 4),
        "latent_fps": round(f / per_chunk, 2), "video_fps": round(4 * f / per_chunk, 2),
        "late_over_early_chunk_time": round(late / early, 3),
        "peak_gpu_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device.type == "cuda" else None,
    }


def main() -> None:
    from longroll.models.causal_wan.rollout_spec import FLAVOURS

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=240.0, help="video length to roll out")
    parser.add_argument("--flavour", default="all", help=f"one of {', '.join(FLAVOURS)}, or all (default)")
    parser.add_argument("--preset", default="none", help="preset (default none: each family's own inference)")
    parser.add_argument("--small", action="store_true", help="a small config (CPU smoke run)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the transformer blocks")
    parser.add_argument("--json", default=None)
    side = parser.add_argument_group("side by side with a family's own code")
    side.add_argument("--reference", default=None,
                      help="local checkout of guandeh17/Self-Forcing or of NVlabs/LongLive (branch v1.0)")
    side.add_argument("--layers", type=int, default=30, help="transformer blocks (Wan2.1-1.3B: 30)")
    side.add_argument("--height", type=int, default=480, help="video height in pixels")
    side.add_argument("--width", type=int, default=832, help="video width in pixels")
    side.add_argument("--repeats", type=int, default=3, help="timed videos per side, after one warm-up each")
    side.add_argument("--no-vae", action="store_true", help="skip the end-to-end run with the VAE decode")
    side.add_argument("--device", default=None, help="cuda or cpu (default: cuda when present)")
    side.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.reference is not None:
        from causal_wan_vs_reference import compare

        result = compare(args)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(result, fh, indent=2)
        return
    flavours = list(FLAVOURS) if args.flavour == "all" else [args.flavour]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    result = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or "cpu",
        "config": "small" if args.small else "Wan2.1-T2V-1.3B 480x832", "dtype": str(dtype),
        "seconds": args.seconds, "compile": args.compile,
        "flavours": [measure(f, args, device, dtype) for f in flavours],
    }
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
