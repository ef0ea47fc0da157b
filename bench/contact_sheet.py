"""Contact sheets for the model card: evenly spaced frames of long videos, one row per prompt and
preset, labelled, so a reader sees at a glance whether the objects stay apart, keep their colour
and shape, and move over a minute (issue 18: "look at the frames").

Run: python bench/contact_sheet.py --out docs/sheet.png --seconds 60 \\
         --prompt "a red circle and a blue square on a navy background" --presets none,flex
     python bench/contact_sheet.py --out docs/sheet_schedules_16x.png --seconds 42 --presets none \\
         --schedules chunk,fifo,miga --prompt "a red circle and a blue square on a navy background"
"""

from __future__ import annotations

import argparse

import numpy as np


def sheet(rows: list[tuple[str, np.ndarray, float]], frames: int, scale: int):
    """A PIL image: for each (label, video (T, H, W, 3) uint8, fps) a label line, then ``frames``
    frames evenly spaced over the video, each ``scale`` times enlarged and captioned with its time."""
    from PIL import Image, ImageDraw

    pad, label_h, time_h = 2, 14, 12
    tiles = []
    for label, video, fps in rows:
        idx = np.linspace(0, len(video) - 1, frames).round().astype(int)
        h, w = video.shape[1] * scale, video.shape[2] * scale
        row = Image.new("RGB", (frames * (w + pad) + pad, label_h + time_h + h + pad), (40, 40, 40))
        draw = ImageDraw.Draw(row)
        draw.text((pad, 1), label, fill=(235, 235, 235))
        for k, j in enumerate(idx):
            x = pad + k * (w + pad)
            draw.text((x, label_h), f"{j / fps:.1f} s", fill=(170, 170, 170))
            row.paste(Image.fromarray(np.kron(video[j], np.ones((scale, scale, 1), np.uint8))), (x, label_h + time_h))
        tiles.append(row)
    out = Image.new("RGB", (max(t.width for t in tiles), sum(t.height for t in tiles)), (40, 40, 40))
    y = 0
    for t in tiles:
        out.paste(t, (0, y))
        y += t.height
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="PNG file")
    parser.add_argument("--prompt", action="append", required=True, help="a prompt (repeat for more rows)")
    parser.add_argument("--presets", default=None, help="comma-separated presets (default: the model's default)")
    parser.add_argument("--schedules", default="chunk",
                        help="comma-separated ways to roll out, one row each: chunk, fifo, miga (default: chunk)")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--frames", type=int, default=12, help="frames per row")
    parser.add_argument("--scale", type=int, default=3, help="enlargement of each frame")
    parser.add_argument("--weights", default=None, help="weights file (default: the shipped weights)")
    args = parser.parse_args()
    from longroll._validate import check_choice, check_int
    from longroll.io.atomic import atomic_output, check_output_path
    from longroll.models.registry import load_model
    from longroll.pipelines.generate import generate
    from longroll.pipelines.presets import PRESETS

    check_int("frames", args.frames, low=2, high=64)
    check_int("scale", args.scale, low=1, high=16)
    check_output_path(args.out)
    model = load_model("tiny", weights=args.weights)
    presets = [p.strip() for p in args.presets.split(",")] if args.presets else [model.defaults.preset]
    for name in presets:
        check_choice("preset", name, PRESETS)
    schedules = [s.strip() for s in args.schedules.split(",")]
    for name in schedules:
        check_choice("schedule", name, ("chunk", "fifo", "miga"))
    rows = []
    for prompt in args.prompt:
        for preset in presets:
            for schedule in schedules:
                video = generate(prompt, seconds=args.seconds, seed=args.seed, model=model, preset=preset,
                                 schedule=schedule, progress=False)
                label = preset if schedule == "chunk" else f"{schedule}, {preset}"
                rows.append((f"{label}, seed {args.seed}: {prompt}", np.asarray(video), model.fps))
    with atomic_output(args.out) as tmp:
        sheet(rows, args.frames, args.scale).save(tmp, format="PNG")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
