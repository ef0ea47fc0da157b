"""The horizon report's long-video sections and its cost section, on hand-made run results."""

import numpy as np
import pytest

from longroll.bench.cost import cost_section, full_matrix_videos, measured_cost, price
from longroll.bench.long_video import long_video_sections, plot_bands, segment_bands


def _run(variant, prompt, seed, *, multiple=16.0, presence=0.5, ttf=None, wall=7.0, schedule="chunk", fps=8.0,
         frames=336, segments=(0.6, 0.5, 0.4)):
    segs = [{"start_s": 2.0 * i, "end_s": 2.0 * (i + 1), "object_presence": p, "identity_colour_drift": 1.0}
            for i, p in enumerate(segments)]
    return {"variant": variant, "group": "presets", "preset": variant, "overrides": {}, "schedule": schedule,
            "schedule_options": {}, "multiple": multiple, "prompt": prompt, "seed": seed, "fps": fps,
            "frames": frames, "wall_seconds": wall, "metrics": {"object_presence": presence}, "segments": segs,
            "framepack_drift": {"object_presence": abs(segments[0] - segments[-1]), "motion_energy": 0.1},
            "consistency_at_distance": {"1": 0.99, "10": 0.95, "50": 0.9}, "time_to_failure_s": ttf}


def _pair(n=6):
    """`none` fails at 4 s in every video; `better` never fails (censored at the video's 42 s)."""
    res = []
    for i in range(n):
        res.append(_run("none", f"p{i}", 0, ttf=4.0, segments=(0.6, 0.4, 0.2)))
        res.append(_run("better", f"p{i}", 0, ttf=None, segments=(0.6, 0.6, 0.6)))
    return res


def test_long_video_section_counts_a_video_that_never_fails_at_its_end_and_pairs_against_none():
    lines = long_video_sections(_pair(), ["none", "better"], [16.0])
    table = "\n".join(lines)
    assert "Long-video measures at 16x" in table
    none_row = next(line for line in lines if line.startswith("| none |"))
    better_row = next(line for line in lines if line.startswith("| better |"))
    cells = [c.strip() for c in better_row.strip("|").split("|")]
    # FramePack drift of presence: 0 against none's 0.4: better; failed share 0 against 1: better;
    # time to failure censored at 336 / 8 = 42 s against 4 s: +38, better.
    assert cells[1].startswith("0.000") and "(-0.400, better)" in cells[1]
    assert cells[6].startswith("0.000") and "(-1.000, better)" in cells[6]
    assert cells[7].startswith("42.000") and "(+38.000, better)" in cells[7]
    assert "better" not in none_row and "worse" not in none_row  # the baseline has no difference
    assert long_video_sections(_pair(), ["none", "better"], [1.0]) == []  # 1x: nothing long to measure


def test_segment_bands_average_seeds_first_and_bound_the_mean(tmp_path):
    res = [_run("none", f"p{i}", s, segments=(0.2 * i, 0.5, 1.0 - 0.1 * i)) for i in range(5) for s in range(2)]
    times, mean, lo, hi = segment_bands(res, "none", 16.0, "object_presence")
    assert times == [1.0, 3.0, 5.0]
    assert mean == pytest.approx([0.4, 0.5, 0.8])
    assert lo[1] == hi[1] == pytest.approx(0.5)  # no spread, no band
    assert lo[0] < mean[0] < hi[0] and lo[2] < mean[2] < hi[2]
    assert segment_bands(res, "absent", 16.0, "object_presence") is None
    path = plot_bands(_pair() + res, ["none", "better"], 16.0, "object_presence", "presence", tmp_path / "b.png")
    assert path.is_file() and path.stat().st_size > 1000 and not list(tmp_path.glob("*.tmp.png"))
    assert plot_bands(res, ["none"], 120.0, "object_presence", "presence", tmp_path / "c.png") is None


