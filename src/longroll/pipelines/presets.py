"""Named configurations of the papers, resolved against a model's defaults, and field-by-field overrides.

| preset     | temporal RoPE     | initial noise        | window                  | bias           |
|------------|-------------------|----------------------|-------------------------|----------------|
| `none`     | extrapolate       | i.i.d.               | sliding, no sink        | -              |
| `pi`       | PI                | i.i.d.               | sliding, no sink        | -              |
| `ntk`      | NTK-aware         | i.i.d.               | sliding, no sink        | -              |
| `yarn`     | YaRN              | i.i.d.               | sliding, no sink        | -              |
| `riflex`   | RIFLEx            | i.i.d.               | sliding, no sink        | -              |
| `flexrope` | extrapolate       | i.i.d.               | sliding, no sink        | FAR FlexRoPE   |
| `sink`     | extrapolate       | i.i.d.               | sink + sliding          | -              |
| `flex`     | NTK-by-parts      | antiphase, model rho | sink + sliding          | -              |

Everything model-relative comes from the model's ``ModelDefaults``: the window, the sink, the
sampler and the antiphase correlation. FLEX states alpha 0.1 / beta 2.5 for L_train = 21; since
exposure r_m is proportional to L_train, a model with another horizon gets them scaled by
L_train / 21 unless its family states its own (LongLive: 1 and 15).

A preset resolves to parts: ``MethodParts`` (RoPE scaling, noise, bias, guidance), which every
schedule uses, and for the chunk-wise schedule also the cache window and the few-step sampler
(``RolloutConfig``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from longroll._validate import check_choice, check_float
from longroll.cache import CacheConfig
from longroll.constants import FLEX_ALPHA, FLEX_BETA, FLEX_TRAIN_LEN, FLEXROPE_LAMBDA
from longroll.noise import NoiseConfig
from longroll.rope.bias import TemporalBias
from longroll.rope.scaling import RopeScaling
from longroll.schedule import FewStepSchedule

# Each preset: (rope method, noise kind, sink?, bias kind)
PRESETS: dict[str, tuple[str, str, bool, str]] = {
    "none": ("none", "iid", False, "none"),
    "pi": ("pi", "iid", False, "none"),
    "ntk": ("ntk", "iid", False, "none"),
    "yarn": ("yarn", "iid", False, "none"),
    "riflex": ("riflex", "iid", False, "none"),
    "flexrope": ("none", "iid", False, "flexrope"),
    "sink": ("none", "iid", True, "none"),
    "flex": ("flex", "antiphase", True, "none"),
}

# Overrides a user may give: the method's (every schedule) and the chunk-wise schedule's own.
METHOD_OVERRIDES = ("rope", "alpha", "beta", "riflex_n", "dynamic", "noise", "rho", "renoise", "bias",
                    "flexrope_lambda", "cfg")
CHUNK_OVERRIDES = ("sink", "window", "rotated", "steps", "shift", "sampler")
OVERRIDES = METHOD_OVERRIDES + CHUNK_OVERRIDES


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
    cache: CacheConfig  # attention window: sink + recent frames
    bias: TemporalBias  # additive temporal decay
    schedule: FewStepSchedule  # denoising steps per chunk

    def __post_init__(self) -> None:
        if self.rope.dynamic and self.cache.rotated:
            raise ValueError("A dynamic RoPE scale needs un-rotated cached keys: set rotated = False "
                             "(keys stored rotated keep the scale they were written with).")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RolloutConfig":
        """Rebuild a resolved config (e.g. from a sidecar); every field is validated again."""
        try:
            return cls(rope=RopeScaling(**data["rope"]), noise=NoiseConfig(**data["noise"]),
                       cache=CacheConfig(**data["cache"]), bias=TemporalBias(**data["bias"]),
                       schedule=FewStepSchedule(**data["schedule"]))
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
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise ValueError(f"Unknown override(s) {', '.join(unknown)}; valid: {', '.join(OVERRIDES)}.")
    o = {k: v for k, v in overrides.items() if v is not None}
    rope_method, noise_kind, _, bias_kind = PRESETS[name]
    scale = d.train_len / FLEX_TRAIN_LEN  # exposure is proportional to L_train
    rope = RopeScaling(
        method=o.get("rope", rope_method),
        alpha=o.get("alpha", FLEX_ALPHA * scale if d.flex_alpha is None else d.flex_alpha),
        beta=o.get("beta", FLEX_BETA * scale if d.flex_beta is None else d.flex_beta),
        riflex_n=o.get("riflex_n"),
        dynamic=o.get("dynamic", False),
    )
    noise = NoiseConfig(kind=o.get("noise", noise_kind), rho=o.get("rho", d.rho), renoise=o.get("renoise", False))
    bias = TemporalBias(kind=o.get("bias", bias_kind), strength=o.get("flexrope_lambda", FLEXROPE_LAMBDA))
    return MethodParts(rope=rope, noise=noise, bias=bias, cfg=o.get("cfg", d.schedule.cfg))


def resolve_preset(name: str, model, **overrides) -> RolloutConfig:
    """The chunk-wise rollout of preset ``name`` for ``model`` (a denoiser or its ``ModelDefaults``),
    with ``overrides`` (see OVERRIDES; None means keep)."""
    d = _defaults(model)
    if not d.chunkwise:
        raise ValueError("This model is bidirectional (no chunk size): the chunk schedule needs a causal model; "
                         "use schedule 'fifo' or 'miga'.")
    parts = method_parts(name, d, **overrides)
    o = {k: v for k, v in overrides.items() if v is not None}
    with_sink = PRESETS[name][2]
    window = o.get("window", d.window)
    sink = o.get("sink", d.sink if with_sink else 0)
    cache = CacheConfig(window=window, sink=sink, rotated=o.get("rotated", not parts.rope.dynamic))
    if cache.ring < d.chunk_size:
        raise ValueError(f"window = {window} with sink = {sink} leaves {cache.ring} frames for recent context; "
                         f"the model's chunk of {d.chunk_size} frames needs at least that many "
                         f"(allowed: window - sink >= {d.chunk_size}).")
    schedule = replace(d.schedule, cfg=parts.cfg, **{k: o[k] for k in ("steps", "shift", "sampler") if k in o},
                       **({"timesteps": None} if "steps" in o else {}))  # --steps asks for the uniform grid
    return RolloutConfig(rope=parts.rope, noise=parts.noise, cache=cache, bias=parts.bias, schedule=schedule)
