"""longroll's FAR transformer against FAR's own code (showlab/FAR), on the same tiny random weights.

    python bench/far_vs_reference.py --reference ~/FAR [--layers 2 --heads 2 --head-dim 16]

FAR's ``far/models/far_model.py`` is imported from the user's checkout at run time (its package
``__init__`` files, which import its trainers and datasets, are skipped by registering the packages
over their folders); nothing of it is copied into longroll. For each conditioning (none, class label,
per-frame action) a FAR model of the given shape gets random weights (FAR zero-initialises its adaLN
and head; random values exercise every path), longroll's ``Far`` loads its state dict strictly, and
both predict a clip whose first frames are clean context (timestep -1) and whose last ones are noisy.
FAR's inference forward returns the newest frame of what it is given, so it runs once per prefix
and frame k is compared with longroll's frame k of one frame-causal pass. Printed per conditioning:
the largest difference and the largest value. Then FAR's sampling: its ``FARPipeline.generate``
(KV cache, guidance) against longroll's chunk rollout with the same noise. Then FAR's DC-AE
(``MyAutoencoderDC``, built from each config file of the checkout,
``options/model_cfg/dcae/model_{8,16,32}x_c32_config.json``: 64, 128 and 256 pixels to 8 x 8
latents) against longroll's (diffusers' ``AutoencoderDC`` with ``longroll.models.far.dcae
.dcae_options``, whose equality with the file is printed), with the same random weights: the
largest differences of an encode and a decode. Needs FAR's imports: diffusers and einops.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import types
from pathlib import Path

import torch

from longroll.models.far.checkpoints import axes_for


def import_far(path: str | Path):
    """FAR's ``far.models.far_model`` from a checkout (its package ``__init__`` files skipped)."""
    root = Path(path).resolve()
    if not (root / "far" / "models" / "far_model.py").is_file():
        raise ValueError(f"{root} is not a checkout of showlab/FAR: far/models/far_model.py is missing.")
    sys.path.insert(0, str(root))
    for name in ("far", "far.models", "far.utils", "far.pipelines"):  # far_long_model imports far.utils.registry
        module = types.ModuleType(name)
        module.__path__ = [str(root.joinpath(*name.split(".")))]
        sys.modules[name] = module
    return importlib.import_module("far.models.far_model")


def reference_pipeline(transformer):
    """FAR's ``FARPipeline`` around ``transformer`` with no VAE (the latents are compared: its decode returns them;
    the pipeline reads a VAE's dtype and device only) and no progress bar; on diffusers >= 0.36 its
    ``execution_device`` is read from the renamed ``_execution_device``."""
    from diffusers import FlowMatchEulerDiscreteScheduler
    from diffusers.models.modeling_utils import ModelMixin

    pipeline = importlib.import_module("far.pipelines.pipeline_far").FARPipeline
    if not hasattr(pipeline, "execution_device"):
        pipeline.execution_device = property(lambda self: self._execution_device)

    class NoVae(ModelMixin):
        def __init__(self) -> None:
            super().__init__()
            self.anchor = torch.nn.Parameter(torch.zeros(1))

    pipe = pipeline(transformer=transformer, vae=NoVae(),
                    scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000))
    pipe.vae_decode = lambda latents: latents
    pipe.set_progress_bar_config(disable=True)
    return pipe


