"""``longroll train-tiny``: train (or resume) the built-in model by its recipe."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "train or resume the built-in model (autoencoder, then denoiser); resumable"
DEFAULT_OUT = Path.home() / ".cache" / "longroll" / "train-tiny"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="JSON or TOML file overriding TrainConfig fields")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="working folder for data and checkpoints")
    parser.add_argument("--export", default=None, help="folder to write tiny.safetensors and tiny.json into")
    parser.add_argument("--steps", type=int, default=None, help="override the denoiser steps")
    parser.add_argument("--export-only", action="store_true",
                        help="only export the latest checkpoint's EMA weights to --export (training may go on)")


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from longroll.models.tiny.train import TrainConfig, export_checkpoint, train

    if args.export_only:
        if not args.export:
            raise ValueError("--export-only needs --export DIR.")
        print(f"exported {export_checkpoint(args.out, args.export)}")
        return 0
    cfg = TrainConfig.from_file(args.config) if args.config else TrainConfig()
    if args.steps is not None:
        cfg = replace(cfg, steps=args.steps)
    train(cfg, args.out, args.export)
    return 0
