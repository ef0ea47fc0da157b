"""The model contract: what every schedule may call on a denoiser, and what a family states about it.

- ``Denoiser``: the typed protocol the rollouts drive (one ``new_cache`` signature, one
  ``forward``). A family's adapter implements it; nothing below the pipelines probes a model
  with ``getattr`` or recognises it by its numbers.
- ``ModelDefaults``: what a family was trained for and how it is rolled out by default (horizon,
  chunk, window, sink, sampler, diagonal schedule defaults, display). Presets and schedules
  resolve against it.
- ``NativeRollout``: the attention window of the family's own released inference (what ``none``
  and the other presets without a sink reproduce), apart from the window the sink presets use.
- ``VideoModel``: a loaded model: denoiser plus prompt encoder and decoder, for the pipelines.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np
import torch

from longroll._validate import check_float, check_int
from longroll.constants import FLEX_RHO
from longroll.sampler import FewStepSchedule


@dataclass(frozen=True)
class DiagonalDefaults:
    """A family's FIFO / MIGA defaults (``longroll.pipelines.fifo.config`` derives the rest)."""

    window: int | None = None  # frames the model sees per pass (None: its L_train; FIFO with lookahead: even part)
    steps: int = 40  # MIGA T: steps from pure noise to clean
    k: int | None = None  # MIGA frames per noise level (None: the model's chunk)
    stage2_steps: int = 8  # MIGA T2: steps at one shared level at the end
    judge: int = 8  # MIGA judgement index, chunks from the queue tail (capped by the queue it fits)
    delta: float = 0.05  # MIGA score drop that triggers self-reflection
    shift: float | None = None  # noise-level shift of the diagonal grid (None: the few-step sampler's)

    def __post_init__(self) -> None:
        if self.window is not None:
            check_int("diagonal window", self.window, low=2)
        check_int("diagonal steps", self.steps, low=2, high=1000)
        if self.k is not None:
            check_int("k", self.k, low=1)
        check_int("stage2_steps", self.stage2_steps, low=0, high=self.steps - 1)
        check_int("judge", self.judge, low=1)
        check_float("delta", self.delta, low=0.0, high=2.0)
        if self.shift is not None:
            check_float("shift", self.shift, low=0.0, low_open=True)


POSITIONS = ("absolute", "relative")
# What a model may refuse (ModelDefaults.refuses): schedules, and the parts of a rollout that act on its cache.
REFUSABLE = {"fifo": "the fifo schedule", "miga": "the miga schedule", "rolling": "the rolling schedule",
             "relative": "relative RoPE positions in the cache", "compression": "Participative Compression",
             "memory": "MemRoPE's memory streams", "rolling-sink": "Rolling Sink", "ema-sink": "an EMA sink",
             "dynamic": "a dynamic RoPE scale", "switch": "a prompt switch"}
NATIVE_SWITCHES = ("recache", "longlive", "flush")


@dataclass(frozen=True)
class NativeRollout:
    """The cache of a family's own released inference (``models/causal_wan/flavours.py`` records them)."""

    window: int | None = None  # latent frames attended, sink and current chunk included (None: ModelDefaults.window)
    sink: int = 0  # first frames kept for the whole rollout
    positions: str = "absolute"  # temporal RoPE positions: timeline ("absolute") or slot in the window ("relative")
    sink_ema: float | None = None  # EMA-Sink: sink <- a sink + (1 - a) leaving frames (Reward Forcing: 0.999)
    switch: str = "recache"  # what a prompt switch does to the cache (LongLive's own: "longlive")

    def __post_init__(self) -> None:
        if self.window is not None:
            check_int("native window", self.window, low=1)
        check_int("native sink", self.sink, low=0)
        if self.positions not in POSITIONS:
            raise ValueError(f"native positions = {self.positions!r} is not one of {', '.join(POSITIONS)}.")
        if self.sink_ema is not None:
            check_float("sink_ema", self.sink_ema, low=0.0, high=1.0)
        if self.switch not in NATIVE_SWITCHES:
            raise ValueError(f"native switch = {self.switch!r} is not one of {', '.join(NATIVE_SWITCHES)}.")


