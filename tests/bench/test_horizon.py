"""``longroll bench`` on a tiny random model: the matrix runs, the report has its tables, runs resume."""


import pytest

import longroll.bench.horizon as bench
import longroll.bench.job as job
from longroll.bench.horizon import BenchConfig, run_bench, variants

P8 = "8 prompts x 1 seed"  # the cell the claims tests judge on


def stored_runs(folder):
    """Every run in a benchmark folder's store."""
    from longroll.bench.store import RunStore

    store = RunStore(folder / "runs")
    return [store.get(k) for k in sorted(store.keys())]


def test_quick_bench_writes_report_and_resumes(tiny_model, tmp_path, monkeypatch):
    cfg = BenchConfig(out=tmp_path, quick=True, prompts=1)
    cfg.multiples = (1, 2)
    cfg.sweep_multiple = 2
    report = run_bench(cfg, model=tiny_model, progress=False)
    text = report.read_text()
    assert "## Presets at 1x" in text and "## Presets at 2x" in text
    assert "FLEX components (FLEX Table 3" in text and "| flex |" in text
    assert "Findings" in text and (tmp_path / "over_time_2x.png").exists()
    assert "## Three ways to roll out at 2x" in text and "| MIGA |" in text and "| FIFO-Diffusion |" in text
    assert "## Cost and self-reflection" in text
    # The diagonal schedules over time at their longest length, against chunk-wise in grey.
    assert (tmp_path / "object_presence_2x_schedules_bands.png").is_file()
    assert "![presence over time](object_presence_2x_schedules_bands.png)" in text
    assert "per way to roll out at 2x" in text and "`chunk-wise (none)` in grey" in text
    assert "## The papers' claims, checked on this model" not in text  # one prompt: no interval to judge by
    runs = stored_runs(tmp_path)
    rows = sum(len(cfg.multiples) if v.group in ("presets", "schedules") else 1 for v in variants(True))
    # "FLEX (all three)" reuses the flex run, "chunk-wise (none)" the none runs.
    assert len(runs) == rows - 1 - len(cfg.multiples)
    miga = [r for r in runs if r.get("schedule") == "miga"]
    assert len(miga) == 2 and all(r["diagonal"]["frames_out"] >= 8 for r in miga)
    first = runs[0]
    assert {"preset", "multiple", "segments", "metrics", "drift"} <= set(first)
    assert first["workers"] == 1 and first["threads"] >= 1  # how it was made: prices it and explains its bits
    # Committed with the repository: one file per row and length, one line per run.
    files = sorted((tmp_path / "runs").glob("*.jsonl"))
    assert "1x-flex.jsonl" in [f.name for f in files] and not list((tmp_path / "runs").glob("*.json"))
    text0 = files[0].read_text()
    assert text0.endswith("\n") and "\": " not in text0
    floats = [v for seg in first["segments"] for v in seg.values() if isinstance(v, float)]
    assert floats and all(v == round(v, job.RUN_DECIMALS) for v in floats)

    def boom(*args, **kwargs):
        raise AssertionError("a cached run was generated again")

    monkeypatch.setattr(job, "run_one", boom)
    assert run_bench(cfg, model=tiny_model, progress=False).read_text().count("| flex |") >= 1


def test_variants_cover_the_ablations():
    groups = {v.group for v in variants(False)}
    assert groups == {"presets", "components", "schedules", "miga_ablation", "alpha_beta", "rho", "sink_size",
                      "flexrope_lambda"}
    names = [v.name for v in variants(False) if v.group == "presets"]
    assert names == ["none", "pi", "ntk", "yarn", "riflex", "flexrope", "sink", "flex", "cache-relative",
                     "infinity-rope", "deep-forcing", "rolling-sink", "memrope", "lol", "relax-forcing",
                     "fademem", "recency-forcing", "pack-forcing", "future-forcing", "recap-forcing"]


def test_bad_bench_arguments(capsys):
    from longroll.cli import main

    assert main(["bench", "--prompts", "0"]) == 2
    assert "prompts = 0 is out of range" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--seeds", "many"])


