"""The horizon benchmark's Markdown report: FLEX Table 1 / Table 3 layouts, sweeps, plots, findings."""

from __future__ import annotations

import platform
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from longroll.bench.cost import machine_seconds, paired_ratio
from longroll.pipelines.rollouts import DEFAULT

# Metrics shown in the tables (the JSON keeps every metric): name -> (label, higher is better)
TABLE_METRICS = {
    "object_presence": ("Presence", True),
    "separation": ("Separation", False),
    "colour_fidelity": ("Colour ok", True),
    "identity_colour_drift": ("Colour drift", False),
    "background_drift": ("Bg drift", False),
    "temporal_flickering": ("Flicker", True),
    "motion_smoothness": ("Smooth", True),
    "motion_energy": ("Motion", True),
    "static_fraction": ("Static", False),
    "saturation": ("Saturation", True),
    "first_frame_consistency": ("Subject cons.", True),
    "dynamic_degree": ("Dynamic", True),
}


def _mean(values):
    vals = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def aggregate(results: list[dict]) -> dict:
    """(variant, multiple) -> {'metrics': {...}, 'drift': {...}, 'curve': {metric: [per segment]}, 'wall': s}."""
    groups = defaultdict(list)
    for r in results:
        groups[(r["variant"], r["multiple"])].append(r)
    out = {}
    for key, rs in groups.items():
        metrics = {k: _mean([r["metrics"].get(k) for r in rs]) for k in rs[0]["metrics"]}
        drift = {k: _mean([r["drift"].get(k) for r in rs]) for k in rs[0]["drift"]}
        n_seg = min(len(r["segments"]) for r in rs)
        curve = {k: [_mean([r["segments"][i].get(k) for r in rs]) for i in range(n_seg)] for k in rs[0]["metrics"]}
        times = [((s["start_s"] + s["end_s"]) / 2) for s in rs[0]["segments"][:n_seg]]
        wall = _mean([machine_seconds(r) for r in rs])  # s/video: seconds of the machine, as in the cost section
        out[key] = {"metrics": metrics, "drift": drift, "curve": curve, "times": times, "runs": len(rs),
                    "group": rs[0]["group"], "wall": wall}
    return out


def _fmt(v, digits=3):
    return "-" if v is None else f"{v:.{digits}f}"


def _table(agg, rows, multiple, with_drift=True) -> list[str]:
    keys = list(TABLE_METRICS)
    head = "| variant | " + " | ".join(TABLE_METRICS[k][0] for k in keys)
    head += " | Δ Presence | Δ Colour drift | s/video |" if with_drift else " | s/video |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for name in rows:
        a = agg.get((name, multiple))
        if a is None:
            continue
        cells = [_fmt(a["metrics"].get(k)) for k in keys]
        if with_drift:
            cells += [_fmt(a["drift"].get("object_presence")), _fmt(a["drift"].get("identity_colour_drift"), 1)]
        cells.append(_fmt(a["wall"], 1))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def cost_ratio(results: list[dict], variant: str, baseline: str, multiple: float) -> float | None:
    """Machine seconds of ``variant`` over ``baseline``'s at one length (``cost.paired_ratio``: pairs of runs
    of the same prompt and seed made with the same workers and threads)."""
    return paired_ratio(results, variant, baseline, multiple, machine_seconds)


def _trigger_sources(results: list[dict], rows: list[str], mults) -> list[str]:
    """What MIGA's self-reflection triggers follow: the share of the variance of its videos' trigger
    counts that the seed and the prompt explain (``stats.main_effect_shares``), per length with two
    seeds or more. A judgement of the video should follow the prompt; one that follows the seed
    follows the noise (a seed's noise is the same for every prompt)."""
    from longroll.bench.stats import grid_label, main_effect_shares

    lines = []
    for name in rows:
        for m in mults:
            counts = {(r["prompt"], r["seed"]): r["diagonal"]["triggers"] for r in results
                      if r["variant"] == name and r["multiple"] == m and r.get("diagonal")}
            shares = main_effect_shares(counts)
            if shares is not None:
                lines.append(f"- {name} at {m:g}x ({grid_label(counts)}): the seed explains "
                             f"{shares[0]:.0%} of the variance of its videos' trigger counts, the prompt "
                             f"{shares[1]:.0%} (the rest: their interaction).")
    if lines:
        lines = ["What self-reflection's triggers follow (a judgement of the video should follow the prompt; a "
                 "seed's noise is the same for every prompt):", "", *lines, ""]
    return lines


