"""``longroll bench``: the horizon benchmark with the papers' ablations on the built-in model."""

from __future__ import annotations

import argparse

OUT = "bench/horizon"  # where the benchmark keeps its runs and report (--quick: OUT/quick)
HELP = "benchmark presets and ablations over lengths on the built-in model; writes REPORT.md"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=None,
                        help="folder for cached runs, REPORT.md and plots (default: bench/horizon; with --quick "
                             "bench/horizon/quick, so a quick run never replaces the main report)")
    parser.add_argument("--quick", action="store_true", help="a small matrix (about 4 minutes on 2 cores)")
    parser.add_argument("--prompts", type=int, default=32,
                        help="prompts by the stratified rule (bench/horizon/prompts.txt), below 120x")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per prompt, below 120x")
    parser.add_argument("--long-prompts", type=int, default=16, help="prompts at 120x")
    parser.add_argument("--long-seeds", type=int, default=2, help="seeds per prompt at 120x")
    parser.add_argument("--weights", default=None, help="weights file (default: the shipped weights)")
    parser.add_argument("--backend", default="local", choices=["local", "torchrun", "ray"],
                        help="how the videos are made: one process, torchrun ranks or Ray actors (as longroll batch)")
    parser.add_argument("--workers", type=int, default=1, help="workers for torchrun or ray")
    parser.add_argument("--ray-address", default=None, help="Ray cluster address (default: a local Ray)")
    parser.add_argument("--script", default=None,
                        help="instead of the matrix: this storyboard (e.g. 'a red circle on a black background "
                             "[4s] | two blue squares on a navy background [6s#]') with every preset, evaluated per "
                             "shot (STORYBOARD.md)")
    parser.add_argument("--presets", default=None,
                        help="comma-separated presets (default: all); without --script only these presets' rows of "
                             "the matrix are run (no ablations or schedules: what the default-preset rule reads)")
    parser.add_argument("--groups", default=None,
                        help="comma-separated row groups of the matrix (default: all): presets, components, "
                             "schedules, miga_ablation, alpha_beta, rho, sink_size, flexrope_lambda; the sweeps run "
                             "at 16x")
    parser.add_argument("--cached", action="store_true",
                        help="generate nothing: write the report from the runs already cached (paired: a prompt and "
                             "seed only where every row of its group has it) and list what is missing")
    parser.add_argument("--lengths", default=None,
                        help="comma-separated lengths in multiples of the horizon (default: 1,4,16,120)")


def run(args: argparse.Namespace) -> int:
    from longroll.bench.horizon import BenchConfig, run_bench

    presets = [p.strip() for p in args.presets.split(",")] if args.presets else None
    groups = tuple(g.strip() for g in args.groups.split(",")) if args.groups else None
    lengths = None
    if args.lengths:  # parsed here; their range is checked once, by BenchConfig
        try:
            lengths = tuple(float(x) for x in args.lengths.split(","))
        except ValueError:
            raise ValueError(f"--lengths must be comma-separated numbers (multiples of the horizon); "
                             f"got {args.lengths!r}.") from None
    if args.script:
        if groups or args.cached:
            raise ValueError(f"--groups and --cached apply to the matrix, not to --script; got "
                             f"{'--groups ' + repr(args.groups) if groups else '--cached'}.")
        from longroll._validate import check_choice, check_int
        from longroll.bench.storyboard import run_storyboard
        from longroll.pipelines.presets import PRESETS

        for name in presets or []:
            check_choice("preset", name, PRESETS)
        check_int("seeds", args.seeds, low=1, high=100)
        report = run_storyboard(args.script, args.out or OUT, presets=presets, seeds=args.seeds,
                                weights=args.weights)
        print(f"report written to {report}")
        return 0
    sizes = {"multiples": lengths} if lengths else {}
    out = args.out or (f"{OUT}/quick" if args.quick else OUT)
    report = run_bench(BenchConfig(out=out, quick=args.quick, prompts=args.prompts, seeds=args.seeds,
                                   long_prompts=args.long_prompts, long_seeds=args.long_seeds, weights=args.weights,
                                   presets=tuple(presets) if presets else None, groups=groups, cached_only=args.cached,
                                   **sizes),
                       backend=args.backend, workers=args.workers, ray_address=args.ray_address, argv=args.argv)
    print(f"report written to {report}")
    return 0