def test_bench_runs_a_storyboard_with_every_preset_and_caches_it(tmp_path, tiny_model):
    from longroll.bench.storyboard import run_storyboard

    script = "a red circle on a black background [1s] | two blue squares on a navy background [1s#]"
    report = run_storyboard(script, tmp_path, presets=["sink", "infinity-rope"], model=tiny_model)
    text = report.read_text()
    assert "`sink`" in text and "`infinity-rope`" in text and "shot 2 presence" in text
    cached = sorted((tmp_path / "storyboard").glob("*.json"))
    assert len(cached) == 2
    stamp = [p.stat().st_mtime for p in cached]
    run_storyboard(script, tmp_path, presets=["sink", "infinity-rope"], model=tiny_model)
    assert [p.stat().st_mtime for p in cached] == stamp  # nothing made twice
    with pytest.raises(ValueError, match="Shot 2"):
        run_storyboard("a red circle [1s] | [1s]", tmp_path, model=tiny_model)


def test_the_report_gives_intervals_paired_verdicts_and_the_default_by_the_rule(tiny_model, tmp_path, monkeypatch):
    rows = [v for v in variants(True) if v.group == "presets"]
    monkeypatch.setattr(bench, "variants", lambda quick, only=None, groups=None: rows)
    cfg = BenchConfig(out=tmp_path, quick=True, prompts=3)
    cfg.seeds, cfg.multiples = 2, (1, 16)
    text = run_bench(cfg, model=tiny_model, progress=False).read_text()
    assert "## Intervals at 16x (2 prompts x 2 seeds; 95% bootstrap over prompts and seeds)" in text
    assert "- At 16x, presence against `none`: better:" in text
    assert "## Default preset by the rule" in text and "Chosen: `" in text
    runs = stored_runs(tmp_path)
    assert {r["prompt"] for r in runs} == set(bench._prompts(2)) and {r["seed"] for r in runs} == {0, 1}


def test_the_matrix_runs_through_a_batch_backend_and_resumes_after_a_kill(tiny_model, tmp_path, monkeypatch):
    rows = [v for v in variants(True) if v.group == "presets"][:2]
    monkeypatch.setattr(bench, "variants", lambda quick, only=None, groups=None: rows)
    cfg = BenchConfig(out=tmp_path, quick=True, prompts=2)
    cfg.multiples = (1,)
    calls = []
    real = job.run_one

    def killed_after_one(*args, **kwargs):
        if calls:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(job, "run_one", killed_after_one)
    with pytest.raises(KeyboardInterrupt):
        run_bench(cfg, model=tiny_model, progress=False)
    assert len(stored_runs(tmp_path)) == 1  # the finished video is kept
    monkeypatch.setattr(job, "run_one", real)
    with pytest.raises(ValueError, match="workers = 2 needs --backend torchrun or ray"):
        run_bench(cfg, model=tiny_model, progress=False, workers=2)
    run_bench(cfg, model=tiny_model, progress=False)
    assert len(stored_runs(tmp_path)) == 4


def test_the_papers_claims_are_judged_from_paired_intervals():
    from longroll.bench.claims import claims_section

    def runs(variant, presence):
        return [{"variant": variant, "multiple": 16, "prompt": f"p{p}", "seed": 0,
                 "metrics": {"object_presence": presence + 0.01 * (p % 3)}} for p in range(8)]

    lines = claims_section(runs("none", 0.5) + runs("+ sink", 0.7) + runs("+ NTK-by-parts", 0.3)
                           + runs("flexrope", 0.5) + runs("pi", 0.3))
    text = "\n".join(lines)
    assert f"FlexRoPE beats position interpolation (presence, 16x, {P8}): **holds**" in text
    assert f"the sink alone beats plain extrapolation (presence, 16x, {P8}): **holds**" in text
    assert f"NTK-by-parts alone beats plain extrapolation (presence, 16x, {P8}): **does not hold**" in text
    assert f"FlexRoPE beats plain extrapolation (presence, 16x, {P8}): **not separable**" in text
    assert "MIGA" not in text  # rows not run are not judged
    few = [r for r in runs("none", 0.5) + runs("+ sink", 0.9) if r["prompt"] in ("p0", "p1", "p2")]
    assert claims_section(few) == []  # three prompts can never be separable: not judged at all
    # Judged at every length both rows ran, not only the longest (which often has the fewest prompts).
    longer = [dict(r, multiple=120) for r in runs("none", 0.5) + runs("+ sink", 0.7)]
    text = "\n".join(claims_section(runs("none", 0.5) + runs("+ sink", 0.7) + longer))
    assert f"(presence, 16x, {P8}): **holds**" in text and f"(presence, 120x, {P8}): **holds**" in text
    # The seeds a claim rests on are named: a one-seed verdict holds for that seed's noise only.
    two = [dict(r, seed=1) for r in runs("none", 0.5) + runs("+ sink", 0.7)]
    text = "\n".join(claims_section(runs("none", 0.5) + runs("+ sink", 0.7) + two))
    assert "the sink alone beats plain extrapolation (presence, 16x, 8 prompts x 2 seeds): **holds**" in text


