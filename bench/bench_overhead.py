"""The benchmark's own overhead: evaluation against generation, inline and on its own thread.

``longroll bench`` makes each video in memory and evaluates it as it streams (``bench.job.run_one``).
This measures, side by side in one run and alternated, the two ways of doing so on the same videos:
the evaluator on the rollout's thread after each chunk (``overlap=False``) and on its own thread
beside the rollout (shipped), for both protocols:

    python bench/bench_overhead.py [--prompts 4] [--lengths 4,16]

Prints per way the seconds of generation (inside the rollout and decoder), of the whole run, the
overhead (whole run less generation) as a share of generation, what the benchmark adds to generation
alone (the threaded run's wall time over the inline run's generation time: on a small CPU the evaluator
thread slows the rollout it runs beside, so its own overhead share understates it), and the wall-time
ratio of the two ways; and whether both ways gave the same metrics (they must). The shipped built-in
model and preset; the world's ground-truth rates are computed before timing (kept on disk after their
first use).
"""

from __future__ import annotations

import argparse
import platform
import statistics

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--lengths", default="4,16", help="multiples of the horizon")
    args = parser.parse_args()

    from longroll.bench.job import _request, run_one
    from longroll.bench.matrix import Variant
    from longroll.bench.prompts import stratified_prompts
    from longroll.bench.protocols import make_context
    from longroll.models.registry import load_model
    from longroll.pipelines.plan import resolve
    from longroll.world.tracks import ground_truth_touching
    from longroll.world.vocab import parse_prompt

    model = load_model("tiny")
    horizon = model.defaults.train_len * model.frames_per_latent / model.fps
    prompts = stratified_prompts(args.prompts)
    for p in prompts:
        ground_truth_touching(parse_prompt(p))
    variant = Variant("riflex", "riflex", "presets")
    run_one(model, resolve(_request(variant, horizon, prompts[0], 0), model), 2.0)  # warm-up, not timed
    import tempfile

    totals = {}
    same = True
    with tempfile.TemporaryDirectory() as tmp:
        for protocol in ("t2v", "predict"):
            for m in (float(x) for x in args.lengths.split(",")):
                for p in prompts:
                    context = make_context(tmp, model, p, 0, 3, None) if protocol == "predict" else None
                    plan = resolve(_request(variant, horizon * m, p, 0, context and context.folder), model)
                    results = {}
                    for overlap in (False, True):
                        scorers = context.scorers(model, 2.0) if context else None
                        r = run_one(model, plan, 2.0, scorers=scorers, overlap=overlap)
                        results[overlap] = r
                        t = totals.setdefault((protocol, m, overlap), [0.0, 0.0, []])
                        t[0] += r["speed"]["generation_seconds"]
                        t[1] += r["wall_seconds"]
                        t[2].append(r["wall_seconds"])
                    same &= results[False]["metrics"] == results[True]["metrics"]
    print(f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads; {len(prompts)} prompts; "
          f"preset riflex; same metrics both ways: {same}")
    for protocol in ("t2v", "predict"):
        for m in (float(x) for x in args.lengths.split(",")):
            line = [f"{protocol:8s} {m:g}x:"]
            for overlap in (False, True):
                gen, wall, walls = totals[(protocol, m, overlap)]
                line.append(f"{'thread' if overlap else 'inline'} generation {gen:.1f} s, run {wall:.1f} s, overhead "
                            f"{(wall - gen) / gen:.0%};")
            inline, thread = totals[(protocol, m, False)][1], totals[(protocol, m, True)][1]
            alone = totals[(protocol, m, False)][0]  # generation with nothing beside it
            line.append(f"what the benchmark adds (threaded run / generation alone) {thread / alone - 1:+.0%}; "
                        f"thread / inline wall {thread / inline:.2f} (median per video "
                        f"{statistics.median(totals[(protocol, m, True)][2]):.1f} s against "
                        f"{statistics.median(totals[(protocol, m, False)][2]):.1f} s)")
            print(" ".join(line))


if __name__ == "__main__":
    main()
