"""``longroll bench``: the horizon benchmark on the built-in model, with the papers' ablations.

A matrix of variants (presets and ablations) x lengths (multiples of the training horizon) x
prompts x seeds is generated through the Python API and evaluated segment by segment, in memory
(frames stream from the rollout into the evaluator; nothing is held for the whole video), by the
job both benchmarks share (``bench.job``). Every
run's result is kept in the run store (``bench.store``: one JSONL file per row and length under
``out/runs``) keyed by its settings and the weights hash, so a re-run resumes. The main matrix's runs
are committed with the repository (floats rounded to ``RUN_DECIMALS``), so the benchmark resumes on
any machine and in any later session.
The report (``REPORT.md`` + plots) follows FLEX Tables 1 and 3: per-metric values per length, and
the quality drift (last segment minus first).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from pathlib import Path

from longroll.bench.job import BenchItem, BenchJob, _request, run_key
from longroll.bench.matrix import BenchConfig, variants

log = logging.getLogger(__name__)


def _prompts(n: int) -> list[str]:
    from longroll.bench.prompts import stratified_prompts

    return stratified_prompts(n)


def run_bench(cfg: BenchConfig, model=None, progress: bool = True, *, backend: str = "local", workers: int = 1,
              ray_address: str | None = None, argv=None) -> Path:
    """Run (or resume) the matrix through a batch backend and write the report; returns the report path.
    With ``cfg.cached_only`` nothing is generated: the report is of the runs already cached."""
    from longroll.batch.backends import run_job
    from longroll.models.registry import load_model

    model = model or load_model("tiny", weights=cfg.weights)
    horizon = model.defaults.train_len * model.frames_per_latent / model.fps
    prompts = _prompts(max(cfg.prompts, cfg.long_prompts))
    rows, items = matrix_items(cfg, model)
    # Made length by length, then (seed, prompt) by (seed, prompt) with every row inside: a job cut
    # short leaves whole paired units (every method on the same prompts), which `--cached` can report.
    where = {v: i for i, v in enumerate(dict.fromkeys(v for v, _ in rows))}
    order = sorted(items.values(), key=lambda i: (i.multiple, i.seed, prompts.index(i.prompt), where[i.variant]))
    job = BenchJob(cfg, model, order, horizon, workers=workers if backend != "local" else 1)
    coverage = remaining = None
    if cfg.cached_only:
        cached = job.store.keys() & set(items)
        rows, coverage = paired_cached_rows(rows, items, cached)
        remaining = Counter((i.variant.schedule, i.multiple) for k, i in items.items() if k not in cached)
    else:
        job.prepare()
        summary = run_job(job, backend=backend, workers=workers, ray_address=ray_address, show_progress=progress,
                          argv=argv)
        if not summary.ok:
            raise RuntimeError(summary.text())
        from longroll.batch.distributed import reports_here

        if not reports_here():
            return Path(cfg.out) / "REPORT.md"
    job.store.refresh()  # torchrun ranks and Ray actors appended in other processes
    results = [{**job.store.get(key), "variant": v.name, "group": v.group} for v, key in rows]
    from longroll.bench.report import write_report

    return write_report(results, cfg, horizon, model, coverage=coverage, remaining=remaining)


def matrix_items(cfg: BenchConfig, model) -> tuple[list, dict]:
    """The matrix of ``cfg`` on ``model``: its rows [(variant, run key)] in order and its items {key: BenchItem}
    (a run shared by two rows, as the `flex` preset and "FLEX (all three)", is one item)."""
    from longroll.pipelines.plan import resolve

    horizon = model.defaults.train_len * model.frames_per_latent / model.fps
    prompts = _prompts(max(cfg.prompts, cfg.long_prompts))
    rows, items = [], {}
    for v in variants(cfg.quick, cfg.presets, cfg.groups):
        mults = cfg.multiples if v.group in ("presets", "schedules") else (cfg.sweep_multiple,)
        for m in mults:
            n_prompts, n_seeds = cfg.cell(m)
            for p in prompts[:n_prompts]:
                for s in range(n_seeds):
                    key = run_key(resolve(_request(v, horizon * m, p, s), model), model.weights_sha256)
                    items.setdefault(key, BenchItem(v, m, p, s, key, horizon * m))
                    rows.append((v, key))
    return rows, items


def _whole_seeds(units: set) -> set:
    """The (prompt, seed) units of the seeds that have every prompt of ``units`` (all of them when no
    seed has: a cell of one partial seed is still reported)."""
    prompts = {p for p, _ in units}
    whole = {s for s in {s for _, s in units} if all((p, s) in units for p in prompts)}
    return {(p, s) for p, s in units if s in whole} if whole else units


def paired_cached_rows(rows: list, items: dict, cached: set) -> tuple[list, list[tuple]]:
    """The matrix's rows whose runs are cached, kept so that every comparison stays paired.

    Per row group and length, a (prompt, seed) is kept only when every variant of the group has its
    run cached (a group with a variant not run at all drops out at that length), and a seed only
    when it has every prompt the others have: the intervals resample prompts and seeds as crossed
    factors (``bench.stats``), and a seed cut short would stand for a whole seed on a few prompts
    (the matrix is made seed by seed, so a cut run has whole seeds and one partial one, left out
    until it is complete). Returns the kept rows and the coverage: (group, multiple, variants, runs
    in the matrix, runs reported).
    """
    have: dict = defaultdict(dict)  # (group, multiple) -> variant name -> cached (prompt, seed) units
    need: dict = defaultdict(int)
    for v, key in rows:
        item = items[key]
        cell = (v.group, item.multiple)
        need[cell] += 1
        units = have[cell].setdefault(v.name, set())
        if key in cached:
            units.add((item.prompt, item.seed))
    complete = {cell: _whole_seeds(set.intersection(*by_variant.values())) for cell, by_variant in have.items()}
    kept = [(v, key) for v, key in rows
            if (items[key].prompt, items[key].seed) in complete[(v.group, items[key].multiple)]]
    coverage = [(g, m, len(have[(g, m)]), need[(g, m)], len(complete[(g, m)]) * len(have[(g, m)]))
                for g, m in need]
    return kept, coverage
