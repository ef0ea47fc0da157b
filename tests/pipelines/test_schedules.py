"""The schedule table says what each schedule can do; a preset, override or setting that would do nothing
under the chosen schedule is refused (before any model is loaded), naming what does act."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from longroll.cli import main
from longroll.pipelines.presets import OVERRIDES, PRESETS
from longroll.pipelines.request import GenerationRequest
from longroll.pipelines.rollouts import SCHEDULES

PROMPT = "a red circle and a blue square on a navy background"


def test_every_schedule_declares_what_it_can_do():
    for spec in SCHEDULES.values():
        assert spec.takes <= set(OVERRIDES) and spec.description
        assert "none" in spec.presets()  # plain extrapolation runs under every schedule
        assert spec.live <= spec.switches  # a schedule that takes live switches takes switches
    assert [s.name for s in SCHEDULES.values() if s.live] == ["chunk"]
    assert [s.name for s in SCHEDULES.values() if s.init] == ["chunk"]
    assert {s.name for s in SCHEDULES.values() if s.stats is not None} == {"fifo", "miga"}
    # FIFO / MIGA have no cache: the presets whose every part is the cache are not theirs.
    for name in ("fifo", "miga"):
        assert set(SCHEDULES[name].presets()) == {"none", "pi", "ntk", "yarn", "riflex", "flexrope", "flex", "lol"}
    assert set(SCHEDULES["chunk"].presets()) == set(PRESETS)


@pytest.mark.parametrize("schedule", ["fifo", "miga"])
def test_a_preset_that_would_do_nothing_is_refused_with_those_that_act(schedule):
    with pytest.raises(ValueError, match=rf"Preset 'sink' sets the chunk-wise rollout's KV cache \(sink, positions, "
                                         rf"window\); the {schedule} schedule has no cache.*Presets for {schedule}: "
                                         r"none, pi, ntk, yarn, riflex, flexrope, flex, lol"):
        GenerationRequest(prompt=PROMPT, seconds=4, schedule=schedule, preset="sink")


def test_the_cli_refuses_a_no_op_preset_before_loading_anything(tmp_path: Path, capsys):
    out = tmp_path / "v.mp4"
    assert main(["generate", PROMPT, "--seconds", "4", "--schedule", "fifo", "--preset", "sink",
                 "--out", str(out)]) == 2
    assert "Preset 'sink' sets the chunk-wise rollout's KV cache" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("argv, message", [
    (["--zigzag-k", "2"], "--zigzag-k would do nothing under the chunk schedule (it takes no settings of its own); "
                          "it belongs to schedule miga."),
    (["--schedule", "fifo", "--zigzag-k", "2"], "--zigzag-k would do nothing under the fifo schedule (its settings: "
                                                "--window, --diag-steps, shift, --partitions, --no-lookahead)"),
    (["--schedule", "miga", "--no-lookahead"], "--no-lookahead would do nothing under the miga schedule"),
    (["--schedule", "fifo", "--steps", "3"], "--steps set(s) the chunk-wise rollout's window, cache or sampler, and "
                                             "would do nothing under the fifo schedule"),
    (["--schedule", "miga", "--dynamic-rope"], "--dynamic-rope set(s) what the chunk-wise rollout uses"),
])
def test_settings_that_would_do_nothing_are_refused_naming_their_flags(tmp_path, capsys, argv, message):
    assert main(["generate", PROMPT, "--seconds", "2", "--out", str(tmp_path / "v.mp4"), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_window_under_fifo_is_the_schedules_own_window(tiny_weights, tmp_path):
    out = tmp_path / "v.mp4"
    assert main(["generate", PROMPT, "--seconds", "1", "--schedule", "fifo", "--window", "4", "--weights",
                 str(tiny_weights), "--out", str(out), "--no-progress", "--upscale", "1"]) == 0
    meta = json.loads(out.with_name("v.mp4.json").read_text())
    assert meta["config"]["diagonal"]["window"] == 4


def test_a_model_default_that_does_not_act_falls_back_to_none(tiny_model, monkeypatch):
    from longroll.pipelines.plan import resolve

    monkeypatch.setattr(tiny_model.denoiser, "defaults", tiny_model.denoiser.defaults.__class__(
        **{**tiny_model.denoiser.defaults.__dict__, "preset": "sink"}))
    plan = resolve(GenerationRequest(prompt=PROMPT, seconds=1, schedule="fifo",
                                     schedule_options={"window": 4, "partitions": 1}), tiny_model)
    assert plan.preset == "none"


def test_a_flex_fifo_video_differs_from_none_and_a_sink_one_would_not(tiny_model):
    """Why the rule: `sink` under FIFO made the frames of `none` bit for bit; `flex` acts (RoPE, noise)."""
    from longroll.pipelines.plan import resolve
    from longroll.pipelines.run import run

    def sha(preset):
        plan = resolve(GenerationRequest(prompt=PROMPT, seconds=1, schedule="fifo", preset=preset,
                                         schedule_options={"window": 4, "partitions": 1}), tiny_model)
        return run(plan, tiny_model).frames_sha256

    assert sha("flex") != sha("none")
    assert not SCHEDULES["fifo"].acts("sink")


def test_a_long_prompt_is_refused_with_a_short_excerpt():
    long = "a red elephant " * 7000
    with pytest.raises(ValueError) as err:
        GenerationRequest(prompt=long, seconds=2)
    assert "has 105000 characters (allowed: at most 2000)" in str(err.value) and len(str(err.value)) < 200


def test_a_prompt_error_quotes_only_an_excerpt(tiny_model):
    from longroll.pipelines.plan import resolve

    with pytest.raises(ValueError) as err:
        resolve(GenerationRequest(prompt="a red elephant " * 100, seconds=2), tiny_model)
    assert "(1500 characters)" in str(err.value) and str(err.value).count("elephant") <= 12  # was 200 (twice)


def test_a_negative_shot_duration_says_so():
    with pytest.raises(ValueError, match=r"lasts -4s; a shot must last more than 0 s"):
        GenerationRequest(prompt=f"{PROMPT} [2s] | {PROMPT} [-4s]")


def test_the_diagonal_schedules_keep_their_frames(tiny_model):
    """Behaviour kept: the table's entries run what they ran (same seed, same bits, twice)."""
    from longroll.pipelines.plan import resolve
    from longroll.pipelines.run import run

    shas = []
    for _ in range(2):
        plan = resolve(GenerationRequest(prompt=PROMPT, seconds=1, schedule="miga",
                                         schedule_options=dict(window=6, steps=6, stage2_steps=2, k=2)), tiny_model)
        result = run(plan, tiny_model)
        shas.append(hashlib.sha256(np.ascontiguousarray(result.video).tobytes()).hexdigest())
        assert result.stats is not None
    assert shas[0] == shas[1]


def test_an_existing_output_names_the_flag_that_replaces_it(tmp_path):
    (tmp_path / "v.mp4").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"exists; replace it with --overwrite \(overwrite=True from Python\)"):
        GenerationRequest(prompt=PROMPT, seconds=1, out=str(tmp_path / "v.mp4"))


def test_a_video_returned_in_memory_beyond_the_bound_is_refused_before_any_work(tiny_model, monkeypatch):
    from longroll.pipelines import plan as plan_module
    from longroll.pipelines.plan import resolve

    monkeypatch.setattr(plan_module, "MAX_RETURNED_BYTES", 32 * 32 * 3 * 100)  # 100 frames of the tiny model
    calls = []
    monkeypatch.setattr(tiny_model, "encode_prompt", lambda text: calls.append(text))  # no work before the check
    with pytest.raises(ValueError, match=r"the 13 s video \(104 frames of 32x32\) would take 0\.0 GiB .*give out= "
                                         r"\(--out\) a file or a folder/ to stream it"):
        resolve(GenerationRequest(prompt=PROMPT, seconds=13), tiny_model)
    assert calls == []
    resolve(GenerationRequest(prompt=PROMPT, seconds=12), tiny_model)  # 96 frames fit
