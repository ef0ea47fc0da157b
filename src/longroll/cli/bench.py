"""``longroll bench``: the horizon benchmark with the papers' ablations on the built-in model, or with
``--model NAME`` (or a prompt file, lengths in seconds, metric models) the benchmark on any model."""

from __future__ import annotations

import argparse

OUT = "bench/horizon"  # where the benchmark keeps its runs and report (--quick: OUT/quick)
HELP = ("benchmark presets over lengths on any model (--model), with quality, speed and memory; on the built-in "
        "model also the papers' ablations; writes REPORT.md")
# What only the any-model benchmark takes (any of them selects it).
MODEL_ONLY = ("prompt_file", "seconds", "dino", "clip", "aesthetic", "schedule", "device", "protocol", "context",
              "videos", "lpips")
HORIZON_ONLY = ("quick", "long_prompts", "long_seeds", "script", "groups")  # what only the built-in matrix takes


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=None,
                        help="folder for cached runs, REPORT.md and plots (default: bench/horizon; with --quick "
                             "bench/horizon/quick, so a quick run never replaces the main report)")
    parser.add_argument("--quick", action="store_true", help="a small matrix (about 4 minutes on 2 cores)")
    parser.add_argument("--prompts", type=int, default=None,
                        help="prompts: the first N (built-in matrix: 32 by the stratified rule, "
                             "bench/horizon/prompts.txt, below 120x; another model: all of the file or suite)")
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds per prompt (built-in matrix: 3 below 120x; another model: 2)")
    parser.add_argument("--long-prompts", type=int, default=None, help="built-in matrix: prompts at 120x (16)")
    parser.add_argument("--long-seeds", type=int, default=None, help="built-in matrix: seeds per prompt at 120x (2)")
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
                        help="comma-separated lengths in multiples of the horizon (default: 1,4,16,120 on the "
                             "built-in matrix, 1,4,16 on another model)")
    m = parser.add_argument_group("any model (--model NAME, or any of these: the benchmark of the presets of one "
                                  "model with speed and memory)")
    m.add_argument("--prompt-file", default=None, metavar="FILE",
                   help="prompts: one a line (.txt) or JSONL with prompt and optional seconds, category (default: "
                        "the longroll suite of 32, src/longroll/bench/suite.jsonl)")
    m.add_argument("--seconds", default=None, metavar="S,S,...",
                   help="comma-separated lengths in seconds, e.g. 10,30,60 (instead of --lengths)")
    m.add_argument("--dino", default=None, metavar="DIR",
                   help="local DINO folder (save_pretrained layout): the VBench subject consistency; without it that "
                        "column says absent")
    m.add_argument("--clip", default=None, metavar="DIR", help="local CLIP folder: the VBench background consistency")
    m.add_argument("--aesthetic", default=None, metavar="DIR",
                   help="local CLIP ViT-L/14 folder with the linear LAION aesthetic head (.pth) beside its files: the "
                        "VBench aesthetic quality")
    m.add_argument("--protocol", default=None, choices=["t2v", "predict"],
                   help="t2v: text to video (default); predict: each video continues N real frames and is scored "
                        "against the true continuation (PSNR, SSIM; on the built-in world the centre of each object "
                        "against its exact path)")
    m.add_argument("--context", type=int, default=None, metavar="N",
                   help="predict: real frames each video starts from (default: one chunk of the model; 3 on the "
                        "built-in model)")
    m.add_argument("--lpips", default=None, metavar="DIR",
                   help="predict: a folder with the AlexNet state dict of torchvision and alex.pth of LPIPS v0.1 "
                        "(local files; without it the LPIPS column says absent)")
    m.add_argument("--videos", default=None, metavar="DIR",
                   help="predict on a model without the built-in world: a folder with one true video per prompt, "
                        "named PROMPT.mp4 or PROMPT-0.mp4 (as longroll batch writes them)")
    from longroll.pipelines.rollouts import SCHEDULES

    m.add_argument("--schedule", default=None, choices=list(SCHEDULES),
                   help="how the videos are rolled out (default: chunk, or that of the flavour)")
    from longroll.cli.generate import add_model_arguments

    add_model_arguments(parser)