def compare(far, condition: str | None, args) -> tuple[float, float]:
    """Largest |longroll - FAR| over every frame of a clip, and the largest output value."""
    from longroll.models.far import Far, FarConfig

    classes = {"label": 5, "action": 4}.get(condition, 0)
    cfg = None if condition is None else {"type": condition, ("num_classes" if condition == "label" else
                                                              "num_action_classes"): classes}
    axes = axes_for(args.head_dim)  # FAR's split, (16, 24, 24) at head size 64
    torch.manual_seed(args.seed)
    ref = far.FAR(num_layers=args.layers, attention_head_dim=args.head_dim, num_attention_heads=args.heads,
                  axes_dims_rope=axes, in_channels=args.channels, out_channels=args.channels,
                  condition_cfg=cfg).eval()
    with torch.no_grad():
        for p in ref.parameters():
            p.normal_(0, 0.1)
    ours = Far(FarConfig(num_layers=args.layers, num_heads=args.heads, head_dim=args.head_dim, axes_dims=axes,
                         in_channels=args.channels, out_channels=args.channels, condition=condition,
                         num_classes=classes)).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    g = torch.Generator().manual_seed(args.seed)
    f = args.frames
    x = torch.randn(1, f, args.channels, args.size, args.size, generator=g)
    t = torch.tensor([[-1.0] * (f - 2) + [300.0, 700.0]])
    labels, actions = torch.tensor([3]), torch.randint(0, 4, (1, f), generator=g)
    with torch.no_grad():
        mine = ours(x, t, labels=labels if condition == "label" else None,
                    actions=actions if condition == "action" else None)
        worst = 0.0
        for k in range(f):
            conditions = {"label": {"label": labels}, "action": {"action": actions[:, :k + 1].clone()}}.get(condition)
            theirs = ref(x[:, :k + 1], timestep=t[:, :k + 1], conditions=conditions, return_dict=False)[0]
            worst = max(worst, (theirs[:, 0] - mine[:, k]).abs().max().item())
    return worst, mine.abs().max().item()


def compare_sampling(far, args, *, steps: int = 6, scale: float = 2.0) -> tuple[float, float]:
    """FAR's own ``FARPipeline.generate`` (KV cache, guidance ``scale`` against the dropped label, ``steps``
    Euler steps) against longroll's chunk rollout of ``FarDenoiser`` with ``GuidedDenoiser``, the same
    weights and the same noise (both draw each frame's noise in order from one generator): the largest
    latent difference over the video and the largest latent. The pipeline's VAE decode is skipped (the
    latents are compared), and on diffusers >= 0.36 its ``execution_device`` is read from the renamed
    ``_execution_device``."""
    from longroll.models.far import Far, FarConfig
    from longroll.models.far.denoiser import FarDenoiser, far_defaults
    from longroll.pipelines.guidance import with_guidance
    from longroll.pipelines.presets import resolve_preset
    from longroll.pipelines.rollout import rollout

    axes = axes_for(args.head_dim)
    torch.manual_seed(args.seed)
    ref = far.FAR(num_layers=args.layers, attention_head_dim=args.head_dim, num_attention_heads=args.heads,
                  axes_dims_rope=axes, in_channels=args.channels, out_channels=args.channels,
                  condition_cfg={"type": "label", "num_classes": 5}).eval()
    with torch.no_grad():
        for p in ref.parameters():
            p.normal_(0, 0.1)
    pipe = reference_pipeline(ref)
    label = torch.tensor([2])
    theirs = pipe.generate(unroll_length=args.frames, guidance_scale=scale, conditions={"label": label.clone()},
                           generator=torch.Generator().manual_seed(args.seed), num_inference_steps=steps,
                           sample_size=args.size, show_progress=False)
    model = Far(FarConfig(num_layers=args.layers, num_heads=args.heads, head_dim=args.head_dim, axes_dims=axes,
                          in_channels=args.channels, out_channels=args.channels, condition="label",
                          num_classes=5)).eval()
    model.load_state_dict(ref.state_dict(), strict=True)
    den = FarDenoiser(model, far_defaults(args.frames, steps=steps), (args.size, args.size))
    with torch.no_grad():
        chunks = rollout(with_guidance(den, scale), label, num_frames=args.frames, config=resolve_preset("none", den),
                         generator=torch.Generator().manual_seed(args.seed))
        ours = torch.cat([c.latents for c in chunks], dim=1)
    return (theirs - ours).abs().max().item(), theirs.abs().max().item()


