"""Where a rollout makes the host wait for the GPU (issue 41): counted per chunk, with the line that waits.

A host-device synchronisation (``.item()``, ``nonzero``, a ``torch.tensor(..., device=cuda)``, a
blocking copy) lets the GPU run dry while the host catches up and queues the next kernels. This
runs a causal Wan at Wan2.1-1.3B's width and heads (``--layers`` blocks, random weights, bf16) for
each preset under ``torch.cuda.set_sync_debug_mode("warn")`` after a warm-up chunk, records the
Python line of every synchronising call and prints, per preset, the synchronisations per chunk and
the lines they come from (the goal: none inside a chunk's forwards). Needs CUDA; on a machine
without it, it says so and stops.

    python bench/bench_syncs.py [--presets none,cache-relative,deep-forcing,memrope,flexrope,rolling-sink]
"""

from __future__ import annotations

import argparse
import collections
import traceback
import warnings

import torch

PRESETS = ("none", "flex", "cache-relative", "infinity-rope", "deep-forcing", "rolling-sink", "memrope", "flexrope")


def _where() -> str:
    """The innermost longroll line on the stack (the caller of the synchronising operation)."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if "longroll" in frame.filename and "bench_syncs" not in frame.filename:
            return f"{frame.filename.split('src/')[-1]}:{frame.lineno} {frame.line}"
    return "outside longroll"


def count(den, cond, preset: str, frames: int) -> tuple[int, collections.Counter]:
    """Chunks rolled out after the first, and where each synchronisation came from."""
    from longroll.pipelines.presets import resolve_preset
    from longroll.pipelines.rollout import rollout

    config = resolve_preset(preset, den)
    where: collections.Counter = collections.Counter()
    chunks = 0
    shown = warnings.showwarning

    def record(message, category, filename, lineno, file=None, line=None):
        if "synchroniz" in str(message):
            where[_where()] += 1
        else:
            shown(message, category, filename, lineno, file, line)

    generator = torch.Generator().manual_seed(0)
    stream = rollout(den, cond, num_frames=frames, config=config, generator=generator)
    with torch.no_grad():
        next(stream)  # warm-up chunk: allocations, kernel selection
        torch.cuda.synchronize()
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = record
            torch.cuda.set_sync_debug_mode("warn")
            try:
                for _ in stream:
                    chunks += 1
            finally:
                torch.cuda.set_sync_debug_mode("default")
                warnings.showwarning = shown
    return chunks, where


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--width", type=int, default=832)
    parser.add_argument("--frames", type=int, default=45, help="latent frames (past the 21-frame window)")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("bench_syncs.py counts host-device synchronisations on a CUDA device; none is here.")
        return
    from bench_causal_wan import random_denoiser

    from longroll.models.causal_wan import CausalWanConfig
    from longroll.models.causal_wan.rollout_spec import spec_for

    den = random_denoiser(CausalWanConfig(num_layers=args.layers),
                          spec_for("self-forcing", height=args.height, width=args.width), "cuda", torch.bfloat16)
    model = den.model
    with torch.no_grad():
        cond = model.encode_context(torch.randn(1, 512, model.config.text_dim, device="cuda"))
    print(f"{torch.cuda.get_device_name()}; {args.layers} blocks, {args.height}x{args.width}, {args.frames} latent "
          f"frames; synchronisations after the first chunk")
    for preset in args.presets.split(","):
        chunks, where = count(den, cond, preset, args.frames)
        total = sum(where.values())
        print(f"{preset:15s} {total / max(chunks, 1):6.1f} per chunk ({total} in {chunks} chunks)")
        for line, n in where.most_common(8):
            print(f"    {n:5d}  {line}")


if __name__ == "__main__":
    main()
