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

from longroll.pipelines.fifo.config import FIFO_OPTIONS, MIGA_OPTIONS, OPTION_FLAGS, DiagonalConfig
from longroll.pipelines.presets import (
    CACHE_PARTS,
    CHUNK_OVERRIDES,
    METHOD_OVERRIDES,
    OVERRIDE_FLAGS,
    OVERRIDES,
    PRESETS,
    MethodParts,
    RolloutConfig,
    method_parts,
    resolve_preset,
)
from longroll.rope.bias import LEVEL_BIASES


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
    """One way to roll a video out, and what it can do: callers ask the entry, never compare names."""

    name: str
    description: str  # one line for ``--help`` and the studio
    takes: frozenset[str]  # the overrides (and preset parts, named alike) it acts on; any other would do nothing
    resolve: Callable[..., object]  # (preset, model, overrides, options) -> its config
    run: Callable[..., Iterator]  # (den, conds, switch_frames, num_frames, config, generator, stats, cuts, init,
    #                               live) -> chunks
    load: Callable[[dict], object]  # sidecar dict -> its config
    options: tuple[str, ...] = ()  # names of its own settings (``schedule_options``)
    switches: bool = False  # takes prompt switches given up front (--switch, a timed script's shots)
    live: bool = False  # takes prompt switches asked for while it runs (the studio's)
    init: bool = False  # continues from given frames (--init): its cache takes them as context
    stats: Callable[[], object] | None = None  # makes the counters it records in the sidecar (FIFO / MIGA)
    fill: Callable[[object], int] = lambda config: 1  # config -> latent frames made before it runs at its steady
    #                              state (its window full; the default, one frame, fits the diagonal schedules,
    #                              whose first output carries the whole queue's filling); the benchmark times after
    one_level: bool = False  # denoises at one noise level per forward (takes a step-dependent bias: recency)
    revision: int = 1  # raised when a fix changes the videos this schedule makes from an unchanged config,
    #                    so that results cached under the old code (the benchmark's runs) stop matching

    def __post_init__(self) -> None:
        if not isinstance(self.revision, int) or self.revision < 1:
            raise ValueError(f"Schedule {self.name!r}: revision must be an integer >= 1, got {self.revision!r}.")
        unknown = sorted(self.takes - set(OVERRIDES))
        if unknown:
            raise ValueError(f"Schedule {self.name!r} takes unknown override(s) {', '.join(unknown)}.")

    def acts(self, preset: str) -> bool:
        """Whether preset ``preset`` acts under this schedule (``check_preset`` would pass)."""
        return self._why_not(preset) is None

    def presets(self) -> list[str]:
        """The presets that act under this schedule."""
        return [name for name in PRESETS if self.acts(name)]

    def dropped(self, preset: str) -> list[str]:
        """The parts of an accepted preset that this schedule has no use for (the sink presets' sink window
        under FIFO / MIGA: their RoPE, noise or jitter still act)."""
        return [p for p in PRESETS[preset].parts if p not in self.takes]

    def check_preset(self, preset: str) -> None:
        """Refuse a preset that would not act as it says under this schedule: one none of whose parts act
        (``sink`` under FIFO would make the frames of ``none``), or one whose defining cache policy it lacks."""
        why = self._why_not(preset)
        if why is None:
            return
        unused = self.dropped(preset) or list(PRESETS[preset].parts)
        what = "the chunk-wise rollout's KV cache" if set(unused) <= set(CACHE_PARTS) else "settings"
        raise ValueError(f"Preset {preset!r} sets {what} ({', '.join(unused)}); the {self.name} schedule {why}, so "
                         f"the preset would not act as it says. Presets for {self.name}: {', '.join(self.presets())} "
                         f"(a preset's other parts can be given one by one, e.g. --rope flex --noise antiphase).")

    def _why_not(self, preset: str) -> str | None:
        """Why ``preset`` does not act here (the end of a sentence), or None when it does."""
        spec, unused = PRESETS[preset], self.dropped(preset)
        if spec.bias in LEVEL_BIASES and not self.one_level:
            return (f"denoises frames at several noise levels in one forward, and the {spec.bias} bias is built "
                    "for one")
        if not unused:
            return None
        cacheless = not self.takes & set(CACHE_PARTS)
        if spec.cache_only:  # its cache policy is what it is (Deep Forcing, MemRoPE, Infinity-RoPE...)
            return "has no cache" if cacheless else "builds its own caches"
        if len(unused) == len(spec.parts):  # nothing of it would act
            return "has no cache" if cacheless else "does not use them"
        return None  # some parts act (FLEX's RoPE and noise under FIFO); the rest is said when it resolves

    def check_options(self, options: dict, overrides: dict) -> None:
        """Model-independent check of ``schedule_options`` and of the overrides this schedule acts on."""
        unknown = sorted(set(options) - set(self.options))
        anywhere = {o for s in SCHEDULES.values() for o in s.options}
        if set(unknown) - anywhere:
            raise ValueError(f"Unknown {self.name} setting(s) {', '.join(sorted(set(unknown) - anywhere))}; valid: "
                             f"{', '.join(self.options) or 'none (it takes no settings of its own)'}.")
        if unknown:
            owners = [s.name for s in SCHEDULES.values() if set(unknown) <= set(s.options)]
            named = ", ".join(_option_flag(k) for k in unknown)
            whose = f"; {'they belong' if len(unknown) > 1 else 'it belongs'} to schedule {' or '.join(owners)}" \
                if owners else ""
            own = (f"its settings: {', '.join(_option_flag(k) for k in self.options)}" if self.options
                   else "it takes no settings of its own")
            raise ValueError(f"{named} would do nothing under the {self.name} schedule ({own}){whose}.")
        unused = sorted(k for k, v in overrides.items() if v is not None and k in OVERRIDES and k not in self.takes)
        if unused:
            what = "the chunk-wise rollout's window, cache or sampler" if set(unused) <= set(CHUNK_OVERRIDES) \
                else "what the chunk-wise rollout uses"
            raise ValueError(f"{', '.join(_flag(k) for k in unused)} set(s) {what}, and would do nothing under the "
                             f"{self.name} schedule; it acts on: {', '.join(_flag(k) for k in sorted(self.takes))}"
                             + (f" and its own settings ({', '.join(_option_flag(k) for k in self.options)})."
                                if self.options else "."))

    def config_dict(self, config) -> dict:
        return config.to_dict()


