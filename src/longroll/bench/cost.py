"""What the horizon benchmark costs: videos per hour measured, and the projected time of the full matrix.

The benchmark's cost is the sum of its videos. From the runs at hand, each (schedule, length)
cell's mean wall time per video (generation and evaluation), over the videos made at once beside it,
gives videos per hour on this machine.
The full matrix (``BenchConfig``'s default cell sizes, every row of ``variants``) is then projected:
a chunk-wise video at a length not run is priced by linear interpolation between the measured
lengths, and outside them in proportion to its frames from the nearest measured length (the
rollout's time per chunk is flat, so cost is linear in frames); a FIFO or MIGA video by its
measured cost ratio to chunk-wise at a length both ran.
Rows that share a video (the ``flex`` preset and "FLEX (all three)") are counted once.
"""

from __future__ import annotations

import os
import platform
from collections import defaultdict

import numpy as np

from longroll.pipelines.rollouts import DEFAULT


def machine_seconds(run: dict) -> float | None:
    """Seconds of the machine one run took: its wall time over the videos made at once beside it
    (its ``workers``; runs from before it was recorded were made one at a time)."""
    wall = run.get("wall_seconds")
    return None if wall is None else float(wall) / run.get("workers", 1)


def paired_ratio(results: list[dict], variant: str, baseline: str, multiple: float, get) -> float | None:
    """``get(run)`` of ``variant`` over ``baseline``'s at one length: a ratio of means over the pairs of runs of
    the same prompt and seed made with the same workers and threads; None without such a pair (or a zero
    baseline). Runs made another way (one process of two threads against two ranks of one) would compare
    the machine's setting, not the methods."""
    def runs(name):
        values = {}
        for r in results:
            if r["variant"] == name and r["multiple"] == multiple and (value := get(r)) is not None:
                values[(r["prompt"], r["seed"], r.get("workers", 1), r.get("threads"))] = value
        return values

    a, b = runs(variant), runs(baseline)
    common = [k for k in a if k in b]
    if not common or np.mean([b[k] for k in common]) == 0:
        return None
    return float(np.mean([a[k] for k in common]) / np.mean([b[k] for k in common]))


def measured_cost(results: list[dict]) -> dict[tuple[str, float], tuple[float, int]]:
    """{(schedule, multiple): (mean seconds of the machine per video, videos)} over runs that record a
    wall time, each video once (``machine_seconds``)."""
    seen, walls = set(), defaultdict(list)
    for r in results:
        key = (r["prompt"], r["seed"], r["multiple"], r.get("schedule", DEFAULT), r.get("preset"),
               repr(sorted(r.get("overrides", {}).items())), repr(sorted(r.get("schedule_options", {}).items())))
        if key in seen or r.get("wall_seconds") is None:
            continue
        seen.add(key)
        walls[(r.get("schedule", DEFAULT), r["multiple"])].append(machine_seconds(r))
    return {k: (float(np.mean(v)), len(v)) for k, v in walls.items()}


def full_matrix_videos(cfg=None) -> dict[tuple[str, float], int]:
    """{(schedule, multiple): videos} of the full matrix at ``cfg``'s cell sizes (default: the issue's)."""
    from pathlib import Path

    from longroll.bench.matrix import BenchConfig, variants

    cfg = cfg or BenchConfig(out=Path("."))
    counts, seen = defaultdict(int), set()
    for v in variants(False):
        for m in (cfg.multiples if v.group in ("presets", "schedules") else (cfg.sweep_multiple,)):
            sig = (v.preset, v.overrides, v.schedule, v.schedule_options, m)
            if sig in seen:
                continue
            seen.add(sig)
            prompts, seeds = cfg.cell(m)
            counts[(v.schedule, m)] += prompts * seeds
    return dict(counts)