def test_each_claim_is_judged_on_the_papers_own_measure_and_direction():
    from longroll.bench.claims import claims_section

    def runs(variant, dynamic, consistency, drift, colour=1.0):
        return [{"variant": variant, "multiple": 16, "prompt": f"p{p}", "seed": 0, "framepack_drift": {
                    "object_presence": drift + 0.01 * (p % 2)},
                 "metrics": {"object_presence": 0.5, "dynamic_degree": dynamic + 0.01 * (p % 3),
                             "first_frame_consistency": consistency + 0.01 * (p % 2),
                             "identity_colour_drift": colour + 0.01 * (p % 3)}} for p in range(8)]

    # FLEX Fig. 5: rho -1 moves more, rho 1 is more consistent (the paper's trade-off, as measured here).
    text = "\n".join(claims_section(runs("flex", 0.6, 0.5, 0.05) + runs("rho 1", 0.2, 0.7, 0.05)
                                    + runs("none", 0.6, 0.5, 0.20)))
    assert f"rho -1 has more motion than rho 1 (dynamic degree, 16x, {P8}): **holds**" in text
    assert f"rho 1 is more consistent than rho -1 (subject consistency, 16x, {P8}): **holds**" in text
    # Drift: lower is better, so FLEX's smaller FramePack drift makes "drifts less" hold.
    assert f"FLEX drifts less than plain extrapolation (FramePack drift of presence, 16x, {P8}): **holds**" \
        in text
    assert f"FLEX finds more objects than plain extrapolation (presence, 16x, {P8}): **not separable**" in text
    # The same rows with the trade-off reversed: the claims do not hold.
    text = "\n".join(claims_section(runs("flex", 0.2, 0.7, 0.3) + runs("rho 1", 0.6, 0.5, 0.05)
                                    + runs("none", 0.6, 0.5, 0.05)))
    assert f"rho -1 has more motion than rho 1 (dynamic degree, 16x, {P8}): **does not hold**" in text
    assert f"FLEX drifts less than plain extrapolation (FramePack drift of presence, 16x, {P8}): " \
        "**does not hold**" in text
    # FLEX App. C: colour drift, lower is better; a sink that drifts more than no sink fails the claim.
    text = "\n".join(claims_section(runs("+ sink", 0.5, 0.5, 0.1, colour=0.8) + runs("none", 0.5, 0.5, 0.1)
                                    + runs("flex", 0.5, 0.5, 0.1) + runs("FLEX w/o sink", 0.5, 0.5, 0.1, 0.6)))
    assert f"the sink alone curbs colour drift (identity colour drift, 16x, {P8}): **holds**" in text
    assert f"without the sink, colours drift more (identity colour drift, 16x, {P8}): **does not hold**" in text


def test_the_matrix_is_made_in_whole_paired_units_so_a_cut_run_can_be_reported(tiny_model, tmp_path, monkeypatch):
    # Length by length, then seed and prompt, every row of the unit together: a run killed part-way
    # leaves every method on the same prompts (here: killed after the first unit of three rows).
    cfg = BenchConfig(out=tmp_path, prompts=2, seeds=2, presets=("none", "sink", "flex"), multiples=(2, 1))
    made, real = [], job.run_one

    def recorded(model, plan, segment, **kwargs):
        if len(made) == 3:
            raise KeyboardInterrupt
        made.append((plan.request.seconds, plan.request.seed, plan.request.prompt, plan.request.preset))
        return real(model, plan, segment)

    monkeypatch.setattr(job, "run_one", recorded)
    with pytest.raises(KeyboardInterrupt):
        run_bench(cfg, model=tiny_model, progress=False)
    first = bench._prompts(2)[0]
    assert [m[3] for m in made] == ["none", "sink", "flex"]
    horizon = tiny_model.defaults.train_len * tiny_model.frames_per_latent / tiny_model.fps
    assert [m[:3] for m in made] == [(pytest.approx(horizon), 0, first)] * 3  # the shorter length first
    cached = BenchConfig(out=tmp_path, prompts=2, seeds=2, presets=("none", "sink", "flex"), multiples=(1,),
                         cached_only=True)
    report = run_bench(cached, model=tiny_model, progress=False).read_text()
    assert "| sink |" in report and "| flex |" in report


