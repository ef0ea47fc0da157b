"""Batch generation: every (prompt, seed) item of a prompt file, one video each, resumable.

``GenerationJob`` is plain data (it travels to torchrun ranks and Ray actors). It validates
everything that needs no model when it is built: the prompt file, the settings of every item
(preset, overrides, schedule, switches, seconds) and the output folder with its ``batch.json``.
A worker loads the model once and makes items with ``generate`` (temporary name, rename when
complete, sidecar beside the video); its record then goes to ``manifest.jsonl``. An item counts
as done only when the manifest has its record with the same settings hash and its video exists;
anything else (never started, cut short, made with other settings under ``--force``) is made
(again).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from longroll._validate import check_choice, check_int
from longroll.batch.items import WorkItem, build_items, read_prompts
from longroll.batch.manifest import check_batch_settings, check_out_dir, settings_hash
from longroll.batch.runner import BatchJob

log = logging.getLogger(__name__)

SUFFIX = ".mp4"


@dataclass(frozen=True)
class BatchSettings:
    """The batch-wide settings; JSONL lines may refine seconds, preset, schedule and overrides per item."""

    seconds: float  # video length
    preset: str | None = None  # horizon-extension preset (None: the model's default)
    schedule: str = "chunk"  # chunk, fifo or miga
    overrides: dict = field(default_factory=dict)  # preset overrides (rope, sink, window, steps...)
    schedule_options: dict = field(default_factory=dict)  # FIFO / MIGA settings
    model: str = "tiny"  # registry name
    weights: str | None = None  # weights path (None: the tiny model's shipped weights)
    model_options: dict = field(default_factory=dict)  # causal-wan loading options (base, flavour, lora...)
    base_seed: int = 0  # the seeds of all items derive from it (items.item_seed)
    upscale: int | None = None  # enlargement for viewing (None: the model's default)

    def __post_init__(self) -> None:
        from longroll.pipelines.presets import PRESETS
        from longroll.pipelines.request import check_seconds
        from longroll.pipelines.rollouts import SCHEDULES

        check_seconds(self.seconds)
        if self.preset is not None:
            check_choice("preset", self.preset, PRESETS)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_int("seed", self.base_seed, low=0)
        if self.upscale is not None:
            check_int("upscale", self.upscale, low=1, high=64)

    def for_item(self, item: WorkItem) -> dict:
        """The resolved settings of one item (batch defaults refined by its JSONL line)."""
        from longroll.pipelines.script import is_script

        s = item.settings
        seconds = s.get("seconds", None if is_script(item.prompt) else self.seconds)  # a script brings its length
        return {
            "seconds": None if seconds is None else float(seconds),
            "preset": s.get("preset", self.preset),
            "schedule": s.get("schedule", self.schedule),
            "overrides": {**self.overrides, **s.get("overrides", {})},
            "schedule_options": {**self.schedule_options, **s.get("schedule_options", {})},
            "switches": [[float(w["at"]), w["prompt"]] for w in s.get("switches", [])],
            "upscale": self.upscale,
        }


def item_request(prompt: str, settings: dict, *, seed: int = 0, out: str | None = None):
    """The ``GenerationRequest`` of one item (checked without a model when it is built)."""
    from longroll.pipelines.request import GenerationRequest

    return GenerationRequest(prompt=prompt, seconds=settings["seconds"], seed=seed,
                             switches=tuple(tuple(w) for w in settings["switches"]), preset=settings["preset"],
                             overrides=dict(settings["overrides"]), schedule=settings["schedule"],
                             schedule_options=dict(settings["schedule_options"]), out=out, upscale=settings["upscale"],
                             overwrite=True)  # the batch decides what is made again (manifest, --force)


def validate_item_settings(prompt: str, settings: dict, where: str) -> None:
    """Check an item's settings without a model (names, ranges, switch times); errors name the item."""
    try:
        item_request(prompt, settings)
    except ValueError as err:
        text = str(err).rstrip(".")
        raise ValueError(f"{where}: {text[:1].lower()}{text[1:]}.") from None


