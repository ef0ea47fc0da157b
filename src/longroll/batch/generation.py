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

import json
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from longroll._validate import check_choice, check_int
from longroll.batch.items import WorkItem, build_items, read_prompts
from longroll.batch.manifest import check_batch_settings, check_out_dir, settings_hash
from longroll.batch.runner import Job

log = logging.getLogger(__name__)

SUFFIX = ".mp4"


@dataclass(frozen=True)
class BatchSettings:
    """The batch-wide settings; JSONL lines may refine seconds, preset, schedule and overrides per item."""

    seconds: float  # video length
    preset: str  # horizon-extension preset
    schedule: str = "chunk"  # chunk, fifo or miga
    overrides: dict = field(default_factory=dict)  # preset overrides (rope, sink, window, steps...)
    schedule_options: dict = field(default_factory=dict)  # FIFO / MIGA settings
    model: str = "tiny"  # registry name
    weights: str | None = None  # weights path (None: the tiny model's shipped weights)
    model_options: dict = field(default_factory=dict)  # causal-wan loading options (base, flavour, lora...)
    base_seed: int = 0  # the seeds of all items derive from it (items.item_seed)
    upscale: int = 8  # enlargement for viewing (the tiny model's 32x32 frames)

    def __post_init__(self) -> None:
        from longroll.pipelines.generate import check_seconds
        from longroll.pipelines.presets import PRESETS

        check_seconds(self.seconds)
        check_choice("preset", self.preset, PRESETS)
        check_choice("schedule", self.schedule, ("chunk", "fifo", "miga"))
        check_int("seed", self.base_seed, low=0)
        check_int("upscale", self.upscale, low=1, high=64)

    def for_item(self, item: WorkItem) -> dict:
        """The resolved settings of one item (batch defaults refined by its JSONL line)."""
        s = item.settings
        return {
            "seconds": float(s.get("seconds", self.seconds)),
            "preset": s.get("preset", self.preset),
            "schedule": s.get("schedule", self.schedule),
            "overrides": {**self.overrides, **s.get("overrides", {})},
            "schedule_options": {**self.schedule_options, **s.get("schedule_options", {})},
            "switches": [[float(w["at"]), w["prompt"]] for w in s.get("switches", [])],
            "upscale": self.upscale,
        }


def validate_item_settings(prompt: str, settings: dict, where: str) -> None:
    """Check an item's settings without a model (names, ranges, switch times); errors name the item."""
    from longroll.pipelines.generate import PromptSchedule, check_seconds
    from longroll.pipelines.presets import OVERRIDES, PRESETS

    try:
        check_seconds(settings["seconds"])
        check_choice("preset", settings["preset"], PRESETS)
        check_choice("schedule", settings["schedule"], ("chunk", "fifo", "miga"))
        unknown = sorted(set(settings["overrides"]) - set(OVERRIDES))
        if unknown:
            raise ValueError(f"unknown override(s) {', '.join(unknown)}; valid: {', '.join(OVERRIDES)}")
        if settings["schedule"] == "chunk" and settings["schedule_options"]:
            raise ValueError("FIFO / MIGA settings need the fifo or miga schedule")
        if settings["switches"] and settings["schedule"] != "chunk":
            raise ValueError("prompt switches need the chunk schedule")
        PromptSchedule.build(prompt, [tuple(s) for s in settings["switches"]], seconds=settings["seconds"])
    except ValueError as err:
        raise ValueError(f"{where}: {str(err).rstrip('.')}.") from None


@dataclass
class GenerationJob(Job):
    """Generate every item of ``prompts`` into ``out`` (see the module docstring)."""

    prompts: str  # path of the prompt file (.txt or .jsonl)
    out: str  # output folder
    seeds: int  # seeds per prompt
    settings: BatchSettings
    force: bool = False  # remake items whose record was made with other settings
    what: str = "generate"
    items: list[WorkItem] = field(init=False)
    weights_sha256: str = field(init=False)
    batch_hash: str = field(init=False)

    def __post_init__(self) -> None:
        from longroll.models.registry import weights_identity

        # 1. Everything cheap first: the output folder, the prompt file, every item's settings.
        folder = check_out_dir(self.out)
        check_int("seeds", self.seeds, low=1, high=10_000)
        entries = read_prompts(self.prompts)
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
        # One "wrote N frames" line per item would drown the batch's progress bar.
        logging.getLogger("longroll.pipelines.generate").setLevel(logging.WARNING)

    def __call__(self, item: WorkItem) -> dict:
        from longroll.pipelines.generate import generate, sidecar_path

        job, s = self.job, self.job.settings.for_item(item)
        path = Path(job.out) / f"{item.name}{SUFFIX}"
        t0 = time.time()
        generate(item.prompt, seconds=s["seconds"], preset=s["preset"], seed=item.seed, out=path, model=self.model,
                 switches=[tuple(w) for w in s["switches"]], upscale=s["upscale"], schedule=s["schedule"],
                 schedule_options=s["schedule_options"] or None, **s["overrides"])
        meta = json.loads(sidecar_path(path).read_text())
        if not meta.get("complete"):
            raise RuntimeError(f"{path.name} was cut short ({meta.get('frames')} frames).")
        return {"key": item.key, "prompt": item.prompt, "prompt_index": item.prompt_index, "sample": item.sample,
                "seed_index": item.seed_index, "seed": item.seed, "path": path.name,
                "name_scheme": "vbench" if item.name == f"{item.prompt}-{item.sample}" else "hashed",
                "settings_hash": job.item_hash(item), "seconds": s["seconds"], "frames": meta["frames"],
                "frames_sha256": meta.get("frames_sha256"),
                "wall_s": round(time.time() - t0, 3), "worker": self.where}


__all__ = ["BatchSettings", "GenerationJob", "GenerationWorker", "validate_item_settings"]
