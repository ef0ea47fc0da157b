"""The any-model report's parts: which measure the rule judges, why a preset costs more, cost ratios."""

from longroll.bench.model_report import available, cost_reasons, primary_metric, speed_ratio


def test_the_rule_judges_presence_on_the_world_else_dino_else_nothing(tiny_model):
    import dataclasses

    plain = dataclasses.replace(tiny_model, world=False)
    assert primary_metric(available(tiny_model, {})) == "object_presence"
    assert primary_metric(available(plain, {"dino": {}})) == "subject_consistency"
    assert primary_metric(available(plain, {"clip": {}})) is None  # background consistency rewards a frozen video
    assert available(plain, {})["subject_consistency"] == "absent: no --dino folder given"


def test_a_dearer_preset_is_explained_by_the_parts_of_its_config(tiny_model):
    assert any("additive flexrope attention bias" in r for r in cost_reasons(tiny_model, "flexrope", "chunk"))
    assert any("Participative Compression" in r for r in cost_reasons(tiny_model, "deep-forcing", "chunk"))
    assert any("rotated again on every read" in r for r in cost_reasons(tiny_model, "cache-relative", "chunk"))
    assert cost_reasons(tiny_model, "none", "chunk") == [
        "no part of its config costs more than none's: measurement noise (run more prompts or seeds)"]
    assert "diagonal schedule" in cost_reasons(tiny_model, "flex", "fifo")[0]


def test_cost_ratios_pair_runs_of_the_same_prompt_seed_and_threads():
    def run(variant, prompt, seconds, threads=2):
        return {"variant": variant, "multiple": 4, "prompt": prompt, "seed": 0, "threads": threads,
                "speed": {"steady_chunk_seconds": seconds, "device": "cpu"}}

    results = [run("none", "a", 1.0), run("none", "b", 3.0), run("sink", "a", 1.5), run("sink", "b", 4.5),
               run("sink", "c", 100.0), run("none", "a", 9.0, threads=1)]
    assert speed_ratio(results, "sink", 4, "chunk_seconds") == 1.5  # "c" has no pair; other threads never pair
    assert speed_ratio(results, "flex", 4, "chunk_seconds") is None
