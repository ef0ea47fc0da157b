"""The report of ``longroll bench --model NAME``: quality with paired intervals, cost, claims, the rule.

For the model measured: which implementation computed each number (a metric whose weights were not
given is a column that says so, never a number), per length a quality table (each preset's mean
[95% interval] and its paired difference from ``none`` with the verdict, ``bench.stats``) and a cost
table (seconds per chunk in the steady state, frames per second made, peak memory, each as a ratio to
``none`` on the same prompts and seeds; a preset more than ``COST_NOTE`` dearer says which part of its
config costs it), the papers' claims that its measures can judge, and the default preset by the rule
(``bench.defaults``) judged on the model's primary quality measure, written to ``rule.json`` for
``generate --preset auto``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from longroll.bench.stats import cell_units, compare_cell, grid_label

COST_NOTE = 0.10  # a preset dearer than none by more than this share says why

# Quality columns: key -> (label, value of one run, higher is better, needs). ``needs``: "" (weight-free),
# "dino" / "clip" (VBench's model-based consistency; absent without the folder), "world" (the built-in world).
QUALITY = {
    "object_presence": ("Presence", lambda r: r["metrics"].get("object_presence"), True, "world"),
    "identity_colour_drift": ("Colour drift", lambda r: r["metrics"].get("identity_colour_drift"), False, "world"),
    "subject_consistency": ("Subject cons. (DINO)", lambda r: r["metrics"].get("subject_consistency"), True, "dino"),
    "background_consistency": ("Background cons. (CLIP)", lambda r: r["metrics"].get("background_consistency"), True,
                               "clip"),
    "aesthetic_quality": ("Aesthetic (LAION)", lambda r: r["metrics"].get("aesthetic_quality"), True, "aesthetic"),
    "first_frame_consistency": ("SSIM to 1st frame", lambda r: r["metrics"].get("first_frame_consistency"), True, ""),
    "temporal_flickering": ("Flicker", lambda r: r["metrics"].get("temporal_flickering"), True, ""),
    "motion_smoothness": ("Smooth", lambda r: r["metrics"].get("motion_smoothness"), True, ""),
    "dynamic_degree": ("Dynamic", lambda r: r["metrics"].get("dynamic_degree"), True, ""),
    "static_fraction": ("Static", lambda r: r["metrics"].get("static_fraction"), False, ""),
    "saturation_change": ("Δ saturation (abs.)", lambda r: _abs(r["drift"].get("saturation")), False, ""),
    "consistency_50": ("Cons. @50 frames", lambda r: r["consistency_at_distance"].get("50"), True, ""),
}

# The predict protocol's columns (bench.protocols): the prediction against the true continuation.
PREDICTION = {
    "psnr": ("PSNR dB", lambda r: r["prediction"]["metrics"].get("psnr"), True, ""),
    "ssim": ("SSIM", lambda r: r["prediction"]["metrics"].get("ssim"), True, ""),
    "lpips": ("LPIPS", lambda r: r["prediction"]["metrics"].get("lpips"), False, "lpips"),
    "centre_error": ("Centre error px", lambda r: r["trajectory"]["metrics"].get("centre_error"), False, "world"),
    "lost": ("Lost", lambda r: r["trajectory"]["metrics"].get("lost"), False, "world"),
    "on_track": ("On track", lambda r: r["trajectory"]["metrics"].get("on_track"), True, "world"),
    # Censored at the video's length: a prediction that never drifts counts its whole length.
    "time_to_drift": ("Time to drift s", lambda r: r["trajectory"]["time_to_drift_s"] if
                      r["trajectory"]["time_to_drift_s"] is not None else r["seconds"], True, "world"),
}

# Which implementation computes each number (the report's first table).
IMPLEMENTATIONS = {
    "object_presence": "the built-in world's detector against the prompt's objects (eval.world_metrics)",
    "identity_colour_drift": "the built-in world's detector: each object's colour against its first sighting",
    "subject_consistency": "VBench's formula (cosine to the first and the previous frame, clipped at 0) on DINO CLS "
                           "features, transformers from {path}",
    "background_consistency": "VBench's formula on CLIP image embeddings, transformers from {path}",
    "aesthetic_quality": "VBench's: LAION's linear head on CLIP ViT-L/14 image embeddings / 10, from {path}",
    "first_frame_consistency": "SSIM (luma, Gaussian window 7) of each frame to its segment's first, OpenCV",
    "temporal_flickering": "VBench's (255 - mean abs(f_t - f_t+1)) / 255, weight-free (without its RAFT static "
                           "filter)",
    "motion_smoothness": "weight-free stand-in: odd frames predicted as the mean of their neighbours (VBench uses "
                         "AMT-S; not comparable numerically)",
    "dynamic_degree": "OpenCV Farneback optical flow with VBench's top-5% rule and thresholds scaled to the "
                      "resolution (VBench uses RAFT: see its row)",
    "static_fraction": "share of frame pairs below VBench's static threshold, Farneback flow",
    "saturation_change": "abs(last - first segment) of mean HSV saturation, weight-free",
    "consistency_50": "consistency at distance (VBench issue 206): 8 x 8 area features of frames 50 apart",
    "psnr": "PSNR of each predicted frame against the true one, capped at 100 dB (eval.prediction)",
    "ssim": "SSIM of each predicted frame against the true one (eval.metrics.ssim)",
    "lpips": "LPIPS-Alex (v0.1) from {path}, written from the paper (eval.lpips); frames under 64 px enlarged first",
    "centre_error": "distance of each object's detected centroid to its exact path's (eval.trajectory)",
    "lost": "share of object-frames where the detector does not find the object",
    "on_track": "share of object-frames found within the sprite's radius of its true place",
    "time_to_drift": "start of the first segment with fewer than half the object-frames on track; the video's "
                     "length where none is (censored)",
}
ABSENT = {
    "lpips": "absent: no --lpips folder given",
    "dino": "absent: no --dino folder given",
    "clip": "absent: no --clip folder given",
    "aesthetic": "absent: no --aesthetic folder given (CLIP ViT-L/14 with LAION's linear head)",
    "world": "absent: the model does not show the built-in world",
}
NOT_IMPLEMENTED = (("dynamic degree with RAFT", "absent: torchvision's RAFT does not load against this CPU torch "
                                                "build; Farneback stands in (see the Dynamic row)"),
                   ("imaging quality (MUSIQ)", "absent: its only implementation needs pyiqa and torchvision (see "
                                               "eval/model_metrics.py)"))


def _abs(v):
    return None if v is None else abs(v)


def _fmt(v, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def _mib(v) -> str:
    return "-" if v is None else f"{v / 2 ** 20:,.0f} MiB"


def available(model, metrics: dict, columns: dict | None = None) -> dict[str, str | None]:
    """{column key: None when measured, else why it is absent} of ``columns`` (default: ``QUALITY``)."""
    have = {"": True, "world": bool(getattr(model, "world", False)), "dino": "dino" in metrics,
            "clip": "clip" in metrics, "aesthetic": "aesthetic" in metrics, "lpips": "lpips" in metrics}
    return {k: None if have[q[3]] else ABSENT[q[3]] for k, q in (columns or QUALITY).items()}


def primary_metric(absent: dict) -> str | None:
    """The measure the default rule judges presets on: object presence on the built-in world, else VBench's
    subject consistency (DINO); None without either (the weight-free measures reward a frozen video)."""
    for key in ("object_presence", "subject_consistency"):
        if absent.get(key) is None:
            return key
    return None


def _speed(r: dict, key: str):
    speed = r.get("speed") or {}
    if key == "added_memory" and not str(speed.get("device", "")).startswith("cuda"):
        return None  # on the CPU the allocator keeps what earlier runs freed: the peak's growth is not the run's
    if key == "chunk_seconds":  # the steady state; a video too short to reach it: its mean chunk
        v = speed.get("steady_chunk_seconds")
        if v is None and speed.get("chunks"):
            v = speed["generation_seconds"] / speed["chunks"]
        return v
    if key == "fps":
        return speed.get("steady_fps") or speed.get("fps")
    if key == "added_memory":
        peak, start = speed.get("peak_memory_bytes"), speed.get("start_memory_bytes")
        return None if peak is None or start is None else max(0, peak - start)
    return speed.get(key)


def speed_ratio(results: list[dict], variant: str, multiple: float, key: str, baseline: str = "none") -> float | None:
    """``key`` of ``variant`` over ``baseline``'s at one length (``cost.paired_ratio``: pairs of the same prompt and
    seed made with the same threads and workers)."""
    from longroll.bench.cost import paired_ratio

    return paired_ratio(results, variant, baseline, multiple, lambda r: _speed(r, key))


def cost_reasons(model, preset: str, schedule: str, baseline: str = "none") -> list[str]:
    """What in ``preset``'s resolved config costs more than ``baseline``'s (the mechanisms, read from the configs)."""
    from longroll.pipelines.presets import RolloutConfig
    from longroll.pipelines.rollouts import SCHEDULES

    spec = SCHEDULES[schedule]
    a, b = (spec.resolve(p, model.denoiser, {}, {}) for p in (preset, baseline))
    if not isinstance(a, RolloutConfig):  # a diagonal schedule: its presets change RoPE, noise and bias only
        return ["its RoPE tables, noise or bias differ from none's (the diagonal schedule's work is the same)"]
    out = []
    if a.cache.window > b.cache.window:
        out.append(f"attends {a.cache.window} latent frames per forward against {b.cache.window}")
    if not a.cache.rotated and b.cache.rotated:
        out.append("its cached keys are stored un-rotated and rotated again on every read")
    if a.bias.active and not b.bias.active:
        out.append(f"an additive {a.bias.kind} attention bias (a dense bias takes attention off its fused kernels)")
    if a.cache.budget is not None:
        out.append("Participative Compression scores and compacts the cache")
    if a.cache.memory:
        out.append("MemRoPE folds every evicted frame into its EMA streams")
    if a.cache.rolling:
        out.append("Rolling Sink replays the first window's content into the cache")
    if a.rope.dynamic:
        out.append("the RoPE scale is recomputed as the video grows")
    if a.schedule.cfg > 1 >= b.schedule.cfg:
        out.append("classifier-free guidance: two forwards per step")
    if a.schedule.steps > b.schedule.steps:
        out.append(f"{a.schedule.steps} denoising steps per chunk against {b.schedule.steps}")
    return out or ["no part of its config costs more than none's: measurement noise (run more prompts or seeds)"]


def _quality_table(results: list[dict], presets: list[str], multiple: float, absent: dict,
                   columns: dict = QUALITY) -> list[str]:
    keys = [k for k in columns if absent[k] != ABSENT["world"]]  # a world measure never applies elsewhere
    lines = ["| preset | " + " | ".join(columns[k][0] for k in keys) + " |", "|---|" + "---|" * len(keys)]
    base = {k: cell_units(results, "none", multiple, columns[k][1]) for k in keys if absent[k] is None}
    for p in presets:
        cells = []
        for k in keys:
            if absent[k] is not None:
                cells.append("absent")
                continue
            values = cell_units(results, p, multiple, columns[k][1])
            cell, _, _ = compare_cell(values, None if p == "none" else base[k], columns[k][2], interval=False)
            cells.append(cell)
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    return lines


def _cost_table(results: list[dict], presets: list[str], multiple: float, model, schedule: str) -> list[str]:
    lines = ["| preset | s per chunk (steady) | vs none | frames/s made | vs none | peak memory | vs none | "
             "added by the run | vs none | why it costs more |", "|---|---|---|---|---|---|---|---|---|---|"]
    for p in presets:
        runs = [r for r in results if r["variant"] == p and r["multiple"] == multiple]
        if not runs:
            continue

        def mean(key):
            vals = [_speed(r, key) for r in runs if _speed(r, key) is not None]
            return float(np.mean(vals)) if vals else None

        ratios = {k: None if p == "none" else speed_ratio(results, p, multiple, k)
                  for k in ("chunk_seconds", "fps", "peak_memory_bytes", "added_memory")}
        dearer = [r for r in (ratios["chunk_seconds"], ratios["peak_memory_bytes"]) if r is not None]
        why = "; ".join(cost_reasons(model, p, schedule)) if dearer and max(dearer) > 1 + COST_NOTE else ""
        lines.append(f"| {p} | {_fmt(mean('chunk_seconds'))} | {_fmt(ratios['chunk_seconds'], 2)} | "
                     f"{_fmt(mean('fps'), 2)} | {_fmt(ratios['fps'], 2)} | {_mib(mean('peak_memory_bytes'))} | "
                     f"{_fmt(ratios['peak_memory_bytes'], 2)} | {_mib(mean('added_memory'))} | "
                     f"{_fmt(ratios['added_memory'], 2)} | {why} |")
    return lines


def _devices(results: list[dict]) -> str:
    """The devices the runs were made on, as they recorded them."""
    return ", ".join(sorted({(r.get("speed") or {}).get("device_name") for r in results} - {None}))


def _prompt_source(cfg, model) -> str:
    if cfg.prompt_file:
        return f"file `{Path(cfg.prompt_file).name}`"
    if cfg.protocol == "predict" and cfg.videos is not None:
        return f"one per video of `{Path(cfg.videos).name}`, prompted as the model reads its file"
    return "the built-in world's stratified prompts" if model.world else "the longroll suite"


def _context_label(results: list[dict], multiple: float) -> str:
    """How many real frames each prediction started from and how many were compared with the truth."""
    runs = [r for r in results if r["multiple"] == multiple and "prediction" in r]
    if not runs:
        return "none"
    context = sorted({r.get("context_frames") for r in runs} - {None})
    compared = [r["prediction"]["frames_compared"] for r in runs]
    beyond = sum(r["prediction"]["frames_predicted"] - r["prediction"]["frames_compared"] for r in runs)
    return (f"{', '.join(map(str, context))} real frames; {min(compared)} to {max(compared)} predicted frames "
            "compared per video" + (f" ({beyond} past the end of a true video left out)" if beyond else ""))


def judged_multiples(multiples) -> list[float]:
    """The lengths the rule judges: those past twice the horizon (extension is what is judged), else all."""
    past = [m for m in multiples if m > 2]
    return past or list(multiples)


def write_model_report(results: list[dict], cfg, model, horizon: float, *, categories: dict, metrics: dict,
                       missing: int = 0) -> Path:
    """Write ``cfg.out/REPORT.md`` (and ``rule.json``, the rule's answer for these weights); returns its path."""
    from longroll.bench.claims import claims_section
    from longroll.bench.defaults import choose_default
    from longroll.bench.measure import device_name, model_device
    from longroll.io.atomic import write_text
    from longroll.pipelines.preset_rules import record_rule

    out = Path(cfg.out)
    absent = available(model, metrics)
    presets = list(dict.fromkeys(r["variant"] for r in results))
    presets.sort(key=lambda p: p != "none")
    mults = sorted({r["multiple"] for r in results})
    seconds = {r["multiple"]: r.get("seconds", r["multiple"] * horizon) for r in results}
    options = {k: v for k, v in model.load_options.items() if v is not None}
    flavour = options.get("flavour")
    protocol = "predict (from real frames)" if cfg.protocol == "predict" else "t2v (text to video)"
    header = [f"Model `{model.name}`" + (f", flavour `{flavour}`" if flavour else ""),
              f"weights sha256 `{model.weights_sha256[:12]}`"
              + (f" (`{Path(model.weights_path).name}`)" if model.weights_path else ""),
              f"loading options {options or 'none'}",
              f"made on {_devices(results) or device_name(model_device(model))}",
              f"training horizon {horizon:g} s", f"schedule `{cfg.schedule}`", f"protocol {protocol}",
              f"{len(categories)} prompts ({_prompt_source(cfg, model)}) x {cfg.seeds} seed(s), paired (every preset "
              "the same prompts and seeds)", f"segments of {min(cfg.segment_seconds, horizon):g} s",
              f"{len(results)} runs reported" + (f", {missing} not made yet" if missing else ""),
              time.strftime("%Y-%m-%d")]
    lines = [f"# Benchmark of `{model.name}`" + (f" ({flavour})" if flavour else ""), "",
             "; ".join(header) + ".", ""]
    # 1. How each number was computed.
    lines += ["## How each number was computed", "", "| measure | implementation |", "|---|---|"]
    for k, (label, _, higher, needs) in QUALITY.items():
        how = absent[k] or IMPLEMENTATIONS[k].format(path=metrics.get(needs, {}).get("path", ""))
        lines.append(f"| {label} ({'higher' if higher else 'lower'} is better) | {how} |")
    predicted = any("prediction" in r for r in results)
    absent_p = available(model, metrics, PREDICTION)
    if predicted:
        for k, (label, _, higher, _) in PREDICTION.items():
            if absent_p[k] != ABSENT["world"]:
                how = absent_p[k] or IMPLEMENTATIONS[k].format(path=metrics.get("lpips", {}).get("path", ""))
                lines.append(f"| {label} ({'higher' if higher else 'lower'} is better) | {how} |")
    for label, why in NOT_IMPLEMENTED:
        lines.append(f"| {label} | {why} |")
    kinds = sorted({(r.get("speed") or {}).get("memory_kind") for r in results} - {None})
    lines += ["| speed | seconds inside the rollout and the decoder per chunk, the median over chunks after the "
              "schedule's window filled (bench.measure); the evaluator's time is not counted |",
              f"| memory | {', '.join(kinds) or 'not recorded'}; 'added by the run' (on a GPU only): peak minus what "
              "was allocated when it started (the weights); on the CPU the process keeps memory earlier runs freed, "
              "so the peak's growth is not the run's own and is left out |", "",
              "Each cell: mean [95% bootstrap interval over prompts and seeds]; against `none`, the paired "
              "difference and its verdict (separable only on 6 prompts or more; `bench.stats`). Ratios: a "
              "preset's mean over `none`'s on the same prompts and seeds made with the same threads.", ""]
    # 2. Per length: quality and cost.
    for m in mults:
        units = {(r["prompt"], r["seed"]) for r in results if r["multiple"] == m and r["variant"] == "none"}
        lines += [f"## {seconds[m]:g} s ({m:.3g}x the horizon; {grid_label(units) if units else 'no none runs'})", "",
                  *(["### Prediction against the true continuation", "",
                     *_quality_table([r for r in results if "prediction" in r], presets, m, absent_p, PREDICTION), "",
                     f"Context: {_context_label(results, m)}; scored from the first frame after the context.",
                     ""] if predicted else []),
                  "### Quality", "", *_quality_table(results, presets, m, absent), "",
                  "### Cost", "", *_cost_table(results, presets, m, model, cfg.schedule), ""]
        cats = sorted({categories.get(r["prompt"], "") for r in results} - {""})
        primary = primary_metric(absent)
        if len(cats) > 1 and primary is not None:
            lines += _category_table(results, presets, m, categories, cats, primary) + [""]
    # 3. The papers' claims that these measures can judge.
    lines += claims_section(results, world=bool(model.world))
    # 4. The default preset by the rule, recorded for these weights.
    primary = primary_metric(absent)
    lines += ["## Default preset by the rule", ""]
    if primary is None:
        lines += ["Not judged: the rule needs a quality measure that a frozen or washed-out video does not win "
                  "(object presence on the built-in world, or VBench's subject consistency: give --dino).", ""]
    elif "none" not in presets:
        lines += ["Not judged: `none` was not run, and every preset is judged against it.", ""]
    else:
        judged = judged_multiples(mults)
        guards = [("static_fraction", False)] + ([("identity_colour_drift", False)] if model.world else [])
        label = QUALITY[primary][0].lower()
        try:
            chosen, reasons = choose_default(results, presets, judged, primary=primary, guards=guards, label=label)
        except ValueError as err:
            lines += [f"Not judged: {err}", ""]
        else:
            lines += [f"Judged on {label} at {', '.join(f'{seconds[m]:g} s' for m in judged)}; guards: "
                      f"{', '.join(g for g, _ in guards)}.", "", *[f"- {r}" for r in reasons], ""]
            if cfg.protocol == "t2v":  # what --preset auto takes: text to video, the way generate makes videos
                where = record_rule(model, chosen, primary=primary, lengths=[seconds[m] for m in judged],
                                    report=out / "REPORT.md", reasons=reasons)
                lines += [f"Chosen: `{chosen}` (recorded for these weights, `{where.name}` in the rules folder; "
                          "`longroll generate --preset auto` uses it).", ""]
            else:
                lines += [f"Chosen for continuing real frames: `{chosen}` (not recorded: `--preset auto` takes the "
                          "text-to-video answer, the way `generate` makes videos from a prompt).", ""]
    out.mkdir(parents=True, exist_ok=True)
    return write_text(out / "REPORT.md", "\n".join(lines).rstrip() + "\n")


def _category_table(results, presets, multiple, categories, cats, primary) -> list[str]:
    """The primary measure per prompt category (means over the category's prompts and seeds)."""
    label, get = QUALITY[primary][0], QUALITY[primary][1]
    by = defaultdict(list)
    for r in results:
        if r["multiple"] == multiple and get(r) is not None:
            by[(r["variant"], categories.get(r["prompt"], ""))].append(get(r))
    lines = [f"### {label} by prompt category", "", "| preset | " + " | ".join(cats) + " |",
             "|---|" + "---|" * len(cats)]
    for p in presets:
        lines.append(f"| {p} | " + " | ".join(_fmt(float(np.mean(by[(p, c)])) if by[(p, c)] else None)
                                             for c in cats) + " |")
    return lines


__all__ = ["COST_NOTE", "IMPLEMENTATIONS", "QUALITY", "available", "cost_reasons", "primary_metric", "speed_ratio",
           "write_model_report"]
