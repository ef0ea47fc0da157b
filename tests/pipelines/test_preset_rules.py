"""--preset auto: the benchmark's rule answer recorded per weights, or the model's default."""

import json

from longroll.pipelines.preset_rules import auto_preset, find_rule, record_rule


def test_auto_takes_the_answer_recorded_for_these_weights_and_only_for_them(tiny_model, tmp_path, monkeypatch, caplog):
    import dataclasses
    import logging

    monkeypatch.setenv("LONGROLL_RULES", str(tmp_path / "rules"))
    with caplog.at_level(logging.INFO, logger="longroll.pipelines.preset_rules"):
        assert auto_preset(tiny_model) == tiny_model.defaults.preset
    assert "no benchmark recorded for these weights" in caplog.text
    path = record_rule(tiny_model, "riflex", primary="object_presence", lengths=[42.0], report=tmp_path / "R.md")
    assert json.loads(path.read_text())["preset"] == "riflex" and find_rule(tiny_model.weights_sha256) is not None
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="longroll.pipelines.preset_rules"):
        assert auto_preset(tiny_model) == "riflex"
    assert "chosen by the benchmark of" in caplog.text and "object_presence" in caplog.text
    assert auto_preset(dataclasses.replace(tiny_model, weights_sha256="f" * 64)) == tiny_model.defaults.preset
    path.write_text("{not json")  # a damaged record is no record
    assert auto_preset(tiny_model) == tiny_model.defaults.preset


def test_the_sidecar_records_the_preset_auto_resolved_to(tiny_model, tmp_path, monkeypatch):
    from longroll.pipelines.generate import generate
    from longroll.pipelines.sidecar import Sidecar

    monkeypatch.setenv("LONGROLL_RULES", str(tmp_path / "rules"))
    record_rule(tiny_model, "sink", primary="object_presence", lengths=[1.0], report=tmp_path / "R.md")
    out = generate("a red circle on a black background", seconds=0.5, out=tmp_path / "v.mp4", model=tiny_model,
                   preset="auto")
    assert Sidecar.of_video(out).preset == "sink"  # a replay makes the same video whatever is recorded later
