"""Named configurations of the papers, resolved against a model, and field-by-field overrides.

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

Model-relative defaults: the window is the model's own (``default_window``), the sink its
``default_sink``, and FLEX's alpha 0.1 / beta 2.5 (stated for L_train = 21) scale with the
model's L_train, since exposure r_m is proportional to it, unless the model states its own
(``flex_alpha``, ``flex_beta``; LongLive: 1 and 15). The antiphase correlation is the
model's ``default_rho`` when it has one (FLEX's rho = -1 otherwise): rho = -1 is stated for
samplers that re-noise between steps; the built-in model's deterministic sampler uses 0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from longroll._validate import check_choice
from longroll.cache import CacheConfig
from longroll.noise import NoiseConfig
from longroll.rope.bias import TemporalBias
from longroll.rope.scaling import RopeScaling
from longroll.schedule import FewStepSchedule

FLEX_TRAIN_LEN = 21  # the L_train for which FLEX states alpha = 0.1, beta = 2.5
FLEX_ALPHA, FLEX_BETA = 0.1, 2.5
FLEX_RHO = -1.0  # FLEX's antiphase correlation (for re-noising few-step samplers)

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
DEFAULT_PRESET = "flex"

# Overrides a user may give, with the config they land in.
OVERRIDES = ("rope", "alpha", "beta", "riflex_n", "dynamic", "noise", "rho", "renoise", "sink", "window",
             "rotated", "bias", "flexrope_lambda", "steps", "shift", "sampler", "cfg")


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


def _model_value(model, name: str, default):
    """A model's own value for a preset field (e.g. LongLive's alpha 1, beta 15), else the default."""
    value = getattr(model, name, None)
    return default if value is None else value


def resolve_preset(name: str, model, **overrides) -> RolloutConfig:
    """The preset ``name`` for ``model`` (anything with train_len, chunk_size, default_window,
    default_sink, default_schedule), with ``overrides`` (see OVERRIDES; None means keep)."""
    check_choice("preset", name, PRESETS)
    unknown = sorted(set(overrides) - set(OVERRIDES))
    if unknown:
        raise ValueError(f"Unknown override(s) {', '.join(unknown)}; valid: {', '.join(OVERRIDES)}.")
    o = {k: v for k, v in overrides.items() if v is not None}
    rope_method, noise_kind, with_sink, bias_kind = PRESETS[name]
    scale = model.train_len / FLEX_TRAIN_LEN
    rope = RopeScaling(
        method=o.get("rope", rope_method),
        alpha=o.get("alpha", _model_value(model, "flex_alpha", FLEX_ALPHA * scale)),
        beta=o.get("beta", _model_value(model, "flex_beta", FLEX_BETA * scale)),
        riflex_n=o.get("riflex_n"),
        dynamic=o.get("dynamic", False),
    )
    rho = o.get("rho", _model_value(model, "default_rho", FLEX_RHO))
    noise = NoiseConfig(kind=o.get("noise", noise_kind), rho=rho, renoise=o.get("renoise", False))
    window = o.get("window", model.default_window)
    sink = o.get("sink", model.default_sink if with_sink else 0)
    cache = CacheConfig(window=window, sink=sink, rotated=o.get("rotated", not rope.dynamic))
    if cache.ring < model.chunk_size:
        raise ValueError(f"window = {window} with sink = {sink} leaves {cache.ring} frames for recent context; "
                         f"the model's chunk of {model.chunk_size} frames needs at least that many "
                         f"(allowed: window - sink >= {model.chunk_size}).")
    bias = TemporalBias(kind=o.get("bias", bias_kind), strength=o.get("flexrope_lambda", 0.2))
    base = model.default_schedule
    schedule = replace(base, **{k: o[k] for k in ("steps", "shift", "sampler", "cfg") if k in o})
    return RolloutConfig(rope=rope, noise=noise, cache=cache, bias=bias, schedule=schedule)