def price(cost: dict, schedule: str, multiple: float) -> float | None:
    """Projected wall seconds of one video: measured, else the chunk-wise line (times the schedule's
    measured ratio to chunk-wise); None when nothing prices it."""
    if (schedule, multiple) in cost:
        return cost[(schedule, multiple)][0]
    chunk = {m: c[0] for (s, m), c in cost.items() if s == DEFAULT}
    if not chunk:
        return None
    ms = np.array(sorted(chunk), dtype=float)
    ws = np.array([chunk[m] for m in sorted(chunk)])
    if ms[0] <= multiple <= ms[-1]:
        base = float(np.interp(multiple, ms, ws))
    else:  # outside the measured lengths: in proportion to frames from the nearest measured length
        near = 0 if multiple < ms[0] else -1
        base = float(ws[near] * multiple / ms[near])
    if schedule == DEFAULT:
        return base
    ratios = [cost[(schedule, m)][0] / chunk[m] for m in chunk if (schedule, m) in cost]
    return base * float(np.mean(ratios)) if ratios else None


def cost_section(results: list[dict], horizon: float, remaining: dict | None = None) -> list[str]:
    """Markdown: videos per hour per measured cell, and the full matrix's projected time; with
    ``remaining`` ({(schedule, multiple): videos not yet made}), also the time still to run."""
    cost = measured_cost(results)
    if not cost:
        return []
    lines = ["## Cost (videos per hour, projected time of the full matrix)", "",
             f"Measured in these runs on {platform.machine()} with {os.cpu_count()} cores (wall time per video: "
             "generation and evaluation, divided by the videos made at once, e.g. two torchrun ranks of one "
             "thread each; runs of earlier invocations keep their own times).", "",
             "| schedule | length | videos measured | s per video | videos per hour |", "|---|---|---|---|---|"]
    for (s, m), (wall, n) in sorted(cost.items(), key=lambda kv: (kv[0][0] != DEFAULT, kv[0][0], kv[0][1])):
        lines.append(f"| {s} | {m:g}x ({m * horizon:g} s) | {n} | {wall:.1f} | {3600 / wall:.0f} |")
    from pathlib import Path

    from longroll.bench.matrix import BenchConfig

    sizes = BenchConfig(out=Path("."))  # the full matrix's cell sizes, stated once there
    full = full_matrix_videos(sizes)
    total, unpriced, rows = 0.0, 0, []
    for (s, m), n in sorted(full.items(), key=lambda kv: (kv[0][0] != DEFAULT, kv[0][0], kv[0][1])):
        p = price(cost, s, m)
        if p is None:
            unpriced += n
            rows.append(f"| {s} | {m:g}x | {n} | - | - |")
            continue
        total += n * p
        rows.append(f"| {s} | {m:g}x | {n} | {p:.1f}{'' if (s, m) in cost else ' (projected)'} | "
                    f"{n * p / 3600:.1f} |")
    short = ", ".join(f"{m:g}x" for m in sizes.multiples if m < 120)
    lines += ["", f"The full matrix ({sizes.prompts} prompts x {sizes.seeds} seeds at {short}, "
              f"{sizes.long_prompts} x {sizes.long_seeds} at 120x, every row and ablation): "
              f"{sum(full.values())} videos, **about {total / 3600:.0f} h** of this machine"
              + (f", plus {unpriced} videos of schedules not yet measured" if unpriced else "") + ".", "",
              "| schedule | length | videos | s per video | hours |", "|---|---|---|---|---|", *rows, ""]
    if remaining:
        left = {k: n for k, n in remaining.items() if n}
        priced = {k: price(cost, *k) for k in left}
        hours = sum(n * priced[k] for k, n in left.items() if priced[k] is not None) / 3600
        not_priced = sum(n for k, n in left.items() if priced[k] is None)
        lines += [f"Not yet made: {sum(left.values())} videos of this matrix, **about {hours:.1f} h** on this "
                  "machine" + (f", plus {not_priced} videos of schedules not yet measured" if not_priced else "")
                  + " (" + ", ".join(f"{s} {m:g}x: {n}" for (s, m), n in sorted(left.items(), key=lambda kv: (
                      kv[0][0] != DEFAULT, kv[0][0], kv[0][1]))) + ").", ""]
    return lines


__all__ = ["cost_section", "full_matrix_videos", "machine_seconds", "measured_cost", "price"]