def _option_flag(option: str) -> str:
    """A schedule setting as the command line spells it (its own name where it has no flag)."""
    return OPTION_FLAGS.get(option, option)


def _flag(override: str) -> str:
    """An override as the command line spells it (its own name where it has no flag)."""
    return f"--{OVERRIDE_FLAGS[override]}" if override in OVERRIDE_FLAGS else override


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


def _window_fill(config: RolloutConfig) -> int:
    """A cache-window schedule is steady once its window is full: every later forward attends as many frames."""
    return config.cache.window


# --------------------------------------------------------------------------------------- rolling
def _resolve_rolling(preset: str, model, overrides: dict, options: dict) -> RolloutConfig:
    from longroll.pipelines.rolling_forcing import check_rolling

    config = resolve_preset(preset, model, **overrides)
    config.bias.check_level("rolling")
    check_rolling(config, model.defaults.chunk_size)
    return config


def _run_rolling(den, conds: Sequence, switch_frames: Sequence[int], num_frames: int, config: RolloutConfig,
                 generator: torch.Generator, stats=None, cuts: Sequence[bool] = (), init=None, live=None) -> Iterator:
    from longroll.pipelines.rolling_forcing import rolling_rollout

    return rolling_rollout(den, conds[0], num_frames=num_frames, config=config, generator=generator)


# -------------------------------------------------------------------------------------- diagonal
def _resolve_diagonal(kind: str):
    def resolve(preset: str, model, overrides: dict, options: dict) -> DiagonalRollout:
        from longroll.pipelines.fifo import resolve_diagonal

        if preset in PRESETS:
            SCHEDULES[kind].check_preset(preset)
        method = method_parts(preset, model, **overrides)
        method.bias.check_level(kind)
        return DiagonalRollout(resolve_diagonal(kind, model, **options), method)

    return resolve


def _run_diagonal(den, conds: Sequence, switch_frames: Sequence[int], num_frames: int, config: DiagonalRollout,
                  generator: torch.Generator, stats=None, cuts: Sequence[bool] = (), init=None, live=None) -> Iterator:
    from longroll.pipelines.fifo import diagonal_rollout

    d, method, diag = den.defaults, config.method, config.diagonal
    # RoPE is scaled for what the model sees at once: its window.
    rope = method.rope.freqs(den.rope_freqs, train_len=d.train_len, length=diag.window)
    scale = method.rope.attention_scale(train_len=d.train_len, length=diag.window)
    return diagonal_rollout(den, conds[0], num_frames=num_frames, config=diag, noise=method.noise.sampler(generator),
                            stats=stats, rope=rope, attention_scale=scale, bias=method.bias)


def _diagonal_stats():
    from longroll.pipelines.fifo import DiagonalStats

    return DiagonalStats()


# What each schedule acts on. The diagonal schedules compute RoPE once at their window (no dynamic scale) and
# never re-noise between steps; the rolling one builds its own caches from the window and the anchor (sink),
# with its own positions, and denoises on the few-step grid (steps, shift).
_METHOD = frozenset(METHOD_OVERRIDES)
_DIAGONAL_TAKES = _METHOD - {"dynamic", "renoise"}
_ROLLING_TAKES = _METHOD - {"dynamic", "renoise"} | {"sink", "window", "steps", "shift"}

SCHEDULES: dict[str, Schedule] = {s.name: s for s in (
    Schedule("chunk", "chunk-wise autoregressive: each chunk denoised in a few steps against a KV cache",
             frozenset(OVERRIDES), _resolve_chunk, _run_chunk, RolloutConfig.from_dict,
             switches=True, live=True, init=True, fill=_window_fill, one_level=True),
    Schedule("rolling", "Rolling Forcing's window of chunks at staggered noise levels",
             _ROLLING_TAKES, _resolve_rolling, _run_rolling, RolloutConfig.from_dict, fill=_window_fill),
    Schedule("fifo", "FIFO-Diffusion: diagonal denoising of a queue of frames at increasing noise",
             _DIAGONAL_TAKES, _resolve_diagonal("fifo"), _run_diagonal, DiagonalRollout.from_dict,
             options=FIFO_OPTIONS, stats=_diagonal_stats),
    Schedule("miga", "MIGA: diagonal denoising with zigzag levels, stage 2, self-reflection and guidance frames",
             _DIAGONAL_TAKES, _resolve_diagonal("miga"), _run_diagonal, DiagonalRollout.from_dict,
             options=MIGA_OPTIONS, stats=_diagonal_stats),
)}


DEFAULT = "chunk"  # the schedule a request takes when it names none, and the benchmark's reference


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


__all__ = ["DEFAULT", "SCHEDULES", "DiagonalRollout", "Schedule", "method_of", "revision_tag"]