@dataclass
class GenerationJob(BatchJob):
    """Generate every item of ``prompts`` into ``out`` (see the module docstring)."""

    prompts: str  # path of the prompt file (.txt or .jsonl)
    out: str  # output folder
    seeds: int  # seeds per prompt
    settings: BatchSettings
    force: bool = False  # remake items whose record was made with other settings
    what: str = "generate"
    items: list[WorkItem] = field(init=False)
    entries: list = field(init=False)  # the prompt file's entries (for the checks that need the model)
    weights_sha256: str = field(init=False)
    batch_hash: str = field(init=False)

    def __post_init__(self) -> None:
        from longroll.models.registry import weights_identity

        # 1. Everything cheap first: the output folder, the prompt file, every item's settings.
        folder = check_out_dir(self.out)
        check_int("seeds", self.seeds, low=1, high=10_000)
        entries = self.entries = read_prompts(self.prompts)
        self.items = build_items(entries, seeds=self.seeds, base_seed=self.settings.base_seed)
        for entry in entries:
            probe = WorkItem(entry.index, 0, 0, 0, entry.prompt, "", dict(entry.settings))
            where = f"prompt {entry.index + 1} (line {entry.line})"
            validate_item_settings(entry.prompt, self.settings.for_item(probe), where)
        # 2. The weights' identity (hashed, not loaded) and the folder's batch settings.
        self.weights_sha256 = weights_identity(self.settings.model, self.settings.weights,
                                               **self.settings.model_options)
        self.batch_hash = check_batch_settings(folder, self.folder_settings(), force=self.force)

    def folder_settings(self) -> dict:
        """What every item shares; a folder holds the videos of one such dict."""
        s = self.settings
        return {"model": s.model, "weights_sha256": self.weights_sha256, "model_options": s.model_options,
                "seconds": s.seconds, "preset": s.preset, "schedule": s.schedule, "overrides": s.overrides,
                "schedule_options": s.schedule_options, "base_seed": s.base_seed, "upscale": s.upscale}

    def item_hash(self, item: WorkItem) -> str:
        return settings_hash({"batch": self.batch_hash, "item": self.settings.for_item(item), "seed": item.seed,
                              "prompt": item.prompt})

    def item_cost(self, item: WorkItem) -> float:
        """Seconds of video (a script's: its shots'): a rollout's time per chunk is flat."""
        from longroll.pipelines.script import parse_script

        seconds = self.settings.for_item(item)["seconds"]  # None: a script without a set length
        return float(seconds if seconds is not None else sum(shot.seconds for shot in parse_script(item.prompt)))

    def output_path(self, item: WorkItem, record: dict) -> Path:
        return Path(self.out) / record["path"]

    def open_worker(self, device: str | None = None) -> "GenerationWorker":
        return GenerationWorker(self, device)


class GenerationWorker:
    """Holds one loaded model; ``worker(item)`` writes the item's video and returns its record."""

    def __init__(self, job: GenerationJob, device: str | None = None) -> None:
        from longroll.models.registry import load_model

        s = job.settings
        self.job = job
        self.model = load_model(s.model, weights=s.weights, device=device, **s.model_options)
        if self.model.weights_sha256 != job.weights_sha256:
            raise ValueError(f"The weights changed while the batch was starting (sha256 {job.weights_sha256[:12]} "
                             f"expected, {self.model.weights_sha256[:12]} loaded).")
        self.where = f"{socket.gethostname()}:{os.getpid()}"
        # Every line resolved against the model before the first video, as `generate` resolves its request:
        # prompts (and a script's shots) against the vocabulary, the preset, overrides and schedule settings
        # against the model's defaults. A bad line stops the batch here, naming it, with nothing made.
        from longroll.pipelines.plan import resolve

        for entry in job.entries:
            probe = WorkItem(entry.index, 0, 0, 0, entry.prompt, "", dict(entry.settings))
            try:
                resolve(item_request(entry.prompt, job.settings.for_item(probe)), self.model)
            except ValueError as err:
                raise ValueError(f"prompt {entry.index + 1} (line {entry.line}): {err}") from None
        # One "wrote N frames" line per item would drown the batch's progress bar.
        logging.getLogger("longroll.pipelines.run").setLevel(logging.WARNING)

    def __call__(self, item: WorkItem) -> dict:
        from longroll.pipelines.generate import generate_request

        job, s = self.job, self.job.settings.for_item(item)
        path = Path(job.out) / f"{item.name}{SUFFIX}"
        t0 = time.time()
        result = generate_request(item_request(item.prompt, s, seed=item.seed, out=str(path)), self.model,
                                  progress=False)
        if not result.complete:
            raise RuntimeError(f"{path.name} was cut short ({result.frames} frames).")
        return {"key": item.key, "prompt": item.prompt, "prompt_index": item.prompt_index, "sample": item.sample,
                "seed_index": item.seed_index, "seed": item.seed, "path": path.name,
                "name_scheme": "vbench" if item.name == f"{item.prompt}-{item.sample}" else "hashed",
                "settings_hash": job.item_hash(item), "seconds": result.seconds, "frames": result.frames,
                "frames_sha256": result.frames_sha256,
                "wall_s": round(time.time() - t0, 3), "worker": self.where}


__all__ = ["BatchSettings", "GenerationJob", "GenerationWorker", "validate_item_settings"]
