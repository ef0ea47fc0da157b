"""Batch evaluation: every video of a folder, one JSON each, an aggregate table, resumable.

The videos are the folder's ``manifest.jsonl`` records (a ``longroll batch`` folder) or, without
one, its ``.mp4`` / ``.gif`` files. The prompt of a video (for the built-in world's metrics) comes
from its manifest record, else its sidecar, else its VBench name ``{prompt}-{i}``; world metrics
are added when the prompt is in the world's vocabulary. Results go to ``OUT`` (default
``DIR/eval``): ``{video}.json`` per video (``longroll eval VIDEO`` format), ``manifest.jsonl`` (one
line per evaluated video, with the video's size and mtime in its settings hash, so a remade video
is evaluated again), ``summary.json`` and ``summary.md`` (every metric's mean over videos, and
per segment index: how quality holds over time).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from longroll.batch.manifest import Manifest, check_batch_settings, check_out_dir, settings_hash
from longroll.batch.runner import BatchJob
from longroll.io.atomic import write_text
from longroll.io.video import READABLE_SUFFIXES as VIDEO_SUFFIXES
from longroll.io.video import is_partial

log = logging.getLogger(__name__)

_VBENCH = re.compile(r"^(?P<prompt>.+)-(?P<i>\d+)$")


@dataclass(frozen=True)
class VideoItem:
    """One video to evaluate."""

    key: str  # file name inside the folder
    path: str  # full path
    prompt: str | None  # its prompt, where known
    stamp: tuple[int, int]  # (size, mtime_ns): a remade video has another stamp


def _prompt_of(path: Path, record: dict | None) -> str | None:
    if record is not None and record.get("prompt"):
        return record["prompt"]
    from longroll.pipelines.sidecar import Sidecar

    try:
        return Sidecar.of_video(path).first_prompt
    except ValueError:
        pass
    match = _VBENCH.match(path.stem)
    return match.group("prompt") if match else None


def find_videos(folder: str | Path) -> list[VideoItem]:
    """The folder's videos (manifest records first, else video files), in a stable order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{str(folder)!r} is not a folder of videos.")
    records = Manifest(folder).latest()
    by_name = {r["path"]: r for r in records.values() if "path" in r}
    if by_name:
        paths = [folder / name for name in sorted(by_name)]
    else:
        paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
                       and not p.name.startswith(".") and not is_partial(p))
    items = []
    for p in paths:
        if not p.is_file():
            continue
        st = p.stat()
        items.append(VideoItem(p.name, str(p), _prompt_of(p, by_name.get(p.name)), (st.st_size, st.st_mtime_ns)))
    if not items:
        raise ValueError(f"{str(folder)!r} has no videos ({', '.join(VIDEO_SUFFIXES)}) and no manifest records.")
    return items


def _world_prompt(prompt: str | None) -> str | None:
    if prompt is None:
        return None
    from longroll.world.vocab import parse_prompt

    try:
        parse_prompt(prompt)
    except ValueError:
        return None
    return prompt


