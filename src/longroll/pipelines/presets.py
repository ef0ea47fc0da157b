"""Named configurations of the papers, resolved against a model's defaults, and field-by-field overrides.

| preset           | temporal RoPE  | positions          | initial noise  | window                      | switch    |
|------------------|----------------|--------------------|----------------|-----------------------------|-----------|
| `none`           | extrapolate    | family's own       | i.i.d.         | family's own                | family's  |
| `pi`             | PI             | family's own       | i.i.d.         | family's own                | family's  |
| `ntk`            | NTK-aware      | family's own       | i.i.d.         | family's own                | family's  |
| `yarn`           | YaRN           | family's own       | i.i.d.         | family's own                | family's  |
| `riflex`         | RIFLEx         | family's own       | i.i.d.         | family's own                | family's  |
| `flexrope`       | extrapolate    | family's own       | i.i.d.         | family's own, FAR bias      | family's  |
| `sink`           | extrapolate    | absolute           | i.i.d.         | sink + sliding              | family's  |
| `flex`           | NTK-by-parts   | absolute           | antiphase      | sink + sliding              | family's  |
| `cache-relative` | extrapolate    | in the window      | i.i.d.         | sink + sliding              | family's  |
| `infinity-rope`  | extrapolate    | newest at L_train-1| i.i.d.         | sink + sliding              | KV Flush  |
| `deep-forcing`   | extrapolate    | in the window      | i.i.d.         | deep sink + Top-C tokens    | family's  |
| `rolling-sink`   | extrapolate    | absolute (sliding) | i.i.d.         | L_train, first window replayed | family's |
| `memrope`        | extrapolate    | in the window      | i.i.d.         | sink + 2 EMA memory streams | family's  |
| `lol`            | per-head jitter| absolute           | i.i.d.         | sink + sliding              | family's  |
| `relax-forcing`  | extrapolate    | sink + history, then tail | i.i.d.  | sink + selected history + tail | family's |
| `fademem`        | extrapolate    | sink + entries, then tail | i.i.d.  | sink + merged entries + tail | family's |
| `pack-forcing`   | extrapolate    | sink + packs, then tail | i.i.d.    | sink + 32x packs + tail | family's |
| `future-forcing` | extrapolate    | sink + middle, then tail | i.i.d.   | sink + merged Top-C + tail | family's |
| `recap-forcing`  | extrapolate    | sink + bank, then tail | i.i.d.     | sink + novelty bank + tail | family's |
| `recency-forcing`| extrapolate    | family's own       | i.i.d.         | family's own, decayed history | family's |

"Family's own" is the model's ``NativeRollout``: the window, sink, positions and prompt-switch policy
of the family's released inference (Self Forcing: 21 frames, no sink; LongLive: 12 with a 3-frame
sink and its own re-cache; Reward Forcing: 9 with an EMA sink, positions in the window), so `none`
reproduces it and the RoPE presets start from it. The sink presets use the model's sink window
(``ModelDefaults.window`` / ``sink``: LongLive's 12 / 3 on every causal Wan).

Everything model-relative comes from the model's ``ModelDefaults``: the window, the sink, the
sampler and the antiphase correlation. FLEX states alpha 0.1 / beta 2.5 for L_train = 21; since
exposure r_m is proportional to L_train, a model with another horizon gets them scaled by
L_train / 21 unless its family states its own (LongLive: 1 and 15). Deep Forcing states its sink
for Self Forcing's 21-frame cache (S = 10 of 21); on another horizon it scales with L_train.

A preset resolves to parts: ``MethodParts`` (RoPE scaling, noise, bias, guidance), which every
schedule uses, and for the chunk-wise schedule also the cache window, its position policy, what a
prompt switch or a cut does, and the few-step sampler (``RolloutConfig``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from longroll._validate import check_choice, check_float, check_int
from longroll.cache import CacheConfig
from longroll.cache.compression import PACK_MIDDLE, PACK_SPACE
from longroll.cache.history import FADE_POWER, RELAX_HISTORY, RELAX_LAMBDA
from longroll.constants import (
    DEEP_FORCING_BUDGET,
    DEEP_FORCING_RECENT,
    DEEP_FORCING_SINK,
    DEEP_FORCING_WINDOW,
    FLEX_ALPHA,
    FLEX_BETA,
    FLEX_TRAIN_LEN,
    INFINITY_ROPE_CUT_GAP,
    INFINITY_ROPE_FLUSH_KEEP,
    LOL_JITTER,
    MEMROPE_RATES,
    SELF_FORCING_TRAIN_LEN,
)
from longroll.noise import NoiseConfig
from longroll.pipelines.overrides import CHUNK_OVERRIDES, METHOD_OVERRIDES, OVERRIDE_FLAGS, OVERRIDES, check_names
from longroll.rope.bias import TemporalBias
from longroll.rope.scaling import RopeScaling
from longroll.sampler import FewStepSchedule


@dataclass(frozen=True)
class PresetSpec:
    """What a named preset sets, before it meets a model."""

    rope: str = "none"  # temporal frequency scaling (longroll.rope.scaling.ROPE_METHODS)
    noise: str = "iid"  # initial noise kind (longroll.noise)
    # "native" (the family's own sink, EMA and positions), "none", "model" (the sink presets' sink)
    # or "deep" (Deep Sink: ~half of L_train)
    sink: str = "native"
    bias: str = "none"  # additive temporal bias (longroll.rope.bias.BIAS_KINDS)
    positions: str = "native"  # temporal RoPE positions of the cache (longroll.rope.positions), or the family's own
    anchor: bool = False  # relative positions with the newest frame at L_train - 1 (Block-Relativistic RoPE)
    switch: str = "native"  # smooth prompt switch: the family's own, or one of SWITCH_MODES ("flush": KV Flush)
    # "native" (the family's own window), "model" (the sink presets' window) or "horizon" (L_train)
    window: str = "native"
    memory: bool = False  # MemRoPE's memory streams between sink and recent frames
    rolling: bool = False  # Rolling Sink: earlier chunks replay the first window's content
    jitter: bool = False  # LoL's multi-head RoPE jitter at its stated strength
    history: bool = False  # Relax Forcing: history frames selected among those leaving the window
    fade: bool = False  # FadeMem: the history as entries merged by a power law (with history)
    pack: bool = False  # PackForcing (zero-shot): a compressed middle of packed tokens between sink and recent
    history_rule: str = "relevance"  # how the history is chosen: Relax Forcing's, or "novelty" (RECAP-Forcing)
    future: bool = False  # Future Forcing: the compressed middle scored by a proxy of future queries, merged

    @property
    def parts(self) -> tuple[str, ...]:
        """The fields this preset sets away from plain extrapolation (each is also an override's name)."""
        plain = PresetSpec()
        return tuple(name for name in self.__dataclass_fields__ if getattr(self, name) != getattr(plain, name))

    @property
    def cache_only(self) -> bool:
        """Whether the preset is a policy of the chunk-wise rollout's KV cache (positions in the window, a
        switch policy, a deep sink, memory streams, Rolling Sink): no meaning without that cache. The sink
        presets' plain sink window is not (FLEX's RoPE and noise act on FIFO / MIGA too)."""
        return (self.positions not in ("absolute", "native") or self.switch != "native" or self.sink == "deep"
                or self.memory or self.rolling or self.history or self.fade or self.pack
                or self.future or self.history_rule != "relevance")


PRESETS: dict[str, PresetSpec] = {
    "none": PresetSpec(),
    "pi": PresetSpec(rope="pi"),
    "ntk": PresetSpec(rope="ntk"),
    "yarn": PresetSpec(rope="yarn"),
    "riflex": PresetSpec(rope="riflex"),
    "flexrope": PresetSpec(bias="flexrope"),
    "sink": PresetSpec(sink="model", positions="absolute", window="model"),
    "flex": PresetSpec(rope="flex", noise="antiphase", sink="model", positions="absolute", window="model"),
    "cache-relative": PresetSpec(sink="model", positions="relative", window="model"),
    "infinity-rope": PresetSpec(sink="model", positions="relative", anchor=True, switch="flush", window="model"),
    "deep-forcing": PresetSpec(sink="deep", positions="relative", window="horizon"),
    "rolling-sink": PresetSpec(sink="none", positions="absolute", window="horizon", rolling=True),
    "memrope": PresetSpec(sink="model", positions="relative", memory=True, window="model"),
    "lol": PresetSpec(sink="model", positions="absolute", jitter=True, window="model"),
    "relax-forcing": PresetSpec(sink="model", positions="relative", window="model", history=True),
    "fademem": PresetSpec(sink="model", positions="relative", window="model", history=True, fade=True),
    "recency-forcing": PresetSpec(bias="recency"),
    "pack-forcing": PresetSpec(sink="model", positions="relative", window="model", pack=True),
    "future-forcing": PresetSpec(sink="model", positions="relative", window="model", future=True),
    "recap-forcing": PresetSpec(sink="model", positions="relative", window="model", history=True,
                                history_rule="novelty"),
}

# The preset fields that act on the chunk-wise rollout's KV cache and prompt-switch policy.
CACHE_PARTS = ("sink", "positions", "anchor", "switch", "window", "memory", "rolling", "history", "fade", "pack",
               "future", "history_rule")

# "recache": the window (sink included) re-run under the new prompt in chunk-sized runs (longroll's
# first policy); "longlive": LongLive's own re-cache, the recent frames in one forward, the sink kept
# as it was written; "flush": Infinity-RoPE's KV Flush.
SWITCH_MODES = ("recache", "longlive", "flush")


@dataclass(frozen=True)
class SceneConfig:
    """What a prompt switch and a scene cut do to the cache of a chunk-wise rollout."""

    switch: str = "recache"  # smooth switch: "recache" (LongLive: window re-run under the new prompt) or "flush"
    flush_keep: int = INFINITY_ROPE_FLUSH_KEEP  # KV Flush: recent frames kept besides the sink
    cut_gap: int = INFINITY_ROPE_CUT_GAP * SELF_FORCING_TRAIN_LEN  # RoPE Cut: timeline positions skipped at a cut

    def __post_init__(self) -> None:
        check_choice("switch", self.switch, SWITCH_MODES)
        check_int("flush_keep", self.flush_keep, low=0)
        check_int("cut_gap", self.cut_gap, low=0)


@dataclass(frozen=True)
class MethodParts:
    """What a preset sets that every schedule uses."""

    rope: RopeScaling  # temporal frequency scaling
    noise: NoiseConfig  # initial (and optionally re-) noise
    bias: TemporalBias  # additive temporal decay
    cfg: float = 1.0  # classifier-free guidance scale (1 = off)

    def __post_init__(self) -> None:
        check_float("cfg", self.cfg, low=1.0, high=50.0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "MethodParts":
        try:
            return cls(rope=RopeScaling(**data["rope"]), noise=NoiseConfig(**data["noise"]),
                       bias=TemporalBias(**data["bias"]), cfg=data.get("cfg", 1.0))
        except (KeyError, TypeError) as err:
            raise ValueError(f"Not a method config (missing or unknown field: {err}).") from err


@dataclass(frozen=True)
class RolloutConfig:
    """Every setting of a chunk-wise rollout, fully resolved."""

    rope: RopeScaling  # temporal frequency scaling
    noise: NoiseConfig  # initial (and optionally re-) noise per chunk
    cache: CacheConfig  # attention window: sink + recent frames, and their RoPE positions
    bias: TemporalBias  # additive temporal decay
    schedule: FewStepSchedule  # denoising steps per chunk
    scene: SceneConfig = SceneConfig()  # what a prompt switch and a scene cut do to the cache

    def __post_init__(self) -> None:
        if self.rope.dynamic and self.cache.rotated:
            raise ValueError("A dynamic RoPE scale needs un-rotated cached keys: set rotated = False "
                             "(keys stored rotated keep the scale they were written with).")
        if self.scene.flush_keep > self.cache.ring - 1:
            raise ValueError(f"flush_keep = {self.scene.flush_keep} must leave room for the next chunk in the "
                             f"{self.cache.ring} recent slots of the window (allowed range [0, "
                             f"{self.cache.ring - 1}]).")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RolloutConfig":
        """Rebuild a resolved config (e.g. from a sidecar); every field is validated again."""
        try:
            return cls(rope=RopeScaling(**data["rope"]), noise=NoiseConfig(**data["noise"]),
                       cache=CacheConfig(**data["cache"]), bias=TemporalBias(**data["bias"]),
                       schedule=FewStepSchedule(**data["schedule"]), scene=SceneConfig(**data.get("scene", {})))
        except (KeyError, TypeError) as err:
            raise ValueError(f"Not a rollout config (missing or unknown field: {err}).") from err


def _defaults(model):
    """A model's ``ModelDefaults`` (a ``Denoiser``, a ``VideoModel`` or the defaults themselves)."""
    from longroll.models.base import ModelDefaults

    return model if isinstance(model, ModelDefaults) else model.defaults


def method_parts(name: str, model, **overrides) -> MethodParts:
    """The parts of preset ``name`` every schedule uses, for ``model``, with method overrides."""
    check_choice("preset", name, PRESETS)
    d = _defaults(model)
    check_names(overrides)
    o = {k: v for k, v in overrides.items() if v is not None}
    spec = PRESETS[name]
    rope_method, noise_kind, bias_kind = spec.rope, spec.noise, spec.bias
    scale = d.train_len / FLEX_TRAIN_LEN  # exposure is proportional to L_train
    rope = RopeScaling(
        method=o.get("rope", rope_method),
        alpha=o.get("alpha", FLEX_ALPHA * scale if d.flex_alpha is None else d.flex_alpha),
        beta=o.get("beta", FLEX_BETA * scale if d.flex_beta is None else d.flex_beta),
        riflex_n=o.get("riflex_n"),
        dynamic=o.get("dynamic", False),
        jitter=o.get("jitter", LOL_JITTER if spec.jitter else 0.0),
        jitter_seed=o.get("jitter_seed", 0),
    )
    noise = NoiseConfig(kind=o.get("noise", noise_kind), rho=o.get("rho", d.rho), renoise=o.get("renoise", False))
    bias = _bias(o, bias_kind)
    return MethodParts(rope=rope, noise=noise, bias=bias, cfg=o.get("cfg", d.schedule.cfg))


_STRENGTHS = {"flexrope": "flexrope_lambda", "recency": "recency"}  # bias kind -> the override of its strength


def _bias(o: dict, preset_kind: str) -> TemporalBias:
    """The temporal bias: ``bias``, else the kind its strength's override names (``flexrope_lambda``,
    ``recency``), else the preset's; the strength given for another kind is refused."""
    named = [kind for kind, key in _STRENGTHS.items() if key in o]
    kind = o.get("bias", named[0] if len(named) == 1 else preset_kind)
    for other, key in _STRENGTHS.items():
        if key in o and kind != other:
            raise ValueError(f"{key} = {o[key]} is the {other} bias's strength, but the bias is {kind!r}: give "
                             f"bias {other!r} (or leave bias out), or drop {key}.")
    return TemporalBias(kind=kind, strength=o.get(_STRENGTHS.get(kind, "")))  # None: the kind's own


def resolve_preset(name: str, model, **overrides) -> RolloutConfig:
    """The chunk-wise rollout of preset ``name`` for ``model`` (a denoiser or its ``ModelDefaults``),
    with ``overrides`` (see OVERRIDES; None means keep)."""
    d = _defaults(model)
    if not d.chunkwise:
        raise ValueError("This model is bidirectional (no chunk size): the chunk schedule needs a causal model; "
                         "use schedule 'fifo' or 'miga'.")
    parts = method_parts(name, d, **overrides)
    o = {k: v for k, v in overrides.items() if v is not None}
    spec = PRESETS[name]
    # Window and sink: the family's own, the sink presets', or for Deep Forcing its stated share of
    # Self Forcing's own cache.
    native = d.native
    window = o.get("window", {"native": d.native_window, "model": d.window, "horizon": d.train_len}[spec.window])
    deep_sink = max(1, round(DEEP_FORCING_SINK * window / DEEP_FORCING_WINDOW))
    sink = o.get("sink", {"native": native.sink, "none": 0, "model": d.sink, "deep": deep_sink}[spec.sink])
    positions = o.get("positions", native.positions if spec.positions == "native" else spec.positions)
    sink_ema = o.get("sink_ema", native.sink_ema if spec.sink == "native" else None)
    anchor = o.get("anchor", (d.train_len - 1 if spec.anchor else None) if positions == "relative" else None)
    budget, recent = _compression(spec, window, sink, d.chunk_size, o)
    memory, rolling = o.get("memory", spec.memory), o.get("rolling", spec.rolling)
    fade = o.get("fade", FADE_POWER if spec.fade else None)
    pack = o.get("pack", PACK_SPACE if spec.pack else None)
    future = o.get("future", spec.future)
    rates = (o.get("alpha_long", MEMROPE_RATES[0]), o.get("alpha_short", MEMROPE_RATES[1]))
    cache = CacheConfig(window=window, sink=sink, positions=positions, anchor=anchor, budget=budget, recent=recent,
                        memory=memory, memory_rates=rates, memory_pool=o.get("memory_pool", "frame"),
                        rolling=rolling, sink_ema=sink_ema,
                        history=o.get("history", RELAX_HISTORY if spec.history else 0),
                        history_lambda=o.get("history_lambda", RELAX_LAMBDA), fade=fade, pack=pack,
                        history_rule=o.get("history_rule", spec.history_rule),
                        future=future,
                        rotated=o.get("rotated", not parts.rope.dynamic and positions == "absolute" and not rolling
                                      and sink_ema is None and fade is None and pack is None and not future))
    if cache.ring < d.chunk_size + (cache.recent if cache.budget is not None else 0):
        taken = (" and the 2 memory streams" if cache.memory else "") + (
            f" and {cache.history} history frames" if cache.history else "")
        raise ValueError(f"window = {window} with sink = {sink}{taken} leaves {cache.ring} frames for recent "
                         f"context; the model's chunk of {d.chunk_size} frames needs at least that many "
                         f"(allowed: window - sink{' - 2' if cache.memory else ''}"
                         f"{' - history' if cache.history else ''} >= {d.chunk_size}"
                         + (f", and with Participative Compression window - budget >= {d.chunk_size}"
                            if cache.budget is not None else "") + ").")
    room = cache.ring - d.chunk_size  # recent frames a KV Flush can keep with the next chunk still fitting
    flush_keep = o.get("flush_keep", min(INFINITY_ROPE_FLUSH_KEEP, room))
    if flush_keep > room:
        raise ValueError(f"flush_keep = {flush_keep} leaves no room for the next chunk of {d.chunk_size} frames in "
                         f"the {cache.ring} recent slots of the window (allowed range [0, {room}]).")
    scene = SceneConfig(switch=o.get("switch", native.switch if spec.switch == "native" else spec.switch),
                        flush_keep=flush_keep,
                        cut_gap=o.get("cut_gap", INFINITY_ROPE_CUT_GAP * d.train_len))
    schedule = replace(d.schedule, cfg=parts.cfg, **{k: o[k] for k in ("steps", "shift", "sampler") if k in o},
                       **({"timesteps": None, "first_timesteps": None} if "steps" in o else {}))  # a uniform grid
    return RolloutConfig(rope=parts.rope, noise=parts.noise, cache=cache, bias=parts.bias, schedule=schedule,
                         scene=scene)


def _compression(spec: PresetSpec, window: int, sink: int, chunk: int, o: dict) -> tuple[int | None, int]:
    """Participative Compression's budget N and recent R (frames) for a window, from Deep Forcing's values
    (N 16, R 4, S 10 of Self Forcing's 21): the kept block ``C = N - R - S`` scales with the window,
    R stays 4 unless the window is too small to fit R, C and a chunk. ``budget = 0`` turns it off.
    PackForcing's middle is ``PACK_MIDDLE`` of the window."""
    if "budget" in o:
        return (o["budget"] or None), o.get("recent", DEEP_FORCING_RECENT)
    if spec.sink != "deep" and not (spec.pack or "pack" in o or spec.future or o.get("future")):
        return None, o.get("recent", DEEP_FORCING_RECENT)
    middle = DEEP_FORCING_BUDGET - DEEP_FORCING_RECENT - DEEP_FORCING_SINK
    kept = max(1, round(middle * window / DEEP_FORCING_WINDOW))
    if spec.pack or "pack" in o:  # PackForcing: a sixth of the window holds packs (32x: ~5 windows of history)
        kept = max(1, round(window * PACK_MIDDLE))
    recent = o.get("recent", min(DEEP_FORCING_RECENT, window - sink - kept - chunk))
    if recent < 1:
        raise ValueError(f"Participative Compression needs room for the sink ({sink}), {kept} compressed frame(s), "
                         f"one recent frame and a chunk of {chunk} in the window of {window}; use a window of at "
                         f"least {sink + kept + 1 + chunk} or budget = 0 (Deep Sink alone).")
    return sink + kept + recent, recent


__all__ = ["CACHE_PARTS", "CHUNK_OVERRIDES", "METHOD_OVERRIDES", "OVERRIDES", "OVERRIDE_FLAGS", "PRESETS",
           "MethodParts", "PresetSpec", "RolloutConfig", "SceneConfig", "method_parts", "resolve_preset"]
