"""The attention window's size and policy: sink, ring, RoPE positions and the extenders' cache parts.

``CacheConfig`` is what a preset resolves into and ``longroll.cache.kv.KVCache`` allocates: a window of
``W`` latent frames (``N`` sink frames plus a ring of recent ones), the temporal RoPE position policy
(``absolute`` or ``relative``), and the parts of the training-free extenders that live in the cache
(Deep Forcing's Participative Compression, MemRoPE's memory streams, Rolling Sink, Reward Forcing's
EMA sink, Relax Forcing's selected history, PackForcing's packs, Future Forcing's merges). Every
combination is checked here, once, with the allowed values in the message.
"""

from __future__ import annotations

from dataclasses import dataclass

from longroll._validate import check_choice, check_float, check_int
from longroll.cache.history import HISTORY_RULES, RELAX_LAMBDA
from longroll.cache.memory import POOLINGS
from longroll.rope.positions import POSITION_POLICIES


@dataclass(frozen=True)
class CacheConfig:
    """Size and policy of the attention window."""

    window: int = 12  # W: latent frames attended in total, sink and current chunk included
    sink: int = 3  # N: first frames kept for the whole rollout (0 = plain sliding window)
    rotated: bool = True  # store keys rotated at write time (False: rotate on read, for dynamic RoPE)
    positions: str = "absolute"  # temporal RoPE positions: "absolute" (timeline) or "relative" (in the window)
    anchor: int | None = None  # relative positions only: the newest frame's position (Infinity-RoPE: L_train - 1)
    budget: int | None = None  # Participative Compression: N frames kept after a compression (None: off)
    recent: int = 4  # Participative Compression: R newest frames never compressed (Deep Forcing: 4)
    memory: bool = False  # MemRoPE: evicted frames folded into a long- and a short-term EMA stream
    memory_rates: tuple[float, float] = (0.01, 0.1)  # MemRoPE: (alpha_L, alpha_S) of the two streams
    memory_pool: str = "frame"  # MemRoPE: pool evicted keys over the whole frame ("frame") or per token ("token")
    rolling: bool = False  # Rolling Sink: earlier chunks' content replaced by the first window's, replayed
    sink_ema: float | None = None  # EMA-Sink: sink <- a sink + (1 - a) leaving frames (Reward Forcing: 0.999)
    # Relax Forcing: H frames of the window hold history frames selected among those the ring lets go
    # (longroll.cache.history), between the sink and the ring; 0 = off.
    history: int = 0
    history_lambda: float = RELAX_LAMBDA  # Relax Forcing: weight of redundancy in r(h) = S(h) - lambda R(h)
    # How the history frames are chosen: "relevance" (Relax Forcing's relevance minus redundancy) or "novelty"
    # (RECAP-Forcing's novelty bank: content no kept frame explains).
    history_rule: str = "relevance"
    # FadeMem: the history slots hold merged entries instead of selected frames, adjacent entries merged under a
    # power law of this exponent (longroll.cache.history.fade_groups); None = off. Needs history >= 1.
    fade: float | None = None
    # PackForcing (zero-shot): Participative Compression's candidates packed first, PACK_FRAMES frames x
    # pack x pack tokens of the grid averaged into one (longroll.cache.compression.pack_tokens); None = off.
    # Needs a budget (the compressed middle) and un-rotated keys.
    pack: int | None = None
    # Future Forcing: the compression's candidates scored by a proxy of the future queries and the redundant
    # ones merged into kept tokens (longroll.cache.future). Needs a budget and un-rotated keys.
    future: bool = False

    def __post_init__(self) -> None:
        check_int("window", self.window, low=1)
        check_int("sink", self.sink, low=0)
        if self.sink >= self.window:
            raise ValueError(
                f"sink = {self.sink} must be smaller than window = {self.window} "
                f"(allowed range [0, {self.window - 1}]): the window also holds the chunk being generated."
            )
        if self.positions not in POSITION_POLICIES:
            raise ValueError(f"rope positions = {self.positions!r} is not one of {', '.join(POSITION_POLICIES)}.")
        if self.positions != "absolute" and self.rotated:
            raise ValueError(f"rope positions = {self.positions!r} move as the window slides, so keys must be cached "
                             "un-rotated: set rotated = False.")
        if self.anchor is not None:
            check_int("anchor", self.anchor, low=0)
            if self.positions != "relative":
                raise ValueError(f"anchor = {self.anchor} places the newest frame of a relative window; it needs "
                                 f"positions = 'relative', got {self.positions!r}.")

        if self.budget is not None:
            check_int("recent", self.recent, low=1)
            low, high = self.sink + self.recent + 1, self.window - 1
            if not low <= self.budget <= high:
                raise ValueError(
                    f"Participative Compression budget = {self.budget} frames must keep the {self.sink} sink and "
                    f"{self.recent} recent frames plus at least one frame of compressed tokens, and stay below the "
                    f"window of {self.window} (allowed range [{low}, {high}])."
                )

        if self.memory:
            if self.positions != "relative":
                raise ValueError("MemRoPE's memory tokens are averaged un-rotated keys and need positions inside the "
                                 f"window: set positions = 'relative' (got {self.positions!r}).")
            if self.budget is not None or self.rolling:
                raise ValueError("Memory tokens, Participative Compression and Rolling Sink each fill the window "
                                 "between sink and recent frames: use one of them.")
            if len(self.memory_rates) != 2:
                raise ValueError(f"memory_rates must be two EMA rates (long, short), got {self.memory_rates!r}.")
            for name, rate in zip(("alpha_long", "alpha_short"), self.memory_rates):
                check_float(name, rate, low=0.0, high=1.0, low_open=True)
            if self.memory_pool not in POOLINGS:
                raise ValueError(f"memory_pool = {self.memory_pool!r} is not one of {', '.join(POOLINGS)}.")
        if self.rolling:
            if self.rotated:
                raise ValueError("Rolling Sink re-places earlier content at new positions, so keys must be cached "
                                 "un-rotated: set rotated = False.")
            if self.budget is not None:
                raise ValueError("Participative Compression and Rolling Sink each rewrite the window: use one.")
        if self.sink_ema is not None:
            check_float("sink_ema", self.sink_ema, low=0.0, high=1.0)
            if self.sink < 1:
                raise ValueError(f"sink_ema = {self.sink_ema} folds leaving frames into the sink, but sink = 0: "
                                 "give a sink of at least 1 frame.")
            self._unrotated("An EMA sink averages keys written at different positions")
        check_int("history", self.history, low=0)
        check_float("history_lambda", self.history_lambda, low=0.0)
        check_choice("history_rule", self.history_rule, HISTORY_RULES)
        if self.history and (self.budget is not None or self.memory or self.rolling or self.sink_ema is not None):
            raise ValueError(f"history = {self.history} selects frames for the window between sink and recent "
                             "frames, which Participative Compression, the memory streams, Rolling Sink and an EMA "
                             "sink also fill or rewrite: use one of them.")
        if self.fade is not None:
            check_float("fade", self.fade, low=0.0, low_open=True)
            if self.history < 1:
                raise ValueError(f"fade = {self.fade} merges the history's entries, but history = 0: give the history "
                                 "slots it merges into (history >= 1).")
            self._unrotated("FadeMem averages keys written at different positions")
            if self.history_rule != "relevance":
                raise ValueError(f"history_rule = {self.history_rule!r} chooses frames for the history, but fade = "
                                 f"{self.fade} merges every frame leaving the ring into it: use one of them.")
        if self.pack is not None:
            check_int("pack", self.pack, low=1)
            if self.budget is None:
                raise ValueError(f"pack = {self.pack} packs the frames Participative Compression releases, but budget "
                                 "is off: give a budget (the frames kept: sink, compressed middle, recent frames).")
            self._unrotated("PackForcing averages keys written at different positions")
        if self.future:
            if self.budget is None:
                raise ValueError("future = True scores and merges the tokens of the compressed middle, but budget is "
                                 "off: give a budget (the frames kept: sink, compressed middle, recent frames).")
            self._unrotated("Future Forcing scores pre-RoPE keys and merges keys written at different positions")
        if self.ring < 1:
            raise ValueError(f"window = {self.window} leaves no slot for recent frames after the sink ({self.sink}) "
                             f"and {'the memory streams (2)' if self.memory else 'the compressed frames'}"
                             + (f" and the {self.history} history frames" if self.history else "") + ".")

    # Fields added after results were cached under keys made from this config, with the value that means "off"
    # (a field that depends on another, as the history's lambda on the history, is off with it). A stored key
    # leaves them out while they are off (``stable_dict``), so what was cached before they existed still matches.
    ADDED_OFF = {"history": 0, "history_rule": "relevance", "fade": None, "pack": None, "future": False}
    ADDED_WITH = {"history_lambda": "history"}

    @classmethod
    def stable_dict(cls, data: dict) -> dict:
        """A config's dict without the added fields that are off (see ``ADDED_OFF``)."""
        off = {k for k, v in cls.ADDED_OFF.items() if k in data and data[k] == v}
        off |= {k for k, owner in cls.ADDED_WITH.items() if owner in off or data.get(owner) is None and k in data}
        return {k: v for k, v in data.items() if k not in off}

    def _unrotated(self, why: str) -> None:
        if self.rotated:
            raise ValueError(f"{why}, so keys must be cached un-rotated: set rotated = False.")

    @property
    def reserved(self) -> int:
        """Frames of the window given to tokens that are not frames: compressed tokens or the two memory streams."""
        return 2 if self.memory else self.compressed

    @property
    def compressed(self) -> int:
        """C: frames' worth of tokens kept by Participative Compression (0 when it is off)."""
        return 0 if self.budget is None else self.budget - self.sink - self.recent

    @property
    def ring(self) -> int:
        """Slots for recent frames (the current chunk included): the window less the sink, the history frames and
        the compressed tokens."""
        return self.window - self.sink - self.history - self.reserved

    @property
    def slots(self) -> int:
        """Frame slots allocated: sink + history + ring."""
        return self.sink + self.history + self.ring


__all__ = ["CacheConfig"]