def _schedule_sections(results: list[dict], agg: dict, horizon: float, out: Path | None = None) -> list[str]:
    """The three ways to roll out per length, with their presence and colour drift over time at the
    longest length (plots into ``out``), their cost per second of video and MIGA's self-reflection
    triggers; then MIGA's ablations."""
    lines: list[str] = []
    rows = list(dict.fromkeys(r["variant"] for r in results if r["group"] == "schedules"))
    mults = sorted({r["multiple"] for r in results if r["group"] == "schedules"})
    for m in mults:
        lines += [f"## Three ways to roll out at {m:g}x the horizon ({m * horizon:g} s)", "",
                  *_table(agg, rows, m), "", *paired_block(results, rows, m, baseline=rows[0])]
    if mults and out is not None:
        from longroll.bench.long_video import plot_bands

        m = mults[-1]
        for metric, label in (("object_presence", "presence"), ("identity_colour_drift", "colour drift")):
            band = plot_bands([r for r in results if r["group"] == "schedules"], rows, m, metric, label,
                              out / f"{metric}_{m:g}x_schedules_bands.png", baseline=rows[0])
            if band is not None:
                lines += [f"{label.capitalize()} over time per way to roll out at {m:g}x: mean over prompts and "
                          f"seeds with its 95% bootstrap band, `{rows[0]}` in grey.", "",
                          f"![{label} over time]({band.name})", ""]
    if rows:
        lines += ["## Cost and self-reflection", "",
                  "| variant | length | compute s per video s | vs chunk-wise | reflection triggers (share of judged "
                  "chunks) | peak queue (latent frames) |", "|---|---|---|---|---|---|"]
        for m in mults:
            for name in rows:
                a = agg.get((name, m))
                if a is None:
                    continue
                diag = [r.get("diagonal") for r in results if r["variant"] == name and r["multiple"] == m]
                diag = [d for d in diag if d]
                trig = sum(d["triggers"] for d in diag)
                judged = sum(d["judgements"] for d in diag)
                peak = max((d["peak_queue_frames"] for d in diag), default=None)
                ratio = cost_ratio(results, name, rows[0], m)
                lines.append(f"| {name} | {m:g}x | {_fmt(a['wall'] / (m * horizon) if a['wall'] else None, 2)} | "
                             f"{'-' if ratio is None else f'{ratio:.1f}x'} | "
                             f"{f'{trig} / {judged} ({trig / judged:.1%})' if judged else '-'} | "
                             f"{peak if peak is not None else '-'} |")
        lines += ["", "Compute is the machine's seconds per second of video (a run's wall time over the videos "
                  "made beside it). The ratio to chunk-wise compares like with like: the mean over videos of the "
                  "same prompt and seed made with the same workers and threads per worker (two ranks of one "
                  "thread each make a video in fewer machine seconds than one process of two threads); '-' "
                  "where no such pair exists.", ""]
        lines += _trigger_sources(results, [r for r in rows if r == "MIGA"], mults)
    ablation = list(dict.fromkeys(r["variant"] for r in results if r["group"] == "miga_ablation"))
    if ablation:
        m = next(r["multiple"] for r in results if r["group"] == "miga_ablation")
        lines += [f"## MIGA ablations (MIGA Table 3), at {m:g}x", "",
                  *_table(agg, [r for r in rows if (r, m) in agg] + ablation, m), "",
                  *paired_block(results, ["FIFO-Diffusion"] + ablation, m, baseline="MIGA"),
                  *_trigger_sources(results, ablation, [m])]  # rows without reflection have no variance
    return lines