def _numbers(text: str | None, flag: str, unit: str) -> tuple[float, ...] | None:
    """Comma-separated numbers (their range is checked once, by the config)."""
    if not text:
        return None
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise ValueError(f"{flag} must be comma-separated numbers ({unit}); got {text!r}.") from None


def run(args: argparse.Namespace) -> int:
    presets = [p.strip() for p in args.presets.split(",")] if args.presets else None
    groups = tuple(g.strip() for g in args.groups.split(",")) if args.groups else None
    lengths = _numbers(args.lengths, "--lengths", "multiples of the horizon")
    model_bench = args.model != "tiny" or any(getattr(args, k) not in (None, False) for k in MODEL_ONLY) or \
        any(getattr(args, k) is not None for k in ("base", "flavour", "lora", "height", "width"))
    if model_bench:
        return _run_model_bench(args, presets, lengths)
    if args.script:
        if groups or args.cached:
            raise ValueError(f"--groups and --cached apply to the matrix, not to --script; got "
                             f"{'--groups ' + repr(args.groups) if groups else '--cached'}.")
        from longroll._validate import check_choice, check_int
        from longroll.bench.storyboard import run_storyboard
        from longroll.pipelines.presets import PRESETS

        for name in presets or []:
            check_choice("preset", name, PRESETS)
        seeds = 3 if args.seeds is None else args.seeds
        check_int("seeds", seeds, low=1, high=100)
        report = run_storyboard(args.script, args.out or OUT, presets=presets, seeds=seeds, weights=args.weights)
        print(f"report written to {report}")
        return 0
    from longroll.bench.horizon import BenchConfig, run_bench

    sizes = {"multiples": lengths} if lengths else {}
    sizes.update({k: getattr(args, k) for k in ("prompts", "seeds", "long_prompts", "long_seeds")
                  if getattr(args, k) is not None})
    out = args.out or (f"{OUT}/quick" if args.quick else OUT)
    report = run_bench(BenchConfig(out=out, quick=args.quick, weights=args.weights,
                                   presets=tuple(presets) if presets else None, groups=groups, cached_only=args.cached,
                                   **sizes),
                       backend=args.backend, workers=args.workers, ray_address=args.ray_address, argv=args.argv)
    print(f"report written to {report}")
    return 0


def _run_model_bench(args: argparse.Namespace, presets, lengths) -> int:
    from longroll.bench.model_bench import DEFAULT_SEEDS, ModelBenchConfig, run_model_bench
    from longroll.cli.generate import model_options, schedule_of

    given = [k for k in HORIZON_ONLY if getattr(args, k) not in (None, False)]
    if given:
        raise ValueError(f"{', '.join('--' + k.replace('_', '-') for k in given)} belong(s) to the built-in model's "
                         "matrix; the benchmark of a model takes --prompt-file, --prompts, --seconds or --lengths, "
                         "--presets, --seeds, --dino, --clip.")
    seconds = _numbers(args.seconds, "--seconds", "lengths in seconds")
    if seconds and lengths:
        raise ValueError("Give --seconds or --lengths, not both: lengths in seconds, or in multiples of the horizon.")
    if args.out is None:
        raise ValueError("The benchmark of a model needs --out DIR (its run store and REPORT.md).")
    cfg = ModelBenchConfig(out=args.out, model=args.model, weights=args.weights, model_options=model_options(args),
                           device=args.device, prompt_file=args.prompt_file, prompts=args.prompts, seconds=seconds,
                           **({"multiples": lengths} if lengths else {}),
                           presets=tuple(presets) if presets else None, schedule=schedule_of(args),
                           seeds=DEFAULT_SEEDS if args.seeds is None else args.seeds, dino=args.dino, clip=args.clip,
                           aesthetic=args.aesthetic,
                           protocol=args.protocol or "t2v", context=args.context, videos=args.videos, lpips=args.lpips,
                           cached_only=args.cached)
    report = run_model_bench(cfg, backend=args.backend, workers=args.workers, ray_address=args.ray_address,
                             argv=args.argv)
    print(f"report written to {report}")
    return 0
