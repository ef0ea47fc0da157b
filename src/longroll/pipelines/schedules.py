"""The schedules a video can be rolled out with, one table: ``chunk``, ``rolling``, ``fifo``, ``miga``.

Each entry knows its own options (checked without a model), how to resolve a preset and its
options against a model into its own config (and nothing else: a MIGA run records no cache or
few-step sampler), how to run (denoiser, conditioning, length, config, generator -> clean latent
chunks; it resolves its own RoPE: the chunk-wise rollout at the planned length, the diagonal ones
at their window) and how to read its config back from a sidecar. A new schedule joins by adding
one entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch

from longroll.pipelines.fifo.config import DiagonalConfig
from longroll.pipelines.presets import CHUNK_OVERRIDES, MethodParts, RolloutConfig, method_parts, resolve_preset


@dataclass(frozen=True)
class DiagonalRollout:
    """A FIFO / MIGA run: the schedule's settings and the method parts it uses."""

    diagonal: object  # DiagonalConfig
    method: MethodParts

    def to_dict(self) -> dict:
        return {"diagonal": self.diagonal.to_dict(), "method": self.method.to_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> "DiagonalRollout":
        try:
            return cls(DiagonalConfig(**data["diagonal"]), MethodParts.from_dict(data["method"]))
        except (KeyError, TypeError) as err:
            raise ValueError(f"Not a diagonal schedule config (missing or unknown field: {err}).") from err


@dataclass(frozen=True)
class Schedule:
    """One way to roll a video out."""

    name: str
    switches: bool  # takes prompt switches
    options: tuple[str, ...]  # names of its own settings (``schedule_options``)
    resolve: Callable[..., object]  # (preset, model, overrides, options) -> its config
    run: Callable[..., Iterator]  # (den, conds, switch_frames, num_frames, config, generator, stats, cuts, init,
    #                               live) -> chunks
    load: Callable[[dict], object]  # sidecar dict -> its config
    revision: int = 1  # raised when a fix changes the videos this schedule makes from an unchanged config,
    #                    so that results cached under the old code (the benchmark's runs) stop matching

    def __post_init__(self) -> None:
        if not isinstance(self.revision, int) or self.revision < 1:
            raise ValueError(f"Schedule {self.name!r}: revision must be an integer >= 1, got {self.revision!r}.")

    def check_options(self, options: dict, overrides: dict) -> None:
        """Model-independent check of ``schedule_options`` and of the overrides this schedule uses."""
        unknown = sorted(set(options) - set(self.options))
        if unknown and not self.options:
            raise ValueError(f"The {self.name} schedule takes no settings of its own; {', '.join(unknown)} belong "
                             f"to schedule 'fifo' or 'miga'.")
        if unknown:
            raise ValueError(f"Unknown {self.name} setting(s) {', '.join(unknown)}; valid: {', '.join(self.options)}.")
        if self.name not in ("chunk", "rolling"):  # the rolling schedule takes the chunk-wise settings
            chunk_only = sorted(k for k, v in overrides.items() if v is not None and k in CHUNK_OVERRIDES)
            if chunk_only:
                raise ValueError(f"{', '.join(chunk_only)} set(s) the chunk-wise rollout's window or sampler; the "
                                 f"{self.name} schedule has its own (its options: {', '.join(self.options)}).")

    def config_dict(self, config) -> dict:
        return config.to_dict()


# ------------------------------------------------------------------------------------------ chunk
def _resolve_chunk(preset: str, model, overrides: dict, options: dict) -> RolloutConfig:
    return resolve_preset(preset, model, **overrides)


def _run_chunk(den, conds: Sequence, switch_frames: Sequence[int], num_frames: int, config: RolloutConfig,
               generator: torch.Generator, stats=None, cuts: Sequence[bool] = (), init=None, live=None) -> Iterator:
    from longroll.pipelines.rollout import Switch, rollout

    cuts = tuple(cuts) or (False,) * len(switch_frames)
    switches = [Switch(frame, cond, cut) for frame, cond, cut in zip(switch_frames, conds[1:], cuts)]
    return rollout(den, conds[0], num_frames=num_frames, config=config, generator=generator, switches=switches,
                   init=init, live=live)


# --------------------------------------------------------------------------------------- rolling
def _resolve_rolling(preset: str, model, overrides: dict, options: dict) -> RolloutConfig:
    from longroll.pipelines.rolling import check_rolling

    config = resolve_preset(preset, model, **overrides)
    check_rolling(config, model.defaults.chunk_size)
    return config


def _run_rolling(den, conds: Sequence, switch_frames: Sequence[int], num_frames: int, config: RolloutConfig,
                 generator: torch.Generator, stats=None, cuts: Sequence[bool] = (), init=None, live=None) -> Iterator:
    from longroll.pipelines.rolling import rolling_rollout

    if init is not None or live is not None:
        raise ValueError("The rolling schedule starts from noise with one prompt: --init and live switches need "
                         "schedule 'chunk'.")
    return rolling_rollout(den, conds[0], num_frames=num_frames, config=config, generator=generator)


# -------------------------------------------------------------------------------------- diagonal
def _resolve_diagonal(kind: str):
    def resolve(preset: str, model, overrides: dict, options: dict) -> DiagonalRollout:
        from longroll.pipelines.fifo import resolve_diagonal
        from longroll.pipelines.presets import PRESETS

        if preset in PRESETS and PRESETS[preset].cache_only:
            chunk_free = ", ".join(n for n, p in PRESETS.items() if not p.cache_only)
            raise ValueError(f"Preset {preset!r} changes the KV cache of the chunk-wise rollout; the {kind} schedule "
                             f"has no cache. Presets for {kind}: {chunk_free}.")
        return DiagonalRollout(resolve_diagonal(kind, model, **options), method_parts(preset, model, **overrides))

    return resolve


def _run_diagonal(den, conds: Sequence, switch_frames: Sequence[int], num_frames: int, config: DiagonalRollout,
                  generator: torch.Generator, stats=None, cuts: Sequence[bool] = (), init=None, live=None) -> Iterator:
    from longroll.pipelines.fifo import diagonal_rollout

    if live is not None:
        raise ValueError(f"The {config.diagonal.kind} schedule takes no prompt switches: use schedule 'chunk'.")

    d, method, diag = den.defaults, config.method, config.diagonal
    # RoPE is scaled for what the model sees at once: its window.
    rope = method.rope.freqs(den.rope_freqs, train_len=d.train_len, length=diag.window)
    scale = method.rope.attention_scale(train_len=d.train_len, length=diag.window)
    return diagonal_rollout(den, conds[0], num_frames=num_frames, config=diag, noise=method.noise.sampler(generator),
                            stats=stats, rope=rope, attention_scale=scale, bias=method.bias)


_DIAGONAL_OPTIONS = tuple(f for f in DiagonalConfig.__dataclass_fields__ if f != "kind")

SCHEDULES: dict[str, Schedule] = {s.name: s for s in (
    Schedule("chunk", True, (), _resolve_chunk, _run_chunk, RolloutConfig.from_dict),
    Schedule("rolling", False, (), _resolve_rolling, _run_rolling, RolloutConfig.from_dict),
    Schedule("fifo", False, _DIAGONAL_OPTIONS, _resolve_diagonal("fifo"), _run_diagonal, DiagonalRollout.from_dict),
    Schedule("miga", False, _DIAGONAL_OPTIONS, _resolve_diagonal("miga"), _run_diagonal, DiagonalRollout.from_dict),
)}


def revision_tag(schedule: str) -> str | None:
    """What a cache key adds for ``schedule``'s code revision: nothing at revision 1 (so keys made
    before revisions existed stay valid), ``"<name>@<revision>"`` after the first output-changing fix."""
    revision = SCHEDULES[schedule].revision
    return None if revision == 1 else f"{schedule}@{revision}"


def method_of(config) -> MethodParts:
    """The method parts of any schedule's config (guidance, noise, RoPE, bias)."""
    if isinstance(config, RolloutConfig):
        return MethodParts(rope=config.rope, noise=config.noise, bias=config.bias, cfg=config.schedule.cfg)
    return config.method


__all__ = ["SCHEDULES", "DiagonalRollout", "Schedule", "method_of", "revision_tag"]
