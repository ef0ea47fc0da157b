"""The papers' claims that the horizon benchmark can check, each judged from a paired 95% interval.

A claim is "row A beats row B on a measure" at every length both rows ran: it holds when the paired
interval of A - B (two-way over prompts and seeds) lies on the better side of zero, does not hold when it lies on the
worse side, and is not separable otherwise. Each claim is judged on the measure its paper reports
(FLEX Tables 1, 3, 4, Fig. 5 and App. C, MIGA's comparison with FIFO-Diffusion and its parts,
FAR's FlexRoPE, the training-free extenders), through that measure's weight-free stand-in on the
built-in world.
The rows are ``horizon.variants``; the sentences are generated, never written by hand.
"""

from __future__ import annotations

# What a claim is judged on: name -> (label, value of one run, higher is better). The papers measure
# with VBench; here each dimension's weight-free stand-in on the built-in world: quality -> object
# presence, subject consistency -> similarity to the first frame, dynamic degree -> the share of
# segments with motion, quality drift -> FramePack's drift of presence (first vs last 15%), colour
# shift (FLEX App. C's over-saturation and colour bias) -> the objects' identity colour drift.
CLAIM_MEASURES = {
    "presence": ("presence", lambda r: r["metrics"].get("object_presence"), True),
    "consistency": ("subject consistency", lambda r: r["metrics"].get("first_frame_consistency"), True),
    "dynamics": ("dynamic degree", lambda r: r["metrics"].get("dynamic_degree"), True),
    "drift": ("FramePack drift of presence", lambda r: r["framepack_drift"].get("object_presence"),
              False),
    "colour": ("identity colour drift", lambda r: r["metrics"].get("identity_colour_drift"), False),
}

_T1 = "FLEX Table 1 (FLEX improves quality and curbs its drift past the horizon)"
_T3 = "FLEX Table 3 (each component, removed from FLEX, costs what the paper says)"
_T4 = "FLEX Table 4 (raising alpha or beta trades motion for consistency; 0.1 / 2.5 balances them)"
_C = "FLEX App. C (the sink anchors colours that drift without it)"
_F5 = "FLEX Fig. 5 (raising rho trades motion for consistency)"
_MIGA = "MIGA (more consistent than FIFO-Diffusion; each part helps)"
_FAR = "FAR Fig. 6 / 13 (FlexRoPE extrapolates 16x better than RoPE extrapolation and interpolation)"
_FADE = "FadeMem (arXiv 2606.10671: more consistent subjects than the bounded caches it compares with)"
_RECENCY = ("Recency Forcing, training-free (arXiv 2609.19729: VBench-Long 60 s quality 82.63 and subject "
            "consistency 97.81 against Self Forcing's 80.11 and 96.97)")
_FUTURE = ("Future Forcing (arXiv 2605.30083: subject consistency +1.49 on VBench-Long 60 s over the KV cache "
           "policies it compares with, under a limited cache)")
_RECAP = ("RECAP-Forcing (arXiv 2608.26671: keeping the cache of newly appearing content instead of the most "
          "recent frames keeps long videos consistent; no number found)")
_PACK = ("PackForcing, zero-shot (arXiv 2603.25730: 24x extrapolation, 5 s to 120 s, coherent, in a bounded "
         "cache)")
_RELAX = ("Relax Forcing (arXiv 2603.21366: dynamic degree +66.8% over its base model, consistency kept, "
          "on VBench-Long)")


def _ab(alpha=None, beta=None) -> str:
    """The row name of FLEX Table 4's sweep (``horizon.variants``) with one of alpha, beta changed."""
    from longroll.constants import FLEX_ALPHA, FLEX_BETA

    return f"alpha {alpha if alpha is not None else FLEX_ALPHA:g}, beta {beta if beta is not None else FLEX_BETA:g}"