INTERVAL_METRICS = ("object_presence", "separation", "identity_colour_drift", "static_fraction", "motion_energy",
                    "temporal_flickering", "first_frame_consistency", "dynamic_degree")


def compare_presets(results: list[dict], presets: list[str], multiple: float, metric: str, baseline: str = "none"
                    ) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Each row's report cell for ``metric`` at ``multiple`` (mean [interval], and against ``baseline`` the
    paired difference with its verdict), and the rows by verdict ("better", "worse", "not separable")."""
    from longroll.bench.defaults import unit_values
    from longroll.bench.stats import compare_cell

    base = unit_values(results, baseline, multiple, metric)
    cells, verdicts = {}, {"better": [], "worse": [], "not separable": []}
    for p in presets:
        cell, v, diff = compare_cell(unit_values(results, p, multiple, metric), None if p == baseline else base,
                                     TABLE_METRICS[metric][1])
        cells[p] = cell
        if v is not None:
            verdicts[v].append(f"`{p}` ({diff:+.3f})")
    return cells, verdicts


def interval_table(results: list[dict], rows: list[str], multiple: float, baseline: str = "none"
                   ) -> tuple[list[str], dict]:
    """Markdown rows: each row's mean [95% interval] per interval metric and its paired difference
    against ``baseline`` with the verdict; and the per-metric comparisons (``compare_presets``)."""
    compared = {k: compare_presets(results, rows, multiple, k, baseline) for k in INTERVAL_METRICS}
    return (["| row | " + " | ".join(TABLE_METRICS[k][0] for k in INTERVAL_METRICS) + " |",
             "|---|" + "---|" * len(INTERVAL_METRICS),
             *[f"| {p} | " + " | ".join(compared[k][0][p] for k in INTERVAL_METRICS) + " |" for p in rows]],
            compared)


def paired_block(results: list[dict], rows: list[str], multiple: float, baseline: str = "none") -> list[str]:
    """An interval table of ``rows`` against ``baseline`` at one length, titled with the prompts paired;
    nothing when the baseline has no runs there."""
    from longroll.bench.stats import grid_label

    units = {(r["prompt"], r["seed"]) for r in results if r["multiple"] == multiple and r["variant"] == baseline}
    if not units:
        return []
    table, _ = interval_table(results, [baseline] + [r for r in rows if r != baseline], multiple, baseline)
    return [f"Paired against `{baseline}` ({grid_label(units)}; mean [95% bootstrap interval over prompts and "
            "seeds], difference [interval], verdict):", "", *table, ""]


def interval_sections(results: list[dict], presets: list[str], multiples) -> list[str]:
    """Per length: each preset's mean with a 95% bootstrap interval over prompts and seeds, and its paired
    difference against `none`, marked better / worse / not separable; then sentences generated from
    those verdicts (no hand-written reading)."""
    from longroll.bench.stats import grid_label

    lines: list[str] = []
    for m in multiples:
        if not any(r["multiple"] == m and r["variant"] == "none" for r in results):
            continue
        cells = {(r["prompt"], r["seed"]) for r in results if r["multiple"] == m and r["variant"] == "none"}
        lines += [f"## Intervals at {m:g}x ({grid_label(cells)}; 95% bootstrap over prompts and seeds)", "",
                  "Each row's mean [95% interval] and, against `none`, the paired difference [interval] and verdict.",
                  ""]
        table, compared = interval_table(results, presets, m)
        lines += [*table, ""]
        for k in INTERVAL_METRICS:
            v = compared[k][1]
            if any(v.values()):
                lines.append(f"- At {m:g}x, {TABLE_METRICS[k][0].lower()} against `none`: better: "
                             f"{', '.join(v['better']) or 'none'}; worse: {', '.join(v['worse']) or 'none'}; "
                             f"not separable: {', '.join(v['not separable']) or 'none'}.")
        lines.append("")
    return lines


def findings(results: list[dict], presets: list[str], multiples) -> list[str]:
    """Per length past the horizon: which presets find separably more or fewer prompted objects than
    `none` (the interval tables' own verdicts, ``compare_presets``), generated, never by threshold."""
    from longroll.bench.defaults import unit_values
    from longroll.bench.stats import bootstrap_mean

    lines = []
    for m in multiples:
        base = unit_values(results, "none", m, "object_presence")
        mean = bootstrap_mean(base)
        if m <= 1 or mean is None:
            continue
        v = compare_presets(results, [p for p in presets if p != "none"], m, "object_presence")[1]
        lines.append(f"- at {m:g}x the horizon ({len({p for p, _ in base})} prompts), object presence against `none` "
                     f"({mean[0]:.3f}): separably better: {', '.join(v['better']) or 'none'}; separably worse: "
                     f"{', '.join(v['worse']) or 'none'}; not separable: {', '.join(v['not separable']) or 'none'}.")
    return lines


def _whole(coverage) -> bool:
    """Whether every row run of the matrix is cached (``coverage``: ``horizon.paired_cached_rows``)."""
    return all(reported == total for _, _, _, total, reported in coverage)


def _matrix_name(cfg, coverage=None) -> str:
    """What part of the matrix ran: quick, full, only some presets' rows or groups at some lengths, or
    the cached part of one (``coverage``: ``horizon.paired_cached_rows``)."""
    if coverage is not None:
        reported, total = sum(c[4] for c in coverage), sum(c[3] for c in coverage)
        name = _matrix_name(cfg).removeprefix("the ")
        if _whole(coverage):
            return f"the {name}, every one of its {total} runs from the cache"
        return f"the cached part of the {name}: {reported} of its {total} runs"
    groups = getattr(cfg, "groups", None)
    if getattr(cfg, "presets", None) and groups in (None, ("presets",)):
        return (f"the preset rows only ({len(cfg.presets)} presets at "
                f"{', '.join(f'{m:g}x' for m in cfg.multiples)}; no ablations or schedules)")
    if groups is not None:
        which = f"{len(cfg.presets)} presets" if getattr(cfg, "presets", None) else "all presets"
        return (f"the row groups {', '.join(groups)} only ({which}; presets and schedules at "
                f"{', '.join(f'{m:g}x' for m in cfg.multiples)}, the other groups at {cfg.sweep_multiple:g}x)")
    return f"{'quick' if cfg.quick else 'full'} matrix"


READING = "READING.md"  # a hand-written reading of one run, kept beside the report (the report is generated)


def run_signature(cfg, model, coverage=None) -> str:
    """What a hand-written reading was written for: the weights and the matrix that ran."""
    return (f"weights {model.weights_sha256[:12]}; {cfg.prompts} x {cfg.seeds} below 120x, {cfg.long_prompts} x "
            f"{cfg.long_seeds} at 120x; {_matrix_name(cfg, coverage)}")


def coverage_section(coverage, horizon: float) -> list[str]:
    """What a report of the cached part of the matrix leaves out, per row group and length."""
    if coverage is None:
        return []
    title = ("Coverage (every run of the matrix is cached)" if _whole(coverage)
             else "Not yet run (this report is the cached part of the matrix)")
    lines = [f"## {title}", "",
             "Per row group and length, a (prompt, seed) is reported only when every row of the group has it, "
             "so every comparison stays paired.", "",
             "| rows | length | rows in group | row runs in the matrix | reported | missing |",
             "|---|---|---|---|---|---|"]
    for group, m, n_rows, total, reported in sorted(coverage, key=lambda c: (c[1], c[0])):
        lines.append(f"| {group} | {m:g}x ({m * horizon:g} s) | {n_rows} | {total} | {reported} | "
                     f"{total - reported} |")
    return lines + [""]


def reading_section(cfg, model, coverage=None) -> list[str]:
    """The hand-written reading in ``cfg.out/READING.md``, clearly marked, when it was written for this run.

    Its first line names the run it reads, ``<!-- run: SIGNATURE -->`` (``run_signature``); a reading of
    another run (other weights, other cell sizes) is not embedded: the report says that it is stale.
    """
    path = cfg.out / READING
    if not path.is_file():
        return []
    first, _, body = path.read_text().partition("\n")
    marked = first.startswith("<!-- run:")
    written_for = first.removeprefix("<!-- run:").removesuffix("-->").strip() if marked else None
    this_run = run_signature(cfg, model, coverage)
    if written_for != this_run:
        return [f"A hand-written reading in `{READING}` was written for another run ({written_for or 'no run named'}; "
                f"this one: {this_run}) and is not shown; re-read this run and update it.", ""]
    return ["## Reading (written by hand, not generated)", "", body.strip(), ""]


def write_report(results: list[dict], cfg, horizon: float, model, coverage=None, remaining=None) -> Path:
    """Write REPORT.md and plots into cfg.out; returns the report path. ``coverage`` (from
    ``horizon.paired_cached_rows``): the report is of the cached part of the matrix and lists the rest;
    ``remaining`` ({(schedule, multiple): videos not yet made}) prices the rest in the cost section."""
    from longroll.eval.plots import plot_over_time

    agg = aggregate(results)
    presets = list(dict.fromkeys(r["variant"] for r in results if r["group"] == "presets"))
    multiples = sorted({r["multiple"] for r in results if r["group"] == "presets"})
    lines = [
        "# Horizon benchmark",
        "",
        f"Model `{model.name}` (weights sha256 `{model.weights_sha256[:12]}`), training horizon {horizon:g} s; "
        f"{cfg.prompts} prompt{'s' * (cfg.prompts != 1)} x {cfg.seeds} seed{'s' * (cfg.seeds != 1)}"
        + (f" below 120x, {cfg.long_prompts} x {cfg.long_seeds} at 120x" if any(m >= 120 for m in multiples) else "")
        + f" (stratified prompts, paired: every method the same); segments of {cfg.segment_seconds:g} s; "
        f"{_matrix_name(cfg, coverage)}; {platform.machine()}, {time.strftime('%Y-%m-%d')}.",
        "",
        "Metrics are means over segments, prompts and seeds; Δ is last segment minus first (quality drift, "
        "FLEX Table 1). Presence: share of prompted objects the world's detector finds. Colour drift: RGB "
        "distance of each object's colour to the first segment's. Motion: mean top-5% optical flow (px/frame). "
        "Static: share of near-frozen frame pairs.",
        "",
        *reading_section(cfg, model, coverage),
        "## Findings",
        "",
        *findings(results, presets, multiples),
        "",
    ]
    lines += interval_sections(results, presets, multiples)
    from longroll.bench.long_video import long_video_sections

    lines += long_video_sections(results, presets, multiples)
    from longroll.bench.claims import claims_section

    lines += claims_section(results)
    if any(r["multiple"] in (16, 120) for r in results):
        from longroll.bench.defaults import JUDGED_MULTIPLES, choose_default, choose_per_seed

        lines += ["## Default preset by the rule (`longroll.bench.defaults`)", ""]
        # The rule reads every judged length the matrix asks for; a cached report missing one of them
        # (120x not yet re-run) would otherwise judge on the rest and contradict the shipped default.
        asked = [m for m in JUDGED_MULTIPLES if m in cfg.multiples]
        missing = [m for m in asked if m not in multiples]
        shipped = getattr(getattr(model, "defaults", None), "preset", None)
        if missing:
            lines += [f"Not judged: the rule reads the presets at {', '.join(f'{m:g}x' for m in asked)}, and no "
                      f"preset run is cached at {', '.join(f'{m:g}x' for m in missing)} yet"
                      + (f"; the weights' default, `{shipped}`, stands." if shipped else "."), ""]
        elif "none" in presets:
            runs = [r for r in results if r["group"] == "presets"]
            best, reasons = choose_default(runs, presets)
            lines += [f"Chosen: `{best}`.", "", *[f"- {r}" for r in reasons], ""]
            picks = choose_per_seed(runs, presets)
            judged = {s: p for s, p in picks.items() if p is not None}
            if len(judged) > 1:
                each = "; ".join(f"seed {s}: `{p}`" if p else f"seed {s}: not run at every judged length"
                                 for s, p in picks.items())
                if set(judged.values()) == {best}:
                    lines += [f"Each seed's runs alone give the same choice ({each}).", ""]
                else:
                    lines += [f"Each seed's runs alone do not all give this choice ({each}): the pooled choice "
                              "rests on a margin that one seed's noise can change.", ""]
        else:
            lines += ["Not judged: the rule compares every preset with `none`, which this run left out.", ""]
    for m in multiples:
        lines += [f"## Presets at {m:g}x the horizon ({m * horizon:g} s)", "", *_table(agg, presets, m), ""]
    from longroll.bench.matrix import variants

    plain = [v for v in variants(False) if not v.overrides and v.schedule == DEFAULT]  # rows that are a preset as is
    for group, title in (("components", "FLEX components (FLEX Table 3: each removed from FLEX, and each alone)"),
                         ("alpha_beta", "alpha / beta sweep (FLEX Table 4)"), ("rho", "rho sweep (FLEX Fig. 5)"),
                         ("sink_size", "sink size"), ("flexrope_lambda", "FlexRoPE lambda")):
        rows = list(dict.fromkeys(r["variant"] for r in results if r["group"] == group))
        if not rows:
            continue
        m = results[[r["group"] for r in results].index(group)]["multiple"]
        base = "flexrope" if group == "flexrope_lambda" else "flex"
        same = {v.name for v in plain if v.preset == base}
        if group != "components":
            rows = [base] + rows
        # Against `none` (does the variant extend at all?) and against the method it varies (what the
        # change itself does: a sweep's step, a component removed from FLEX).
        lines += [f"## {title}, at {m:g}x", "", *_table(agg, ["none"] + rows, m), "",
                  *paired_block(results, rows, m),
                  *paired_block(results, [r for r in rows if r not in same], m, baseline=base)]
    lines += _schedule_sections(results, agg, horizon, cfg.out)
    longest = multiples[-1] if multiples else None
    if longest is not None:
        runs = {p: [{"start_s": t, "end_s": t, **{k: v[i] for k, v in agg[(p, longest)]["curve"].items()}}
                    for i, t in enumerate(agg[(p, longest)]["times"])] for p in presets if (p, longest) in agg}
        plot = cfg.out / f"over_time_{longest:g}x.png"
        plot_over_time(runs, [k for k in TABLE_METRICS], plot)
        lines += [f"## Over time at {longest:g}x", "", f"![metrics over time]({plot.name})", ""]
        from longroll.bench.long_video import plot_bands

        for metric, label in (("object_presence", "presence"), ("identity_colour_drift", "colour drift")):
            band = plot_bands(results, presets, longest, metric, label, cfg.out / f"{metric}_{longest:g}x_bands.png")
            if band is not None:
                lines += [f"{label.capitalize()} over time per preset at {longest:g}x: mean over prompts and seeds "
                          "with its 95% bootstrap band, `none` in grey.", "", f"![{label} over time]({band.name})", ""]
    from longroll.bench.cost import cost_section

    lines += cost_section(results, horizon, remaining)
    lines += coverage_section(coverage, horizon)
    report = cfg.out / "REPORT.md"
    tmp = report.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(report)
    return report
