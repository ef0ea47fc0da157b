"""The world detector's two ways of correlating templates, side by side on the same frames.

The detector (``longroll.world.detect``) fits sprite templates to every coloured component of every
frame; correlating them is most of its time, and the detector is a large share of a benchmark run.
It correlates a bank of templates either in one torch convolution (where torch runs one intra-op
thread, as the benchmark's torchrun ranks do) or with OpenCV, template by template. This script
times both on the same frames, alternating rounds (this machine is noisy), and a third way that the
detector never takes, one convolution with two torch threads, to show why it does not: on a busy
machine the thread team thrashes. It checks that every way finds exactly the same objects.

Frames: the world's own renders of the benchmark's first prompts, and videos of the built-in model
(whose sprites fuse and hide, which is where the detector works hardest).

    python bench/bench_detector.py [--prompts 12] [--frames 24] [--rounds 2]
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import statistics
import time

import torch

WAYS = ("opencv per template", "torch convolution, 1 thread", "torch convolution, 2 threads")


def frames_to_measure(n_prompts: int, n_frames: int) -> list:
    """(frame, prompt) pairs: world renders of the first prompts and two model videos."""
    from longroll.bench.prompts import stratified_prompts
    from longroll.models.registry import load_model
    from longroll.pipelines.plan import resolve
    from longroll.pipelines.request import GenerationRequest
    from longroll.pipelines.run import stream
    from longroll.world.render import render
    from longroll.world.scene import scene_from_prompt
    from longroll.world.vocab import parse_prompt

    cases = []
    for text in stratified_prompts(n_prompts):
        prompt = parse_prompt(text)
        cases += [(f, prompt) for f in render(scene_from_prompt(prompt, 0), 0, n_frames)]
    model = load_model("tiny")
    for text, preset in (("a green circle, a blue square and a yellow triangle on a gray background", "flex"),
                         ("a green square and a blue triangle on a gray background", "none")):
        plan = resolve(GenerationRequest(prompt=text, seconds=10.5, seed=1, preset=preset), model)
        video = [f for chunk in stream(plan, model) for f in chunk]
        cases += [(f, parse_prompt(text)) for f in video[:: max(1, len(video) // n_frames)]]
    return cases


def measure(way: str, cases: list) -> tuple[float, list]:
    """Seconds per frame and the detections, with the detector forced to ``way``."""
    detect = importlib.import_module("longroll.world.detect")
    torch.set_num_threads(2 if way.endswith("2 threads") else 1)
    chosen = detect._one_convolution
    detect._one_convolution = lambda: way.startswith("torch")
    try:
        t0 = time.perf_counter()
        found = [detect.detect(frame, prompt) for frame, prompt in cases]
        return (time.perf_counter() - t0) / len(cases), found
    finally:
        detect._one_convolution = chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=12, help="benchmark prompts whose world renders are measured")
    parser.add_argument("--frames", type=int, default=24, help="frames per render and per model video")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of every way")
    args = parser.parse_args()
    cases = frames_to_measure(args.prompts, args.frames)
    times: dict[str, list[float]] = {w: [] for w in WAYS}
    reference = None
    for _ in range(args.rounds):
        for way in WAYS:
            seconds, found = measure(way, cases)
            times[way].append(seconds)
            reference = reference or found
            if found != reference:
                raise SystemExit(f"{way} found different objects than {WAYS[0]}: the ways must agree exactly.")
    base = statistics.median(times[WAYS[0]])
    print(f"{len(cases)} frames, {args.rounds} alternating rounds, {platform.machine()} with {os.cpu_count()} "
          f"cores, torch {torch.__version__}; every way found the same objects in every frame.\n")
    print("| correlation | ms per frame (median) | speed vs OpenCV |")
    print("|---|---|---|")
    for way in WAYS:
        ms = statistics.median(times[way])
        print(f"| {way} | {ms * 1e3:.1f} | {base / ms:.2f}x |")


if __name__ == "__main__":
    main()
