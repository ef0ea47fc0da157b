"""Intervals for the horizon benchmark: bootstrap over prompts, paired differences, verdicts.

The unit of resampling is the prompt (its seeds averaged first): prompts are what a user varies,
seeds are repeated measurements of one prompt. A method is compared with another on the same
prompts and seeds (paired design), so the difference is taken per prompt before resampling.
A difference is *better* or *worse* only when its 95% interval excludes zero and it rests on at
least ``MIN_UNITS`` prompts; otherwise *not separable*. The floor is the exact paired sign-flip
test's: with n prompts the smallest two-sided p-value it can reach is 2 / 2^n, below 0.05 only from
n = 6. The percentile bootstrap knows no such floor (four prompts that all favour one method give an
interval that excludes zero), so it would call chance differences separable on few prompts.
Everything is deterministic (a fixed resampling seed).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

BOOTSTRAP = 2000  # resamples
LEVEL = 0.95  # interval coverage
MIN_UNITS = 6  # fewest prompts on which a difference can be separable (exact sign-flip test at 5%)


def per_unit(values: Mapping[tuple, float | None]) -> dict:
    """{(prompt, seed): v} -> {prompt: mean over its seeds} (None and NaN dropped)."""
    units: dict = {}
    for (unit, _seed), v in values.items():
        if v is not None and np.isfinite(v):
            units.setdefault(unit, []).append(float(v))
    return {u: float(np.mean(vs)) for u, vs in units.items()}


def cell_units(results, variant: str, multiple: float, get) -> dict:
    """{prompt: mean over its seeds} of ``get(run)`` over the runs of one row at one length (a run
    whose value ``get`` cannot read, or reads as None or NaN, is skipped)."""
    cell = {}
    for r in results:
        if r["variant"] == variant and r["multiple"] == multiple:
            try:
                cell[(r["prompt"], r["seed"])] = get(r)
            except (KeyError, TypeError):
                cell[(r["prompt"], r["seed"])] = None
    return per_unit(cell)


def bootstrap_mean(values, *, seed: int = 0) -> tuple[float, float, float] | None:
    """(mean, low, high) of the mean of ``values`` with a percentile bootstrap interval; None if empty."""
    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    if not len(x):
        return None
    if len(x) == 1:
        return float(x[0]), float(x[0]), float(x[0])
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(BOOTSTRAP, len(x)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2])
    return float(x.mean()), float(lo), float(hi)


def paired_difference(a: Mapping, b: Mapping, *, seed: int = 0) -> tuple[float, float, float, int] | None:
    """Mean of ``a[u] - b[u]`` over the units both have, with its interval, and the unit count."""
    common = [u for u in a if u in b]
    ci = bootstrap_mean([a[u] - b[u] for u in common], seed=seed)
    return None if ci is None else (*ci, len(common))


def verdict(low: float, high: float, higher_is_better: bool, units: int | None = None) -> str:
    """'better', 'worse' or 'not separable' for a difference interval (method minus baseline) over
    ``units`` prompts (fewer than ``MIN_UNITS``: never separable)."""
    if units is not None and units < MIN_UNITS:
        return "not separable"
    if low > 0:
        return "better" if higher_is_better else "worse"
    if high < 0:
        return "worse" if higher_is_better else "better"
    return "not separable"


def compare_cell(values: Mapping, baseline: Mapping | None, higher_is_better: bool, *,
                 interval: bool = True) -> tuple[str, str | None, float | None]:
    """A report cell for one method: its mean [interval] and, against ``baseline`` (None: it is the
    baseline), the paired difference with its verdict (the difference's interval too when
    ``interval``). Returns (cell, verdict or None, mean difference or None)."""
    ci = bootstrap_mean(values.values())
    if ci is None:
        return "-", None, None
    cell = f"{ci[0]:.3f} [{ci[1]:.3f}, {ci[2]:.3f}]"
    d = None if baseline is None else paired_difference(values, baseline)
    if d is None or d[3] < 2:
        return cell, None, None
    v = verdict(d[1], d[2], higher_is_better, d[3])
    spread = f" [{d[1]:+.3f}, {d[2]:+.3f}]" if interval else ","
    return f"{cell} ({d[0]:+.3f}{spread} {v})", v, d[0]


__all__ = ["BOOTSTRAP", "LEVEL", "MIN_UNITS", "bootstrap_mean", "cell_units", "compare_cell", "paired_difference",
           "per_unit", "verdict"]