def test_cost_measures_each_video_once_and_prices_lengths_not_run():
    # p1 was made beside another video (two torchrun ranks): 12 s of wall time is 6 s of the machine.
    res = [_run("none", "p0", 0, multiple=16.0, wall=8.0), dict(_run("none", "p1", 0, multiple=16.0, wall=12.0),
                                                                 workers=2),
           _run("none", "p0", 0, multiple=120.0, wall=60.0)]
    res.append(dict(res[0], variant="chunk-wise (none)"))  # one video shared by two rows: counted once
    cost = measured_cost(res)
    assert cost == {("chunk", 16.0): (7.0, 2), ("chunk", 120.0): (60.0, 1)}
    assert price(cost, "chunk", 16.0) == 7.0
    assert price(cost, "chunk", 68.0) == pytest.approx(7.0 + (60.0 - 7.0) * (68 - 16) / (120 - 16))  # between
    assert price(cost, "chunk", 4.0) == pytest.approx(7.0 * 4 / 16)  # below: in proportion to frames
    assert price(cost, "fifo", 16.0) is None  # a schedule never run is not guessed
    cost[("fifo", 16.0)] = (42.0, 1)
    assert price(cost, "fifo", 120.0) == pytest.approx(60.0 * 6.0)  # its ratio to chunk-wise where both ran


def test_full_matrix_counts_follow_the_cell_sizes_and_count_shared_videos_once():
    from longroll.bench.horizon import BenchConfig, variants
    from longroll.pipelines.presets import PRESETS

    full = full_matrix_videos()
    # Every preset at 1x, 4x and 16x with 32 x 3 videos and at 120x with 16 x 2; "+ sink", "FLEX (all
    # three)" and "chunk-wise (none)" are preset rows again and add nothing.
    presets_only = len(PRESETS)
    assert full[("chunk", 1.0)] == full[("chunk", 4.0)] == 96 * presets_only
    assert full[("chunk", 120.0)] == 32 * presets_only
    assert full[("fifo", 120.0)] == full[("miga", 120.0)] == 32
    sweeps = {(v.preset, v.overrides, v.schedule, v.schedule_options) for v in variants(False)
              if v.group not in ("presets", "schedules")} - {(p, (), "chunk", ()) for p in PRESETS}
    chunk_sweeps = sum(1 for s in sweeps if s[2] == "chunk")
    assert full[("chunk", 16.0)] == 96 * (presets_only + chunk_sweeps)
    small = full_matrix_videos(BenchConfig(out=".", prompts=2, seeds=1, long_prompts=1, long_seeds=1))
    assert small[("chunk", 1.0)] == 2 * presets_only and small[("chunk", 120.0)] == presets_only


def test_cost_section_says_videos_per_hour_and_the_projected_total():
    res = [_run("none", "p0", 0, multiple=m, wall=w) for m, w in ((1.0, 1.0), (4.0, 2.0), (16.0, 7.2), (120.0, 50.0))]
    text = "\n".join(cost_section(res, 2.625))
    assert "| chunk | 16x (42 s) | 1 | 7.2 | 500 |" in text
    full = full_matrix_videos()
    chunk_hours = sum(n * {1.0: 1.0, 4.0: 2.0, 16.0: 7.2, 120.0: 50.0}[m] for (s, m), n in full.items()
                      if s == "chunk") / 3600
    assert f"**about {chunk_hours:.0f} h**" in text
    unpriced = sum(n for (s, _m), n in full.items() if s != "chunk")
    assert f"plus {unpriced} videos of schedules not yet measured" in text
    assert cost_section([], 2.625) == []
    assert np.isfinite(chunk_hours)


def test_a_report_without_none_says_the_rule_was_not_judged(tmp_path):
    from types import SimpleNamespace

    from longroll.bench.horizon import BenchConfig
    from longroll.bench.report import write_report

    runs = [dict(_run("sink", f"p{i}", 0), drift={"object_presence": 0.0}) for i in range(3)]
    cfg = BenchConfig(out=tmp_path, prompts=3, seeds=1, presets=("sink",), multiples=(16,))
    text = write_report(runs, cfg, 2.625, SimpleNamespace(name="tiny", weights_sha256="0" * 64)).read_text()
    assert "Not judged: the rule compares every preset with `none`" in text
    assert "## Cost (videos per hour" in text and (tmp_path / "object_presence_16x_bands.png").is_file()


