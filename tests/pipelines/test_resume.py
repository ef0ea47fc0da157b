"""Resume and the same output written twice: a run whose writer is alive is never raced; a resume names the
partial a killed run left; settings given beside --resume / --replay are refused; a partial sidecar's frame
count and hash stay true after a kill."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from longroll.cli import main
from tests.pipelines.killed_runs import start_generate
from tests.pipelines.killed_runs import wait_for as _wait_for

PROMPT = "a red circle and a blue square on a navy background"


def _start(tmp_path: Path, weights: Path, seconds: int = 600) -> subprocess.Popen:
    return start_generate(tmp_path / "v.mp4", weights, seconds)


def _partial(tmp_path: Path) -> Path | None:
    return next((p for p in tmp_path.glob("v.partial-*.mp4")), None)


@pytest.mark.slow
def test_a_live_writer_is_never_raced(tmp_path, tiny_weights, capsys):
    proc = _start(tmp_path, tiny_weights)
    try:
        _wait_for(lambda: _partial(tmp_path) is not None and _partial(tmp_path).stat().st_size > 2_000)
        partial = _partial(tmp_path)
        assert main(["generate", "--resume", str(partial), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert f"is being written by process {proc.pid} (its partial file {partial.name}" in err
        assert main(["generate", PROMPT, "--seconds", "1", "--out", str(tmp_path / "v.mp4"), "--weights",
                     str(tiny_weights), "--overwrite", "--no-progress"]) == 2
        assert f"is being written by process {proc.pid}" in capsys.readouterr().err
        assert proc.poll() is None  # the first run goes on
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_after_a_kill_the_partial_sidecar_is_true_and_resume_finds_the_partial(tmp_path, tiny_weights, caplog):
    import av

    proc = _start(tmp_path, tiny_weights, seconds=20)
    _wait_for(lambda: _partial(tmp_path) is not None and _partial(tmp_path).stat().st_size > 20_000)
    time.sleep(0.6)  # the partial sidecar is brought up to date at most twice a second
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = _partial(tmp_path)
    with av.open(str(partial)) as c:
        decoded = sum(1 for _ in c.decode(video=0))
    meta = json.loads(partial.with_name(partial.name + ".json").read_text())
    assert meta["complete"] is False and 0 < meta["frames"] <= decoded  # was 0 whatever the file held
    assert meta["frames_sha256"]
    # --resume names the final file; the partial beside it is what is finished, and its prefix checks out.
    with caplog.at_level("INFO"):
        assert main(["generate", "--resume", str(tmp_path / "v.mp4"), "--no-progress"]) == 0
    assert f"resuming {partial.name}" in caplog.text
    assert "differ from the ones the cut run made" not in caplog.text  # the recorded prefix hash matched
    final = json.loads((tmp_path / "v.mp4.json").read_text())
    assert final["complete"] and final["frames"] == 160
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4", "v.mp4.json"]


@pytest.mark.parametrize("extra, named", [
    (["another prompt"], "the prompt 'another prompt'"),
    (["--seconds", "3"], "--seconds"),
    (["--preset", "flex", "--sink", "2"], "--preset, --sink"),
    (["--out", "x.mp4"], "--out"),
])
def test_settings_beside_resume_are_refused(tmp_path, capsys, extra, named):
    assert main(["generate", "--resume", str(tmp_path / "v.mp4"), *extra]) == 2
    err = capsys.readouterr().err
    assert "--resume takes the prompt and every setting from the video's sidecar; drop" in err and named in err


def test_resume_of_a_missing_video_says_so(tmp_path, capsys):
    assert main(["generate", "--resume", str(tmp_path / "v.mp4")]) == 2
    assert "has no readable longroll sidecar" in capsys.readouterr().err


def test_extend_of_a_cut_video_says_resume(tiny_model, tmp_path):
    from longroll.pipelines.generate import extend, generate

    generate(PROMPT, seconds=2, model=tiny_model, out=tmp_path / "v.mp4", progress=False)
    side = tmp_path / "v.mp4.json"
    side.write_text(json.dumps({**json.loads(side.read_text()), "complete": False, "frames": 12}))  # as cut short
    with pytest.raises(ValueError, match=r"was cut short \(12 frames\); finish it first \(longroll generate "
                                         r"--resume .*v.mp4\), then extend it"):
        extend(tmp_path / "v.mp4", seconds=2, out=tmp_path / "w.mp4", model=tiny_model)
