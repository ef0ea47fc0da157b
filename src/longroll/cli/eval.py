"""``longroll eval``: per-segment metrics and drift of a long video, or of every video in a folder."""

from __future__ import annotations

import argparse

HELP = "measure how long videos hold up over time (one video, or a folder of them: per video and aggregate)"


def register(parser: argparse.ArgumentParser) -> None:
    from longroll.batch.backends import BACKENDS

    parser.add_argument("video", help="video file (.mp4, .gif, ...), folder of PNG frames, or folder of videos "
                                      "(a 'longroll batch' output)")
    parser.add_argument("--prompt", default=None, help="built-in world prompt: adds object and background metrics")
    parser.add_argument("--segment", default="2s", help="segment length (VBench-Long uses 2s)")
    parser.add_argument("--json", default=None, help="output JSON path (one video)")
    parser.add_argument("--plot", default=None, help="also plot every metric over time to this PNG (one video)")
    parser.add_argument("--dino", default=None, metavar="DIR",
                        help="local DINO model directory (save_pretrained layout): adds VBench's subject consistency")
    parser.add_argument("--clip", default=None, metavar="DIR",
                        help="local CLIP model directory: adds VBench's background consistency")
    parser.add_argument("--aesthetic", default=None, metavar="DIR",
                        help="local CLIP ViT-L/14 directory with LAION's linear aesthetic head (.pth) beside its "
                             "files: adds VBench's aesthetic quality")
    b = parser.add_argument_group("a folder of videos")
    b.add_argument("--out", default=None, help="results folder (default: VIDEOS/eval)")
    b.add_argument("--backend", default="local", choices=BACKENDS, help="local, torchrun or ray")
    b.add_argument("--workers", type=int, default=None, help="torchrun processes or Ray actors (default 1)")
    b.add_argument("--ray-address", default=None, help="existing Ray cluster (HOST:PORT or auto)")
    b.add_argument("--force", action="store_true", help="write into a results folder made with other settings")
    b.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def is_video_folder(path: str) -> bool:
    """A folder of videos (or a batch manifest), as opposed to a folder of PNG frames."""
    from pathlib import Path

    from longroll.batch.manifest import MANIFEST
    from longroll.io.video import READABLE_SUFFIXES as VIDEO_SUFFIXES

    p = Path(path)
    return p.is_dir() and ((p / MANIFEST).exists() or any(
        q.suffix.lower() in VIDEO_SUFFIXES for q in p.iterdir() if q.is_file()))


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    if is_video_folder(args.video):
        return _run_folder(args)
    folder = Path(args.video)
    if folder.is_dir() and not any(folder.glob("*.png")):
        from longroll.io.video import READABLE_SUFFIXES

        raise ValueError(f"The folder {args.video!r} has no videos ({', '.join(READABLE_SUFFIXES)}), no batch "
                         f"manifest and no PNG frames.")
    from longroll.eval.evaluate import evaluate_video, parse_duration, plot_result, write_json
    from longroll.io.atomic import check_output_path

    if args.json is None:
        raise ValueError("Give --json PATH for the result of one video (a folder of videos takes --out).")
    parse_duration(args.segment)
    check_output_path(args.json)
    if args.plot:
        check_output_path(args.plot)
    from longroll.eval.model_metrics import load_feature_models

    models = load_feature_models(args.dino, args.clip, args.aesthetic)
    result = evaluate_video(args.video, segment_seconds=args.segment, prompt=args.prompt, feature_models=models)
    if args.prompt is None:  # a scripted longroll video is also evaluated shot by shot
        shots = _shots(args.video, parse_duration(args.segment))
        if shots is not None:
            result["shots"] = shots
    write_json(result, args.json)
    if args.plot:
        plot_result(result, args.plot)
    m, d = result["metrics"], result["drift"]
    print(f"{result['frames']} frames at {result['fps']:g} fps, {len(result['segments'])} segments")
    for key in m:
        if m[key] is not None:
            drift = "" if d[key] is None else f"  drift {d[key]:+.4f}"
            print(f"  {key:<28} {m[key]:.4f}{drift}")
    ttf = result["time_to_failure_s"]
    print("  consistency at distance     " + ", ".join(
        f"{dt} fr {v:.3f}" for dt, v in result["consistency_at_distance"].items() if v is not None))
    print(f"  time to failure             {'none within the video' if ttf is None else f'{ttf:g} s'}")
    for shot in result.get("shots", []):
        presence = shot["metrics"].get("object_presence")
        cut = shot.get("cut_check")
        print(f"shot {shot['shot']} ({shot['start_s']:g}-{shot['end_s']:g} s, {shot['prompt']!r}): "
              + (f"presence {presence:.3f}" if presence is not None else "no world prompt")
              + ("" if cut is None else f"; cut found at frame {cut['found_frame']} (scripted "
                                         f"{cut['scripted_frame']}, {'ok' if cut['ok'] else 'MISSED'})"))
    return 0


def _shots(video: str, segment_seconds: float) -> list[dict] | None:
    """Per-shot results of a longroll video whose sidecar has prompt switches (None when it has none)."""
    import numpy as np

    from longroll.eval.shots import evaluate_shots
    from longroll.io.video import read_video
    from longroll.pipelines.sidecar import Sidecar, sidecar_path

    if not sidecar_path(video).is_file():
        return None
    side = Sidecar.of_video(video)
    if len(side.prompt_schedule) < 2:
        return None
    fps, frames = read_video(video)
    whole = np.stack(list(frames))  # a scripted video is held whole: shots are cut from it
    return evaluate_shots(whole, fps, side.prompt_schedule, side.video_chunk_frames, segment_seconds=segment_seconds)


def _run_folder(args: argparse.Namespace) -> int:
    from longroll.batch.backends import run_job
    from longroll.batch.distributed import reports_here
    from longroll.batch.evaluation import EvaluationJob

    if args.json or args.plot or args.prompt:
        raise ValueError("--json, --plot and --prompt apply to one video; a folder takes --out (prompts come from "
                         "its manifest, sidecars or VBench file names).")
    job = EvaluationJob(args.video, args.out, segment_seconds=args.segment, force=args.force)
    summary = run_job(job, backend=args.backend, workers=args.workers or 1, ray_address=args.ray_address,
                      show_progress=not args.no_progress, argv=args.argv)
    if reports_here():
        table = job.finish()
        print(summary.text())
        print(f"per-video results and {table.name} in {job.out}")
    return 0 if summary.ok else 1
