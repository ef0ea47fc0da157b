"""Long-video measures (FramePack drift, consistency at distance, time to failure), the benchmark's
stratified prompts and its bootstrap intervals."""

import zlib
from collections import Counter

import numpy as np
import pytest

from longroll.bench.prompts import MAX_PROMPTS, stratified_prompts
from longroll.bench.stats import MIN_UNITS, bootstrap_mean, cell_units, main_effect_shares, paired_difference, verdict
from longroll.eval.long_metrics import DistanceConsistency, framepack_drift, time_to_failure
from longroll.world.vocab import parse_prompt


def _segments(values, key="object_presence", seconds=2.0):
    return [{"start_s": i * seconds, "end_s": (i + 1) * seconds, key: v} for i, v in enumerate(values)]


def test_framepack_drift_compares_the_first_and_last_15_percent():
    segs = _segments([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])  # 20 s, 2 s segments
    # first 15% = 3 s: the segment with middle 1 s; last 15%: the segment with middle 19 s.
    assert framepack_drift(segs, ["object_presence"], 20.0)["object_presence"] == pytest.approx(0.9)
    assert framepack_drift(_segments([0.5]), ["object_presence"], 2.0)["object_presence"] == 0.0
    assert framepack_drift(_segments([None, None]), ["object_presence"], 4.0)["object_presence"] is None


def test_consistency_at_distance_sees_what_changes_and_what_repeats():
    a = np.zeros((16, 16, 3), np.uint8)
    b = np.full((16, 16, 3), 255, np.uint8)
    static = DistanceConsistency((1, 2, 5))
    for _ in range(10):
        static.add(a)
    assert static.result() == {"1": 1.0, "2": 1.0, "5": 1.0}
    flip = DistanceConsistency((1, 2))
    for i in range(10):
        flip.add(a if i % 2 else b)
    assert flip.result() == {"1": 0.0, "2": 1.0}
    assert DistanceConsistency((50,)).result() == {"50": None}  # a video shorter than the distance


def test_time_to_failure_is_the_first_halved_or_frozen_segment():
    assert time_to_failure(_segments([1.0, 0.8, 0.6, 0.4])) == 6.0
    frozen = _segments([1.0, 1.0, 1.0])
    frozen[1]["static_fraction"] = 0.8
    assert time_to_failure(frozen) == 2.0
    assert time_to_failure(_segments([1.0, 0.9])) is None


def test_evaluate_reports_the_long_video_measures(tiny_model):
    from longroll.eval.evaluate import evaluate_frames
    from longroll.pipelines.generate import generate

    frames = generate("a red circle on a black background", seconds=4, seed=0, model=tiny_model, progress=False)
    result = evaluate_frames(list(frames), tiny_model.fps, prompt="a red circle on a black background")
    assert set(result["consistency_at_distance"]) == {"1", "2", "5", "10", "20", "50"}
    assert result["consistency_at_distance"]["50"] is None and 0 < result["consistency_at_distance"]["1"] <= 1
    assert set(result["framepack_drift"]) >= {"object_presence", "static_fraction", "temporal_flickering"}
    assert "time_to_failure_s" in result


def test_stratified_prompts_balance_object_counts_colours_shapes_and_backgrounds():
    prompts = stratified_prompts(48)
    parsed = [parse_prompt(p) for p in prompts]
    objects = [o for p in parsed for o in p.objects]
    assert Counter(len(p.objects) for p in parsed) == {1: 16, 2: 16, 3: 16}
    assert set(Counter(o.colour for o in objects).values()) == {12}
    assert set(Counter(o.shape for o in objects).values()) == {32}
    assert set(Counter(p.background for p in parsed).values()) == {12}
    assert all(len({o.colour for o in p.objects}) == len(p.objects) for p in parsed)  # no repeated colour
    assert stratified_prompts(48) == prompts
    assert stratified_prompts(12) == prompts[:12]  # a longer list starts with a shorter one
    # Every prompt differs (the count, background and colour-shape cycles all close after 12 prompts:
    # without the per-block shifts, prompts 12-31 of the benchmark's 32 repeated 0-11).
    everything = stratified_prompts(MAX_PROMPTS)
    assert len(set(everything)) == MAX_PROMPTS
    assert all(len({o.colour for o in parse_prompt(p).objects}) == 1 + i % 3 for i, p in enumerate(everything))
    with pytest.raises(ValueError, match=f"1 to {MAX_PROMPTS}"):
        stratified_prompts(MAX_PROMPTS + 1)
    from pathlib import Path

    committed = Path(__file__).parents[2] / "bench" / "horizon" / "prompts.txt"
    assert committed.read_text().split("\n")[:-1] == stratified_prompts(32)


