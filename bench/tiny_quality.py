"""Quality of the built-in model, measured with the world's detector (reported in MODEL_CARD.md).

1. Autoencoder: object presence on rendered frames and on their reconstructions.
2. Within the horizon (the first L_train latent frames, the default sampler unless told): on N
   random prompts (seeds 0..N-1), through ``longroll.eval``: object presence (overall and by number
   of objects), colour fidelity, separation (touching share over the world's own rate), object
   motion, and the share of videos whose sprites move.
3. Beyond the horizon: for each preset and length (4x, 16x, 120x), per-segment presence,
   separation, identity colour drift, motion and static fraction, averaged over prompts.
4. With ``--x0-run RUN`` (a training run folder: its latents and prompts): how much of a scene one
   prediction recovers from each noise level: training latents noised to t, the model's x0
   estimate (instantaneous velocity, and the whole jump to 0 where the model was trained for jumps)
   decoded and passed to the detector. Where this falls, a sampler's first step is a blurred mean.

The sampler within and beyond the horizon is the model's unless told: ``--first-steps N`` gives
the first chunk N uniform re-noising steps (0: like the others), ``--cfg`` the guidance scale.

Run: python bench/tiny_quality.py [--weights PATH] [--prompts 100] [--presets none] [--json out.json]
     python bench/tiny_quality.py --skip-autoencoder --skip-beyond --prompts 48 --first-steps 0 --cfg 1
     python bench/tiny_quality.py --skip-autoencoder --skip-beyond --prompts 0 --x0-run RUN
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

KEYS = ("object_presence", "colour_fidelity", "separation", "object_motion", "static_fraction",
        "identity_colour_drift")


def _video_metrics(frames: np.ndarray, fps: float, prompt: str, segment_seconds: float) -> dict:
    from longroll.eval.evaluate import evaluate_frames

    return evaluate_frames(list(frames), fps, segment_seconds=segment_seconds, prompt=prompt, min_segments=1)


def _f(value, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def _mean(values) -> float | None:
    vals = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--prompts", type=int, default=100)
    parser.add_argument("--beyond-prompts", type=int, default=8,
                        help="prompts per preset and length beyond the horizon")
    parser.add_argument("--presets", default="none", help="comma-separated presets measured beyond the horizon")
    parser.add_argument("--multiples", default="4,16,120", help="lengths beyond the horizon, in horizons")
    parser.add_argument("--json", default=None)
    parser.add_argument("--steps", type=int, default=None, help="denoising steps per chunk (default: the model's)")
    parser.add_argument("--shift", type=float, default=None, help="timestep shift (default: the model's)")
    parser.add_argument("--sampler", default=None, help="euler or renoise (default: the model's)")
    parser.add_argument("--preset", default=None, help="preset within the horizon (default: the default preset)")
    parser.add_argument("--first-steps", type=int, default=None,
                        help="uniform re-noising steps of the first chunk (0: as the others; default: the model's)")
    parser.add_argument("--cfg", type=float, default=None, help="guidance scale (default: the model's)")
    parser.add_argument("--x0-run", default=None, metavar="RUN",
                        help="training run folder: measure x0 estimates of its noised latents by noise level")
    parser.add_argument("--x0-clips", type=int, default=24, help="clips of --x0-run per noise level")
    parser.add_argument("--skip-beyond", action="store_true", help="only the autoencoder and the horizon")
    parser.add_argument("--skip-autoencoder", action="store_true")
    args = parser.parse_args()
    from longroll.models.registry import load_model
    from longroll.models.tiny.autoencoder import frames_to_tensor, tensor_to_frames
    from longroll.pipelines.generate import generate
    from longroll.world import presence, random_prompt, render, scene_from_prompt

    model = load_model("tiny", weights=args.weights)
    if args.first_steps is not None:  # the first chunk's steps are a model default, not a per-call override
        from dataclasses import replace

        d = model.denoiser.defaults
        first = (tuple(1000.0 * (1 - k / args.first_steps) for k in range(args.first_steps))
                 if args.first_steps else None)
        model.denoiser.defaults = replace(d, schedule=replace(d.schedule, first_timesteps=first))
    sampling = {k: v for k, v in (("steps", args.steps), ("shift", args.shift), ("sampler", args.sampler),
                                  ("cfg", args.cfg)) if v}
    rng = np.random.default_rng(12345)
    schedule = model.defaults.schedule
    report: dict = {"sampling": sampling or "the model's default", "preset": args.preset or model.defaults.preset,
                    "first_chunk_steps": len(schedule.first_timesteps or ()) or schedule.steps}
    print(f"sampler: {schedule.sampler}, {schedule.steps} steps (first chunk {report['first_chunk_steps']}), "
          f"shift {schedule.shift:g}, guidance {sampling.get('cfg', schedule.cfg):g}; "
          f"preset {report['preset']}")

    # 1. Autoencoder agreement on held-out scenes.
    if not args.skip_autoencoder:
        gt, rec = [], []
        with torch.no_grad():
            for i in range(40):
                p = random_prompt(rng)
                frames = render(scene_from_prompt(p, 10_000 + i), int(rng.integers(0, 500)), 8)
                recon = tensor_to_frames(model.autoencoder.decode(model.autoencoder.encode(frames_to_tensor(frames))))
                gt.append(float(presence(frames, p).mean()))
                rec.append(float(presence(recon.numpy(), p).mean()))
        report["autoencoder"] = {"presence_ground_truth": float(np.mean(gt)),
                                 "presence_reconstruction": float(np.mean(rec))}
        print(f"autoencoder: presence {np.mean(gt):.3f} on rendered frames, {np.mean(rec):.3f} on reconstructions")

    # 2. Within the horizon.
    horizon_s = model.defaults.train_len / model.fps
    rng = np.random.default_rng(2026)
    prompts = [random_prompt(rng) for _ in range(args.prompts)]
    if not prompts:
        args.skip_beyond = True
    rows, t0 = [], time.time()
    for i, p in enumerate(prompts):
        frames = generate(p.text(), seconds=horizon_s, seed=i, model=model, progress=False, **sampling,
                          **({"preset": args.preset} if args.preset else {}))
        seg = _video_metrics(frames, model.fps, p.text(), horizon_s)["segments"][0]
        rows.append({"objects": len(p.objects), **{k: seg.get(k) for k in KEYS}})
    by_count = {n: _mean(r["object_presence"] for r in rows if r["objects"] == n) for n in (1, 2, 3)}
    report["horizon"] = {} if not rows else {
        "prompts": len(prompts), "seconds": horizon_s, "wall_s": round(time.time() - t0, 1),
        "object_presence": _mean(r["object_presence"] for r in rows),
        "presence_by_objects": by_count,
        "colour_fidelity": _mean(r["colour_fidelity"] for r in rows),
        "separation": _mean(r["separation"] for r in rows),
        "object_motion": _mean(r["object_motion"] for r in rows),
        "moving_share": float(np.mean([(r["object_motion"] or 0) > 0.2 for r in rows])),
        "static_fraction": _mean(r["static_fraction"] for r in rows),
        "presence_per_video": [r["object_presence"] for r in rows],  # seed i = prompt i: paired across runs
    }
    h = report["horizon"]
    if rows:
        print(f"within {horizon_s:g} s, {len(prompts)} prompts: presence {_f(h['object_presence'])} "
              f"(1/2/3 objects: {_f(by_count[1])} / {_f(by_count[2])} / {_f(by_count[3])}), colour fidelity "
              f"{_f(h['colour_fidelity'])}, separation {_f(h['separation'], '.2f')}x the world's, motion "
              f"{_f(h['object_motion'], '.2f')} px/frame (moving in {h['moving_share']:.0%}), static "
              f"{_f(h['static_fraction'], '.2f')}")

    # 3. Beyond the horizon: per-segment curves, averaged over prompts.
    report["beyond"] = {}
    for preset in () if args.skip_beyond else args.presets.split(","):
        for mult in (int(m) for m in args.multiples.split(",")):
            seconds = horizon_s * mult
            curves, t0 = [], time.time()
            for i, p in enumerate(prompts[: args.beyond_prompts]):
                frames = generate(p.text(), seconds=seconds, seed=i, model=model, preset=preset, progress=False,
                                  **sampling)
                segs = _video_metrics(frames, model.fps, p.text(), horizon_s)["segments"]
                curves.append([{k: s.get(k) for k in KEYS} for s in segs])
            n = min(len(c) for c in curves)
            curve = {k: [_mean(c[j][k] for c in curves) for j in range(n)] for k in KEYS}
            means = {k: _mean(v for v in curve[k]) for k in KEYS}
            report["beyond"][f"{preset}_{mult}x"] = {"seconds": seconds, "means": means,
                                                     "curve": {k: [None if v is None else round(v, 3) for v in vals]
                                                               for k, vals in curve.items()},
                                                     "wall_s": round(time.time() - t0, 1)}
            print(f"{preset:>14} {mult:>3}x ({seconds:g} s): " + ", ".join(f"{k} {_f(means[k])}" for k in KEYS)
                  + f"; presence last segment {_f(curve['object_presence'][-1])}")
    # 4. x0 estimates of noised training latents, by noise level.
    if args.x0_run:
        report["x0_by_level"] = x0_by_level(model, args.x0_run, args.x0_clips)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)


X0_LEVELS = (0.3, 0.6, 0.8, 0.9, 0.95, 0.99)  # noise levels t of x_t = (1 - t) x0 + t noise


def x0_by_level(model, run: str, clips: int) -> dict:
    """Presence in the decoded x0 estimates of ``clips`` training latents of ``run`` noised to each level."""
    from pathlib import Path

    from longroll.models.tiny.autoencoder import tensor_to_frames
    from longroll.models.tiny.dit import decode_prompt
    from longroll.world import presence

    run_dir = Path(run)
    missing = [n for n in ("latents.pt", "data.pt") if not (run_dir / n).exists()]
    if missing:
        raise FileNotFoundError(f"--x0-run {run!r} has no {' or '.join(missing)}: pass a training run folder.")
    latents = torch.load(run_dir / "latents.pt", weights_only=False, mmap=True)  # (N, F, C, h, w)
    cond = torch.load(run_dir / "data.pt", weights_only=False, mmap=True)["cond"]  # (N, MAX_OBJECTS + 1) ids
    dit, ae = model.denoiser.eval(), model.autoencoder
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, latents.shape[0], (clips,), generator=g)
    x0, c = latents[idx].float(), cond[idx]  # (clips, F, C, h, w)
    prompts = [decode_prompt(c[i]) for i in range(clips)]

    def found(z: torch.Tensor) -> float:
        return float(np.mean([presence(tensor_to_frames(ae.decode(z[i])).numpy(), prompts[i]).mean()
                              for i in range(clips)]))

    with torch.no_grad():
        result = {"clips": clips, "latents": found(x0), "levels": {}}
        print(f"x0 by noise level ({clips} training clips of {run}): presence {result['latents']:.3f} in the "
              f"latents themselves")
        for t in X0_LEVELS:
            xt = (1 - t) * x0 + t * torch.randn(x0.shape, generator=g)
            level = torch.full(x0.shape[:2], t)
            row = {"instantaneous": found(xt - t * dit(xt, level, c))}
            if model.defaults.jumps:
                row["whole_jump"] = found(xt - t * dit(xt, level, c, jump=level))
            result["levels"][str(t)] = row
            print(f"  t = {t}: presence of the x0 estimate " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()))
    return result


if __name__ == "__main__":
    main()
