"""A temporal bias without a dense bias tensor, against the dense bias it replaced (issue 41).

FlexRoPE and ALiBi add a bias per (query frame, key frame) to the attention logits. Built as a
dense ``(H, Nq, Nk)`` tensor it takes SDPA off its fused kernels and, at Wan2.1's full size
(4,680 queries against 32,760 keys, 12 heads), costs 7 GB a forward; ``frame_biased_attention``
folds it into extra key channels instead. This times ``none``, the preset with the mask-free
bias and the preset with the dense bias, alternated on the same rollout, and prints each preset's
time over ``none``'s and the largest difference between the two bias paths:

1. the shipped built-in model (rollout only, no decode);
2. a causal Wan at Wan2.1-1.3B's width and heads (``--layers`` blocks, random weights, bf16 on a
   GPU, fp32 on the CPU) at ``--height x --width``.

    python bench/bench_bias.py [--seconds 20] [--repeats 3] [--layers 2 --height 128 --width 128]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from contextlib import contextmanager
from unittest import mock

import torch

PRESETS = ("flexrope",)


@contextmanager
def dense_bias():
    """The path before: the key bias repeated over every query token, added to the logits by SDPA."""
    import longroll.attention as attention

    def dense(q, k, v, key_bias):
        tokens = q.shape[2] // key_bias.shape[-2]
        return attention.fast_attention(q, k, v, bias=key_bias.repeat_interleave(tokens, dim=-2))

    with mock.patch.object(attention, "frame_biased_attention", dense):
        yield


def sync(device) -> None:
    """Wait for a GPU's queued work before reading the clock (nothing to wait for on the CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def compare(name: str, rollout, repeats: int) -> None:
    """``rollout(preset) -> (seconds, latents)`` timed for none, the mask-free and the dense bias."""
    rollout("none")  # warm-up
    for preset in PRESETS:
        times = {"none": [], "mask-free": [], "dense": []}
        outs = {}
        for _ in range(repeats):
            times["none"].append(rollout("none")[0])
            seconds, outs["mask-free"] = rollout(preset)
            times["mask-free"].append(seconds)
            with dense_bias():
                seconds, outs["dense"] = rollout(preset)
            times["dense"].append(seconds)
        none, free, dense = (statistics.median(times[k]) for k in ("none", "mask-free", "dense"))
        diff = (outs["mask-free"].float() - outs["dense"].float()).abs().max().item()
        print(f"  {name}: {preset} / none   mask-free {free / none:.3f}   dense {dense / none:.3f}   "
              f"(none {none:.2f} s, mask-free {free:.2f} s, dense {dense:.2f} s; largest latent difference "
              f"{diff:.2g})")


def builtin(args) -> None:
    from bench_rotate_once import tiny_rollout

    from longroll.models.registry import load_model

    model = load_model("tiny")
    compare("built-in model", lambda preset: tiny_rollout(model, preset, args.seconds), args.repeats)


def small_wan(args, generator: torch.Generator):
    """A random-weight causal Wan at Wan2.1-1.3B's width with ``args.layers`` blocks at ``args.height x
    args.width`` (bf16 on a GPU, fp32 on the CPU) and one random prompt's context: (den, cond, device, dtype)."""
    from bench_causal_wan import random_denoiser

    from longroll.models.causal_wan import CausalWanConfig
    from longroll.models.causal_wan.rollout_spec import spec_for

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    den = random_denoiser(CausalWanConfig(num_layers=args.layers),
                          spec_for("self-forcing", height=args.height, width=args.width), device, dtype)
    with torch.no_grad():
        cond = den.model.encode_context(torch.randn(1, 512, den.model.config.text_dim, generator=generator).to(device))
    return den, cond, device, dtype


def wan(args) -> None:
    from longroll.pipelines.presets import resolve_preset
    from longroll.pipelines.rollout import rollout as run_rollout

    den, cond, device, dtype = small_wan(args, torch.Generator().manual_seed(0))
    frames = 1 + int((args.seconds * 16 - 1) // 4)
    frames -= frames % 3

    def rollout(preset: str):
        config = resolve_preset(preset, den)
        sync(device)
        t0 = time.perf_counter()
        with torch.no_grad():
            chunks = [c.latents for c in run_rollout(den, cond, num_frames=frames, config=config,
                                                     generator=torch.Generator().manual_seed(0))]
        sync(device)
        return time.perf_counter() - t0, torch.cat(chunks, dim=1)

    compare(f"Wan2.1-1.3B width, {args.layers} blocks, {args.height}x{args.width}, {dtype}", rollout, args.repeats)


def arguments(description: str, seconds: float) -> argparse.Namespace:
    """The options of the benches that time the built-in model and a reduced-depth causal Wan."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seconds", type=float, default=seconds)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--height", type=int, default=128)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--skip-builtin", action="store_true")
    return parser.parse_args()


def main() -> None:
    args = arguments(__doc__.splitlines()[0], seconds=20.0)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"{args.seconds:g} s of video, rollout only, {args.repeats} alternated repeats (median)")
    if not args.skip_builtin:
        builtin(args)
    wan(args)

if __name__ == "__main__":
    main()
