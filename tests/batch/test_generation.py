"""Every line of a batch is checked as `generate` checks its request, before any video is made; a script's
videos get safe file names."""

import json

import pytest

from longroll.batch.items import safe_stem
from longroll.batch.manifest import Manifest
from longroll.cli import main

PROMPT = "a red circle on a navy background"


@pytest.mark.parametrize("line, message", [
    ({"prompt": PROMPT, "overrides": {"sink": "x"}}, "prompt 2 (line 2): sink must be an integer, got 'x'"),
    ({"prompt": PROMPT, "schedule": "fifo", "preset": "deep-forcing"},
     "prompt 2 (line 2): preset 'deep-forcing' sets the chunk-wise rollout's KV cache"),
    ({"prompt": PROMPT, "overrides": {"rho": 3}}, "prompt 2 (line 2): rho = 3"),
])
def test_a_bad_line_stops_the_batch_before_any_video(tmp_path, tiny_weights, capsys, line, message):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"prompt": PROMPT}) + "\n" + json.dumps(line) + "\n")
    rc = main(["batch", str(prompts), "--out", str(tmp_path / "out"), "--seconds", "0.5", "--weights",
               str(tiny_weights), "--no-progress", "--preset", "none"])
    err = capsys.readouterr().err
    assert rc == 2 and message.lower() in err.lower(), err
    assert not list((tmp_path / "out").glob("*.mp4")) and not Manifest(tmp_path / "out").records() \
        if (tmp_path / "out").exists() else True


def test_a_scripts_videos_get_safe_names(tmp_path, tiny_weights):
    script = f"{PROMPT} [0.5s] | a blue square on a black background [0.5s#]"
    stem = safe_stem(script, 0)
    assert "|" not in stem and "[" not in stem and "#" not in stem and "~" in stem and stem.endswith("-0")
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"script": script}) + "\n")
    assert main(["batch", str(prompts), "--out", str(tmp_path / "out"), "--weights", str(tiny_weights),
                 "--seeds", "1", "--no-progress", "--preset", "none", "--upscale", "1"]) == 0
    names = sorted(p.name for p in (tmp_path / "out").glob("*.mp4"))
    assert names == [f"{stem}.mp4"]