def test_bootstrap_intervals_and_paired_verdicts():
    rng = np.random.default_rng(0)
    x = rng.normal(0.5, 0.1, 64)
    mean, lo, hi = bootstrap_mean(x)
    assert lo < mean < hi and mean == pytest.approx(x.mean()) and hi - lo < 0.08
    assert bootstrap_mean(x) == (mean, lo, hi)  # deterministic
    base = {i: float(v) for i, v in enumerate(x)}
    same = paired_difference(base, base)
    assert same[:3] == (0.0, 0.0, 0.0) and verdict(*same[1:3], True) == "not separable"
    up = paired_difference({k: v + 0.05 for k, v in base.items()}, base)
    assert verdict(up[1], up[2], True) == "better" and verdict(up[1], up[2], False) == "worse"
    noisy = paired_difference({k: v + rng.normal(0, 0.1) for k, v in base.items()}, base)
    assert verdict(noisy[1], noisy[2], True) == "not separable"
    runs = [{"variant": "a", "multiple": 4, "prompt": "p", "seed": s, "v": v} for s, v in ((0, 1.0), (1, 0.0))]
    runs.append({"variant": "a", "multiple": 4, "prompt": "q", "seed": 0, "v": None})
    assert cell_units(runs, "a", 4, lambda r: r["v"]) == {("p", 0): 1.0, ("p", 1): 0.0}
    # Four prompts that all favour one method: the bootstrap interval excludes zero, but the exact
    # sign-flip test cannot reach 5% below six prompts, so the verdict stays "not separable".
    four = paired_difference({f"p{i}": 0.5 + 0.1 * (i + 1) for i in range(4)}, {f"p{i}": 0.5 for i in range(4)})
    assert four[1] > 0 and four[3] == 4
    assert verdict(four[1], four[2], True, four[3]) == "not separable"
    six = paired_difference({f"p{i}": 0.5 + 0.1 * (i + 1) for i in range(6)}, {f"p{i}": 0.5 for i in range(6)})
    assert verdict(six[1], six[2], True, six[3]) == "better" and MIN_UNITS == 6


def test_a_seed_shared_by_every_prompt_is_resampled_too():
    # A seed's noise is the same for every prompt, so one seed can favour a method on all prompts at
    # once. Resampling prompts alone (seeds averaged first) calls such a difference separable; the
    # two-way bootstrap over prompts and seeds does not, and still separates an effect every seed shows.
    rng = np.random.default_rng(1)
    base = {(f"p{i}", s): float(rng.normal(0.6, 0.1)) for i in range(32) for s in range(3)}

    def shifted(effects):
        return {(p, s): v + effects[s] + float(rng.normal(0, 0.005)) for (p, s), v in base.items()}

    seed_specific = paired_difference(shifted([0.06, -0.04, -0.01]), base)
    assert verdict(seed_specific[1], seed_specific[2], True, seed_specific[3]) == "not separable"
    prompts_only = bootstrap_mean([np.mean([shifted([0.06, -0.04, -0.01])[(f"p{i}", s)] - base[(f"p{i}", s)]
                                            for s in range(3)]) for i in range(32)])
    assert prompts_only[1] > 0  # what averaging seeds first would have said: separable
    every_seed = paired_difference(shifted([0.05, 0.04, 0.06]), base)
    assert verdict(every_seed[1], every_seed[2], True, every_seed[3]) == "better" and every_seed[3] == 32
    # One seed: the plain bootstrap over prompts; a ragged grid (a cut run) averages the cells it has.
    one = {(f"p{i}", 0): v for (p, s), v in base.items() if s == 0 for i in [int(p[1:])]}
    assert bootstrap_mean(one) == bootstrap_mean([one[(f"p{i}", 0)] for i in range(32)])
    ragged = {k: v for k, v in base.items() if k[1] == 0 or k[0] in ("p0", "p1")}
    assert bootstrap_mean(ragged)[0] == pytest.approx(np.mean(list(ragged.values())))


