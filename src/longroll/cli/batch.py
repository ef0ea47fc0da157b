"""``longroll batch``: every prompt of a file x K seeds, on one process, torchrun ranks or Ray actors."""

from __future__ import annotations

import argparse
import sys

HELP = "generate K videos per prompt of a file into a folder (VBench names, resumable, local/torchrun/ray)"


def register(parser: argparse.ArgumentParser) -> None:
    from longroll.batch.backends import BACKENDS
    from longroll.cli.generate import add_model_arguments, add_rollout_arguments
    from longroll.pipelines.presets import PRESETS

    parser.add_argument("prompts", help="prompt file: one prompt per line (.txt), or JSONL with per-item settings")
    parser.add_argument("--seeds", type=int, default=5, help="videos per prompt (VBench uses 5)")
    parser.add_argument("--seconds", type=float, default=8.0, help="video length in seconds")
    parser.add_argument("--out", required=True, help="output folder (created if missing)")
    parser.add_argument("--seed", type=int, default=0, help="base seed; item seeds derive from it, the prompt's "
                                                            "index and the seed index only")
    from longroll.cli.generate import builtin_default

    parser.add_argument("--preset", default=None, choices=[*PRESETS, "auto"],
                        help=f"horizon-extension preset (default: the model's; "
                             f"{builtin_default('preset') or 'see its model card'} for the built-in model; "
                             "auto: the one longroll bench --model chose for these weights, where it was run)")
    parser.add_argument("--upscale", type=int, default=None,
                        help=f"enlarge frames by this factor for viewing (default: the model's; "
                             f"{builtin_default('upscale') or 'its own'} for the built-in)")
    parser.add_argument("--backend", default="local", choices=BACKENDS,
                        help="local: this process; torchrun: shards balanced by seconds of video; "
                             "ray: actors with retries")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes (torchrun, when not already under torchrun) or Ray actors (default 1; "
                             "under torchrun the world size)")
    parser.add_argument("--ray-address", default=None,
                        help="existing Ray cluster (HOST:PORT, ray://HOST:PORT or auto); default: a local Ray")
    parser.add_argument("--force", action="store_true",
                        help="write into a folder made with other settings, remaking the items that differ")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_model_arguments(parser)
    add_rollout_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from longroll.batch.backends import run_job
    from longroll.batch.distributed import reports_here
    from longroll.batch.generation import BatchSettings, GenerationJob
    from longroll.cli.generate import model_options, rollout_settings

    # 1. Everything cheap: settings, prompt file, items, output folder, its batch.json.
    overrides, schedule, options = rollout_settings(args)
    settings = BatchSettings(seconds=args.seconds, preset=args.preset, schedule=schedule, overrides=overrides,
                             schedule_options=options, model=args.model, weights=args.weights,
                             model_options=model_options(args), base_seed=args.seed, upscale=args.upscale)
    job = GenerationJob(args.prompts, args.out, args.seeds, settings, force=args.force)
    workers = args.workers or 1
    if args.backend == "ray" and args.ray_address:
        from longroll.batch.ray_backend import check_address

        check_address(args.ray_address)
    # 2. Run on the backend.
    summary = run_job(job, backend=args.backend, workers=workers, device=args.device, ray_address=args.ray_address,
                      show_progress=not args.no_progress, argv=_forward_argv(args))
    # 3. Summary, printed once (by this process, or by rank 0 of a torchrun started by hand).
    if reports_here():
        print(summary.text())
        print(f"{len(job.items)} items in {args.out} (manifest.jsonl)")
    return 0 if summary.ok else 1


def _forward_argv(args: argparse.Namespace) -> list[str]:
    """This command's arguments, for the torchrun ranks it launches."""
    return list(getattr(args, "argv", None) or sys.argv[1:])


__all__ = ["register", "run"]
