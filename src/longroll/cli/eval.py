"""``longroll eval``: per-segment metrics and drift of any long video (world-aware with --prompt)."""

from __future__ import annotations

import argparse

HELP = "measure how a long video holds up over time (per segment, with drift)"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", help="video file (.mp4, .gif, ...) or folder of PNG frames")
    parser.add_argument("--prompt", default=None, help="built-in world prompt: adds object and background metrics")
    parser.add_argument("--segment", default="2s", help="segment length (VBench-Long uses 2s)")
    parser.add_argument("--json", required=True, help="output JSON path")
    parser.add_argument("--plot", default=None, help="also plot every metric over time to this PNG")


def run(args: argparse.Namespace) -> int:
    from longroll.eval.evaluate import evaluate_video, parse_duration, plot_result, write_json
    from longroll.io.atomic import check_output_path

    parse_duration(args.segment)
    check_output_path(args.json)
    if args.plot:
        check_output_path(args.plot)
    result = evaluate_video(args.video, segment_seconds=args.segment, prompt=args.prompt)
    write_json(result, args.json)
    if args.plot:
        plot_result(result, args.plot)
    m, d = result["metrics"], result["drift"]
    print(f"{result['frames']} frames at {result['fps']:g} fps, {len(result['segments'])} segments")
    for key in m:
        if m[key] is not None:
            drift = "" if d[key] is None else f"  drift {d[key]:+.4f}"
            print(f"  {key:<28} {m[key]:.4f}{drift}")
    return 0
