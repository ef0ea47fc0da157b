"""``longroll rope-report``: the table a user reads to see which planes are interpolated."""

from pathlib import Path

import pytest

from longroll.cli import main
from longroll.reports.rope_exposure import exposure_table


def test_table_rows_follow_the_gate():
    rows = exposure_table(128, 21, 126, "flex")
    assert len(rows) == 22
    assert rows[0].regime == "extrapolate" and rows[0].factor == pytest.approx(1.0)
    assert rows[-1].regime == "interpolate" and rows[-1].factor == pytest.approx(6.0)
    assert [r.plane for r in rows] == list(range(22))


def test_cli_prints_the_table(capsys):
    assert main(["rope-report", "--head-dim", "128", "--train-len", "21", "--target-len", "126"]) == 0
    out = capsys.readouterr().out
    assert "S = 6.000" in out and "44 (22 planes)" in out
    assert out.count("interpolate") >= 13


def test_cli_plot_is_written(tmp_path: Path):
    target = tmp_path / "fig1.png"
    assert main(["rope-report", "--method", "ntk", "--plot", str(target)]) == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["fig1.png"]


def test_cli_bad_input_is_a_clear_error_and_writes_nothing(tmp_path: Path, capsys):
    target = tmp_path / "x.png"
    assert main(["rope-report", "--alpha", "5", "--beta", "1", "--plot", str(target)]) == 2
    assert "alpha = 5.0 must be smaller than beta = 1.0" in capsys.readouterr().err
    assert not target.exists()
    assert main(["rope-report", "--plot", str(tmp_path / "missing" / "x.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["rope-report", "--method", "bogus"])


def _self_forcing_defaults():
    from longroll.models.base import ModelDefaults
    from longroll.sampler import FewStepSchedule

    return ModelDefaults(train_len=21, chunk_size=3, window=12, sink=3, schedule=FewStepSchedule(),
                         context_timestep=0.0)


def test_phase_report_shows_which_methods_keep_a_query_inside_the_training_domain():
    from longroll.reports.rope_phases import phase_report

    d = _self_forcing_defaults()
    for preset in ("cache-relative", "infinity-rope", "deep-forcing", "memrope", "rolling-sink"):
        report = phase_report(preset, d, frame=10_000)
        assert report.largest_distance < 21 and report.out_of_domain == 0, preset
    sink = phase_report("sink", d, frame=10_000)
    assert sink.largest_distance >= 9_990 and sink.far_out >= 10  # the sink is ~10,000 frames back
    assert phase_report("sink", d, frame=10).out_of_domain == 0  # inside the horizon nothing is out


def test_phase_report_gives_the_temporal_bias_over_the_keys():
    """FlexRoPE decays every key by its distance; Recency Forcing only the history before the chunk, at level 1."""
    from longroll.reports.rope_phases import format_report, phase_report

    d = _self_forcing_defaults()
    assert phase_report("none", d, frame=60).bias is None
    flex = phase_report("flexrope", d, frame=60)  # a 12-frame window: keys 51-62
    assert flex.bias == ("flexrope", pytest.approx(-0.2 * flex.largest_distance), 0.0)
    recency = phase_report("recency-forcing", d, frame=60)
    # The chunk is frames 60-62, the window's oldest frame 51: 9 frames of history before the chunk.
    assert recency.largest_distance == 9 and recency.bias == ("recency", pytest.approx(-0.1 * 9), 0.0)
    assert "scaled by the step's level" in format_report(recency, train_len=21)


def test_cli_phase_view_prints_every_preset_and_plots(capsys, tmp_path: Path):
    target = tmp_path / "phases.png"
    assert main(["rope-report", "--preset", "sink,cache-relative,lol", "--frame", "500", "--plot", str(target)]) == 0
    out = capsys.readouterr().out
    assert out.count("preset ") == 3 and "largest relative distance 500" in out
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["rope-report", "--preset", "nonsense"]) != 0
    assert "nonsense" in capsys.readouterr().err
