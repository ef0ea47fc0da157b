"""``longroll train-tiny``: train (or resume) the built-in model by its recipe."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "train or resume the built-in model (autoencoder, then denoiser); resumable"
DEFAULT_OUT = Path.home() / ".cache" / "longroll" / "train-tiny"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None,
                        help="JSON or TOML file overriding TrainConfig fields (default: the config.json of the run "
                             "already in --out, else the recipe's defaults)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="working folder for data and checkpoints")
    parser.add_argument("--export", default=None, help="folder to write tiny.safetensors and tiny.json into")
    parser.add_argument("--steps", type=int, default=None, help="override the denoiser steps")
    parser.add_argument("--until", type=int, default=None, metavar="STEP",
                        help="pause the denoiser at this step, checkpointed, its schedule unchanged (resume later)")
    parser.add_argument("--stop-after", default=None, choices=("data", "autoencoder", "latents", "denoiser"),
                        help="end after this stage (e.g. check the autoencoder alone before the denoiser)")
    parser.add_argument("--resume-from", default=None, metavar="FILE",
                        help="continue a run from its one-file checkpoint (made with --pack) in --out")
    parser.add_argument("--pack", default=None, metavar="FILE",
                        help="only write the run's one-file checkpoint (committable, training may go on)")
    parser.add_argument("--export-only", action="store_true",
                        help="only export the latest checkpoint's EMA weights to --export (training may go on)")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from longroll.models.tiny.train import TrainConfig, export_checkpoint, train

    if args.pack:
        from longroll.models.tiny.resume import pack

        print(f"packed {pack(args.out, args.pack)}")
        return 0
    if args.export_only:
        if not args.export:
            raise ValueError("--export-only needs --export DIR.")
        print(f"exported {export_checkpoint(args.out, args.export)}")
        return 0
    if args.resume_from:
        from longroll.models.tiny.resume import unpack

        cfg = TrainConfig.from_dict(unpack(args.resume_from, args.out))
    elif args.config:
        cfg = TrainConfig.from_file(args.config)
    elif (Path(args.out) / "config.json").exists():  # resuming a run: its own settings, not the defaults
        cfg = TrainConfig.from_file(Path(args.out) / "config.json")
        print(f"resuming the run in {args.out} with its own config.json")
    else:
        cfg = TrainConfig()
    if args.steps is not None:
        cfg = replace(cfg, steps=args.steps)
    train(cfg, args.out, args.export, stop_after=args.stop_after, until=args.until)
    return 0
