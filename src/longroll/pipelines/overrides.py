"""The preset overrides, each declared once: its name, type, command-line flag and help.

A preset is refined field by field (``resolve_preset(name, model, **overrides)``); every front end
derives its fields from this table: the command line's flags and what ``collect_overrides`` reads back
(``longroll generate`` and ``batch``), the studio's advanced fields, the schedule table's names for
them in messages, and the check of a request's override names. ``resolve_preset`` consumes them.

Why a table of our own rather than tyro or simple-parsing: the overrides are not one dataclass's fields
(they refine four configs: RoPE scaling, noise, bias and the chunk-wise cache / sampler, and several
map onto another field, e.g. ``--flexrope-lambda`` turns the FlexRoPE bias on), most need a help text
that states a model-dependent default, and the front ends are argparse, a FastAPI page and JSONL batch
lines: a 30-row table is the plainest single source for all three.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Override:
    """One preset field a user may set."""

    name: str  # the key resolve_preset reads (a batch line's and the studio's key too)
    kind: str  # "int", "float", "str" or "on" (a flag that turns the part on)
    help: str  # one line for --help and the studio
    chunk: bool = False  # the chunk-wise rollout's own (window, cache, sampler); else every schedule's method
    flag: str | None = ""  # the command-line flag without "--" ("": the name with dashes; None: no flag)
    choices: tuple[str, ...] | None = None  # the allowed values, where they are few
    builtin: str | None = None  # which of the built-in model's defaults the help states (cli.generate)

    @property
    def dest(self) -> str:
        """The attribute the command line stores it in (its flag's; ``--switch`` is the prompt switches')."""
        return self.option[2:].replace("-", "_") if self.option else self.name

    @property
    def option(self) -> str | None:
        """``--flag`` as the command line spells it, or None."""
        if self.flag is None:
            return None
        return "--" + (self.flag or self.name.replace("_", "-"))


TABLE: tuple[Override, ...] = (
    # The method: RoPE, noise, bias, guidance (every schedule).
    Override("rope", "str", "temporal RoPE method", choices=("none", "pi", "ntk", "flex", "yarn", "riflex")),
    Override("alpha", "float", "FLEX/YaRN gate lower exposure"),
    Override("beta", "float", "FLEX/YaRN gate upper exposure"),
    Override("riflex_n", "int", "RIFLEx: the frame where repetition appears", flag=None),
    Override("dynamic", "on", "scale RoPE by the current length (keys cached un-rotated)", flag="dynamic-rope"),
    Override("jitter", "float", "LoL: per-head RoPE base jitter in [0, 1)"),
    Override("jitter_seed", "int", "LoL: the seed of the per-head jitter", flag=None),
    Override("noise", "str", "initial noise", choices=("iid", "antiphase", "freenoise")),
    Override("rho", "float", "antiphase correlation in [-1, 1]"),
    Override("renoise", "on", "re-noise between few-step denoising steps with the initial noise's kind", flag=None),
    Override("bias", "str", "temporal bias", choices=("none", "flexrope", "alibi", "recency")),
    Override("flexrope_lambda", "float", "FlexRoPE decay per frame (sets --bias flexrope)"),
    Override("cfg", "float", "classifier-free guidance scale, 1 = off, > 1 needs weights trained with prompt "
                             "dropout", builtin="cfg"),
    # The chunk-wise rollout's own: window, cache policies, prompt switches, sampler.
    Override("sink", "int", "sink frames kept for the whole video", chunk=True, builtin="sink"),
    Override("window", "int", "latent frames attended, sink and chunk included", chunk=True, builtin="window"),
    Override("rotated", "on", "cache keys rotated at their positions (derived from the policy)", chunk=True,
             flag=None),
    Override("positions", "str", "temporal RoPE positions of the cache: the timeline, or inside the window "
                                 "(StreamingLLM)", chunk=True, choices=("absolute", "relative")),
    Override("anchor", "int", "relative positions: the newest frame's position (Infinity-RoPE: L_train - 1)",
             chunk=True),
    Override("budget", "int", "Participative Compression: frames kept after a compression (0: off)", chunk=True),
    Override("recent", "int", "Participative Compression: newest frames never compressed", chunk=True),
    Override("memory", "on", "MemRoPE: fold evicted frames into two EMA memory streams (needs --positions "
                             "relative)", chunk=True),
    Override("alpha_long", "float", "MemRoPE: the long memory stream's EMA rate", chunk=True, flag=None),
    Override("alpha_short", "float", "MemRoPE: the short memory stream's EMA rate", chunk=True, flag=None),
    Override("memory_pool", "str", "MemRoPE pooling of evicted keys", chunk=True, choices=("frame", "token")),
    Override("rolling", "on", "Rolling Sink: earlier chunks replay the first window's content", chunk=True),
    Override("sink_ema", "float", "Reward Forcing's EMA-Sink: frames leaving the window are folded into the sink "
                                  "at this rate (Reward Forcing: 0.999; keys are then cached un-rotated)",
             chunk=True),
    Override("history", "int", "Relax Forcing: frames of the window kept as history selected among the frames "
                               "leaving it, by relevance minus redundancy (0: off)", chunk=True),
    Override("history_lambda", "float", "Relax Forcing: weight of redundancy against relevance when the history "
                                        "is selected", chunk=True),
    Override("history_rule", "str", "how the history frames are chosen: relevance minus redundancy (Relax "
             "Forcing) or a novelty bank (RECAP-Forcing)", chunk=True, choices=("relevance", "novelty")),
    Override("fade", "float", "FadeMem: the history slots hold merged entries, adjacent ones merged under a power "
                              "law of this exponent (needs --history; keys are then cached un-rotated)", chunk=True),
    Override("pack", "int", "PackForcing (zero-shot): the frames Participative Compression releases are packed "
             "first, frame pairs x P x P tokens averaged into one (needs --budget)", chunk=True),
    Override("future", "on", "Future Forcing: the compressed middle scored by a proxy of future queries (the running "
             "moments of the clean pre-RoPE queries), redundant tokens merged (needs --budget)", chunk=True),
    Override("recency", "float", "Recency Forcing: logit decay per frame of history before the chunk, at noise "
             "level 1, scaled by the step's level (sets --bias recency)", chunk=True),
    Override("switch", "str", "what a prompt switch does: re-run the window, sink included (recache), LongLive's "
                              "own re-cache of the recent frames in one forward keeping the sink (longlive), or "
                              "Infinity-RoPE's KV Flush (flush); default: the model family's own", chunk=True,
             flag="switch-mode", choices=("recache", "longlive", "flush")),
    Override("flush_keep", "int", "KV Flush: recent frames kept besides the sink", chunk=True),
    Override("cut_gap", "int", "RoPE Cut: timeline positions skipped at a scene cut", chunk=True),
    Override("steps", "int", "denoising steps per chunk", chunk=True, builtin="steps"),
    Override("shift", "float", "timestep shift of the few-step sampler", chunk=True, flag=None),
    Override("sampler", "str", "the few-step sampler", chunk=True, flag=None),
)

BY_NAME = {o.name: o for o in TABLE}
METHOD_OVERRIDES = tuple(o.name for o in TABLE if not o.chunk)
CHUNK_OVERRIDES = tuple(o.name for o in TABLE if o.chunk)
OVERRIDES = METHOD_OVERRIDES + CHUNK_OVERRIDES
OVERRIDE_FLAGS = {o.name: o.option[2:] for o in TABLE if o.option is not None}  # name -> flag without "--"


def check_names(overrides: dict) -> None:
    """Refuse override names that are not in the table, listing the valid ones."""
    unknown = sorted(set(overrides) - set(BY_NAME))
    if unknown:
        raise ValueError(f"Unknown override(s) {', '.join(unknown)}; valid: {', '.join(OVERRIDES)}.")


__all__ = ["BY_NAME", "CHUNK_OVERRIDES", "METHOD_OVERRIDES", "OVERRIDES", "OVERRIDE_FLAGS", "TABLE", "Override",
           "check_names"]
