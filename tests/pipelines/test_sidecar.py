"""The typed sidecar: written from a plan and a result, read back (earlier layouts included), replayed; no
other module reads its keys."""

import json
import re
from pathlib import Path

import pytest

from longroll.pipelines.plan import resolve
from longroll.pipelines.request import GenerationRequest
from longroll.pipelines.run import run
from longroll.pipelines.sidecar import PromptEntry, Sidecar, sidecar_path

PROMPT = "a red circle and a blue square on a navy background"
SRC = Path(__file__).parents[2] / "src" / "longroll"


def test_written_read_and_replayed_to_the_same_frames(tiny_model, tmp_path):
    out = tmp_path / "v.mp4"
    plan = resolve(GenerationRequest(prompt=f"{PROMPT} [1s] | a red circle on a navy background [1s#]", seed=3,
                                     preset="flex", out=str(out)), tiny_model)
    result = run(plan, tiny_model)
    side = Sidecar.read(sidecar_path(out))
    assert side == Sidecar.of_video(out) and side.complete and side.frames == 16
    assert side.prompt_schedule == (PromptEntry(0.0, PROMPT), PromptEntry(1.0, "a red circle on a navy background",
                                                                          True))
    assert side.frames_sha256 == result.frames_sha256 and side.noise_seed == plan.noise_seed
    again = run(resolve(side.request(), tiny_model, config=side.config_object()), tiny_model)
    assert again.frames_sha256 == result.frames_sha256
    assert json.loads(sidecar_path(out).read_text()) == side.to_dict()  # the JSON is the record, key for key


def test_earlier_layouts_are_read(tiny_model, tmp_path):
    plan = resolve(GenerationRequest(prompt=PROMPT, seconds=1, schedule="miga", preset="none",
                                     schedule_options=dict(window=6, steps=6, stage2_steps=2, k=2)), tiny_model)
    now = Sidecar.of(plan, tiny_model, frames=8, frames_sha256="x", complete=True, wall_seconds=1.0).to_dict()
    chunk = resolve(GenerationRequest(prompt=PROMPT, seconds=1, preset="none"), tiny_model).config_dict()
    old = {k: v for k, v in now.items() if k not in ("noise_seed", "config")}
    old.update(config=chunk, diagonal=now["config"]["diagonal"])  # diagonal settings beside a chunk config
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    side = Sidecar.read(path)
    assert side.schedule == "miga" and side.noise_seed is None
    assert side.config_object().diagonal == plan.config.diagonal
    older = {k: v for k, v in old.items() if k not in ("schedule", "diagonal")}
    path.write_text(json.dumps(older))
    assert Sidecar.read(path).schedule == "chunk"
    path.write_text(json.dumps({"prompt": "not a sidecar"}))
    with pytest.raises(ValueError, match="is not a longroll sidecar"):
        Sidecar.read(path)


def test_nothing_but_the_sidecar_module_reads_sidecar_keys():
    keys = re.compile(r"""\[["'](prompt_schedule|frames_sha256|noise_seed|weights_sha256|chunk_frames)["']\]|"""
                      r"""\.get\(["'](prompt_schedule|frames_sha256|noise_seed|chunk_frames)["']""")
    readers = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
               if p.name != "sidecar.py" and keys.search(p.read_text())]
    assert readers == []
    assert "sidecar." not in (SRC / "studio" / "static" / "studio.js").read_text()  # the page gets a summary
