"""``longroll extend VIDEO --seconds S --out FILE``: continue a longroll video with its own settings."""

from __future__ import annotations

import argparse

HELP = ("continue a longroll video by S seconds with its own sidecar settings (prompts, preset, seed): the "
        "result equals the same video made S seconds longer in one go")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", help="a video longroll made (its .json sidecar beside it)")
    parser.add_argument("--seconds", type=float, required=True, help="seconds to add")
    parser.add_argument("--out", required=True, help="the longer video (.mp4, .gif or a folder/ for PNG frames)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output and its sidecar")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    from longroll.pipelines.generate import extend

    path = extend(args.video, seconds=args.seconds, out=args.out, overwrite=args.overwrite,
                  progress=False if args.no_progress else None)
    print(f"wrote {path}")
    return 0
