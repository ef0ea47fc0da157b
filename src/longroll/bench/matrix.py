"""The horizon benchmark's matrix: its rows (``Variant``: a preset and its overrides, a schedule and its
settings, in a group) and its size (``BenchConfig``: lengths, prompts and seeds per cell).

Read by the benchmark's run (``bench.horizon``), its report (``bench.report``) and its cost
(``bench.cost``); it imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from longroll.pipelines.rollouts import DEFAULT


@dataclass(frozen=True)
class Variant:
    """One row of the benchmark: a preset with overrides."""

    name: str  # row label
    preset: str
    group: str  # which table it belongs to
    overrides: tuple[tuple[str, object], ...] = ()
    schedule: str = DEFAULT  # the way it is rolled out (pipelines.rollouts.SCHEDULES)
    schedule_options: tuple[tuple[str, object], ...] = ()  # FIFO / MIGA settings

    def kwargs(self) -> dict:
        return dict(self.overrides)


# The matrix's row groups, in report order: the presets, FLEX's components (Table 3: each removed from FLEX,
# and each alone), the three ways to roll out, MIGA's ablations, and the sweeps of FLEX §4.3 (Table 4, Fig. 5)
# and FAR.
GROUPS = ("presets", "components", "schedules", "miga_ablation", "alpha_beta", "rho", "sink_size",
          "flexrope_lambda")


def variants(quick: bool, only: tuple[str, ...] | None = None,
             groups: tuple[str, ...] | None = None) -> list[Variant]:
    """Presets, FLEX components one at a time, and the sweeps of FLEX §4.3 / FAR; with ``only``,
    just those presets' rows (without ``groups``: no ablations, the part of the matrix the
    default-preset rule reads); with ``groups``, just the rows of those groups (``GROUPS``)."""
    rows = _all_variants(quick)
    if only is not None:
        rows = [v for v in rows if v.group != "presets"] + [Variant(p, p, "presets") for p in only]
        groups = groups or ("presets",)
    if groups is not None:
        rows = [v for v in rows if v.group in groups]
    return sorted(rows, key=lambda v: GROUPS.index(v.group))


def _all_variants(quick: bool) -> list[Variant]:
    from longroll.constants import (
        FLEX_ALPHA,
        FLEX_BETA,
        FLEX_FIG5_RHOS,
        FLEX_RHO,
        FLEX_TABLE4_ALPHAS,
        FLEX_TABLE4_BETAS,
    )
    from longroll.pipelines.presets import PRESETS

    presets = list(PRESETS)  # every preset, the training-free extenders of the field included
    if quick:
        presets = ["none", "pi", "sink", "flex"]
    rows = [Variant(p, p, "presets") for p in presets]
    # FLEX Table 3 removes one component at a time from the full method; each is also added alone to `none`.
    rows += [
        Variant("FLEX w/o NTK-by-parts", "flex", "components", (("rope", "none"),)),
        # rho 0 is i.i.d. noise bit for bit (tests/test_noise.py), so this row shares Fig. 5's rho 0 run.
        Variant("FLEX w/o antiphase noise", "flex", "components", (("rho", 0.0),)),
        Variant("FLEX w/o sink", "flex", "components", (("sink", 0),)),
        Variant("FLEX (all three)", "flex", "components"),
    ]
    if not quick:
        rows += [
            Variant("+ NTK-by-parts", "none", "components", (("rope", "flex"),)),
            Variant("+ antiphase noise (rho -1)", "none", "components", (("noise", "antiphase"), ("rho", FLEX_RHO))),
            Variant("+ sink", "sink", "components"),
        ]
    # The three ways to roll out (same prompts and seeds), and MIGA's ablations (MIGA Table 3).
    rows += [Variant("chunk-wise (none)", "none", "schedules"),
             Variant("FIFO-Diffusion", "none", "schedules", schedule="fifo"),
             Variant("MIGA", "none", "schedules", schedule="miga")]
    if quick:
        return rows
    rows += [
        Variant("MIGA: TTA only", "none", "miga_ablation", schedule="miga",
                schedule_options=(("guidance", 0), ("reflection", False))),
        Variant("MIGA: DCE only", "none", "miga_ablation", schedule="miga",
                schedule_options=(("k", 1), ("stage2_steps", 0))),
        Variant("MIGA w/o self-reflection", "none", "miga_ablation", schedule="miga",
                schedule_options=(("reflection", False),)),
        Variant("MIGA w/o guidance", "none", "miga_ablation", schedule="miga", schedule_options=(("guidance", 0),)),
        # Where the guidance frames come from: the queue's head, as the paper's text reads, against
        # the chunks before the window, as its code does (MIGA's default here).
        Variant("MIGA, guidance from the queue head", "none", "miga_ablation", schedule="miga",
                schedule_options=(("guidance_from", "head"),)),
    ]
    # FLEX Table 4 varies one of alpha, beta with the other at its stated value; Fig. 5 sweeps rho.
    rows += [Variant(f"alpha {FLEX_ALPHA:g}, beta {b:g}", "flex", "alpha_beta", (("beta", b),))
             for b in FLEX_TABLE4_BETAS]
    rows += [Variant(f"alpha {a:g}, beta {FLEX_BETA:g}", "flex", "alpha_beta", (("alpha", a),))
             for a in FLEX_TABLE4_ALPHAS]
    rows += [Variant(f"rho {r:g}", "flex", "rho", (("rho", r),)) for r in FLEX_FIG5_RHOS if r != FLEX_RHO]
    rows += [Variant(f"sink {s}", "flex", "sink_size", (("sink", s),)) for s in (0, 8)]
    rows += [Variant(f"FlexRoPE lambda {lam:g}", "flexrope", "flexrope_lambda", (("flexrope_lambda", lam),))
             for lam in (0.05, 0.5)]
    return rows


@dataclass
class BenchConfig:
    """Size of the matrix."""

    out: Path  # folder for runs/, REPORT.md and plots
    quick: bool = False  # a small matrix that fits in a few minutes on 2 cores
    multiples: tuple[float, ...] = (1, 4, 16, 120)  # lengths in multiples of the horizon
    prompts: int = 32  # prompts by the stratified rule (longroll.bench.prompts) at every length but the longest
    seeds: int = 3  # seeds per prompt at those lengths
    long_prompts: int = 16  # prompts at 120x and beyond (the first ones of the same list)
    long_seeds: int = 2  # seeds per prompt at 120x and beyond
    segment_seconds: float = 2.0
    weights: str | None = None
    sweep_multiple: float = 16  # the length at which ablation sweeps run
    presets: tuple[str, ...] | None = None  # only these presets' rows (no ablations or schedules); None: all
    groups: tuple[str, ...] | None = None  # only these row groups (GROUPS); None: all (with presets: "presets")
    cached_only: bool = False  # generate nothing: report the runs already cached, and list what is missing
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        from longroll._validate import check_choice, check_int
        from longroll.bench.prompts import MAX_PROMPTS

        self.out = Path(self.out)
        check_int("prompts", self.prompts, low=1, high=MAX_PROMPTS)
        check_int("seeds", self.seeds, low=1, high=100)
        check_int("long_prompts", self.long_prompts, low=1, high=MAX_PROMPTS)
        check_int("long_seeds", self.long_seeds, low=1, high=100)
        self.multiples = tuple(self.multiples)
        if not self.multiples or any(not m > 0 for m in self.multiples):
            raise ValueError(f"multiples must be positive multiples of the horizon; got {self.multiples}.")
        if self.presets is not None:
            from longroll.pipelines.presets import PRESETS

            self.presets = tuple(self.presets)
            if not self.presets:
                raise ValueError("presets must name at least one preset, or be None for the whole matrix.")
            for name in self.presets:
                check_choice("preset", name, PRESETS)
        if self.groups is not None:
            self.groups = tuple(self.groups)
            if not self.groups:
                raise ValueError(f"groups must name at least one of {', '.join(GROUPS)}, or be None for all.")
            for name in self.groups:
                check_choice("group", name, GROUPS)
        if self.quick:
            self.multiples = (1, 4, 8)
            self.prompts = min(self.prompts, 2)
            self.seeds = 1
            self.sweep_multiple = 8

    def cell(self, multiple: float) -> tuple[int, int]:
        """(prompts, seeds) of a cell at ``multiple`` horizons (paired: every method the same)."""
        return (self.long_prompts, self.long_seeds) if multiple >= 120 else (self.prompts, self.seeds)


__all__ = ["GROUPS", "BenchConfig", "Variant", "variants"]
