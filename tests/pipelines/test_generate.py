"""``longroll generate`` and ``longroll.generate``: files, sidecars, reproduction, interruption, bad input."""

import json
from pathlib import Path

import numpy as np
import pytest

import longroll
from longroll.cli import main
from longroll.io.video import read_video
from longroll.pipelines.generate import generate, parse_switch, sidecar_path

PROMPT = "a red circle and a blue square on a navy background"


def _frames(path):
    return np.stack(list(read_video(path)[1]))


def test_cli_writes_a_video_and_its_sidecar(tiny_weights, tmp_path: Path):
    out = tmp_path / "v.mp4"
    assert main(["generate", PROMPT, "--seconds", "3", "--out", str(out), "--weights", str(tiny_weights),
                 "--seed", "4", "--no-progress", "--upscale", "2"]) == 0
    frames = _frames(out)
    assert frames.shape == (24, 64, 64, 3)
    meta = json.loads(sidecar_path(out).read_text())
    assert meta["seed"] == 4 and meta["frames"] == 24 and meta["complete"] and meta["preset"] == "flex"
    assert meta["config"]["noise"]["rho"] == -1.0 and meta["weights_sha256"]  # FLEX's rho: the model re-noises
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4", "v.mp4.json"]


def test_sidecar_reproduces_the_video_bit_for_bit(tiny_model, tmp_path: Path):
    out = tmp_path / "frames"
    generate(PROMPT, seconds=2, seed=9, out=str(out) + "/", model=tiny_model, upscale=1, preset="sink", rho=-0.5,
             noise="antiphase", switches=[(1.0, "a red circle and a blue square on a gray background")])
    meta = json.loads(sidecar_path(out).read_text())
    cfg = meta["config"]
    again = generate(meta["prompt_schedule"][0]["prompt"], seconds=meta["seconds"], seed=meta["seed"],
                     model=tiny_model, preset=meta["preset"], rho=cfg["noise"]["rho"], noise=cfg["noise"]["kind"],
                     switches=[(s["at_seconds"], s["prompt"]) for s in meta["prompt_schedule"][1:]])
    assert np.array_equal(_frames(out), again)  # PNG is lossless


def test_replay_from_the_cli_regenerates_the_same_frames(tiny_weights, tmp_path: Path):
    first = tmp_path / "a"
    assert main(["generate", PROMPT, "--seconds", "2", "--out", str(first) + "/", "--weights", str(tiny_weights),
                 "--preset", "yarn", "--rho", "-0.3", "--noise", "antiphase", "--steps", "2", "--upscale", "1",
                 "--switch", "1s:a red circle on a gray background", "--no-progress"]) == 0
    second = tmp_path / "b"
    assert main(["generate", "--replay", str(sidecar_path(first)), "--out", str(second) + "/",
                 "--weights", str(tiny_weights), "--no-progress"]) == 0
    assert np.array_equal(_frames(first), _frames(second))
    config = [json.loads(sidecar_path(p).read_text())["config"] for p in (first, second)]
    assert config[0] == config[1]


def test_python_api_returns_frames_and_is_deterministic(tiny_model):
    a = longroll.generate(PROMPT, seconds=1.5, seed=3, model=tiny_model)
    b = longroll.generate(PROMPT, seconds=1.5, seed=3, model=tiny_model)
    c = longroll.generate(PROMPT, seconds=1.5, seed=4, model=tiny_model)
    assert a.shape == (12, 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_an_interrupted_run_leaves_a_playable_prefix(tiny_model, tmp_path: Path, monkeypatch):
    import longroll.pipelines.run as gen

    real = gen.latent_chunks

    def interrupted(*args, **kwargs):  # Ctrl-C lands on the rollout's thread while it makes the fourth chunk
        for i, chunk in enumerate(real(*args, **kwargs)):
            if i == 3:
                raise KeyboardInterrupt
            yield chunk

    monkeypatch.setattr(gen, "latent_chunks", interrupted)
    out = tmp_path / "cut.mp4"
    with pytest.raises(KeyboardInterrupt):
        generate(PROMPT, seconds=60, out=out, model=tiny_model, upscale=2)
    frames = _frames(out)
    assert frames.shape[0] == 3 * tiny_model.defaults.chunk_size
    meta = json.loads(sidecar_path(out).read_text())
    assert meta["complete"] is False and meta["frames"] == frames.shape[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mp4", "cut.mp4.json"]


@pytest.mark.parametrize("argv,message", [
    (["--seconds", "0"], "seconds = 0.0 is out of range"),
    (["--seconds", "-3"], "seconds = -3.0 is out of range"),
    (["--seconds", "1e9"], "seconds = 1000000000.0 is out of range"),
    (["--model", "sora"], "model must be one of"),
    (["--out", "/nonexistent/dir/v.mp4"], "does not exist"),
    (["--out", "v.avi"], "Unsupported output"),
    (["--switch", "soon:a red circle"], "Cannot parse the switch"),
    (["--switch", "99s:a red circle on a navy background"], "outside the video"),
    (["--rho", "3"], "rho"),
    (["--sink", "20"], "sink"),
])
def test_bad_input_fails_before_any_work(tiny_weights, tmp_path: Path, capsys, argv, message):
    args = ["generate", PROMPT, "--seconds", "4", "--out", str(tmp_path / "v.mp4"), "--weights", str(tiny_weights),
            "--no-progress"]
    args += argv
    if "--out" in argv:
        args = args[:4] + args[6:]  # drop the default --out
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_unknown_prompt_word_is_an_error_listing_the_vocabulary(tiny_weights, tmp_path: Path, capsys):
    assert main(["generate", "a red dragon on a black background", "--out", str(tmp_path / "v.gif"),
                 "--weights", str(tiny_weights)]) == 2
    err = capsys.readouterr().err
    assert "unknown shape 'dragon'" in err and "Vocabulary" in err
    assert list(tmp_path.iterdir()) == []


def test_switch_syntax():
    assert parse_switch('12s:"a red circle on a navy background"', 8) == (12.0, "a red circle on a navy background")
    assert parse_switch("96f:a red circle", 8) == (12.0, "a red circle")
    assert parse_switch("2.5:a red circle", 8) == (2.5, "a red circle")


def test_replaying_a_sidecar_from_before_the_salted_seeds_says_the_frames_will_differ(tiny_model, tmp_path, caplog):
    from longroll.pipelines.generate import replay

    out = tmp_path / "v.mp4"
    generate(PROMPT, seconds=1, seed=0, model=tiny_model, out=out, upscale=1, progress=False)
    meta = json.loads(sidecar_path(out).read_text())
    assert meta["noise_seed"] != 0  # the built-in family salts its seeds
    with caplog.at_level("WARNING"):
        replay(sidecar_path(out), model=tiny_model)
    assert "salted" not in caplog.text
    del meta["noise_seed"]  # as a sidecar written before session 10
    sidecar_path(out).write_text(json.dumps(meta))
    with caplog.at_level("WARNING"):
        replay(sidecar_path(out), model=tiny_model)
    assert "made before tiny's seeds were salted" in caplog.text
