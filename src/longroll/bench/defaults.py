"""The rule that picks a model's default preset from the horizon benchmark's evidence.

Plain extrapolation (`none`, the model's own inference) is the default unless the evidence says
otherwise. Among the presets of the benchmark (chunk-wise schedule), a preset can replace it only
when, at the judged lengths (16x and 120x the horizon), its object presence is separably better than
`none`'s at one length at least and separably worse at none (95% paired interval, two-way over
prompts and seeds: ``bench.stats``), and it is not separably worse than `none` on static fraction or
identity colour drift at any of them. Of those candidates, the one with the best mean presence over
the judged lengths is the default. A preset whose presence is only a little higher by chance (the
interval spans zero) does not displace `none`, so the default does not flip between runs of the same
benchmark. The rule is code (this module), tested, and its answer is written into the weights' JSON
(``inference.preset``) that ``generate`` reads. On any other model (``bench.model_report``) the same
rule judges that model's primary measure at its lengths past the horizon, and its answer is recorded
for those weights (``bench.rules``), where ``generate --preset auto`` finds it.
"""

from __future__ import annotations

import numpy as np

from longroll.bench.stats import bootstrap_mean, cell_units, paired_difference, verdict

JUDGED_MULTIPLES = (16, 120)  # lengths (in horizons) the default is judged at
GUARDS = (("static_fraction", False), ("identity_colour_drift", False))  # (metric, higher is better)


def unit_values(results: list[dict], variant: str, multiple: float, metric: str) -> dict:
    """{(prompt, seed): the video's mean ``metric``} for one benchmark cell."""
    return cell_units(results, variant, multiple, lambda r: r["metrics"].get(metric))


def choose_default(results: list[dict], presets: list[str], multiples=JUDGED_MULTIPLES, *,
                   primary: str = "object_presence", guards=GUARDS, label: str = "presence") -> tuple[str, list[str]]:
    """The default preset by the rule, and the reasons (one line per preset) it was or was not chosen.
    ``primary``: the measure judged (higher is better; ``label`` in the reasons); ``guards``: (metric,
    higher is better) on which a preset must not be separably worse (one never measured guards nothing)."""
    judged = [m for m in multiples if any(r["multiple"] == m for r in results)]
    if not judged:
        raise ValueError(f"No benchmark runs at {', '.join(f'{m:g}x' for m in multiples)}: the rule has nothing "
                         "to judge.")
    scores, reasons = {}, []
    for preset in presets:
        worse = []
        for m in judged:
            for metric, higher in guards:
                if preset == "none":
                    continue
                d = paired_difference(unit_values(results, preset, m, metric), unit_values(results, "none", m, metric))
                if d is not None and verdict(d[1], d[2], higher, d[3]) == "worse":
                    worse.append(f"{metric} at {m:g}x ({d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}])")
        presence = [bootstrap_mean(unit_values(results, preset, m, primary)) for m in judged]
        if any(p is None for p in presence):
            reasons.append(f"`{preset}`: not run at every judged length")
            continue
        mean = float(np.mean([p[0] for p in presence]))
        lengths = ", ".join(f"{m:g}x" for m in judged)
        if worse:
            reasons.append(f"`{preset}`: excluded, separably worse than `none` on {'; '.join(worse)}")
            continue
        if preset != "none":
            better = []
            for m in judged:
                d = paired_difference(unit_values(results, preset, m, primary),
                                      unit_values(results, "none", m, primary))
                v = "not separable" if d is None else verdict(d[1], d[2], True, d[3])
                if v == "worse":
                    worse.append(f"{primary} at {m:g}x ({d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}])")
                elif v == "better":
                    better.append(f"{m:g}x ({d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}])")
            if worse:
                reasons.append(f"`{preset}`: excluded, separably worse than `none` on {'; '.join(worse)}")
                continue
            if not better:
                reasons.append(f"`{preset}`: not chosen, {label} not separably better than `none`'s at "
                               f"{lengths} (mean {mean:.3f})")
                continue
            reasons.append(f"`{preset}`: candidate, {label} separably better than `none`'s at "
                           f"{', '.join(better)}; mean {label} {mean:.3f} over {lengths}")
        else:
            reasons.append(f"`{preset}`: the default unless a preset is separably better; mean {label} "
                           f"{mean:.3f} over {lengths}")
        scores[preset] = mean
    if "none" not in scores:
        raise ValueError("`none` was not run at every judged length: the rule compares every preset with it.")
    challengers = {p: v for p, v in scores.items() if p != "none"}
    return (max(challengers, key=challengers.get) if challengers else "none"), reasons


def choose_per_seed(results: list[dict], presets: list[str], multiples=JUDGED_MULTIPLES) -> dict[int, str | None]:
    """The rule applied to each seed's runs alone: {seed: its choice, or None where that seed lacks a
    judged length or `none`}. A choice that differs between seeds rests on a margin that one seed's
    noise decides."""
    picks: dict[int, str | None] = {}
    for seed in sorted({r["seed"] for r in results}):
        runs = [r for r in results if r["seed"] == seed]
        if not all(any(r["multiple"] == m for r in runs) for m in multiples):
            picks[seed] = None
            continue
        try:
            picks[seed] = choose_default(runs, presets, multiples)[0]
        except ValueError:
            picks[seed] = None
    return picks


__all__ = ["GUARDS", "JUDGED_MULTIPLES", "choose_default", "choose_per_seed", "unit_values"]
