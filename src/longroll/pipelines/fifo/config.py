"""Settings of the diagonal schedules (FIFO-Diffusion, MIGA), resolved against a model.

Noise levels: ``T`` steps from pure noise to clean on a shifted flow-matching grid
``lv[0] = 0 < lv[1] < ... < lv[T] = 1`` (the model's own shift). A frame at level index ``l``
has noise level ``lv[l]``; one denoising step takes it from ``l`` to ``l - 1``.

- FIFO (Kim et al. 2024): a queue of ``window * partitions`` frames, frame ``i`` (0 = head) at
  level ``i + 1``, so ``T = window * partitions``; every iteration denoises each frame by one
  step (latent partitioning into windows, optionally lookahead: windows of ``window`` frames at
  stride ``window / 2`` updating only their second half) and pops the clean head frame.
- MIGA: a zigzag queue of chunks of ``k`` frames, the level changing every ``k`` frames; stage 1
  takes frames from level ``T`` to ``T2 = stage2_steps``, stage 2 denoises blocks at one shared
  level for the last ``T2`` steps (then ``redenoise`` times: fresh noise back to ``T2``, again);
  ``guidance`` long-range lower-noise frames join every window as context (``guidance_from``:
  MIGA's code takes one from each of the ``guidance`` chunks before the window, the paper's text
  speaks of the queue's head);
  self-reflection scores each chunk as it passes the judgement index ``judge`` chunks from the
  tail and tries ``candidates`` fresh noise chunks when the score drops by more than ``delta``.

Defaults come from the model family (``ModelDefaults.diagonal``): MIGA on Wan2.1 uses T = 54,
k = 7, m = 4, c = 3, T2 = 10, judgement 10 chunks from the tail and delta 0.001 (MIGA's README
for Wan; ``longroll.constants``); the built-in model's weights state their own (its delta is
calibrated on its score's spread, measured in ``bench/RESULTS.md``). The window is the clip the
model was trained on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from longroll._validate import check_choice, check_float, check_int

DIAGONAL_KINDS = ("fifo", "miga")
GUIDANCE_SOURCES = ("window", "head")  # where MIGA's long-range guidance frames come from (``guidance_from``)
# The settings each schedule acts on (``DiagonalConfig`` fields a user may give; the others are derived).
FIFO_OPTIONS = ("window", "steps", "shift", "partitions", "lookahead")
MIGA_OPTIONS = ("window", "steps", "shift", "k", "queue", "stage2_steps", "redenoise", "guidance", "guidance_from",
                "reflection", "candidates", "delta", "judge", "guide_chunks")
# The command-line flag of each setting that has one (the others are set from Python or a batch file).
OPTION_FLAGS = {"window": "--window", "steps": "--diag-steps", "partitions": "--partitions",
                "lookahead": "--no-lookahead", "k": "--zigzag-k", "stage2_steps": "--stage2-steps",
                "guidance": "--guidance", "guidance_from": "--guidance-from", "reflection": "--no-reflection",
                "candidates": "--candidates", "delta": "--delta"}


@dataclass(frozen=True)
class DiagonalConfig:
    """Every setting of a diagonal rollout, fully resolved."""

    kind: str = "miga"  # one of DIAGONAL_KINDS
    window: int = 16  # frames the model sees per pass (its L_train), guidance frames included
    steps: int = 40  # T: denoising steps every frame takes from pure noise to clean
    shift: float = 2.0  # timestep shift of the noise-level grid
    partitions: int = 2  # FIFO n: queue = window * partitions frames (and T = window * partitions)
    lookahead: bool = True  # FIFO lookahead denoising
    k: int = 4  # MIGA frames per noise level (zigzag)
    queue: int | None = None  # MIGA stage-1 queue in frames (None: (T - T2) * k); must be a multiple of k
    stage2_steps: int = 8  # MIGA T2: steps at one shared level at the end (0: no stage 2)
    redenoise: int = 1  # MIGA stage-2 add & re-denoise passes
    guidance: int = 4  # MIGA m: long-range guidance frames per window (0: off)
    guidance_from: str = "window"  # MIGA guidance frames: "window" (its code: m chunks before), "head" (queue's head)
    reflection: bool = True  # MIGA self-reflection
    candidates: int = 3  # MIGA c: candidate noise chunks tried when reflection triggers
    delta: float = 0.05  # MIGA score drop that triggers the search, in [0, 2]
    judge: int = 8  # MIGA judgement index: chunks from the queue tail
    guide_chunks: int = 2  # MIGA chunks before the judged one that it is compared with

    def __post_init__(self) -> None:
        check_choice("schedule", self.kind, DIAGONAL_KINDS)
        check_int("window", self.window, low=2)
        check_int("steps", self.steps, low=2, high=1000)
        check_float("shift", self.shift, low=0.0, low_open=True)
        check_choice("guidance_from", self.guidance_from, GUIDANCE_SOURCES)  # FIFO ignores it, but never a typo
        if self.kind == "fifo":
            check_int("partitions", self.partitions, low=1, high=64)
            if self.lookahead and self.window % 2:
                raise ValueError(f"window = {self.window} must be even for FIFO lookahead (windows at stride "
                                 "window / 2); pass an even window or lookahead = False.")
            if self.steps != self.window * self.partitions:
                raise ValueError(f"FIFO takes one step per queue slot: steps = {self.steps} must equal window x "
                                 f"partitions = {self.window * self.partitions}.")
            return
        check_int("stage2_steps", self.stage2_steps, low=0, high=self.steps - 1)
        check_int("k", self.k, low=1, high=self.window - 1)
        if self.queue is not None:
            check_int("queue", self.queue, low=self.k)
            if self.queue % self.k:
                raise ValueError(f"k = {self.k} does not divide the queue of {self.queue} frames (the noise level "
                                 f"changes every k frames); allowed: a multiple of {self.k}.")
            if self.queue // self.k != self.steps - self.stage2_steps:
                raise ValueError(f"A queue of {self.queue} frames is {self.queue // self.k} chunks, so stage 1 has "
                                 f"{self.queue // self.k} steps; with steps = {self.steps} stage2_steps must be "
                                 f"{self.steps - self.queue // self.k}, got {self.stage2_steps}.")
        check_int("guidance", self.guidance, low=0, high=self.window - self.k - 1)
        check_int("redenoise", self.redenoise, low=0, high=4)
        check_int("candidates", self.candidates, low=1, high=16)
        check_float("delta", self.delta, low=0.0, high=2.0)
        check_int("judge", self.judge, low=1, high=max(1, self.chunks - self.guide_chunks - 1))
        check_int("guide_chunks", self.guide_chunks, low=1, high=max(1, self.chunks - 1))

    @property
    def chunks(self) -> int:
        """MIGA: chunks in the stage-1 queue (one per stage-1 step)."""
        return self.steps - self.stage2_steps

    @property
    def queue_frames(self) -> int:
        return self.window * self.partitions if self.kind == "fifo" else self.chunks * self.k

    def to_dict(self) -> dict:
        return asdict(self)


def resolve_diagonal(kind: str, model, **overrides) -> DiagonalConfig:
    """The ``kind`` schedule for ``model`` (a denoiser or its ``ModelDefaults``): its training clip as
    the window, its family's diagonal defaults, with overrides (None keeps the default). Values that
    depend on others follow them unless set: FIFO's steps (window x partitions), MIGA's guidance
    frames (at most window - k - 1) and judgement index (at most the queue's chunks - guide_chunks - 1).
    Raises before any work if the model cannot take per-frame timesteps."""
    from longroll.constants import MIGA_CANDIDATES, MIGA_GUIDANCE
    from longroll.models.base import ModelDefaults

    check_choice("schedule", kind, DIAGONAL_KINDS)
    d = model if isinstance(model, ModelDefaults) else model.defaults
    if not d.per_frame_timesteps:
        raise ValueError(f"The {kind} schedule gives every frame its own noise level; this model cannot take "
                         f"per-frame timesteps.")
    unknown = sorted(set(overrides) - set(DiagonalConfig.__dataclass_fields__) - {"kind"})
    if unknown:
        raise ValueError(f"Unknown {kind} setting(s) {', '.join(unknown)}; valid: "
                         f"{', '.join(f for f in DiagonalConfig.__dataclass_fields__ if f != 'kind')}.")
    o = {k: v for k, v in overrides.items() if v is not None}
    dd = d.diagonal
    window = o.pop("window", None)
    if window is None:  # the clip the model was trained on; FIFO's lookahead halves it, so an even part
        window = dd.window or d.train_len
        if kind == "fifo" and o.get("lookahead", True) and window % 2:
            window -= 1
    base = dict(kind=kind, window=window, shift=d.schedule.shift if dd.shift is None else dd.shift,
                k=dd.k if dd.k is not None else min(d.chunk_size or 4, max(1, window // 4)),
                stage2_steps=dd.stage2_steps,
                steps=dd.steps, delta=dd.delta, candidates=MIGA_CANDIDATES)
    if kind == "fifo":
        base["steps"] = window * o.get("partitions", 2)
    base.update(o)
    base.setdefault("guidance", max(0, min(MIGA_GUIDANCE, window - base["k"] - 1)))
    if kind == "miga" and "queue" in o and "steps" not in o:
        base["steps"] = o["queue"] // base["k"] + base["stage2_steps"]
    if "judge" not in o:  # the family's index, within the queue these settings give
        chunks = base["steps"] - base["stage2_steps"]
        base["judge"] = max(1, min(dd.judge, chunks - base.get("guide_chunks", 2) - 1))
    return DiagonalConfig(**base)


__all__ = ["FIFO_OPTIONS", "GUIDANCE_SOURCES", "MIGA_OPTIONS", "OPTION_FLAGS", "DIAGONAL_KINDS", "DiagonalConfig",
           "replace", "resolve_diagonal"]