@dataclass
class EvaluationJob(BatchJob):
    """Evaluate every video of ``folder`` into ``out`` (see the module docstring)."""

    folder: str  # folder of videos (a ``longroll batch`` output, or any folder of videos)
    out: str | None = None  # results folder (default: folder/eval)
    segment_seconds: float = 2.0  # segment length (VBench-Long uses 2 s)
    force: bool = False  # evaluate again videos evaluated with other settings
    what: str = "evaluate"
    items: list[VideoItem] = field(init=False)

    def __post_init__(self) -> None:
        from longroll.eval.evaluate import parse_duration

        self.segment_seconds = parse_duration(self.segment_seconds)
        self.items = find_videos(self.folder)
        self.out = str(Path(self.out) if self.out else Path(self.folder) / "eval")
        check_out_dir(self.out)
        check_batch_settings(self.out, self.folder_settings(), force=self.force, what="evaluation")

    def folder_settings(self) -> dict:
        return {"segment_seconds": self.segment_seconds, "metrics": "longroll.eval.evaluate"}

    def item_hash(self, item: VideoItem) -> str:
        return settings_hash({"eval": self.folder_settings(), "stamp": list(item.stamp), "prompt": item.prompt})

    def item_cost(self, item: VideoItem) -> float:
        """The video's size in bytes: evaluating it takes time in proportion to its frames."""
        return float(item.stamp[0])

    def result_path(self, item: VideoItem) -> Path:
        return Path(self.out) / f"{Path(item.key).stem}.json"

    def output_path(self, item: VideoItem, record: dict) -> Path:
        return self.result_path(item)

    def open_worker(self, device: str | None = None):
        return lambda item: self.evaluate(item)

    def evaluate(self, item: VideoItem) -> dict:
        """Evaluate one video, write its JSON, return its manifest record."""
        from longroll.eval.evaluate import evaluate_video, write_json

        t0 = time.time()
        result = evaluate_video(item.path, segment_seconds=self.segment_seconds, prompt=_world_prompt(item.prompt))
        result["video_prompt"] = item.prompt
        write_json(result, self.result_path(item))
        return {"key": item.key, "video": item.key, "json": self.result_path(item).name, "prompt": item.prompt,
                "settings_hash": self.item_hash(item), "frames": result["frames"], "metrics": result["metrics"],
                "drift": result["drift"], "framepack_drift": result["framepack_drift"],
                "consistency_at_distance": result["consistency_at_distance"],
                "time_to_failure_s": result["time_to_failure_s"], "wall_s": round(time.time() - t0, 3),
                "worker": f"pid {os.getpid()}"}

    def finish(self) -> Path:
        """Write the aggregate (``summary.json``, ``summary.md``) over every evaluated video."""
        results = []
        for item in self.items:
            path = self.result_path(item)
            if path.is_file():
                results.append(json.loads(path.read_text()))
        summary = aggregate(results)
        summary["videos_in_folder"] = len(self.items)
        out = Path(self.out)
        _atomic_text(out / "summary.json", json.dumps(summary, indent=2, allow_nan=False) + "\n")
        _atomic_text(out / "summary.md", summary_table(summary))
        return out / "summary.md"


def aggregate(results: list[dict]) -> dict:
    """Mean, std and count of every metric and drift over videos, and every metric's mean per segment index."""
    def stats(values):
        arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
        arr = arr[np.isfinite(arr)]
        if not len(arr):
            return None
        return {"mean": float(arr.mean()), "std": float(arr.std()), "videos": int(len(arr))}

    keys = sorted({k for r in results for k in r["metrics"]})
    per_segment = {}
    for k in keys:
        longest = max((len(r["segments"]) for r in results), default=0)
        per_segment[k] = [stats([r["segments"][i].get(k) for r in results if i < len(r["segments"])])
                          for i in range(longest)]
    return {"videos": len(results),
            "metrics": {k: stats([r["metrics"].get(k) for r in results]) for k in keys},
            "drift": {k: stats([r["drift"].get(k) for r in results]) for k in keys},
            "per_segment_mean": {k: [None if s is None else s["mean"] for s in v] for k, v in per_segment.items()}}


def summary_table(summary: dict) -> str:
    """The aggregate as Markdown: one row per metric."""
    lines = [f"# Evaluation of {summary['videos']} videos", "",
             "| metric | mean | std | drift (last - first segment) | videos |", "|---|---|---|---|---|"]
    for k, m in summary["metrics"].items():
        if m is None:
            continue
        d = summary["drift"].get(k)
        drift = "" if d is None else f"{d['mean']:+.4f}"
        lines.append(f"| {k} | {m['mean']:.4f} | {m['std']:.4f} | {drift} | {m['videos']} |")
    lines += ["", "Mean per segment (segment 0 first):", ""]
    for k, values in summary["per_segment_mean"].items():
        row = " ".join("-" if v is None else f"{v:.3f}" for v in values[:32])
        lines.append(f"- {k}: {row}{' ...' if len(values) > 32 else ''}")
    return "\n".join(lines) + "\n"


def _atomic_text(path: Path, text: str) -> None:
    write_text(path, text)


__all__ = ["EvaluationJob", "VideoItem", "aggregate", "find_videos", "summary_table"]
