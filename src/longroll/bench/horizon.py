"""``longroll bench``: the horizon benchmark on the built-in model, with the papers' ablations.

A matrix of variants (presets and ablations) x lengths (multiples of the training horizon) x
prompts x seeds is generated through the Python API and evaluated segment by segment, in memory
(frames stream from the rollout into the evaluator; nothing is held for the whole video). Every
run's result is cached as JSON under ``out/runs`` keyed by its settings and the weights hash, so a
re-run resumes. The main matrix's runs are committed with the repository (compact, floats rounded to
``RUN_DECIMALS``), so the benchmark resumes on any machine and in any later session.
The report (``REPORT.md`` + plots) follows FLEX Tables 1 and 3: per-metric values per length, and
the quality drift (last segment minus first).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from longroll.eval.evaluate import evaluate_frames
from longroll.io.atomic import write_json

log = logging.getLogger(__name__)

# Decimals kept in a cached run's floats: far below any metric's noise across prompts (the report's
# intervals are 0.01-0.1 wide), and it halves the committed cache (about 2 KB per 16x run in git).
RUN_DECIMALS = 5


def rounded(data, decimals: int = RUN_DECIMALS):
    """``data`` (nested dicts and lists from a run) with every float rounded to ``decimals``."""
    if isinstance(data, float):
        return round(data, decimals)
    if isinstance(data, dict):
        return {k: rounded(v, decimals) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [rounded(v, decimals) for v in data]
    return data


@dataclass(frozen=True)
class Variant:
    """One row of the benchmark: a preset with overrides."""

    name: str  # row label
    preset: str
    group: str  # which table it belongs to
    overrides: tuple[tuple[str, object], ...] = ()
    schedule: str = "chunk"  # chunk (chunk-wise autoregressive), fifo or miga (diagonal)
    schedule_options: tuple[tuple[str, object], ...] = ()  # FIFO / MIGA settings

    def kwargs(self) -> dict:
        return dict(self.overrides)


# The matrix's row groups, in report order: the presets, FLEX's components (Table 3: each removed from FLEX,
# and each alone), the three ways to roll out, MIGA's ablations, and the sweeps of FLEX §4.3 (Table 4, Fig. 5)
# and FAR.
GROUPS = ("presets", "components", "schedules", "miga_ablation", "alpha_beta", "rho", "sink_size",
          "flexrope_lambda")


def variants(quick: bool, only: tuple[str, ...] | None = None,
             groups: tuple[str, ...] | None = None) -> list[Variant]:
    """Presets, FLEX components one at a time, and the sweeps of FLEX §4.3 / FAR; with ``only``,
    just those presets' rows (without ``groups``: no ablations, the part of the matrix the
    default-preset rule reads); with ``groups``, just the rows of those groups (``GROUPS``)."""
    rows = _all_variants(quick)
    if only is not None:
        rows = [v for v in rows if v.group != "presets"] + [Variant(p, p, "presets") for p in only]
        groups = groups or ("presets",)
    if groups is not None:
        rows = [v for v in rows if v.group in groups]
    return sorted(rows, key=lambda v: GROUPS.index(v.group))


def _all_variants(quick: bool) -> list[Variant]:
    from longroll.constants import (
        FLEX_ALPHA,
        FLEX_BETA,
        FLEX_FIG5_RHOS,
        FLEX_RHO,
        FLEX_TABLE4_ALPHAS,
        FLEX_TABLE4_BETAS,
    )
    from longroll.pipelines.presets import PRESETS

    presets = list(PRESETS)  # every preset, the training-free extenders of the field included
    if quick:
        presets = ["none", "pi", "sink", "flex"]
    rows = [Variant(p, p, "presets") for p in presets]
    # FLEX Table 3 removes one component at a time from the full method; each is also added alone to `none`.
    rows += [
        Variant("FLEX w/o NTK-by-parts", "flex", "components", (("rope", "none"),)),
        # rho 0 is i.i.d. noise bit for bit (tests/test_noise.py), so this row shares Fig. 5's rho 0 run.
        Variant("FLEX w/o antiphase noise", "flex", "components", (("rho", 0.0),)),
        Variant("FLEX w/o sink", "flex", "components", (("sink", 0),)),
        Variant("FLEX (all three)", "flex", "components"),
    ]
    if not quick:
        rows += [
            Variant("+ NTK-by-parts", "none", "components", (("rope", "flex"),)),
            Variant("+ antiphase noise (rho -1)", "none", "components", (("noise", "antiphase"), ("rho", FLEX_RHO))),
            Variant("+ sink", "sink", "components"),
        ]
    # The three ways to roll out (same prompts and seeds), and MIGA's ablations (MIGA Table 3).
    rows += [Variant("chunk-wise (none)", "none", "schedules"),
             Variant("FIFO-Diffusion", "none", "schedules", schedule="fifo"),
             Variant("MIGA", "none", "schedules", schedule="miga")]
    if quick:
        return rows
    rows += [
        Variant("MIGA: TTA only", "none", "miga_ablation", schedule="miga",
                schedule_options=(("guidance", 0), ("reflection", False))),
        Variant("MIGA: DCE only", "none", "miga_ablation", schedule="miga",
                schedule_options=(("k", 1), ("stage2_steps", 0))),
        Variant("MIGA w/o self-reflection", "none", "miga_ablation", schedule="miga",
                schedule_options=(("reflection", False),)),
        Variant("MIGA w/o guidance", "none", "miga_ablation", schedule="miga", schedule_options=(("guidance", 0),)),
        # Where the guidance frames come from: the queue's head, as the paper's text reads, against
        # the chunks before the window, as its code does (MIGA's default here).
        Variant("MIGA, guidance from the queue head", "none", "miga_ablation", schedule="miga",
                schedule_options=(("guidance_from", "head"),)),
    ]
    # FLEX Table 4 varies one of alpha, beta with the other at its stated value; Fig. 5 sweeps rho.
    rows += [Variant(f"alpha {FLEX_ALPHA:g}, beta {b:g}", "flex", "alpha_beta", (("beta", b),))
             for b in FLEX_TABLE4_BETAS]
    rows += [Variant(f"alpha {a:g}, beta {FLEX_BETA:g}", "flex", "alpha_beta", (("alpha", a),))
             for a in FLEX_TABLE4_ALPHAS]
    rows += [Variant(f"rho {r:g}", "flex", "rho", (("rho", r),)) for r in FLEX_FIG5_RHOS if r != FLEX_RHO]
    rows += [Variant(f"sink {s}", "flex", "sink_size", (("sink", s),)) for s in (0, 8)]
    rows += [Variant(f"FlexRoPE lambda {lam:g}", "flexrope", "flexrope_lambda", (("flexrope_lambda", lam),))
             for lam in (0.05, 0.5)]
    return rows


@dataclass
class BenchConfig:
    """Size of the matrix."""

    out: Path  # folder for runs/, REPORT.md and plots
    quick: bool = False  # a small matrix that fits in a few minutes on 2 cores
    multiples: tuple[float, ...] = (1, 4, 16, 120)  # lengths in multiples of the horizon
    prompts: int = 32  # prompts by the stratified rule (longroll.bench.prompts) at every length but the longest
    seeds: int = 3  # seeds per prompt at those lengths
    long_prompts: int = 16  # prompts at 120x and beyond (the first ones of the same list)
    long_seeds: int = 2  # seeds per prompt at 120x and beyond
    segment_seconds: float = 2.0
    weights: str | None = None
    sweep_multiple: float = 16  # the length at which ablation sweeps run
    presets: tuple[str, ...] | None = None  # only these presets' rows (no ablations or schedules); None: all
    groups: tuple[str, ...] | None = None  # only these row groups (GROUPS); None: all (with presets: "presets")
    cached_only: bool = False  # generate nothing: report the runs already cached, and list what is missing
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        from longroll._validate import check_choice, check_int
        from longroll.bench.prompts import MAX_PROMPTS

        self.out = Path(self.out)
        check_int("prompts", self.prompts, low=1, high=MAX_PROMPTS)
        check_int("seeds", self.seeds, low=1, high=100)
        check_int("long_prompts", self.long_prompts, low=1, high=MAX_PROMPTS)
        check_int("long_seeds", self.long_seeds, low=1, high=100)
        self.multiples = tuple(self.multiples)
        if not self.multiples or any(not m > 0 for m in self.multiples):
            raise ValueError(f"multiples must be positive multiples of the horizon; got {self.multiples}.")
        if self.presets is not None:
            from longroll.pipelines.presets import PRESETS

            self.presets = tuple(self.presets)
            if not self.presets:
                raise ValueError("presets must name at least one preset, or be None for the whole matrix.")
            for name in self.presets:
                check_choice("preset", name, PRESETS)
        if self.groups is not None:
            self.groups = tuple(self.groups)
            if not self.groups:
                raise ValueError(f"groups must name at least one of {', '.join(GROUPS)}, or be None for all.")
            for name in self.groups:
                check_choice("group", name, GROUPS)
        if self.quick:
            self.multiples = (1, 4, 8)
            self.prompts = min(self.prompts, 2)
            self.seeds = 1
            self.sweep_multiple = 8

    def cell(self, multiple: float) -> tuple[int, int]:
        """(prompts, seeds) of a cell at ``multiple`` horizons (paired: every method the same)."""
        return (self.long_prompts, self.long_seeds) if multiple >= 120 else (self.prompts, self.seeds)


def _prompts(n: int) -> list[str]:
    from longroll.bench.prompts import stratified_prompts

    return stratified_prompts(n)


def _request(variant: Variant, seconds: float, prompt: str, seed: int):
    from longroll.pipelines.request import GenerationRequest

    return GenerationRequest(prompt=prompt, seconds=seconds, seed=seed, preset=variant.preset,
                             overrides=variant.kwargs(), schedule=variant.schedule,
                             schedule_options=dict(variant.schedule_options))


def run_key(plan, weights_sha256: str) -> str:
    """Cache key of a run: its fully resolved settings, the weights and the schedule's code revision,
    so that changing a model default, the weights or (by raising ``Schedule.revision``) what a
    schedule computes invalidates it."""
    from longroll.pipelines.schedules import revision_tag

    r = plan.request
    parts = [plan.schedule, plan.config_dict(), r.seconds, r.prompt, r.seed, plan.noise_seed, weights_sha256]
    tag = revision_tag(plan.schedule)
    if tag is not None:  # revision 1 adds nothing: the keys of runs cached before revisions existed hold
        parts.append(tag)
    blob = json.dumps(parts, default=str, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_one(model, plan, segment_seconds: float) -> dict:
    """Generate one video in memory, stream it into the evaluator, return the result."""
    from longroll.pipelines.run import stream
    from longroll.pipelines.schedules import SCHEDULES

    spec = SCHEDULES[plan.schedule]
    stats = spec.stats() if spec.stats is not None else None
    t0 = time.time()

    def frames():
        for chunk in stream(plan, model, stats=stats):
            yield from chunk

    # Every tail counts (extended backwards): the protocol the cached runs were measured under.
    result = evaluate_frames(frames(), model.fps, segment_seconds=segment_seconds, prompt=plan.request.prompt,
                             min_segments=1, min_tail=0.0)
    result["wall_seconds"] = time.time() - t0
    if stats is not None:
        result["diagonal"] = stats.to_dict()
    return result


@dataclass(frozen=True)
class BenchItem:
    """One video of the matrix (picklable: Ray and torchrun workers get these)."""

    variant: Variant
    multiple: float
    prompt: str
    seed: int
    key: str  # run_key of its resolved plan (the cache file's name)


class BenchJob:
    """The matrix as a ``longroll batch`` job: items are videos, each item's output is its run JSON
    (``runs/KEY.json``, written atomically), done when that file exists, so any backend resumes after
    a kill and a changed default or weights file makes new keys."""

    what = "bench"

    def __init__(self, cfg: BenchConfig, model, items: list[BenchItem], horizon: float, workers: int = 1) -> None:
        self.cfg, self.model, self.items, self.horizon = cfg, model, items, horizon
        self.workers = workers  # videos made at once (torchrun ranks or Ray actors)
        self.out = str(cfg.out)

    def folder_settings(self) -> dict:
        return {"bench": "horizon", "weights_sha256": self.model.weights_sha256}

    def item_hash(self, item: BenchItem) -> str:
        return item.key

    def item_cost(self, item: BenchItem) -> float:
        """Its length in training horizons: a rollout's time per chunk is flat (``bench.cost``)."""
        return float(item.multiple)

    def output_path(self, item: BenchItem, record: dict | None = None) -> Path:
        return Path(self.out) / "runs" / f"{item.key}.json"

    def plan(self) -> tuple[list, list]:
        todo = [i for i in self.items if not self.output_path(i).is_file()]
        return todo, [i for i in self.items if i not in todo]

    def prepare(self) -> None:
        (Path(self.out) / "runs").mkdir(parents=True, exist_ok=True)

    def record(self, record: dict) -> None:
        """The run JSON is the record: nothing else to append."""

    def open_worker(self, device: str | None = None):
        import torch

        from longroll.models.registry import load_model
        from longroll.pipelines.plan import resolve

        model = self.model if device is None and self.model is not None else \
            load_model("tiny", weights=self.cfg.weights, device=device)
        segment = min(self.cfg.segment_seconds, self.horizon)

        def worker(item: BenchItem) -> dict:
            v = item.variant
            plan = resolve(_request(v, self.horizon * item.multiple, item.prompt, item.seed), model)
            res = run_one(model, plan, segment)
            res.update({"preset": v.preset, "overrides": dict(v.overrides), "multiple": item.multiple,
                        "seed": item.seed, "schedule": v.schedule, "schedule_options": dict(v.schedule_options),
                        # How it was made: the cost per video is wall time over the videos made at once,
                        # and CPU matmuls round differently with another thread count (not in the key:
                        # the committed runs serve any machine; see bench/horizon/READING.md).
                        "workers": self.workers, "threads": torch.get_num_threads()})
            write_json(self.output_path(item), rounded(res), compact=True)
            return {"key": item.key}

        return worker