def _far_long_pair(args, condition_cfg: dict | None):
    """FAR's ``FAR_Long`` (8 x 8 latents, coarse patches of 4, a short-term window of ``args.short_window``)
    with random weights, and longroll's ``FarLong`` with the same state dict."""
    from longroll.models.far.config import FarConfig
    from longroll.models.far.long import FarLong

    module = importlib.import_module("far.models.far_long_model")
    axes = axes_for(args.head_dim)
    torch.manual_seed(args.seed)
    ref = module.FAR_Long(num_layers=args.layers, attention_head_dim=args.head_dim, num_attention_heads=args.heads,
                          axes_dims_rope=axes, in_channels=args.channels, out_channels=args.channels,
                          context_patch_size=4, short_term_ctx_winsize=args.short_window,
                          condition_cfg=condition_cfg).eval()
    with torch.no_grad():
        for p in ref.parameters():
            p.normal_(0, 0.1)
    ours = FarLong(FarConfig(num_layers=args.layers, num_heads=args.heads, head_dim=args.head_dim, axes_dims=axes,
                             in_channels=args.channels, out_channels=args.channels, context_patch_size=4,
                             short_window=args.short_window, condition="action", num_classes=4)).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    return ref, ours


def compare_long(args) -> tuple[float, float]:
    """FAR-Long's forward without a cache: for every prefix of a clip longer than the short-term window
    (clean context, the newest frame noisy), FAR's newest frame against longroll's uncached pass over the
    same prefix: the largest difference and the largest value."""
    ref, ours = _far_long_pair(args, {"type": "action", "num_action_classes": 4})
    g = torch.Generator().manual_seed(args.seed)
    f = args.long_frames
    x = torch.randn(1, f, args.channels, 8, 8, generator=g)
    actions = torch.randint(0, 4, (1, f), generator=g)
    worst = top = 0.0
    with torch.no_grad():
        for k in range(f):
            t = torch.tensor([[-1.0] * k + [400.0]])
            theirs = ref(x[:, :k + 1], timestep=t, context_cache={"kv_cache": None},
                         conditions={"action": actions[:, :k + 1]}, return_dict=False)[0]
            mine = ours(x[:, :k + 1], t, actions=actions[:, :k + 1])[:, -1:]
            worst, top = max(worst, (theirs - mine).abs().max().item()), max(top, mine.abs().max().item())
    return worst, top


def compare_long_sampling(args, *, steps: int = 4, scale: float = 1.5, use_kv_cache: bool) -> tuple[float, float]:
    """FAR's ``FARPipeline.generate`` on FAR-Long (actions, guidance ``scale`` against the dropped action, with
    or without its multi-level KV cache) against longroll's chunk rollout of ``FarLong`` through its
    ``MultiLevelCache``: the largest latent difference over the video and the largest latent."""
    from longroll.cache import CacheConfig
    from longroll.models.far.denoiser import FarDenoiser, far_defaults
    from longroll.pipelines.guidance import with_guidance
    from longroll.pipelines.presets import resolve_preset
    from longroll.pipelines.rollout import rollout

    ref, ours = _far_long_pair(args, {"type": "action", "num_action_classes": 4})
    pipe = reference_pipeline(ref)
    f = args.long_frames
    actions = torch.randint(0, 4, (1, f), generator=torch.Generator().manual_seed(args.seed + 1))
    theirs = pipe.generate(unroll_length=f, guidance_scale=scale, conditions={"action": actions.clone()},
                           generator=torch.Generator().manual_seed(args.seed), num_inference_steps=steps,
                           sample_size=8, use_kv_cache=use_kv_cache, show_progress=False)
    den = FarDenoiser(ours, far_defaults(f, steps=steps), (8, 8))
    config = resolve_preset("none", den)
    config = type(config)(**{**config.__dict__, "cache": CacheConfig(window=f, sink=0)})
    with torch.no_grad():
        chunks = rollout(with_guidance(den, scale), actions, num_frames=f, config=config,
                         generator=torch.Generator().manual_seed(args.seed))
        mine = torch.cat([c.latents for c in chunks], dim=1)
    return (theirs - mine).abs().max().item(), theirs.abs().max().item()