# The papers' claims the matrix can check: (section, claim, variant, baseline, measure). A claim "A beats
# B" holds when the paired interval of A - B on the measure is on the better side of zero, does not
# hold when it is on the worse side, and is not separable otherwise.
CLAIMS = (
    (_T1, "FLEX finds more objects than plain extrapolation", "flex", "none", "presence"),
    (_T1, "FLEX drifts less than plain extrapolation", "flex", "none", "drift"),
    (_T3, "without NTK-by-parts, subjects are less consistent", "flex", "FLEX w/o NTK-by-parts", "consistency"),
    (_T3, "without antiphase noise, there is less motion", "flex", "FLEX w/o antiphase noise", "dynamics"),
    (_T3, "without the sink, quality falls", "flex", "FLEX w/o sink", "presence"),
    (_T3, "NTK-by-parts alone beats plain extrapolation", "+ NTK-by-parts", "none", "presence"),
    (_T3, "antiphase noise alone brings more motion than i.i.d. noise", "+ antiphase noise (rho -1)", "none",
     "dynamics"),
    (_T3, "the sink alone beats plain extrapolation", "+ sink", "none", "presence"),
    (_C, "the sink alone curbs colour drift", "+ sink", "none", "colour"),
    (_C, "without the sink, colours drift more", "flex", "FLEX w/o sink", "colour"),
    (_T4, "beta 3 is more consistent than beta 0.5", _ab(beta=3), _ab(beta=0.5), "consistency"),
    (_T4, "beta 0.5 has more motion than beta 3", _ab(beta=0.5), _ab(beta=3), "dynamics"),
    (_T4, "alpha 0.5 is more consistent than alpha 0.001", _ab(alpha=0.5), _ab(alpha=0.001), "consistency"),
    (_T4, "alpha 0.001 has more motion than alpha 0.5", _ab(alpha=0.001), _ab(alpha=0.5), "dynamics"),
    (_T4, "the stated alpha 0.1, beta 2.5 beats beta 3 on quality", "flex", _ab(beta=3), "presence"),
    (_T4, "the stated alpha 0.1, beta 2.5 beats alpha 0.5 on quality", "flex", _ab(alpha=0.5), "presence"),
    (_F5, "rho -1 has more motion than rho 0 (i.i.d.)", "flex", "rho 0", "dynamics"),
    (_F5, "rho -1 has more motion than rho 1", "flex", "rho 1", "dynamics"),
    (_F5, "rho 1 is more consistent than rho -1", "rho 1", "flex", "consistency"),
    (_MIGA, "MIGA is more consistent than FIFO-Diffusion", "MIGA", "FIFO-Diffusion", "consistency"),
    (_MIGA, "MIGA finds more objects than FIFO-Diffusion", "MIGA", "FIFO-Diffusion", "presence"),
    (_MIGA, "training-inference alignment alone beats FIFO-Diffusion", "MIGA: TTA only", "FIFO-Diffusion",
     "presence"),
    (_MIGA, "dual consistency enhancement alone is more consistent than FIFO-Diffusion", "MIGA: DCE only",
     "FIFO-Diffusion", "consistency"),
    (_MIGA, "self-reflection makes MIGA more consistent", "MIGA", "MIGA w/o self-reflection", "consistency"),
    (_MIGA, "long-range guidance makes MIGA more consistent", "MIGA", "MIGA w/o guidance", "consistency"),
    (_FAR, "FlexRoPE beats plain extrapolation", "flexrope", "none", "presence"),
    (_FAR, "FlexRoPE beats position interpolation", "flexrope", "pi", "presence"),
    (_FAR, "position interpolation breaks the learned motion: FlexRoPE moves more", "flexrope", "pi", "dynamics"),
    *(("Training-free extenders (each beats plain extrapolation)", f"{p} beats plain extrapolation", p, "none",
       "presence") for p in ("cache-relative", "infinity-rope", "deep-forcing", "rolling-sink", "memrope", "lol",
                             "relax-forcing", "fademem", "recency-forcing", "pack-forcing",
                             "future-forcing", "recap-forcing")),
    (_RELAX, "Relax Forcing moves more than its base model's own inference", "relax-forcing", "none", "dynamics"),
    (_RELAX, "Relax Forcing keeps subjects as consistent as the sink it builds on", "relax-forcing",
     "cache-relative", "consistency"),
    (_FADE, "FadeMem keeps subjects more consistent than a sink and a sliding window (LongLive's cache)", "fademem",
     "sink", "consistency"),
    (_FADE, "FadeMem keeps subjects more consistent than Deep Forcing's compressed memory", "fademem",
     "deep-forcing", "consistency"),
    (_FUTURE, "Future Forcing keeps subjects more consistent than Deep Forcing's recent-query compression",
     "future-forcing", "deep-forcing", "consistency"),
    (_FUTURE, "Future Forcing keeps subjects more consistent than a sink and a sliding window", "future-forcing",
     "sink", "consistency"),
    (_RECAP, "RECAP-Forcing keeps subjects more consistent than a sink and a sliding window", "recap-forcing",
     "sink", "consistency"),
    (_RECAP, "RECAP-Forcing's novelty bank keeps subjects more consistent than Relax Forcing's relevance",
     "recap-forcing", "relax-forcing", "consistency"),
    (_PACK, "PackForcing keeps subjects more consistent than a sink and a sliding window", "pack-forcing", "sink",
     "consistency"),
    (_PACK, "PackForcing's packed middle beats Deep Forcing's full-resolution tokens on quality", "pack-forcing",
     "deep-forcing", "presence"),
    (_RECENCY, "Recency Forcing keeps subjects more consistent than the base model's own inference",
     "recency-forcing", "none", "consistency"),
    (_RECENCY, "Recency Forcing beats the base model's own inference on quality", "recency-forcing", "none",
     "presence"),
)