def test_bench_restricted_to_presets_and_lengths_runs_only_those(tiny_model, tmp_path):
    assert [v.name for v in variants(False, ("none", "flex"))] == ["none", "flex"]
    cfg = BenchConfig(out=tmp_path, prompts=2, seeds=1, long_prompts=1, long_seeds=1, presets=("none", "sink"),
                      multiples=(1, 2))
    report = run_bench(cfg, model=tiny_model, progress=False).read_text()
    assert "the preset rows only (2 presets at 1x, 2x" in report and "| sink |" in report
    runs = stored_runs(tmp_path)
    assert sorted((r["preset"], r["multiple"]) for r in runs) == sorted(
        (p, m) for p in ("none", "sink") for m in (1, 2) for _ in range(2))
    assert {r["schedule"] for r in runs} == {"chunk"}


def test_bad_bench_presets_and_lengths_are_refused_by_name(tmp_path, capsys):
    from longroll.cli import main

    with pytest.raises(ValueError, match="bogus"):
        BenchConfig(out=tmp_path, presets=("none", "bogus"))
    with pytest.raises(ValueError, match="multiples"):
        BenchConfig(out=tmp_path, multiples=(16, 0))
    assert main(["bench", "--out", str(tmp_path), "--presets", "none,bogus"]) == 2
    assert "bogus" in capsys.readouterr().err
    assert main(["bench", "--out", str(tmp_path), "--lengths", "16,x"]) == 2
    assert "--lengths" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_bench_lengths_out_of_range_are_refused_before_any_run(tmp_path, capsys):
    from longroll.cli import main

    assert main(["bench", "--out", str(tmp_path), "--presets", "none", "--lengths", "16,-1"]) == 2
    assert "multiples must be positive" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_a_quick_bench_writes_beside_the_main_report_never_over_it(monkeypatch, tmp_path):
    from longroll.cli import main

    seen = []
    monkeypatch.setattr(bench, "run_bench", lambda cfg, **kw: seen.append(cfg) or tmp_path / "REPORT.md")
    assert main(["bench", "--quick"]) == 0 and main(["bench", "--presets", "none"]) == 0
    assert main(["bench", "--quick", "--out", str(tmp_path)]) == 0
    assert [str(c.out) for c in seen] == ["bench/horizon/quick", "bench/horizon", str(tmp_path)]


def test_bench_restricted_to_row_groups_runs_only_those_groups(tiny_model, tmp_path):
    rows = variants(False, groups=("presets", "rho"))
    assert {v.group for v in rows} == {"presets", "rho"} and rows[0].group == "presets"
    assert [v.name for v in variants(False, ("none",), ("presets", "components"))][:1] == ["none"]
    assert {v.group for v in variants(False, ("none",), ("components",))} == {"components"}
    cfg = BenchConfig(out=tmp_path, prompts=1, seeds=1, presets=("none",), groups=("presets", "rho"),
                      multiples=(1,), sweep_multiple=2)
    report = run_bench(cfg, model=tiny_model, progress=False).read_text()
    assert "the row groups presets, rho only (1 presets" in report
    runs = stored_runs(tmp_path)
    # `none` at 1x, and the rho sweep (flex with four rho) at the sweep length: nothing else.
    assert sorted((r["preset"], r["multiple"]) for r in runs) == [("flex", 2)] * 4 + [("none", 1)]
    assert "MIGA" not in report and "Table 3" not in report  # no claim whose rows did not run is judged


