"""FAR-Long's generation time: FAR's own ``FARPipeline.generate`` (its multi-level KV cache) against longroll's chunk
rollout through ``MultiLevelCache``, side by side in one process, on the same random weights at FAR-B-Long's size.

    python bench/bench_far.py --reference ~/FAR [--frames 40 --steps 10 --layers 12 --heads 12]

Both make the same video (the same noise; the largest latent difference is printed beside the times) of
``--frames`` 64-pixel frames (8 x 8 latents, coarse patches of 4, FAR's short-term window of 16) with
actions and guidance 1.5, the DC-AE decode left out of both. Each side runs ``--repeats`` times,
alternating; the medians and their ratio (longroll / FAR; below 1: longroll faster) are printed, with
the peak of the cache's own tensors (``MultiLevelCache.nbytes``) at the end of the video.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from far_vs_reference import import_far, reference_pipeline  # noqa: E402

from longroll.models.far.checkpoints import axes_for  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="local checkout of showlab/FAR")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--steps", type=int, default=10, help="denoising steps per frame (FAR's own: 50)")
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    import importlib

    from longroll.cache import CacheConfig
    from longroll.models.far.config import FarConfig
    from longroll.models.far.denoiser import FarDenoiser, far_defaults
    from longroll.models.far.long import FarLong
    from longroll.pipelines.guidance import with_guidance
    from longroll.pipelines.presets import resolve_preset
    from longroll.pipelines.rollout import rollout

    import_far(args.reference)
    module = importlib.import_module("far.models.far_long_model")
    torch.manual_seed(0)
    ref = module.FAR_Long(num_layers=args.layers, attention_head_dim=64, num_attention_heads=args.heads,
                          axes_dims_rope=axes_for(64), context_patch_size=4,
                          condition_cfg={"type": "action", "num_action_classes": 4}).eval()
    with torch.no_grad():
        for p in ref.parameters():
            p.normal_(0, 0.02)
    ours = FarLong(FarConfig(num_layers=args.layers, num_heads=args.heads, context_patch_size=4, condition="action",
                             num_classes=4)).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    pipe = reference_pipeline(ref)
    f = args.frames
    actions = torch.randint(0, 4, (1, f), generator=torch.Generator().manual_seed(1))
    den = FarDenoiser(ours, far_defaults(f, steps=args.steps), (8, 8))
    config = resolve_preset("none", den)
    config = type(config)(**{**config.__dict__, "cache": CacheConfig(window=f, sink=0)})
    guided = with_guidance(den, 1.5)

    def theirs():
        return pipe.generate(unroll_length=f, guidance_scale=1.5, conditions={"action": actions.clone()},
                             generator=torch.Generator().manual_seed(0), num_inference_steps=args.steps,
                             sample_size=8, use_kv_cache=True, show_progress=False)

    caches = []

    def mine():
        new_cache = den.new_cache

        def keep(*a, **k):
            caches.append(new_cache(*a, **k))
            return caches[-1]

        den.new_cache = keep
        try:
            chunks = rollout(guided, actions, num_frames=f, config=config, generator=torch.Generator().manual_seed(0))
            return torch.cat([c.latents for c in chunks], dim=1)
        finally:
            del den.new_cache

    times = {"far": [], "longroll": []}
    with torch.no_grad():
        for _ in range(args.repeats):
            for name, fn in (("far", theirs), ("longroll", mine)):
                t0 = time.perf_counter()
                out = fn()
                times[name].append(time.perf_counter() - t0)
                if name == "far":
                    reference = out
                else:
                    diff = (out - reference).abs().max().item()
    far_s, ours_s = statistics.median(times["far"]), statistics.median(times["longroll"])
    print(f"FAR-Long ({args.layers} blocks, {args.heads} heads of 64), {f} frames of 8x8 latents, {args.steps} steps, "
          f"guidance 1.5, actions; {torch.get_num_threads()} threads; medians of {args.repeats}")
    print(f"  FAR's FARPipeline.generate (its KV cache): {far_s:.2f} s ({far_s / f * 1000:.0f} ms per frame)")
    print(f"  longroll's chunk rollout (MultiLevelCache): {ours_s:.2f} s ({ours_s / f * 1000:.0f} ms per frame)")
    print(f"  ratio longroll / FAR: {ours_s / far_s:.3f}; largest latent difference {diff:.2g}; longroll's cache "
          f"{caches[-1].nbytes / 2**20:.1f} MiB at the end")


if __name__ == "__main__":
    main()