@dataclass(frozen=True)
class ModelDefaults:
    """What a model family was trained for and how it is rolled out by default."""

    train_len: int  # L_train: latent frames of a training clip (the horizon)
    chunk_size: int | None  # latent frames denoised together; None: bidirectional (no chunk-wise rollout)
    window: int  # latent frames attended by default (sink and current chunk included)
    sink: int  # sink frames of the sink presets (window above is theirs too)
    schedule: FewStepSchedule  # how a chunk is denoised by default
    context_timestep: float  # timestep of the clean-context pass (writes a finished chunk into the cache)
    rho: float = FLEX_RHO  # antiphase correlation of the flex preset
    flex_alpha: float | None = None  # FLEX gate alpha stated for this model (None: FLEX's, scaled by L_train)
    flex_beta: float | None = None  # FLEX gate beta (None: FLEX's, scaled by L_train)
    per_frame_timesteps: bool = True  # takes one noise level per frame (FIFO / MIGA need it)
    jumps: bool = False  # trained with jump conditioning: a renoise sampler asks for whole jumps to 0
    frames_per_latent: int = 1  # video frames per latent frame (4 for Wan's VAE)
    upscale: int = 1  # default nearest-neighbour enlargement of written videos (for viewing)
    preset: str = "flex"  # default horizon-extension preset
    diagonal: DiagonalDefaults = field(default_factory=DiagonalDefaults)
    # Salt of the noise stream's seed (longroll.noise.noise_seed); None: torch.manual_seed(seed), as the
    # families' own inference. Set for weights initialised from a small manual seed (the built-in model).
    seed_salt: str | None = None
    native: NativeRollout = field(default_factory=NativeRollout)  # the family's own window (presets without a sink)
    # (part, why) for each of REFUSABLE's parts the model cannot take (FAR-Long's multi-level cache).
    refuses: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for part, _ in self.refuses:
            if part not in REFUSABLE:
                raise ValueError(f"refuses names {part!r}, not one of {', '.join(REFUSABLE)}.")
        check_int("train_len", self.train_len, low=1)
        if self.chunk_size is not None:
            check_int("chunk_size", self.chunk_size, low=1, high=self.train_len)
        check_int("window", self.window, low=1)
        check_int("sink", self.sink, low=0, high=self.window - 1)
        check_float("rho", self.rho, low=-1.0, high=1.0)
        check_int("frames_per_latent", self.frames_per_latent, low=1)
        check_int("upscale", self.upscale, low=1, high=64)
        if self.native.sink >= self.native_window:
            raise ValueError(f"native sink = {self.native.sink} must be smaller than the native window = "
                             f"{self.native_window} (allowed range [0, {self.native_window - 1}]).")

    def check_parts(self, parts: list[str], model: str) -> None:
        """Refuse the first of ``parts`` (REFUSABLE's names) this model cannot take, saying why."""
        why = dict(self.refuses)
        for part in parts:
            if part in why:
                raise ValueError(f"The {model} model cannot take {REFUSABLE[part]}: {why[part]}.")

    @property
    def native_window(self) -> int:
        """Latent frames the family's own inference attends."""
        return self.window if self.native.window is None else self.native.window

    @property
    def chunkwise(self) -> bool:
        """Whether the chunk-wise autoregressive rollout applies (a causal model)."""
        return self.chunk_size is not None

    def to_dict(self) -> dict:
        return asdict(self)


