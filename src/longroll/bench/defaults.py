"""The rule that picks a model's default preset from the horizon benchmark's evidence.

Among the presets of the benchmark (chunk-wise schedule), a candidate must not be separably worse
than `none` (95% paired interval, over prompts) on static fraction or on identity colour drift at
any of the judged lengths; of the candidates, the one with the best mean object presence over the
judged lengths (16x and 120x the horizon) is the default. `none` is always a candidate, so the
rule always answers. The rule is code (this module), tested, and its answer is written into the
weights' JSON (``inference.preset``) that ``generate`` reads.
"""

from __future__ import annotations

import numpy as np

from longroll.bench.stats import bootstrap_mean, paired_difference, per_unit, verdict

JUDGED_MULTIPLES = (16, 120)  # lengths (in horizons) the default is judged at
GUARDS = (("static_fraction", False), ("identity_colour_drift", False))  # (metric, higher is better)


def unit_values(results: list[dict], variant: str, multiple: float, metric: str) -> dict:
    """{prompt: mean over seeds of the video's mean ``metric``} for one benchmark cell."""
    cell = {(r["prompt"], r["seed"]): r["metrics"].get(metric) for r in results
            if r["variant"] == variant and r["multiple"] == multiple}
    return per_unit(cell)


def choose_default(results: list[dict], presets: list[str], multiples=JUDGED_MULTIPLES) -> tuple[str, list[str]]:
    """The default preset by the rule, and the reasons (one line per preset) it was or was not chosen."""
    judged = [m for m in multiples if any(r["multiple"] == m for r in results)]
    if not judged:
        raise ValueError(f"No benchmark runs at {', '.join(f'{m:g}x' for m in multiples)}: the rule has nothing "
                         "to judge.")
    scores, reasons = {}, []
    for preset in presets:
        worse = []
        for m in judged:
            for metric, higher in GUARDS:
                if preset == "none":
                    continue
                d = paired_difference(unit_values(results, preset, m, metric), unit_values(results, "none", m, metric))
                if d is not None and verdict(d[1], d[2], higher) == "worse":
                    worse.append(f"{metric} at {m:g}x ({d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}])")
        presence = [bootstrap_mean(unit_values(results, preset, m, "object_presence").values()) for m in judged]
        if any(p is None for p in presence):
            reasons.append(f"`{preset}`: not run at every judged length")
            continue
        mean = float(np.mean([p[0] for p in presence]))
        if worse:
            reasons.append(f"`{preset}`: excluded, separably worse than `none` on {'; '.join(worse)}")
            continue
        scores[preset] = mean
        reasons.append(f"`{preset}`: candidate, mean presence {mean:.3f} over "
                       f"{', '.join(f'{m:g}x' for m in judged)}")
    if not scores:
        raise ValueError("No preset was run at every judged length, `none` included.")
    return max(scores, key=lambda p: (scores[p], p == "none")), reasons


__all__ = ["GUARDS", "JUDGED_MULTIPLES", "choose_default", "unit_values"]
