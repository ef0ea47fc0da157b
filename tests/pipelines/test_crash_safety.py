"""A run killed outright (SIGKILL: an out-of-memory kill, a preempted node) leaves a playable prefix and a
sidecar that says it is incomplete; nothing appears under the final name."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.pipelines.killed_runs import start_generate
from tests.pipelines.killed_runs import wait_for as _wait_for

PROMPT = "a red circle and a blue square on a navy background"


def _start(tmp_path: Path, weights: Path, name: str) -> subprocess.Popen:
    return start_generate(tmp_path / name, weights)


def _decoded_frames(path: Path) -> int:
    import av

    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))  # raises on a broken file


@pytest.mark.slow
@pytest.mark.parametrize("at_bytes, min_frames", [(0, 0), (2_000, 1), (40_000, 8)])
def test_sigkill_leaves_a_playable_prefix_and_an_incomplete_sidecar(tmp_path, tiny_weights, at_bytes, min_frames):
    proc = _start(tmp_path, tiny_weights, "v.mp4")
    try:
        if at_bytes == 0:
            time.sleep(0.3)  # before the model has loaded
        else:
            def big_enough():
                parts = list(tmp_path.glob("v.partial-*.mp4"))
                return bool(parts) and parts[0].stat().st_size >= at_bytes
            _wait_for(big_enough)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert not (tmp_path / "v.mp4").exists() and not (tmp_path / "v.mp4.json").exists()
    parts = list(tmp_path.glob("v.partial-*.mp4"))
    if at_bytes == 0:
        assert len(parts) <= 1
        return
    assert len(parts) == 1
    frames = _decoded_frames(parts[0])
    assert frames >= min_frames  # every frame on disk decodes
    meta = json.loads(parts[0].with_name(parts[0].name + ".json").read_text())
    assert meta["complete"] is False and meta["partial"] == parts[0].name and meta["seed"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("sig, rc", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_sigint_stop_with_a_finalised_prefix_and_one_line(tmp_path, tiny_weights, sig, rc):
    args = ["generate", PROMPT, "--seconds", "600", "--out", str(tmp_path / "v.mp4"), "--weights", str(tiny_weights),
            "--preset", "sink", "--no-progress"]
    code = f"import sys; from longroll.cli import main; sys.exit(main({args!r}))"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: any(p.stat().st_size > 4_000 for p in tmp_path.glob("v.partial-*.mp4")))
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == rc
    assert "Traceback" not in err and err.strip().count("\n") == 0 and "kept" in err
    meta = json.loads((tmp_path / "v.mp4.json").read_text())
    assert meta["complete"] is False and _decoded_frames(tmp_path / "v.mp4") == meta["frames"] > 0
    assert not list(tmp_path.glob("*partial*"))  # finalised under its name, nothing left behind


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.05, 0.3, 1.0, 2.0])
def test_an_early_ctrl_c_stops_the_run_with_one_line(tmp_path, tiny_weights, delay):
    """A Ctrl-C while the command imports torch and loads the model. The delay counts from the moment
    ``longroll.cli`` is imported (the child says so), not from the spawn: Python's own start-up, before
    any code of ours runs, takes a variable time on a loaded machine and is not ours to handle."""
    args = ["generate", PROMPT, "--seconds", "600", "--out", str(tmp_path / "v.mp4"), "--weights", str(tiny_weights),
            "--preset", "sink", "--no-progress"]
    code = (f"import sys; from longroll.cli import main; sys.stderr.write('ready\\n'); sys.stderr.flush(); "
            f"sys.exit(main({args!r}))")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr.readline() == "ready\n"
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (130, -signal.SIGINT), err  # before our handler exists Python's default applies
    assert "Traceback" not in err, err


@pytest.mark.slow
def test_resume_finishes_what_a_killed_run_left(tmp_path, tiny_weights):
    from longroll.cli import main

    args = ["generate", PROMPT, "--seconds", "30", "--out", str(tmp_path / "v.mp4"), "--weights", str(tiny_weights),
            "--preset", "sink", "--no-progress"]
    code = f"import sys; from longroll.cli import main; sys.exit(main({args!r}))"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(lambda: any(p.stat().st_size > 2_000 for p in tmp_path.glob("v.partial-*.mp4")))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = next(tmp_path.glob("v.partial-*.mp4"))
    assert main(["generate", "--resume", str(partial), "--no-progress"]) == 0
    meta = json.loads((tmp_path / "v.mp4.json").read_text())
    assert meta["complete"] and meta["frames"] == 240 and _decoded_frames(tmp_path / "v.mp4") == 240
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4", "v.mp4.json"]


@pytest.mark.parametrize("sig, err", [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, "Terminated")])
def test_a_signal_inside_deferred_is_raised_when_the_block_ends_not_inside_it(sig, err):
    """torch's first import runs Python code under C++ (pybind11) that aborts the process on a Python
    exception; inside ``deferred()`` the handler records the signal, and it is raised at the block's end."""
    from longroll import interrupts

    err = interrupts.Terminated if err == "Terminated" else err
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        interrupts.install()
        reached = []
        with pytest.raises(err):
            with interrupts.deferred():
                signal.raise_signal(sig)
                reached.append("after the signal")
        assert reached == ["after the signal"]
        with pytest.raises(err):  # outside the block it is raised where it lands
            signal.raise_signal(sig)
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
        interrupts.clear()