@runtime_checkable
class Denoiser(Protocol):
    """What the schedules call. Latents are (B, F, C, H, W), noise levels ``t`` (B, F) in [0, 1]
    (negative or ``defaults.context_timestep`` for clean context), output the flow velocity."""

    defaults: ModelDefaults
    rope_freqs: Any  # RopeFreqs: the model's own per-axis rotary frequencies
    latent_shape: tuple[int, int, int]  # (C, H, W) of one latent frame

    def new_cache(self, config, batch_size: int = 1, *, device=None, dtype=None):
        """An empty ``KVCache`` for ``config`` (a ``CacheConfig``) shaped for this model."""

    def __call__(self, x: torch.Tensor, t: torch.Tensor, cond: Any, *, cache=None, start_frame: int = 0,
                 rope=None, attention_scale: float = 1.0, bias=None, jump: torch.Tensor | None = None
                 ) -> torch.Tensor:
        """Velocity for ``x`` at ``t``; with ``cache`` a chunk forward against the cached window
        starting at ``start_frame`` (the call runs ``cache.begin``); ``jump`` only for models whose
        defaults say ``jumps``."""

    def parameters(self): ...


@dataclass
class VideoModel:
    """A loaded model: denoiser, decoder and prompt encoder, with the facts a rollout needs."""

    name: str  # registry name, e.g. "tiny"
    denoiser: Denoiser  # what the schedules drive
    encode_prompt: Callable[[str], Any]  # prompt text -> conditioning (validates the prompt)
    decode: Callable[[torch.Tensor], np.ndarray] | None  # clean latents (B=1, f, C, S, S) -> uint8 (f', H, W, 3)
    fps: float  # frames per second of decoded video
    weights_sha256: str  # hash of the weights file ("random-init" for an untrained model)
    weights_path: str | None = None
    autoencoder: torch.nn.Module | None = None  # the latent codec, where the model has its own
    causal_first_frame: bool = False  # latent 0 decodes to 1 frame, later ones to frames_per_latent (Wan VAE)
    # Per-video stateful decoder: called on each chunk; ``prime(latents)`` takes the init's latents first.
    new_decoder: Callable[[], Callable[[torch.Tensor], np.ndarray]] | None = None
    load_options: dict = field(default_factory=dict)  # what load_model needs besides the weights (for replay)
    encode_frames: Callable[[np.ndarray], torch.Tensor] | None = None  # uint8 (n, H, W, 3) -> latents (1, f, C, S, S)
    frame_size: tuple[int, int] | None = None  # (H, W) of decoded frames before any upscale (what encode_frames takes)
    vocabulary: tuple[str, ...] | None = None  # the words of a closed-vocabulary prompt language; None = free text
    world: bool = False  # its videos show the built-in procedural world: the world-aware metrics apply
    # (cond, latent frames) -> raises when a prompt's conditioning cannot cover a video of that many latent
    # frames (a FAR world model's actions: one per frame); None: any conditioning covers any length.
    check_cond: Callable[[Any, int], None] | None = None
    # The prompt of a true video file (the predict protocol's --videos without a prompt file: FAR's class
    # from a UCF-101 file name, its actions from a DMLab .npz); None: such videos need a prompt file.
    video_prompt: Callable[[str], str] | None = None

    @property
    def defaults(self) -> ModelDefaults:
        return self.denoiser.defaults

    @property
    def frames_per_latent(self) -> int:
        return self.defaults.frames_per_latent

    def latent_frames(self, seconds: float, *, continuing: bool = False) -> int:
        """Latent frames needed for ``seconds`` of video (``continuing``: after frames already made, so a
        causal codec's single first frame is behind)."""
        frames = max(1, int(np.ceil(seconds * self.fps - 1e-9)))
        if self.causal_first_frame and not continuing:
            return 1 + int(np.ceil((frames - 1) / self.frames_per_latent))
        return max(1, int(np.ceil(frames / self.frames_per_latent)))

    def usable_init_frames(self, count: int) -> int:
        """How many of ``count`` init frames the codec can take (a causal codec: the last 1 + 4k)."""
        if not self.causal_first_frame:
            return count
        return 1 + (count - 1) // self.frames_per_latent * self.frames_per_latent

    def stream_decoder(self) -> Callable[[torch.Tensor], np.ndarray]:
        """A decoder for one video's chunks in order (stateful for causal VAEs, else ``decode``)."""
        return self.new_decoder() if self.new_decoder is not None else self.decode
