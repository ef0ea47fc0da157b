"""Intervals for the horizon benchmark: a two-way bootstrap over prompts and seeds, paired differences, verdicts.

The benchmark's design is crossed, not nested: every row runs every prompt with every seed, and a
seed's noise is the same for every prompt (the noise is drawn from the seed alone). So a seed is not
a repeated measurement of one prompt: one seed's noise can favour a method on all prompts at once
(MIGA against FIFO-Diffusion at 4x: +0.061 subject consistency on seed 0, -0.038 and -0.018 on
seeds 1 and 2). Resampling prompts alone, with seeds averaged first, would read such a seed's effect
as a property of the method. The interval therefore resamples prompts and seeds independently, the
pigeonhole bootstrap for crossed random effects (Owen 2007, "The pigeonhole bootstrap"; slightly
conservative): each resample draws n_p prompts and n_s seeds with replacement and averages the grid
they span. With one seed it is the plain bootstrap over prompts (and holds for that seed's noise
only); with two or three seeds it is coarse, and a difference that changes sign between seeds comes
out not separable, as it should.

A method is compared with another on the same prompts and seeds (paired design), so the difference
is taken per (prompt, seed) before resampling. A difference is *better* or *worse* only when its 95%
interval excludes zero and it rests on at least ``MIN_UNITS`` prompts; otherwise *not separable*. The
floor is the exact paired sign-flip test's: with n prompts the smallest two-sided p-value it can
reach is 2 / 2^n, below 0.05 only from n = 6. The percentile bootstrap knows no such floor (four
prompts that all favour one method give an interval that excludes zero), so it would call chance
differences separable on few prompts. Everything is deterministic (a fixed resampling seed).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

BOOTSTRAP = 2000  # resamples
LEVEL = 0.95  # interval coverage
MIN_UNITS = 6  # fewest prompts on which a difference can be separable (exact sign-flip test at 5%)


def cell_units(results, variant: str, multiple: float, get) -> dict:
    """{(prompt, seed): ``get(run)``} over the runs of one row at one length (a run whose value ``get``
    cannot read, or reads as None or NaN, is left out)."""
    cell = {}
    for r in results:
        if r["variant"] == variant and r["multiple"] == multiple:
            try:
                v = get(r)
            except (KeyError, TypeError):
                continue
            if v is not None and np.isfinite(v):
                cell[(r["prompt"], r["seed"])] = float(v)
    return cell


def _cell(key) -> tuple:
    """A value's (prompt, seed): its key, or (key, 0) for a key that is a prompt alone."""
    return key if isinstance(key, tuple) and len(key) == 2 else (key, 0)


def grid_label(keys) -> str:
    """"N prompts x M seeds" for the (prompt, seed) cells ``keys`` (a key that is a prompt alone: seed 0)."""
    cells = {_cell(k) for k in keys}
    n_p, n_s = len({p for p, _ in cells}), len({s for _, s in cells})
    return f"{n_p} prompt{'s' * (n_p != 1)} x {n_s} seed{'s' * (n_s != 1)}"


def _grid(values) -> tuple[np.ndarray, np.ndarray]:
    """Values keyed by (prompt, seed) (any other key: a prompt with one seed; a plain sequence: one
    prompt per value) -> (values, mask), both (n_prompts, n_seeds); None and NaN are missing cells."""
    if not isinstance(values, Mapping):
        values = dict(enumerate(values))
    cells = {_cell(k): v for k, v in values.items() if v is not None and np.isfinite(v)}
    prompts = {p: i for i, p in enumerate(dict.fromkeys(p for p, _ in cells))}
    seeds = {s: i for i, s in enumerate(dict.fromkeys(s for _, s in cells))}
    grid = np.zeros((len(prompts), len(seeds)))
    mask = np.zeros_like(grid)
    for (p, s), v in cells.items():
        grid[prompts[p], seeds[s]] = v
        mask[prompts[p], seeds[s]] = 1.0
    return grid, mask


def bootstrap_mean(values, *, seed: int = 0) -> tuple[float, float, float] | None:
    """(mean, low, high): the mean over the (prompt, seed) cells of ``values`` (a mapping keyed by
    (prompt, seed), or a sequence of one value per prompt) with its two-way percentile interval; None
    if empty."""
    grid, mask = _grid(values)
    if not mask.any():
        return None
    mean = float((grid * mask).sum() / mask.sum())
    n_p, n_s = grid.shape
    if n_p * n_s == 1:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    w_p = rng.multinomial(n_p, np.full(n_p, 1 / n_p), size=BOOTSTRAP).astype(np.float64)  # (B, n_p)
    w_s = rng.multinomial(n_s, np.full(n_s, 1 / n_s), size=BOOTSTRAP).astype(np.float64)  # (B, n_s)
    num = np.einsum("bp,ps,bs->b", w_p, grid * mask, w_s)
    den = np.einsum("bp,ps,bs->b", w_p, mask, w_s)
    means = num[den > 0] / den[den > 0]  # a ragged grid: a resample may span no measured cell
    lo, hi = np.quantile(means, [(1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2])
    return mean, float(lo), float(hi)


def paired_difference(a: Mapping, b: Mapping, *, seed: int = 0) -> tuple[float, float, float, int] | None:
    """Mean of ``a[u] - b[u]`` over the (prompt, seed) cells both have, with its two-way interval, and
    the number of prompts it rests on."""
    diff = {u: a[u] - b[u] for u in a if u in b and a[u] is not None and b[u] is not None}
    ci = bootstrap_mean(diff, seed=seed)
    if ci is None:
        return None
    return (*ci, len({_cell(u)[0] for u, v in diff.items() if np.isfinite(v)}))


def main_effect_shares(values: Mapping) -> tuple[float, float] | None:
    """(seed share, prompt share) of the variance of ``values`` ({(prompt, seed): v}): the main effects'
    sums of squares over the total, on the prompts that have every seed; None with fewer than two
    seeds or prompts, or no variance. What neither explains is their interaction."""
    grid, mask = _grid(values)
    grid = grid[mask.all(axis=1)]  # (n_prompts with every seed, n_seeds)
    if grid.shape[0] < 2 or grid.shape[1] < 2:
        return None
    total = float(((grid - grid.mean()) ** 2).sum())
    if total == 0:
        return None
    seeds = grid.shape[0] * float(((grid.mean(axis=0) - grid.mean()) ** 2).sum())
    prompts = grid.shape[1] * float(((grid.mean(axis=1) - grid.mean()) ** 2).sum())
    return seeds / total, prompts / total


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
    ci = bootstrap_mean(values)
    if ci is None:
        return "-", None, None
    cell = f"{ci[0]:.3f} [{ci[1]:.3f}, {ci[2]:.3f}]"
    d = None if baseline is None else paired_difference(values, baseline)
    if d is None or d[3] < 2:
        return cell, None, None
    v = verdict(d[1], d[2], higher_is_better, d[3])
    spread = f" [{d[1]:+.3f}, {d[2]:+.3f}]" if interval else ","
    return f"{cell} ({d[0]:+.3f}{spread} {v})", v, d[0]


__all__ = ["BOOTSTRAP", "LEVEL", "MIN_UNITS", "bootstrap_mean", "cell_units", "compare_cell", "grid_label",
           "main_effect_shares", "paired_difference", "verdict"]