def test_bad_bench_groups_are_refused_by_name_before_any_run(tmp_path, capsys):
    from longroll.cli import main

    with pytest.raises(ValueError, match="'bogus'"):
        BenchConfig(out=tmp_path, groups=("presets", "bogus"))
    assert main(["bench", "--out", str(tmp_path), "--groups", "rho,bogus"]) == 2
    err = capsys.readouterr().err
    assert "bogus" in err and "flexrope_lambda" in err
    assert main(["bench", "--out", str(tmp_path), "--groups", "rho", "--script", "a red circle [2s]"]) == 2
    assert "--groups 'rho'" in capsys.readouterr().err
    assert main(["bench", "--out", str(tmp_path), "--cached", "--script", "a red circle [2s]"]) == 2
    assert "--cached" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_a_cached_report_generates_nothing_keeps_pairs_and_lists_what_is_missing(tiny_model, tmp_path):
    run_bench(BenchConfig(out=tmp_path, prompts=2, seeds=1, presets=("none", "sink"), multiples=(1,)),
              model=tiny_model, progress=False)
    assert len(stored_runs(tmp_path)) == 4
    whole = run_bench(BenchConfig(out=tmp_path, prompts=2, seeds=1, presets=("none", "sink"), multiples=(1,),
                                  cached_only=True), model=tiny_model, progress=False).read_text()
    assert ("the preset rows only (2 presets at 1x; no ablations or schedules), every one of its 4 runs from "
            "the cache") in whole
    assert "## Coverage (every run of the matrix is cached)" in whole
    assert "| presets | 1x (1 s) | 2 | 4 | 4 | 0 |" in whole
    assert "Not yet run" not in whole and "Not yet made" not in whole
    sink = tmp_path / "runs" / "1x-sink.jsonl"
    lines = sink.read_text().splitlines(keepends=True)
    assert len(lines) == 2
    sink.write_text(lines[0])  # one prompt of `sink` is missing: that prompt leaves `none` too (pairs only)
    cfg = BenchConfig(out=tmp_path, prompts=2, seeds=2, presets=("none", "sink"), multiples=(1,), cached_only=True)
    report = run_bench(cfg, model=tiny_model, progress=False).read_text()
    assert len(stored_runs(tmp_path)) == 3  # nothing generated
    assert "the cached part of the the preset rows only" not in report
    assert "the cached part of the preset rows only (2 presets at 1x; no ablations or schedules): 2 of its 8 runs" \
        in report
    assert "## Not yet run" in report and "| presets | 1x (1 s) | 2 | 8 | 2 | 6 |" in report
    assert "## Intervals at 1x (1 prompt x 1 seed;" in report
    assert "Not yet made: 5 videos of this matrix" in report and "chunk 1x: 5" in report


def test_the_schedules_cost_ratio_compares_runs_made_the_same_way():
    from longroll.bench.report import cost_ratio

    def run(variant, prompt, wall, workers, threads):
        return {"variant": variant, "multiple": 16, "prompt": prompt, "seed": 0, "wall_seconds": wall,
                "workers": workers, "threads": threads}

    # Chunk-wise made by one process of two threads, FIFO by two ranks of one: not comparable.
    results = [run("chunk", "p0", 20.0, 1, 2), run("fifo", "p0", 60.0, 2, 1)]
    assert cost_ratio(results, "fifo", "chunk", 16) is None
    # With a like-made pair the ratio is of machine seconds (wall over workers), on the shared pairs only.
    results += [run("chunk", "p1", 10.0, 2, 1), run("fifo", "p1", 40.0, 2, 1), run("fifo", "p2", 99.0, 2, 1)]
    assert cost_ratio(results, "fifo", "chunk", 16) == 4.0
    assert cost_ratio(results, "fifo", "chunk", 4) is None


def test_raising_a_schedules_revision_re_keys_its_cached_runs_and_no_others(tiny_model, monkeypatch):
    # A fix that changes what a schedule computes from an unchanged config raises its revision, and
    # runs cached under the old code stop matching; revision 1 adds nothing to the key.
    import dataclasses

    from longroll.pipelines.plan import resolve
    from longroll.pipelines.rollouts import SCHEDULES, Schedule

    by_name = {v.name: v for v in variants(True)}
    rows = {"chunk": by_name["none"], "fifo": by_name["FIFO-Diffusion"], "miga": by_name["MIGA"]}

    def keys():
        return {s: job.run_key(resolve(job._request(v, 2.0, "a red circle on a black background", 0), tiny_model),
                                 "w") for s, v in rows.items()}

    before = keys()
    assert len(set(before.values())) == 3
    monkeypatch.setitem(SCHEDULES, "miga", dataclasses.replace(SCHEDULES["miga"], revision=2))
    after = keys()
    assert after["miga"] != before["miga"]
    assert after["chunk"] == before["chunk"] and after["fifo"] == before["fifo"]
    with pytest.raises(ValueError, match="revision must be an integer >= 1, got 0"):
        dataclasses.replace(SCHEDULES["fifo"], revision=0)
    assert isinstance(SCHEDULES["chunk"], Schedule)