def test_a_cached_report_missing_a_judged_length_does_not_judge_on_the_rest(tmp_path):
    """With the presets cached at 16x but not yet at 120x the rule is not applied to 16x alone (it
    could contradict the shipped default); with both it is."""
    from types import SimpleNamespace

    from longroll.bench.horizon import BenchConfig
    from longroll.bench.report import write_report

    model = SimpleNamespace(name="tiny", weights_sha256="0" * 64, defaults=SimpleNamespace(preset="riflex"))
    runs = [dict(_run(v, f"p{i}", 0, presence=0.5 + 0.1 * (v == "sink") + 0.01 * i), drift={"object_presence": 0.0},
                 metrics={"object_presence": 0.5 + 0.1 * (v == "sink") + 0.01 * i, "static_fraction": 0.1,
                          "identity_colour_drift": 1.0})
            for v in ("none", "sink") for i in range(6)]
    cfg = BenchConfig(out=tmp_path, prompts=6, seeds=1, presets=("none", "sink"), multiples=(16, 120))
    text = write_report(runs, cfg, 2.625, model).read_text()
    assert "Not judged: the rule reads the presets at 16x, 120x, and no preset run is cached at 120x yet; the " \
           "weights' default, `riflex`, stands." in text and "Chosen:" not in text
    longer = [dict(r, multiple=120.0) for r in runs]
    text = write_report(runs + longer, cfg, 2.625, model).read_text()
    assert "Chosen: `sink`." in text and "Not judged" not in text


def test_a_hand_written_reading_is_shown_only_for_the_run_it_was_written_for(tmp_path):
    from types import SimpleNamespace

    from longroll.bench.horizon import BenchConfig
    from longroll.bench.report import READING, run_signature, write_report

    runs = [dict(_run(v, f"p{i}", 0), drift={"object_presence": 0.0}) for i in range(3) for v in ("none", "sink")]
    cfg = BenchConfig(out=tmp_path, prompts=3, seeds=1, presets=("none", "sink"), multiples=(16,))
    model = SimpleNamespace(name="tiny", weights_sha256="ab" * 32)
    assert "Reading" not in write_report(runs, cfg, 2.625, model).read_text()  # none written
    (tmp_path / READING).write_text(f"<!-- run: {run_signature(cfg, model)} -->\nSink reads like none here.\n")
    text = write_report(runs, cfg, 2.625, model).read_text()
    assert "## Reading (written by hand, not generated)\n\nSink reads like none here." in text
    assert text.index("## Reading") < text.index("## Findings")
    bigger = BenchConfig(out=tmp_path, prompts=4, seeds=1, presets=("none", "sink"), multiples=(16,))
    text = write_report(runs, bigger, 2.625, model).read_text()  # the reading is of the 3-prompt run
    assert "Sink reads like none" not in text and "was written for another run" in text
    other = SimpleNamespace(name="tiny", weights_sha256="cd" * 32)
    assert "was written for another run" in write_report(runs, cfg, 2.625, other).read_text()


def test_every_ablation_row_gets_intervals_paired_against_its_baseline():
    from longroll.bench.report import paired_block

    def runs(variant, presence):
        return [{"variant": variant, "multiple": 16, "prompt": f"p{p}", "seed": 0,
                 "metrics": {"object_presence": presence + 0.01 * (p % 3)}} for p in range(8)]

    results = runs("chunk-wise (none)", 0.5) + runs("MIGA", 0.7) + runs("FIFO-Diffusion", 0.5)
    text = "\n".join(paired_block(results, ["chunk-wise (none)", "FIFO-Diffusion", "MIGA"], 16,
                                  baseline="chunk-wise (none)"))
    assert "Paired against `chunk-wise (none)` (8 prompts x 1 seed;" in text
    miga = next(line for line in text.splitlines() if line.startswith("| MIGA |"))
    assert "(+0.200 [+0.200, +0.200] better)" in miga
    assert paired_block(results, ["MIGA"], 16, baseline="none") == []  # no baseline runs: no table
