"""The sidecar: the typed record written beside every video, and the only reader of its keys.

A ``Sidecar`` is made from a plan and what its run made (``Sidecar.of``), written as JSON beside the
video (``NAME.mp4.json``; a run in flight keeps one beside its ``NAME.partial-PID.mp4``), and read back
from a path (``Sidecar.read``), where the formats of earlier versions are brought up to date: a
sidecar from before the schedule table (no ``schedule``: chunk-wise), one with FIFO / MIGA settings
beside a chunk-wise config (``diagonal``), one from before the model's seeds were salted (no
``noise_seed``). ``request()`` is the request that makes the same frames again (``--replay``,
``--resume``, ``extend``), ``config()`` the schedule's own resolved settings, ``public()`` what may
leave the machine (file names and hashes, no local paths). Nothing else reads sidecar keys.
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

DEFAULT_CHUNK_FRAMES = 4  # video frames per chunk when a sidecar from before ``chunk_frames`` does not say


@dataclass(frozen=True)
class PromptEntry:
    """One entry of the prompt timeline: the prompt from ``at_seconds`` on."""

    at_seconds: float  # when it takes effect (0 for the first)
    prompt: str  # what the video shows from then on
    cut: bool = False  # a hard cut (KV Flush + RoPE Cut) rather than a smooth switch


@dataclass(frozen=True)
class InitRecord:
    """The frames a video continued from."""

    path: str  # where they were read (a local path: left out of ``public()``)
    sha256: str  # of that file (or of the PNG frames, in order)
    frames: int  # frames read from it
    init_frames: int | None  # the request's --init-frames
    in_output: bool  # the video starts with them


@dataclass(frozen=True)
class Sidecar:
    """Everything needed to make the same raw frames again, and what the run made."""

    longroll: str  # the version that wrote it
    prompt_schedule: tuple[PromptEntry, ...]  # the prompt at 0 and every switch that took effect
    seconds: float  # the requested length (the new part, when continuing from an init)
    seed: int  # the request's seed
    preset: str  # the preset used (the request's or the model's default)
    schedule: str  # the way it was rolled out (``schedules.SCHEDULES``)
    config: dict  # the schedule's own resolved settings
    model: str  # registry name of the family
    frames: int  # video frames in the file (a partial one: those that decode after a kill)
    frames_sha256: str  # SHA-256 of those raw uint8 frames, before any codec ("" when none)
    complete: bool  # False for a run cut short or still going
    script: str | None = None  # the timed script the prompts came from, as written back from its shots
    init: InitRecord | None = None  # the frames it continued from
    noise_seed: int | None = None  # the generator's seed (None: written before the model's seeds were salted)
    weights: str | None = None  # the weights' local path (left out of ``public()``)
    weights_sha256: str | None = None  # their hash
    model_options: dict = field(default_factory=dict)  # what the loader took besides the weights
    fps: float | None = None  # frames per second of the video
    chunk_frames: int | None = None  # video frames per chunk (None: no chunk-wise schedule)
    upscale: int | None = None  # nearest-neighbour enlargement of the written frames
    wall_seconds: float = 0.0  # how long the run took
    stats: dict | None = None  # the schedule's counters (FIFO / MIGA)
    torch: str | None = None  # versions that made it
    python: str | None = None
    partial: str | None = None  # in a partial's sidecar: the partial file's name

    # ------------------------------------------------------------------ writing
    @classmethod
    def of(cls, plan, model, *, frames: int, frames_sha256: str, complete: bool, wall_seconds: float,
           stats: dict | None = None, live=None, partial: str | None = None) -> "Sidecar":
        """The record of ``plan`` run on ``model`` (a ``GenerationPlan`` and a ``VideoModel``); ``live``: the
        switches taken while it ran, which join the prompt timeline."""
        import torch

        from longroll.version import __version__

        r = plan.request
        timeline = plan.prompts.to_list()
        if live is not None and live.taken:
            timeline = sorted(timeline + live.schedule(model.fps / model.frames_per_latent),
                              key=lambda e: e["at_seconds"])
        init = None if plan.init is None else InitRecord(plan.init.path, plan.init.sha256, len(plan.init.frames),
                                                         r.init_frames, plan.init.in_output)
        return cls(longroll=__version__, prompt_schedule=tuple(PromptEntry(**e) for e in timeline),
                   script=r.script, init=init, seconds=r.seconds, seed=r.seed, noise_seed=plan.noise_seed,
                   preset=plan.preset, schedule=plan.schedule, config=plan.config_dict(), model=model.name,
                   weights=model.weights_path, weights_sha256=model.weights_sha256,
                   model_options=dict(model.load_options), fps=model.fps,
                   chunk_frames=(None if model.defaults.chunk_size is None
                                 else model.defaults.chunk_size * model.frames_per_latent),
                   upscale=plan.upscale, frames=frames, frames_sha256=frames_sha256, complete=complete,
                   wall_seconds=round(wall_seconds, 3), stats=stats, torch=torch.__version__,
                   python=platform.python_version(), partial=partial)

    def to_dict(self) -> dict:
        """The JSON layout (the keys every version wrote; ``partial`` only in a partial's sidecar)."""
        data = asdict(self)
        data["prompt_schedule"] = [asdict(e) for e in self.prompt_schedule]
        if self.partial is None:
            del data["partial"]
        return data

    def write(self, path: str | Path) -> Path:
        """Write it to ``path`` atomically."""
        from longroll.io.atomic import write_json

        return write_json(path, self.to_dict())

    # ------------------------------------------------------------------ reading
    @classmethod
    def read(cls, path: str | Path) -> "Sidecar":
        """The sidecar at ``path`` (a ``.json`` file), the formats of earlier versions brought up to date;
        ValueError naming the file when it is not one."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise ValueError(f"Cannot read the sidecar {str(path)!r}: {err}.") from err
        try:
            return cls.from_dict(data)
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{str(path)!r} is not a longroll sidecar ({type(err).__name__}: {err}).") from None

    @classmethod
    def of_video(cls, video: str | Path) -> "Sidecar":
        """The sidecar beside ``video`` (``NAME.mp4.json``)."""
        side = sidecar_path(video)
        if not side.is_file():
            raise ValueError(f"{str(video)!r} has no readable longroll sidecar ({side.name}): there is no such "
                             f"file.")
        try:
            return cls.read(side)
        except ValueError as err:
            raise ValueError(f"{str(video)!r} has no readable longroll sidecar ({side.name}): {err}") from None

    @classmethod
    def from_dict(cls, data: dict) -> "Sidecar":
        """From its JSON layout, any version's."""
        data = dict(data)
        if not isinstance(data.get("prompt_schedule"), list) or not data["prompt_schedule"]:
            raise ValueError("it has no prompt_schedule")
        data["prompt_schedule"] = tuple(PromptEntry(e["at_seconds"], e["prompt"], bool(e.get("cut", False)))
                                        for e in data["prompt_schedule"])
        data.setdefault("schedule", "chunk")  # before the schedule table every video was chunk-wise
        diagonal = data.pop("diagonal", None)
        if diagonal and data["schedule"] != "chunk":  # FIFO / MIGA settings beside a chunk-wise config
            data["config"] = _diagonal_config(diagonal, data["config"])
        if isinstance(data.get("init"), dict):
            init = data["init"]
            data["init"] = InitRecord(init["path"], init["sha256"], int(init.get("frames", 0)),
                                      init.get("init_frames"), bool(init["in_output"]))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    # ------------------------------------------------------------------ using
    def config_object(self):
        """The schedule's resolved config (``RolloutConfig`` or ``DiagonalRollout``), validated again."""
        from longroll.pipelines.rollouts import SCHEDULES

        return SCHEDULES[self.schedule].load(self.config)

    def request(self, *, seconds: float | None = None, out=None, overwrite: bool = False):
        """The ``GenerationRequest`` that makes these frames again (``seconds``: another length, for
        ``extend``); ``out`` None returns frames."""
        from longroll.pipelines.request import GenerationRequest

        first, later = self.prompt_schedule[0], self.prompt_schedule[1:]
        init = {} if self.init is None else {"init": self.init.path, "init_frames": self.init.init_frames,
                                             "init_in_output": self.init.in_output}
        return GenerationRequest(prompt=first.prompt, seconds=self.seconds if seconds is None else seconds,
                                 seed=self.seed, switches=tuple((e.at_seconds, e.prompt) for e in later),
                                 cuts=tuple(e.at_seconds for e in later if e.cut), preset=self.preset,
                                 schedule=self.schedule, out=None if out is None else str(out), upscale=self.upscale,
                                 overwrite=overwrite, **init)

    @property
    def first_prompt(self) -> str:
        return self.prompt_schedule[0].prompt

    @property
    def video_chunk_frames(self) -> int:
        """Video frames per chunk (the default of sidecars from before it was recorded)."""
        return int(self.chunk_frames or DEFAULT_CHUNK_FRAMES)

    def public(self) -> dict:
        """The JSON layout as a page may see it: local paths reduced to file names (the hashes identify
        the files), so that nothing of the machine's file system leaves it."""
        data = self.to_dict()
        if self.weights is not None:
            data["weights"] = Path(self.weights).name
        if self.init is not None:
            data["init"] = {**data["init"], "path": Path(self.init.path).name}
        data["model_options"] = {k: Path(v).name if isinstance(v, str) and ("/" in v or "\\" in v) else v
                                 for k, v in self.model_options.items()}
        return data


def sidecar_path(out: str | Path) -> Path:
    """Where the sidecar of ``out`` lives (``NAME.mp4`` -> ``NAME.mp4.json``; a folder ``frames/`` ->
    ``frames.json``)."""
    out = Path(str(out).rstrip("/"))
    return out.with_name(out.name + ".json")


def _diagonal_config(diagonal: dict, config: dict) -> dict:
    """An early FIFO / MIGA sidecar's settings in today's layout: the diagonal settings and the method parts
    of the chunk-wise config recorded beside them."""
    from longroll.pipelines.fifo import DiagonalConfig
    from longroll.pipelines.presets import RolloutConfig
    from longroll.pipelines.rollouts import DiagonalRollout, method_of

    return DiagonalRollout(DiagonalConfig(**diagonal), method_of(RolloutConfig.from_dict(config))).to_dict()


__all__ = ["InitRecord", "PromptEntry", "Sidecar", "sidecar_path"]