def run_bench(cfg: BenchConfig, model=None, progress: bool = True, *, backend: str = "local", workers: int = 1,
              ray_address: str | None = None, argv=None) -> Path:
    """Run (or resume) the matrix through a batch backend and write the report; returns the report path.
    With ``cfg.cached_only`` nothing is generated: the report is of the runs already cached."""
    from longroll.batch.backends import run_job
    from longroll.models.registry import load_model
    from longroll.pipelines.plan import resolve

    model = model or load_model("tiny", weights=cfg.weights)
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
                    # A run shared by two rows (the `flex` preset and "FLEX (all three)") is made once.
                    items.setdefault(key, BenchItem(v, m, p, s, key))
                    rows.append((v, key))
    # Made length by length, then (seed, prompt) by (seed, prompt) with every row inside: a job cut
    # short leaves whole paired units (every method on the same prompts), which `--cached` can report.
    where = {v: i for i, v in enumerate(dict.fromkeys(v for v, _ in rows))}
    order = sorted(items.values(), key=lambda i: (i.multiple, i.seed, prompts.index(i.prompt), where[i.variant]))
    job = BenchJob(cfg, model, order, horizon, workers=workers if backend != "local" else 1)
    coverage = remaining = None
    if cfg.cached_only:
        cached = {k for k, i in items.items() if job.output_path(i).is_file()}
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
    results = [{**json.loads(job.output_path(items[key]).read_text()), "variant": v.name, "group": v.group}
               for v, key in rows]
    from longroll.bench.report import write_report

    return write_report(results, cfg, horizon, model, coverage=coverage, remaining=remaining)


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
