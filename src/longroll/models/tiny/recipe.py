"""The recipe of the built-in model's training: every setting that decides the shipped weights.

``longroll train-tiny`` reads it from a JSON or TOML file (nested ``ae`` and ``dit`` tables override
those configs); ``train.py`` runs it, and ``tiny.json`` records it beside the exported weights.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from longroll._validate import check_float, check_int
from longroll.models.tiny.config import AutoencoderConfig, DiTConfig


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the shipped weights."""

    seed: int = 0  # one seed for data, init and noise
    clips: int = 40_000  # training clips
    # Frames per rendered clip; None = the denoiser's ``train_len``. Longer for a model with long
    # short-term context (``dit.context_patch``): each step crops a random span whose last
    # ``dit.short_window`` frames are full-resolution tokens and every earlier frame is coarse context.
    clip_len: int | None = None
    ae: AutoencoderConfig = field(default_factory=AutoencoderConfig)  # the autoencoder's architecture
    dit: DiTConfig = field(default_factory=DiTConfig)  # the denoiser's architecture, horizon and chunk
    ae_steps: int = 6000  # autoencoder optimiser steps
    ae_batch: int = 64  # frames per autoencoder step
    ae_lr: float = 1e-3  # autoencoder peak learning rate (cosine decay to 0)
    ae_latent_noise: float = 0.03  # std (relative to the latents') of noise added before decoding (robust decoder)
    ae_l1: float = 0.5  # weight of the L1 term next to MSE (L1 keeps sprite edges and corners sharp)
    steps: int = 30_000  # denoiser optimiser steps
    batch: int = 32  # clips per denoiser step
    lr: float = 5e-4  # denoiser peak learning rate (see warmup, decay_steps)
    warmup: int = 500  # linear warm-up steps
    decay_steps: int = 6000  # cosine decay of the lr to 0 over the last steps (all of them if fewer)
    ema: float = 0.999  # EMA decay of the shipped weights
    clean_p: float = 0.1  # FAR stochastic clean context: probability a chunk is clean
    chunk_level_p: float = 0.5  # probability a clip uses one noise level per chunk instead of per frame
    # Shift warp ``s t / (1 + (s - 1) t)`` applied to the logit-normal levels (SD3's timestep shift
    # for higher-dimensional inputs, arXiv 2403.03206). 1 = none. Above 1 the model
    # trains more where the shifted few-step sampler asks it first and where the layout of a
    # scene is decided (3: 14% of the levels above 0.9 instead of 1.4%).
    train_shift: float = 1.0
    prompt_dropout: float = 0.0  # share of clips trained with the null prompt (enables --cfg guidance); 0 = off
    # Shortcut self-consistency (Frans et al. 2024, arXiv 2410.12557), for the few-step re-noising
    # sampler: in this share of the clips one chunk is asked for a jump of size d (a whole jump
    # d = t with probability ``full_jump_p``), and learns the mean of two half jumps made by the
    # model itself (no gradient); the rest of the batch is plain flow matching (d = 0).
    shortcut_p: float = 0.25
    shortcut_start: int = 2000  # steps of flow matching alone before self-consistency starts
    full_jump_p: float = 0.5  # share of jumps that go all the way to 0 (what the sampler asks for)
    min_jump: float = 1.0 / 64  # half jumps below this use the instantaneous velocity (d = 0)
    # Warm start (a second stage, as Self Forcing starts from an ODE-initialised CausVid): the EMA
    # denoiser of an earlier run (its folder or its ``dit_ckpt.pt``) initialises this one; layers it
    # lacks (cross-attention, the null prompt) keep their zero-initialised outputs, so training starts
    # from that model's function. The step count, lr schedule and optimiser start afresh.
    init_from: str | None = None
    # The autoencoder of these exported weights (a ``tiny.safetensors``) instead of training one: a
    # new denoiser on the latents of the shipped model (the LSTC variant of the built-in model).
    ae_from: str | None = None
    # The sampler the exported weights ship with (``tiny.json``'s "inference": the overrides of
    # ``tiny_defaults``, e.g. a longer first chunk and guidance), chosen by measuring the trained
    # weights; it does not change training. None: the family's defaults (Self Forcing's sampler).
    inference: dict | None = None
    checkpoint_every: int = 200  # denoiser steps between checkpoints (the resume points)
    bf16: bool = True  # bf16 autocast for the denoiser where the hardware makes it fast (see fast_bf16)
    threads: int = 0  # torch threads; 0 = all cores

    def __post_init__(self) -> None:
        for name in ("clips", "ae_steps", "ae_batch", "steps", "batch", "checkpoint_every"):
            check_int(name, getattr(self, name), low=1)
        check_int("warmup", self.warmup, low=0)
        check_int("decay_steps", self.decay_steps, low=0)
        check_int("threads", self.threads, low=0)
        check_int("shortcut_start", self.shortcut_start, low=0)
        check_float("train_shift", self.train_shift, low=0.0, low_open=True)
        check_float("min_jump", self.min_jump, low=0.0, high=1.0, low_open=True)
        for name in ("clean_p", "chunk_level_p", "prompt_dropout", "shortcut_p", "full_jump_p"):
            check_float(name, getattr(self, name), low=0.0, high=1.0)
        check_float("ema", self.ema, low=0.0, high=1.0, high_open=True)
        if self.inference is not None:
            from longroll.models.tiny.config import tiny_defaults

            if not isinstance(self.inference, dict):
                raise ValueError(f"inference = {self.inference!r} must be a table of sampler settings or None.")
            try:
                tiny_defaults(self.dit, self.inference)
            except (TypeError, ValueError) as err:
                raise ValueError(f"inference = {self.inference!r} is not a valid sampler for the built-in model: "
                                 f"{err}") from err
        if self.clip_len is not None:
            check_int("clip_len", self.clip_len, low=self.dit.train_len if self.dit.context_patch is None
                      else self.dit.short_window)
            if self.clip_len % self.dit.chunk_size:
                raise ValueError(f"clip_len = {self.clip_len} must be a multiple of the chunk size "
                                 f"{self.dit.chunk_size}.")
        if self.ae.latent_channels != self.dit.latent_channels or self.ae.latent_size != self.dit.latent_size:
            raise ValueError("The autoencoder's latent shape must match the denoiser's "
                             "(latent_channels, latent_size).")

    @classmethod
    def from_file(cls, path: str | Path) -> "TrainConfig":
        """Read a JSON or TOML file; nested tables ``ae`` and ``dit`` override those configs."""
        path = Path(path)
        if path.suffix == ".toml":
            import tomllib

            data = tomllib.loads(path.read_text())
        else:
            data = json.loads(path.read_text())
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        """Fields as in ``to_dict``; nested ``ae`` and ``dit`` tables override those configs."""
        data = dict(data)
        ae = AutoencoderConfig(**data.pop("ae", {}))
        dit = DiTConfig(**data.pop("dit", {}))
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"Unknown training setting(s) {', '.join(unknown)}; known: "
                             f"{', '.join(sorted(cls.__dataclass_fields__))}.")
        return cls(ae=ae, dit=dit, **data)

    @property
    def frames(self) -> int:
        """Frames per training clip."""
        return self.dit.train_len if self.clip_len is None else self.clip_len

    def to_dict(self) -> dict:
        return asdict(self)


__all__ = ["TrainConfig"]
