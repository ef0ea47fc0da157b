"""``longroll rope-report``: the table a user reads to see which planes are interpolated."""

from pathlib import Path

import pytest

from longroll.cli import main
from longroll.rope.report import exposure_table


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