def claim_units(results: list[dict], variant: str, multiple: float, measure: str) -> dict:
    """{(prompt, seed): ``measure``} for one row at one length."""
    from longroll.bench.stats import cell_units

    return cell_units(results, variant, multiple, CLAIM_MEASURES[measure][1])


def claims_section(results: list[dict], world: bool = True) -> list[str]:
    """One line per checkable claim and length both rows were run at on at least ``MIN_UNITS`` common
    prompts: holds / does not hold / not separable, with the paired interval (generated, not by hand).
    ``world``: the runs show the built-in world (its presence-based measures exist); else only the claims
    on the weight-free measures are judged, and the text says so."""
    from longroll.bench.stats import MIN_UNITS, grid_label, paired_difference, verdict

    lines, section = [], None
    for title, claim, a, b, measure in CLAIMS:
        label, _, higher = CLAIM_MEASURES[measure]
        common = sorted({r["multiple"] for r in results if r["variant"] == a}
                        & {r["multiple"] for r in results if r["variant"] == b})
        for m in common:
            ua, ub = claim_units(results, a, m, measure), claim_units(results, b, m, measure)
            d = paired_difference(ua, ub)
            if d is None or d[3] < MIN_UNITS:  # too few prompts to ever be separable: not judged
                continue
            if title != section:
                lines += ["", f"### {title}", ""]
                section = title
            outcome = {"better": "holds", "worse": "does not hold",
                       "not separable": "not separable"}[verdict(d[1], d[2], higher, d[3])]
            lines.append(f"- {claim} ({label}, {m:g}x, {grid_label(ua.keys() & ub.keys())}): **{outcome}** "
                         f"({a} - {b} = {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}])")
    if not lines:
        return []
    if not world:
        return ["## The papers' claims, checked on this model (generated from paired 95% intervals)", "",
                "Each paper's measure by a weight-free stand-in: subject consistency by SSIM to the first frame, "
                "dynamic degree by the share of segments with Farneback motion. The claims on quality, its drift and "
                "colour need the built-in world's detector and are not judged here.", *lines, ""]
    return ["## The papers' claims, checked on this model (generated from paired 95% intervals)", "",
            "Each paper's measure by its weight-free stand-in on the built-in world: quality by object presence, "
            "subject consistency by similarity to the first frame, dynamic degree by the share of segments "
            "with motion, quality drift by FramePack's drift of presence, colour shift by the objects' "
            "identity colour drift. Background consistency is not judged: the world's backgrounds are flat "
            "colours (see the tables' background drift).", *lines, ""]


__all__ = ["CLAIMS", "CLAIM_MEASURES", "claim_units", "claims_section"]