def test_a_seed_cut_short_is_left_out_of_the_report_until_it_is_whole():
    # The intervals resample seeds as crossed factors, so a seed with a few prompts would stand for a
    # whole seed; the matrix is made seed by seed, so a cut run has whole seeds and one partial one.
    from longroll.bench.horizon import BenchItem, paired_cached_rows
    from longroll.bench.matrix import Variant

    rows, items = [], {}
    for name in ("none", "sink"):
        v = Variant(name, name, "presets")
        for s in range(2):
            for p in ("a", "b", "c"):
                key = f"{name}-{p}-{s}"
                items[key] = BenchItem(v, 16, p, s, key, 16 * 2.625)
                rows.append((v, key))
    cached = {k for k in items if k.endswith("-0") or k.endswith("a-1")}  # seed 1 has one prompt of three
    kept, coverage = paired_cached_rows(rows, items, cached)
    assert {(items[k].prompt, items[k].seed) for _, k in kept} == {("a", 0), ("b", 0), ("c", 0)}
    assert coverage == [("presets", 16, 2, 12, 6)]
    cached |= {k for k in items if k.endswith("-1")}  # seed 1 whole: both seeds reported
    assert len(paired_cached_rows(rows, items, cached)[0]) == 12
    only = {"none-a-0", "sink-a-0", "none-b-0", "sink-b-0"}  # one partial seed alone is still reported
    assert len(paired_cached_rows(rows, items, only)[0]) == 4


def test_the_report_says_whether_self_reflection_follows_the_seed_or_the_prompt():
    from longroll.bench.report import _trigger_sources

    runs = [{"variant": "MIGA", "multiple": 4, "prompt": f"p{i}", "seed": s, "diagonal": {"triggers": 1 + 3 * s}}
            for i in range(6) for s in range(3)]
    lines = _trigger_sources(runs, ["MIGA"], [4])
    assert "- MIGA at 4x (6 prompts x 3 seeds): the seed explains 100% of the variance of its videos' trigger " \
           "counts, the prompt 0%" in "\n".join(lines)
    assert _trigger_sources([r for r in runs if r["seed"] == 0], ["MIGA"], [4]) == []  # one seed: nothing to say
    off = [{**r, "variant": "w/o reflection", "diagonal": {"triggers": 0}} for r in runs]
    assert _trigger_sources(off, ["w/o reflection"], [4]) == []  # an ablation that never judges: no variance


def test_the_committed_runs_keep_their_keys():
    """The main matrix's runs are committed (bench/horizon/runs) so that any machine resumes it: a config field
    added since (a cache part, off) must not change the key of a run that does not use it."""
    from pathlib import Path

    from longroll.bench.horizon import matrix_items
    from longroll.bench.matrix import BenchConfig
    from longroll.bench.store import RunStore
    from longroll.models.registry import load_model

    runs = Path(__file__).resolve().parents[2] / "bench" / "horizon" / "runs"
    if not (runs / "1x-none.jsonl").is_file():
        pytest.skip("no committed runs in this checkout")
    model = load_model("tiny")
    cfg = BenchConfig(out=runs.parent, presets=("none", "flex", "deep-forcing", "memrope", "rolling-sink"),
                      multiples=(1, 16), prompts=2, seeds=1, long_prompts=1, long_seeds=1)
    _, items = matrix_items(cfg, model)
    store = RunStore(runs)
    assert [k for k in items if k not in store] == []


def test_a_key_leaves_out_only_the_added_parts_that_are_off(tiny_model):
    """A run that uses a part added later has a key of its own; one that does not keeps the key it had."""
    from longroll.bench.job import _stable
    from longroll.pipelines.presets import resolve_preset

    def stable(name, **o):
        return _stable(resolve_preset(name, tiny_model.denoiser, **o).to_dict())

    plain = stable("deep-forcing")
    assert not {"pack", "future", "history", "history_lambda", "history_rule", "fade"} & set(plain["cache"])
    assert "level" not in plain["bias"]
    assert stable("pack-forcing")["cache"]["pack"] == 4 and stable("future-forcing")["cache"]["future"] is True
    recap = stable("recap-forcing")["cache"]
    assert (recap["history"], recap["history_rule"], "history_lambda" in recap) == (3, "novelty", True)
    assert "history_rule" not in stable("relax-forcing")["cache"]  # the rule it always had
