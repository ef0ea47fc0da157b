"""Un-rotated cached keys rotated once per chunk against rotated on every read (issue 41).

The presets that cache keys un-rotated (cache-relative positions, Infinity-RoPE, Deep Forcing, Rolling
Sink, MemRoPE) rotate the window's keys when they are read. Within a chunk the positions do not
change, so ``KVCache`` rotates the window whole at the chunk's first step and afterwards only the
chunk's own tokens (``KVCache.reuse_rotated``). This times both ways side by side, alternated, on
the same rollout (the shipped built-in model, the rollout alone, no decode), and checks the bits:

    python bench/bench_rotate_once.py [--seconds 42] [--repeats 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

PRESETS = ("cache-relative", "infinity-rope", "deep-forcing", "rolling-sink", "memrope")


def tiny_rollout(model, preset: str, seconds: float, schedule: str = "chunk") -> tuple[float, torch.Tensor]:
    """The built-in model's rollout alone (no decode) for one preset and schedule: its seconds and latents."""
    from longroll.pipelines.guidance import with_guidance
    from longroll.pipelines.plan import resolve
    from longroll.pipelines.request import GenerationRequest
    from longroll.pipelines.rollouts import SCHEDULES, method_of

    plan = resolve(GenerationRequest(prompt="a red circle and a blue square on a navy background",
                                     seconds=seconds, preset=preset, schedule=schedule), model)
    den = with_guidance(model.denoiser, method_of(plan.config).cfg)
    g = torch.Generator().manual_seed(plan.noise_seed)
    t0 = time.perf_counter()
    with torch.no_grad():
        chunks = [c.latents for c in SCHEDULES[plan.schedule].run(den, plan.conds, plan.switch_frames,
                                                                    plan.num_latent, plan.config, g)]
    return time.perf_counter() - t0, torch.cat(chunks, dim=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=42.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from longroll.cache.kv import KVCache
    from longroll.models.registry import load_model

    model = load_model("tiny")

    def rollout(preset: str) -> tuple[float, torch.Tensor]:
        return tiny_rollout(model, preset, args.seconds)

    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}; shipped "
          f"model, {args.seconds:g} s of video, rollout only, {args.repeats} alternated repeats (median)")
    rollout("none")  # warm-up
    for preset in PRESETS:
        times = {True: [], False: []}
        outs = {}
        for _ in range(args.repeats):
            for reuse in (False, True):
                KVCache.reuse_rotated = reuse
                seconds, out = rollout(preset)
                times[reuse].append(seconds)
                outs[reuse] = out
        KVCache.reuse_rotated = True
        every, once = statistics.median(times[False]), statistics.median(times[True])
        print(f"  {preset:15s} rotated on every read {every:6.2f} s   once per chunk {once:6.2f} s   "
              f"ratio {once / every:.3f}   same bits: {torch.equal(outs[True], outs[False])}")


if __name__ == "__main__":
    main()
