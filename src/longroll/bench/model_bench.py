"""``longroll bench --model NAME``: the benchmark on any model family, with speed and memory beside quality.

Which preset helps *this* model, at which length, at what cost: every preset the schedule runs x
lengths (seconds, or multiples of the model's training horizon) x the prompts (a prompt file, or
longroll's suite) x seeds, each video generated through the Python API and evaluated segment by
segment as it streams (``job.run_one``): the weight-free metrics always, VBench's DINO / CLIP
consistency from local model folders where given, the world-aware ones on the built-in model. Each
run also records its cost (``bench.measure``): seconds per chunk in the steady state, frames per
second made, peak memory. Runs go to the run store (``bench.store``) keyed by the fully resolved
config, the weights' hash, the loading options and the metrics' models, through the batch backends
(local, torchrun, Ray), so a killed benchmark resumes where it stopped. The report
(``bench.model_report``) gives paired intervals against ``none``, the cost ratios, the papers'
claims and the default preset by the rule, for the model measured.

Steps of ``run_model_bench``: 1. the prompts (read before anything is loaded); 2. the model;
3. every item resolved against it (a bad prompt or preset fails here, before the first video);
4. the items run through a backend (or, with ``cached_only``, nothing is made); 5. the report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from longroll.pipelines.rollouts import DEFAULT

log = logging.getLogger(__name__)

DEFAULT_MULTIPLES = (1.0, 4.0, 16.0)  # lengths in training horizons when no seconds are given
DEFAULT_SEEDS = 2


@dataclass(frozen=True)
class ModelBenchConfig:
    """What to measure, on which model (checked when built; nothing loaded)."""

    out: Path  # folder: runs/ (the run store), REPORT.md, rule.json
    model: str = "tiny"  # model family (models.registry.FAMILIES)
    weights: str | None = None  # its weights (None: the built-in model's shipped ones)
    model_options: dict = field(default_factory=dict)  # its loading options (base, flavour, lora, height, ...)
    device: str | None = None  # torch device (None: the loader's default)
    prompt_file: str | None = None  # prompts (.txt or .jsonl, bench.suite); None: longroll's suite
    prompts: int | None = None  # only the first N prompts (None: all)
    seconds: tuple[float, ...] | None = None  # lengths in seconds; None: ``multiples`` of the horizon
    multiples: tuple[float, ...] = DEFAULT_MULTIPLES  # lengths in training horizons (without ``seconds``)
    presets: tuple[str, ...] | None = None  # None: every preset that acts under the schedule
    schedule: str = DEFAULT  # how the videos are rolled out (pipelines.rollouts.SCHEDULES)
    seeds: int = DEFAULT_SEEDS  # seeds per prompt (0 .. seeds - 1; paired: every preset the same)
    segment_seconds: float = 2.0  # evaluation segment (VBench-Long's clips), capped at the horizon
    dino: str | None = None  # local DINO folder: VBench's subject consistency (None: that column is absent)
    clip: str | None = None  # local CLIP folder: VBench's background consistency (None: absent)
    aesthetic: str | None = None  # local CLIP ViT-L/14 folder with LAION's linear head: VBench's aesthetic quality
    lpips: str | None = None  # predict: folder with AlexNet's and LPIPS's .pth files (eval.lpips; None: absent)
    protocol: str = "t2v"  # "t2v": text to video; "predict": from N real frames, scored against the truth
    context: int | None = None  # predict: context frames (None: one chunk of the model, bench.protocols)
    videos: str | None = None  # predict on a model without the built-in world: one true video per prompt
    cached_only: bool = False  # make nothing: report the runs already in the store

    def __post_init__(self) -> None:
        from longroll._validate import check_choice, check_float, check_int
        from longroll.models.registry import check_options
        from longroll.pipelines.presets import PRESETS
        from longroll.pipelines.request import MAX_SECONDS
        from longroll.pipelines.rollouts import SCHEDULES

        object.__setattr__(self, "out", Path(self.out))
        check_options(self.model, self.weights, dict(self.model_options))
        check_choice("schedule", self.schedule, SCHEDULES)
        check_int("seeds", self.seeds, low=1, high=100)
        if self.prompts is not None:
            check_int("prompts", self.prompts, low=1)
        check_float("segment seconds", self.segment_seconds, low=0.0, low_open=True)
        if self.seconds is not None:
            object.__setattr__(self, "seconds", tuple(self.seconds))
            if not self.seconds:
                raise ValueError("seconds must name at least one length, e.g. 10,30,60.")
            for s in self.seconds:
                check_float("seconds", s, low=0.0, high=MAX_SECONDS, low_open=True)
        object.__setattr__(self, "multiples", tuple(self.multiples))
        if not self.multiples or any(not m > 0 for m in self.multiples):
            raise ValueError(f"multiples must be positive multiples of the horizon; got {self.multiples}.")
        if self.presets is not None:
            object.__setattr__(self, "presets", tuple(self.presets))
            if not self.presets:
                raise ValueError("presets must name at least one preset, or be None for every one.")
            for name in self.presets:
                check_choice("preset", name, PRESETS)
                SCHEDULES[self.schedule].check_preset(name)
        from longroll.bench.protocols import PROTOCOLS

        check_choice("protocol", self.protocol, PROTOCOLS)
        if self.protocol == "t2v" and (self.context is not None or self.videos is not None or self.lpips is not None):
            raise ValueError("--context, --videos and --lpips belong to --protocol predict (text to video starts from "
                             "noise and has no true continuation to compare with).")
        if self.lpips is not None and not Path(self.lpips).is_dir():
            raise ValueError(f"--lpips {self.lpips!r} is not a folder (AlexNet's and LPIPS's .pth files).")
        if self.context is not None:
            check_int("context", self.context, low=1, high=10_000)
        if self.videos is not None and not Path(self.videos).is_dir():
            raise ValueError(f"--videos {self.videos!r} is not a folder (one true video per prompt).")
        if self.protocol == "predict" and not SCHEDULES[self.schedule].init:
            able = " or ".join(s.name for s in SCHEDULES.values() if s.init)
            raise ValueError(f"--protocol predict continues real frames, which needs the {able} schedule; the "
                             f"{self.schedule} schedule starts from noise.")
        for kind in ("dino", "clip", "aesthetic"):
            path = getattr(self, kind)
            if path is not None and not (Path(path) / "config.json").is_file():
                raise ValueError(f"--{kind} {path!r} is not a local {'CLIP' if kind == 'aesthetic' else kind.upper()} "
                                 "model folder (config.json, its weights and preprocessor_config.json, as "
                                 "save_pretrained writes them).")

    def chosen_presets(self) -> tuple[str, ...]:
        """The presets measured: the given ones, else every one that acts under the schedule (``none`` first:
        every other row is compared with it)."""
        from longroll.pipelines.rollouts import SCHEDULES

        names = self.presets or tuple(SCHEDULES[self.schedule].presets())
        return tuple(sorted(names, key=lambda n: n != "none"))


def metric_models(cfg: ModelBenchConfig) -> dict:
    """The metrics' model folders given, and their content hashes (part of every run's key)."""
    from longroll.io.hashing import file_sha256

    given = {k: getattr(cfg, k) for k in ("dino", "clip", "aesthetic", "lpips") if getattr(cfg, k) is not None}
    return {k: {"path": str(v), "sha256": file_sha256(Path(v))} for k, v in given.items()}


def run_model_bench(cfg: ModelBenchConfig, model=None, progress: bool = True, *, backend: str = "local",
                    workers: int = 1, ray_address: str | None = None, argv=None) -> Path:
    """Run (or resume) the benchmark on ``cfg``'s model and write its report; returns the report's path."""
    from longroll.batch.backends import run_job
    from longroll.bench.job import BenchItem, BenchJob, _request, run_key
    from longroll.bench.matrix import Variant
    from longroll.bench.suite import default_suite, read_prompt_file, videos_suite
    from longroll.models.registry import load_model
    from longroll.pipelines.plan import resolve

    # 1. The prompts, read before anything heavy; the metric models' files checked.
    prompts = read_prompt_file(cfg.prompt_file) if cfg.prompt_file else None
    metrics = metric_models(cfg)
    if cfg.lpips is not None:
        from longroll.eval.lpips import LPIPS

        LPIPS.from_folder(cfg.lpips)  # a wrong folder fails here, not in every worker
    if cfg.aesthetic is not None:
        from longroll.eval.model_metrics import AestheticQuality

        AestheticQuality.check(cfg.aesthetic)  # its head read against the CLIP's config; the CLIP loads in workers
    # 2. The model.
    model = model or load_model(cfg.model, weights=cfg.weights, device=cfg.device, **dict(cfg.model_options))
    if prompts is None and cfg.protocol == "predict" and cfg.videos is not None:
        prompts = videos_suite(cfg.videos, model)  # one item per true video, prompted as the model reads its file
    prompts = (prompts or default_suite(model))[: cfg.prompts]
    horizon = model.defaults.train_len * model.frames_per_latent / model.fps
    # 3. Every item, resolved against the model: a bad prompt or preset fails before the first video.
    extra = {"model": model.name, "options": {k: v for k, v in sorted(model.load_options.items()) if v is not None},
             "metrics": {k: v["sha256"] for k, v in metrics.items()}}
    if model.name == "tiny" and not metrics:
        extra = None  # the built-in model's keys stay those of the horizon benchmark (a run means the same in both)
    items: dict[str, BenchItem] = {}
    rows: list[tuple[Variant, str]] = []
    contexts = _contexts(cfg, model, prompts)  # predict: (prompt, seed) -> Context, written once; else empty
    presets = cfg.chosen_presets()
    for preset in presets:
        variant = Variant(preset, preset, "presets", schedule=cfg.schedule)
        for p in prompts:
            for seconds in _lengths(p, cfg, horizon):
                for seed in range(cfg.seeds):
                    context = contexts.get((p.text, seed))
                    plan = resolve(_request(variant, seconds, p.model_text, seed, context and context.folder), model)
                    key = run_key(plan, model.weights_sha256, extra if context is None else
                                  {**(extra or {}), "protocol": "predict", "context": context.sha256})
                    items.setdefault(key, BenchItem(variant, round(seconds / horizon, 2), p.text, seed, key, seconds,
                                                    context, p.prompt))
                    rows.append((variant, key))
    # Length by length, then seed by seed with every preset inside: a run cut short leaves whole paired units.
    place = {p.text: i for i, p in enumerate(prompts)}
    order = sorted(items.values(), key=lambda i: (i.seconds, i.seed, place[i.prompt], presets.index(i.variant.preset)))
    load = {"name": cfg.model, "weights": cfg.weights, "options": dict(cfg.model_options)}
    job = BenchJob(cfg, model, order, horizon, workers=workers if backend != "local" else 1, load=load,
                   features={k: v["path"] for k, v in metrics.items()}, what="model")
    # 4. Make what is missing (or nothing, from the cache).
    if not cfg.cached_only:
        job.prepare()
        summary = run_job(job, backend=backend, workers=workers, ray_address=ray_address, show_progress=progress,
                          argv=argv, device=cfg.device)
        if not summary.ok:
            raise RuntimeError(summary.text())
        from longroll.batch.distributed import reports_here

        if not reports_here():
            return Path(cfg.out) / "REPORT.md"
    job.store.refresh()
    results = [{**job.store.get(key), "variant": v.name, "group": v.group} for v, key in rows if key in job.store]
    missing = len({key for _, key in rows if key not in job.store})
    # 5. The report.
    from longroll.bench.model_report import write_model_report

    categories = {p.text: p.category for p in prompts}
    return write_model_report(results, cfg, model, horizon, categories=categories, metrics=metrics, missing=missing)


def _contexts(cfg: ModelBenchConfig, model, prompts) -> dict:
    """The predict protocol's context of every (prompt, seed) (``bench.protocols``); empty for text to video."""
    if cfg.protocol != "predict":
        return {}
    from longroll.bench.protocols import default_context, make_context

    if not model.world and cfg.videos is None:
        raise ValueError(f"--protocol predict on the {model.name} model needs --videos DIR (one true video per "
                         "prompt, its first frames the context); only the built-in world renders its own truth.")
    frames = cfg.context or default_context(model)
    out = {}
    for p in prompts:
        for seed in range(cfg.seeds):
            # The world draws a scene per seed; a real video is the same truth for every seed (the noise differs).
            same = seed > 0 and cfg.videos is not None
            out[(p.text, seed)] = out[(p.text, 0)] if same else make_context(cfg.out, model, p.text, seed, frames,
                                                                              cfg.videos, video=p.video)
    return out


def _lengths(prompt, cfg: ModelBenchConfig, horizon: float) -> tuple[float, ...]:
    """A prompt's lengths in seconds: its own (JSONL ``seconds``), the benchmark's, or multiples of the horizon."""
    if prompt.seconds is not None:
        return prompt.seconds
    if cfg.seconds is not None:
        return cfg.seconds
    return tuple(round(m * horizon, 6) for m in cfg.multiples)


__all__ = ["DEFAULT_MULTIPLES", "ModelBenchConfig", "metric_models", "run_model_bench"]
