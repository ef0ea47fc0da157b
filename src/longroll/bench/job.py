"""The job both benchmarks share: one video of a matrix (``BenchItem``), made and measured (``run_one``), kept
in the run store (``BenchJob``, a ``longroll batch`` job, so every backend runs it and resumes it).

``run_key`` is a run's cache key: its fully resolved settings, the weights' hash, the schedule's code
revision and whatever else decides the result (another model's loading options, the metrics' models, the
predict protocol's context). ``run_one`` generates a video in memory and streams it into the evaluator,
with its cost (``bench.measure``) and, under the predict protocol, its scores against the truth.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

from longroll.bench.matrix import Variant
from longroll.bench.measure import model_device
from longroll.bench.store import RunStore, cell_name
from longroll.eval.evaluate import evaluate_frames

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


def _request(variant: Variant, seconds: float, prompt: str, seed: int, init: str | None = None):
    """The request of one video; ``init``: context frames it continues (not in its output: the prediction)."""
    from longroll.pipelines.request import GenerationRequest

    return GenerationRequest(prompt=prompt, seconds=seconds, seed=seed, preset=variant.preset,
                             overrides=variant.kwargs(), schedule=variant.schedule,
                             schedule_options=dict(variant.schedule_options), init=init,
                             init_in_output=init is None)


def _stable(config: dict) -> dict:
    """``config`` without the cache and bias fields added after runs were cached, while they are off
    (``CacheConfig.stable_dict``, ``TemporalBias.stable_dict``): every run cached before they existed keeps its
    key, so the committed matrix resumes, and any run that uses them has a key of its own."""
    from longroll.cache.config import CacheConfig
    from longroll.rope.bias import TemporalBias

    out = dict(config)
    if isinstance(out.get("bias"), dict):
        out["bias"] = TemporalBias.stable_dict(out["bias"])
    if isinstance(out.get("cache"), dict):
        out["cache"] = CacheConfig.stable_dict(out["cache"])
    return out


def run_key(plan, weights_sha256: str, extra: dict | None = None) -> str:
    """Cache key of a run: its fully resolved settings, the weights and the schedule's code revision,
    so that changing a model default, the weights or (by raising ``Schedule.revision``) what a
    schedule computes invalidates it. ``extra``: what else decides the result (another model's loading
    options, the metrics' models); empty adds nothing, so the built-in model's keys stay as they were."""
    from longroll.pipelines.rollouts import revision_tag

    r = plan.request
    parts = [plan.schedule, _stable(plan.config_dict()), r.seconds, r.prompt, r.seed, plan.noise_seed,
             weights_sha256]
    tag = revision_tag(plan.schedule)
    if tag is not None:  # revision 1 adds nothing: the keys of runs cached before revisions existed hold
        parts.append(tag)
    if extra:
        parts.append(extra)
    blob = json.dumps(parts, default=str, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _on_device(model, device) -> bool:
    """Whether ``model`` runs on ``device`` (None: any; ``cuda`` matches every CUDA device index)."""
    import torch

    if device is None:
        return True
    want, have = torch.device(device), model_device(model)
    return want.type == have.type and (want.index is None or want.index == have.index)


EVALUATOR_QUEUE = 4  # decoded chunks the evaluator may fall behind the rollout before the rollout waits


def run_one(model, plan, segment_seconds: float, *, feature_models=(), min_tail: float = 0.0,
            scorers: dict | None = None, overlap: bool = True) -> dict:
    """Generate one video in memory, stream it into the evaluator, return the result with what it cost
    (``speed``: ``bench.measure.RunMeter``'s generation time per chunk, frames per second and peak memory;
    ``wall_seconds``: generation and evaluation). World-aware metrics where the model shows the built-in
    world; ``feature_models``: VBench's DINO / CLIP consistency (``eval.model_metrics``).
    ``min_tail``: the share of a segment a last partial one needs (0, every tail counts: the protocol the
    horizon benchmark's cached runs were measured under). ``scorers``: {name: an object whose ``add(frames)``
    sees every chunk and whose ``result()`` goes into the result under that name} (the predict protocol's
    comparisons with the true continuation, ``bench.protocols``).

    Steps: 1. the evaluator starts on its own thread, reading decoded chunks from a bounded queue; 2. this
    thread runs the rollout and the decoder, timed chunk by chunk, and queues each chunk (the rollout waits
    only when the evaluator is ``EVALUATOR_QUEUE`` chunks behind: on a GPU the two overlap, on a small CPU
    they share its cores); 3. the results are joined. ``speed.overhead_seconds`` is what evaluation added
    to the wall time: the whole run's time less the rollout's own. ``overlap=False`` evaluates each chunk
    on this thread as it comes instead (``bench/bench_overhead.py`` measures both)."""
    from longroll.bench.measure import RunMeter
    from longroll.pipelines.behind import Behind
    from longroll.pipelines.rollouts import SCHEDULES
    from longroll.pipelines.run import stream

    spec = SCHEDULES[plan.schedule]
    stats = spec.stats() if spec.stats is not None else None
    meter = RunMeter(model_device(model), fill_frames=spec.fill(plan.config) * model.frames_per_latent)
    scorers = scorers or {}

    def evaluate(chunks) -> dict:
        def frames():
            for chunk in chunks:
                for scorer in scorers.values():
                    scorer.add(chunk)
                yield from chunk

        return evaluate_frames(frames(), model.fps, segment_seconds=segment_seconds,
                               prompt=plan.request.prompt if model.world else None, min_segments=1,
                               feature_models=feature_models, min_tail=min_tail)

    t0 = time.time()
    if not overlap:
        result = evaluate(meter.wrap(stream(plan, model, stats=stats)))
    else:
        # 1. The evaluator, on its own thread. 2. The rollout and the decoder, on this thread. 3. The results
        #    (an evaluator's error is raised here).
        with Behind(evaluate, depth=EVALUATOR_QUEUE, name="bench-evaluator") as behind:
            for chunk in meter.wrap(stream(plan, model, stats=stats)):
                behind.put(chunk)
        result = behind.result
    result["wall_seconds"] = time.time() - t0
    result["speed"] = meter.result()
    result["speed"]["overhead_seconds"] = max(0.0, result["wall_seconds"] - result["speed"]["generation_seconds"])
    for name, scorer in scorers.items():
        result[name] = scorer.result()
    if stats is not None:
        result["diagonal"] = stats.to_dict()
    return result


@dataclass(frozen=True)
class BenchItem:
    """One video of the matrix (picklable: Ray and torchrun workers get these)."""

    variant: Variant
    multiple: float  # its length in training horizons
    prompt: str
    seed: int
    key: str  # run_key of its resolved plan (its key in the run store)
    seconds: float  # its length in seconds (the request's)
    context: object = None  # the predict protocol's bench.protocols.Context (None: text to video)
    model_prompt: str | None = None  # what the model is prompted with when it is not ``prompt`` (a video's item)

    @property
    def text(self) -> str:
        """The text the model is prompted with (``prompt`` is the item's name in the report)."""
        return self.prompt if self.model_prompt is None else self.model_prompt

    @property
    def cell(self) -> str:
        """The store file it is written to (its row at its length)."""
        return cell_name(self.multiple, self.variant.name)


class BenchJob:
    """The matrix as a ``longroll batch`` job: items are videos, each item's output is its run, one
    line appended to the run store (``out/runs``) by ``record``, done when the store has its key, so any
    backend resumes after a kill and a changed default or weights file makes new keys."""

    what = "bench"

    def __init__(self, cfg, model, items: list[BenchItem], horizon: float, workers: int = 1, *,
                 load: dict | None = None, features: dict | None = None, what: str = "horizon") -> None:
        self.cfg, self.model, self.items, self.horizon = cfg, model, items, horizon
        self.workers = workers  # videos made at once (torchrun ranks or Ray actors)
        self.out = str(cfg.out)
        self.store = RunStore(Path(self.out) / "runs")
        # How a worker in another process loads the model: registry name, weights, loading options.
        self.load = load or {"name": "tiny", "weights": cfg.weights, "options": {}}
        self.features = features or {}  # metric model folders where given: dino, clip (eval.model_metrics), lpips
        self.kind = what  # "horizon" (the built-in model's matrix) or "model" (any model)
        self.weights_sha256 = model.weights_sha256

    def __getstate__(self) -> dict:
        """Sent to Ray actors without the model: each loads its own (``load``) on its device."""
        return {**self.__dict__, "model": None}

    def folder_settings(self) -> dict:
        return {"bench": self.kind, "weights_sha256": self.weights_sha256}

    def item_hash(self, item: BenchItem) -> str:
        return item.key

    def item_cost(self, item: BenchItem) -> float:
        """Its length in training horizons: a rollout's time per chunk is flat (``bench.cost``)."""
        return float(item.multiple)

    def plan(self) -> tuple[list, list]:
        self.store.refresh()
        todo = [i for i in self.items if i.key not in self.store]
        return todo, [i for i in self.items if i not in todo]

    def prepare(self) -> None:
        (Path(self.out) / "runs").mkdir(parents=True, exist_ok=True)

    def record(self, record: dict) -> None:
        """Append the run to the store (in the worker's process, or the Ray driver's)."""
        self.store.append(record["cell"], record["key"], record["run"])

    def open_worker(self, device: str | None = None):
        import torch

        from longroll.eval.model_metrics import load_feature_models
        from longroll.models.registry import load_model
        from longroll.pipelines.plan import resolve

        model = self.model  # in this process: the model already loaded, unless another device is asked for
        if model is None or not _on_device(model, device):
            model = load_model(self.load["name"], weights=self.load["weights"], device=device, **self.load["options"])
        features = {k: v for k, v in self.features.items() if k != "lpips"}
        features = load_feature_models(**features, device=model_device(model))
        lpips = None
        if self.features.get("lpips"):
            from longroll.eval.lpips import LPIPS

            lpips = LPIPS.from_folder(self.features["lpips"], device=model_device(model))
        segment = min(self.cfg.segment_seconds, self.horizon)
        if self.kind == "model" and self.items:  # warm up (lazy init, kernel choice), so the first run is timed
            first = self.items[0]  # like the others; the built-in matrix's cached runs were made without.
            # As long as the first item at most (a world model's actions cover only its videos' frames), from its
            # context where it has one.
            init = None if first.context is None else first.context.folder
            run_one(model, resolve(_request(Variant("none", "none", "presets", schedule=first.variant.schedule),
                                            min(self.horizon, first.seconds), first.text, 0, init), model),
                    min(segment, first.seconds))

        def worker(item: BenchItem) -> dict:
            v = item.variant
            init = None if item.context is None else item.context.folder
            plan = resolve(_request(v, item.seconds, item.text, item.seed, init), model)
            seg = min(segment, item.seconds)
            scorers = None if item.context is None else item.context.scorers(model, seg, lpips=lpips)
            res = run_one(model, plan, seg, feature_models=features, scorers=scorers)
            res.update({"preset": v.preset, "overrides": dict(v.overrides), "multiple": item.multiple,
                        "seconds": item.seconds, "prompt": item.prompt,
                        "seed": item.seed, "schedule": plan.schedule, "schedule_options": dict(v.schedule_options),
                        # How it was made: the cost per video is wall time over the videos made at once,
                        # and CPU matmuls round differently with another thread count (not in the key:
                        # the committed runs serve any machine; see bench/horizon/READING.md).
                        "workers": self.workers, "threads": torch.get_num_threads(),
                        **({"context_frames": item.context.frames} if item.context is not None else {})})
            return {"key": item.key, "cell": item.cell, "run": rounded(res)}

        return worker


__all__ = ["EVALUATOR_QUEUE", "RUN_DECIMALS", "BenchItem", "BenchJob", "rounded", "run_key", "run_one"]
