"""Quality of the built-in model, measured with the world's detector (reported in MODEL_CARD.md).

1. Autoencoder: detector agreement between rendered frames and their reconstructions.
2. Within the horizon (first 2 s, default sampler): on N random prompts, the share of frames in
   which each prompted object is found, the share of frames with every object found, and whether
   sprites move (centroid travel per frame).
3. Beyond the horizon: presence per 2 s segment at 4x, 8x, 16x the horizon, plain extrapolation
   (`none`) and `flex`.

Run: python bench/tiny_quality.py [--weights PATH] [--prompts 50] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch


def motion(frames: np.ndarray, prompt) -> float:
    """Mean centroid travel per frame (pixels) of the found objects."""
    from longroll.world import detect

    dets = [detect(f, prompt) for f in frames]
    steps = []
    for a, b in zip(dets, dets[1:]):
        for x, y in zip(a.found, b.found):
            if x is not None and y is not None:
                steps.append(np.hypot(x.centroid[0] - y.centroid[0], x.centroid[1] - y.centroid[1]))
    return float(np.mean(steps)) if steps else 0.0


def presence_stats(frames: np.ndarray, prompt) -> tuple[float, float]:
    from longroll.world import presence

    shares = presence(frames, prompt)  # hidden sprites count only when seen whole within 2 s
    return float(shares.mean()), float((shares == 1).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--prompts", type=int, default=50)
    parser.add_argument("--horizon-prompts", type=int, default=8)
    parser.add_argument("--json", default=None)
    parser.add_argument("--steps", type=int, default=None, help="denoising steps per chunk (default: the model's)")
    parser.add_argument("--preset", default=None, help="preset within the horizon (default: the default preset)")
    parser.add_argument("--cfg", type=float, default=None, help="guidance scale (default: the model's)")
    parser.add_argument("--skip-beyond", action="store_true", help="only the autoencoder and the horizon")
    args = parser.parse_args()
    from longroll.models.registry import load_model
    from longroll.models.tiny.autoencoder import frames_to_tensor, tensor_to_frames
    from longroll.pipelines.generate import generate
    from longroll.world import random_prompt, render, scene_from_prompt

    model = load_model("tiny", weights=args.weights)
    ae = model.autoencoder
    rng = np.random.default_rng(12345)
    report: dict = {}

    # 1. Autoencoder agreement on held-out scenes.
    gt, rec = [], []
    with torch.no_grad():
        for i in range(40):
            p = random_prompt(rng)
            frames = render(scene_from_prompt(p, 10_000 + i), int(rng.integers(0, 500)), 8)
            recon = tensor_to_frames(ae.decode(ae.encode(frames_to_tensor(frames)))).numpy()
            gt.append(presence_stats(frames, p)[0])
            rec.append(presence_stats(recon, p)[0])
    report["autoencoder"] = {"presence_ground_truth": float(np.mean(gt)), "presence_reconstruction": float(np.mean(rec))}
    print(f"autoencoder: object presence {np.mean(gt):.3f} on rendered frames, {np.mean(rec):.3f} on reconstructions")

    # 2. Within the horizon.
    horizon_s = model.defaults.train_len / model.fps
    pres, allf, moves = [], [], []
    t0 = time.time()
    prompts = [random_prompt(rng) for _ in range(args.prompts)]
    for i, p in enumerate(prompts):
        frames = generate(p.text(), seconds=horizon_s, seed=i, model=model, steps=args.steps, cfg=args.cfg,
                          **({'preset': args.preset} if args.preset else {}))
        a, b = presence_stats(frames, p)
        pres.append(a)
        allf.append(b)
        moves.append(motion(frames, p))
    report["horizon"] = {"prompts": args.prompts, "seconds": horizon_s, "object_presence": float(np.mean(pres)),
                         "all_objects_frames": float(np.mean(allf)), "motion_px_per_frame": float(np.mean(moves)),
                         "moving_share": float(np.mean(np.array(moves) > 0.2)), "wall_s": time.time() - t0}
    print(f"within {horizon_s:g} s, {args.prompts} prompts: object presence {np.mean(pres):.3f}, "
          f"frames with every object {np.mean(allf):.3f}, centroid travel {np.mean(moves):.2f} px/frame "
          f"(moving in {np.mean(np.array(moves) > 0.2):.0%} of videos)")

    # 3. Beyond the horizon.
    report["beyond"] = {}
    for preset in () if args.skip_beyond else ("none", "flex"):
        for mult in (4, 8, 16):
            seconds = horizon_s * mult
            segs = []
            for i, p in enumerate(prompts[: args.horizon_prompts]):
                frames = generate(p.text(), seconds=seconds, seed=i, model=model, preset=preset, steps=args.steps, cfg=args.cfg)
                seg = int(horizon_s * model.fps)
                segs.append([presence_stats(frames[s:s + seg], p)[0] for s in range(0, len(frames), seg)])
            curve = np.mean(np.array(segs), axis=0)
            report["beyond"][f"{preset}_{mult}x"] = [round(float(v), 3) for v in curve]
            print(f"{preset:>5} {mult:>2}x ({seconds:g} s): presence per {horizon_s:g} s segment: "
                  + " ".join(f"{v:.2f}" for v in curve))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)


if __name__ == "__main__":
    main()