def test_main_effect_shares_split_a_crossed_grid_into_seed_and_prompt():
    seed_only = {(f"p{i}", s): float(s) for i in range(4) for s in range(3)}
    assert main_effect_shares(seed_only) == pytest.approx((1.0, 0.0))
    prompt_only = {(f"p{i}", s): float(i) for i in range(4) for s in range(3)}
    assert main_effect_shares(prompt_only) == pytest.approx((0.0, 1.0))
    both = {(f"p{i}", s): float(i) + 2.0 * s + (0.5 if (i, s) == (0, 0) else 0.0) for i in range(4) for s in range(3)}
    seed, prompt = main_effect_shares(both)
    assert seed > prompt > 0 and seed + prompt < 1  # the one odd cell is interaction
    assert main_effect_shares({("p0", 0): 1.0, ("p1", 0): 2.0}) is None  # one seed: nothing to split
    assert main_effect_shares({(f"p{i}", s): 1.0 for i in range(3) for s in range(2)}) is None  # no variance


def _runs(variant, multiple, presence, static=0.0, drift=1.0, prompts=12, seeds=2, noise=0.01):
    rng = np.random.default_rng(zlib.crc32(f"{variant}{multiple}".encode()))
    return [{"variant": variant, "multiple": multiple, "prompt": f"p{p}", "seed": s,
             "metrics": {"object_presence": presence + rng.normal(0, noise),
                         "static_fraction": static + rng.normal(0, noise),
                         "identity_colour_drift": drift + rng.normal(0, noise)}}
            for p in range(prompts) for s in range(seeds)]


def test_the_default_preset_rule_picks_the_best_presence_not_separably_worse_elsewhere():
    from longroll.bench.defaults import choose_default

    results = []
    for m in (16, 120):
        results += _runs("none", m, 0.70)
        results += _runs("flex", m, 0.90, static=0.6)  # best presence, but frozen: excluded
        results += _runs("sink", m, 0.80)
        results += _runs("pi", m, 0.60)
        results += _runs("lucky", m, 0.70, noise=0.1)  # higher or lower by chance: never displaces `none`
    best, reasons = choose_default(results, ["none", "flex", "sink", "pi", "lucky"])
    assert best == "sink"
    assert any(r.startswith("`flex`: excluded") and "static_fraction at 16x" in r for r in reasons)
    assert any(r.startswith("`pi`: excluded") and "object_presence at 16x" in r for r in reasons)
    assert any(r.startswith("`lucky`: not chosen, presence not separably better") for r in reasons)
    # Without a separably better preset, plain extrapolation stays the default, whatever the point estimates.
    chance = [r for r in results if r["variant"] in ("none", "lucky")]
    assert choose_default(chance, ["none", "lucky"])[0] == "none"
    with pytest.raises(ValueError, match="`none` was not run"):
        choose_default([r for r in results if r["variant"] == "sink"], ["sink"])
    only_none, _ = choose_default([r for r in results if r["variant"] == "none"], ["none"])
    assert only_none == "none"
    with pytest.raises(ValueError, match="nothing to judge"):
        choose_default(_runs("none", 4, 0.7), ["none"])


def test_the_rule_on_each_seed_alone_shows_a_choice_that_one_seed_decides():
    from longroll.bench.defaults import choose_default, choose_per_seed

    results = []
    for m in (16, 120):
        results += _runs("none", m, 0.70) + _runs("flex", m, 0.90, static=0.6) + _runs("sink", m, 0.80)
    assert choose_per_seed(results, ["none", "flex", "sink"]) == {0: "sink", 1: "sink"}
    # `lift` is better than `none` on seed 0 only: seed 0 alone chooses it, seed 1 alone keeps `none`,
    # and pooled it does not displace `none` (the interval resamples seeds too: a one-seed effect).
    lift = [{**r, "metrics": {**r["metrics"], "object_presence": r["metrics"]["object_presence"]
                              + 0.1 * (r["seed"] == 0)}}
            for m in (16, 120) for r in _runs("lift", m, 0.70, drift=0.95)]
    mixed = [r for r in results if r["variant"] == "none"] + lift
    assert choose_default(mixed, ["none", "lift"])[0] == "none"
    assert choose_per_seed(mixed, ["none", "lift"]) == {0: "lift", 1: "none"}
    # A seed without runs at every judged length is not judged (None), not judged on what it has.
    partial = mixed + [{**r, "seed": 2} for r in mixed if r["multiple"] == 16 and r["seed"] == 0]
    assert choose_per_seed(partial, ["none", "lift"])[2] is None
