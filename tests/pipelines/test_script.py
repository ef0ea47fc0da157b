"""Timed prompt scripts (storyboards): parsing, expansion into switches and cuts, refusals naming the
shot, and videos made from a script (a smooth shot equals --switch, replay reproduces the bits)."""

import json

import pytest
import torch

from longroll.pipelines.request import GenerationRequest
from longroll.pipelines.script import Shot, is_script, parse_script, script_text

SCRIPT = "a red circle on a black background [2s] | two blue squares on a navy background [1.5s#] | a white square " \
         "on a gray background [1s]"


def test_a_script_parses_into_shots_and_back():
    shots = parse_script(SCRIPT)
    assert shots == (Shot("a red circle on a black background", 2.0, False),
                     Shot("two blue squares on a navy background", 1.5, True),
                     Shot("a white square on a gray background", 1.0, False))
    assert parse_script(script_text(shots)) == shots
    assert is_script(SCRIPT) and is_script("a red circle [3s]") and not is_script("a red circle on a black background")


@pytest.mark.parametrize("text, message", [
    ("a red circle [2s] | two blue squares", r"Shot 2 .*'two blue squares'.* no duration"),
    ("a red circle [2s] | [3s]", r"Shot 2 .* is empty"),
    ("a red circle [2s] | two blue squares [3 seconds]", r"Shot 2 .*duration '3 seconds'"),
    ("a red circle [0s] | two blue squares [3s]", r"Shot 1 .*lasts 0s"),
    ("a red circle [2s#] | two blue squares [3s]", r"Shot 1 .*starts with a cut"),
])
def test_a_bad_shot_is_refused_naming_it(text, message):
    with pytest.raises(ValueError, match=message):
        parse_script(text)


def test_a_script_request_becomes_switches_and_cuts_and_its_length_is_checked():
    r = GenerationRequest(prompt=SCRIPT)
    assert r.seconds == 4.5 and r.prompt == "a red circle on a black background"
    assert r.switches == ((2.0, "two blue squares on a navy background"), (3.5, "a white square on a gray background"))
    assert r.cuts == (2.0,) and r.prompts.cuts == (False, True, False)
    assert GenerationRequest(prompt=SCRIPT, seconds=4.5).cuts == (2.0,)
    with pytest.raises(ValueError, match=r"add up to 4.5s but seconds = 8"):
        GenerationRequest(prompt=SCRIPT, seconds=8)
    with pytest.raises(ValueError, match="drop the separate switches"):
        GenerationRequest(prompt=SCRIPT, switches=((1.0, "a red circle on a black background"),))
    with pytest.raises(ValueError, match="chunk schedule"):
        GenerationRequest(prompt=SCRIPT, schedule="fifo")
    with pytest.raises(ValueError, match="length in seconds"):
        GenerationRequest(prompt="a red circle on a black background")


def test_an_unknown_word_names_the_shot_before_any_output(tiny_model, tmp_path):
    from longroll.pipelines.plan import resolve

    bad = "a red circle on a black background [2s] | two purple dragons on a navy background [2s#]"
    out = tmp_path / "v.mp4"
    with pytest.raises(ValueError, match=r"Shot 2 of the script \('two purple dragons"):
        resolve(GenerationRequest(prompt=bad, out=str(out)), tiny_model)
    assert not any(tmp_path.iterdir())


def test_a_smooth_shot_equals_a_switch_and_a_cut_differs_from_it(tiny_model):
    from longroll.pipelines.generate import generate

    smooth = "a red circle on a black background [2s] | two blue squares on a navy background [2s]"
    a = generate(smooth, seed=3, model=tiny_model, preset="sink", progress=False)
    b = generate("a red circle on a black background", seconds=4, seed=3, model=tiny_model, preset="sink",
                 switches=[(2.0, "two blue squares on a navy background")], progress=False)
    assert (a == b).all()
    cut = generate("a red circle on a black background [2s] | two blue squares on a navy background [2s#]", seed=3,
                   model=tiny_model, preset="sink", progress=False)
    fps = tiny_model.fps
    assert (cut[: int(2 * fps)] == a[: int(2 * fps)]).all() and not (cut == a).all()


def test_replay_reproduces_a_scripted_video_bit_for_bit(tiny_model, tmp_path):
    from longroll.pipelines.generate import generate, replay

    out = tmp_path / "story.mp4"
    generate(SCRIPT, seed=1, model=tiny_model, preset="cache-relative", out=str(out), progress=False)
    meta = json.loads((tmp_path / "story.mp4.json").read_text())
    assert meta["script"] == SCRIPT and [s["cut"] for s in meta["prompt_schedule"]] == [False, True, False]
    frames = replay(tmp_path / "story.mp4.json", model=tiny_model, progress=False)
    again = generate(SCRIPT, seed=1, model=tiny_model, preset="cache-relative", progress=False)
    assert torch.equal(torch.as_tensor(frames), torch.as_tensor(again))


def test_eval_reports_each_shot_and_checks_each_cut(tiny_model, tmp_path, capsys):
    """On a scripted video the evaluation splits at the scripted times, scores each shot against its own
    prompt, and finds each hard cut within one chunk of its time."""
    from longroll.cli import main
    from longroll.eval.shots import cut_frame, evaluate_shots

    script = "a red circle on a black background [2s] | two blue squares on a navy background [2s#]"
    out = tmp_path / "story.mp4"
    generate_kw = dict(seed=2, model=tiny_model, preset="sink", progress=False)
    from longroll.pipelines.generate import generate

    generate(script, out=str(out), **generate_kw)
    assert main(["eval", str(out), "--json", str(tmp_path / "e.json"), "--segment", "1s"]) == 0
    printed = capsys.readouterr().out
    result = json.loads((tmp_path / "e.json").read_text())
    shots = result["shots"]
    assert [(s["start_s"], s["end_s"], s["cut"]) for s in shots] == [(0.0, 2.0, False), (2.0, 4.0, True)]
    assert shots[0]["prompt"].startswith("a red circle") and "object_presence" in shots[1]["metrics"]
    assert "cut_check" in shots[1] and "shot 2" in printed
    # The check itself, on frames with a known change: a black clip that turns white at frame 17.
    frames = torch.zeros(32, 8, 8, 3, dtype=torch.uint8).numpy()
    frames[17:] = 255
    assert cut_frame(frames, 16, 8) == 17
    from longroll.pipelines.sidecar import PromptEntry

    timeline = [PromptEntry(0.0, "x"), PromptEntry(2.0, "y", cut=True)]
    rows = evaluate_shots(frames, 8.0, timeline, 4, segment_seconds=1.0)
    assert rows[1]["cut_check"] == {"scripted_frame": 16, "found_frame": 17, "tolerance_frames": 4, "ok": True}