def compare_dcae(config: Path) -> tuple[bool, float, float]:
    """FAR's DC-AE and longroll's (diffusers' ``AutoencoderDC`` with ``dcae_options``) on one config and
    random weights: whether longroll's shapes are the config file's, and the largest difference of the
    latents of a random image and of its decode."""
    import json

    from diffusers import AutoencoderDC

    from longroll.models.far.dcae import dcae_options

    dcae = importlib.import_module("far.models.autoencoder_dc_model")
    options = {k: v for k, v in json.loads(config.read_text()).items() if not k.startswith("_")}
    factor = int(config.stem.split("_")[1][:-1])
    torch.manual_seed(0)
    theirs = dcae.MyAutoencoderDC(**options).eval()
    with torch.no_grad():
        for p in theirs.parameters():
            p.add_(torch.randn_like(p) * 0.01)  # away from the init's exact zeros and ones
    ours = AutoencoderDC(**dcae_options(factor)).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    size = 8 * factor
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        z_theirs, z_ours = theirs.encode(x).latent, ours.encode(x).latent
        d_theirs, d_ours = theirs.decode(z_theirs).sample, ours.decode(z_theirs).sample
    same = dcae_options(factor) == options
    return same, (z_theirs - z_ours).abs().max().item(), (d_theirs - d_ours).abs().max().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="local checkout of showlab/FAR")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--head-dim", type=int, default=16)
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument("--size", type=int, default=4, help="latent height and width")
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--short-window", type=int, default=3, help="FAR-Long's short-term window (its own: 16)")
    parser.add_argument("--long-frames", type=int, default=8, help="FAR-Long's clip (past the short-term window)")
    args = parser.parse_args()
    far = import_far(args.reference)
    print(f"FAR's code from {Path(args.reference).resolve()}; {args.layers} blocks, {args.heads} heads of "
          f"{args.head_dim}, {args.frames} frames of {args.size}x{args.size}, float32")
    for condition in (None, "label", "action"):
        worst, scale = compare(far, condition, args)
        print(f"  condition {condition or 'none':6s}: largest difference {worst:.2g} (largest value {scale:.3g})")
    worst, scale = compare_sampling(far, args)
    print(f"  sampling, {args.frames} frames (FARPipeline.generate with its KV cache, 6 steps, guidance 2 on a label, "
          f"against longroll's chunk rollout): largest difference {worst:.2g} (largest latent {scale:.3g})")
    worst, scale = compare_long(args)
    print(f"  FAR-Long, {args.long_frames} frames of 8x8, short-term window {args.short_window}, actions, uncached, "
          f"every prefix: largest difference {worst:.2g} (largest value {scale:.3g})")
    for cached in (False, True):
        worst, scale = compare_long_sampling(args, use_kv_cache=cached)
        print(f"  FAR-Long sampling (FARPipeline.generate {'with' if cached else 'without'} its multi-level KV cache, "
              f"4 steps, guidance 1.5 on actions, against longroll's chunk rollout through MultiLevelCache): largest "
              f"difference {worst:.2g} (largest latent {scale:.3g})")
    root = Path(args.reference).resolve()
    configs = (root / "options" / "model_cfg" / "dcae").glob("model_*x_c32_config.json")
    for config in sorted(configs, key=lambda c: int(c.stem.split("_")[1][:-1])):  # 8x, 16x, 32x
        same, enc, dec = compare_dcae(config)
        print(f"  DC-AE {config.name}: longroll's shapes are the file's: {same}; FAR's MyAutoencoderDC vs "
              f"longroll's (diffusers' AutoencoderDC), largest difference encode {enc:.2g}, decode {dec:.2g}")


if __name__ == "__main__":
    main()
