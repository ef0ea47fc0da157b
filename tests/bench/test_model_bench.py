"""``longroll bench --model NAME``: the benchmark on any model, on tiny random causal-Wan parts and DINO / CLIP
stand-ins (never downloaded): rows, intervals, cost columns, absent metrics, the rule and --preset auto, resume."""

import dataclasses
import json

import pytest

import longroll.bench.job as job
from longroll.bench.model_bench import ModelBenchConfig, run_model_bench
from longroll.bench.store import RunStore

WAN = {"height": 32, "width": 32}


@pytest.fixture(scope="module")
def dino_dir(tmp_path_factory):
    pytest.importorskip("transformers")
    from feature_fixtures import write_feature_dirs

    return write_feature_dirs(tmp_path_factory.mktemp("features"))[0]


@pytest.fixture(scope="module")
def aesthetic_dir(tmp_path_factory):
    from feature_fixtures import write_aesthetic_folder

    return write_aesthetic_folder(tmp_path_factory.mktemp("aesthetic"))


@pytest.fixture
def rules(tmp_path, monkeypatch):
    folder = tmp_path / "rules"
    monkeypatch.setenv("LONGROLL_RULES", str(folder))
    return folder


def _tables_are_whole(text):
    """Every Markdown table of the report has as many cells in each row as in its header."""
    table = []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            table.append(line.count("|"))
        elif table:
            assert len(set(table)) == 1, f"a table row has a stray '|': {table}"
            table = []
    return True


def _prompt_file(tmp_path, n=6):
    lines = [{"prompt": f"a red kite number {i} over a hill", "category": "motion" if i % 2 else "scene"}
             for i in range(n)]
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.mark.slow
def test_causal_wan_report_has_every_preset_intervals_cost_and_absent_metrics(wan_base_dir, dino_dir, aesthetic_dir,
                                                                               tmp_path, rules):
    cfg = ModelBenchConfig(out=tmp_path / "out", model="causal-wan", weights=str(wan_base_dir),
                           model_options={"base": str(wan_base_dir), **WAN}, device="cpu",
                           prompt_file=str(_prompt_file(tmp_path)), seconds=(1.0, 2.0),
                           presets=("flexrope", "none", "sink"), seeds=1, segment_seconds=1.0, dino=str(dino_dir),
                           aesthetic=str(aesthetic_dir))
    text = run_model_bench(cfg, progress=False).read_text()
    assert "# Benchmark of `causal-wan` (self-forcing)" in text and "weights sha256 `" in text and "made on " in text
    assert _tables_are_whole(text)
    for length in ("## 1 s (0.19x the horizon; 6 prompts x 1 seed)", "## 2 s (0.38x the horizon; 6 prompts x 1 seed)"):
        assert length in text
    for preset in ("none", "flexrope", "sink"):  # a row in every quality, cost and category table
        assert text.count(f"| {preset} | ") == 3 * 2
    assert "| Subject cons. (DINO) | Background cons. (CLIP) | Aesthetic (LAION) |" in text
    none_row = next(line for line in text.splitlines() if line.startswith("| none | ") and "[" in line)
    cells = none_row.split(" | ")
    # DINO and the aesthetic head measured, with intervals; CLIP absent
    assert cells[1].count("[") == 1 and cells[2] == "absent" and cells[3].count("[") == 1
    assert "Presence" not in text.split("### Quality")[1]  # a world measure is no column on another model
    assert "| Background cons. (CLIP) (higher is better) | absent: no --clip folder given |" in text
    assert "| s per chunk (steady) | vs none | frames/s made | vs none | peak memory |" in text
    sink_cost = [line for line in text.splitlines() if line.startswith("| sink | ") and "MiB" in line]
    assert len(sink_cost) == 2 and all(float(line.split(" | ")[2]) > 0 for line in sink_cost)
    assert "### Subject cons. (DINO) by prompt category" in text and "| motion | scene |" in text
    # The rule judged the DINO measure and recorded its answer for these weights, which --preset auto takes.
    assert "Judged on subject cons. (dino) at" in text and "Chosen: `" in text
    chosen = text.split("Chosen: `")[1].split("`")[0]
    record = json.loads(next(rules.glob("*.json")).read_text())
    assert record["preset"] == chosen and record["judged_on"] == "subject_consistency"
    from longroll.models.registry import load_model
    from longroll.pipelines.plan import resolve
    from longroll.pipelines.request import GenerationRequest

    model = load_model("causal-wan", weights=str(wan_base_dir), base=str(wan_base_dir), device="cpu", **WAN)
    assert record["weights_sha256"] == model.weights_sha256
    plan = resolve(GenerationRequest(prompt="a fox", seconds=1.0, preset="auto"), model)
    assert plan.preset == chosen


def test_without_a_quality_model_the_rule_is_not_judged_and_auto_takes_the_models_default(tiny_model, tmp_path,
                                                                                          rules):
    from longroll.pipelines.plan import resolve
    from longroll.pipelines.request import GenerationRequest

    plain = dataclasses.replace(tiny_model, world=False)  # as another model: no world measures
    path = tmp_path / "p.txt"
    path.write_text("a red circle on a black background\n# a comment\n\ntwo blue squares on a navy background\n")
    cfg = ModelBenchConfig(out=tmp_path / "out", prompt_file=str(path), seconds=(1.0,), presets=("none", "sink"),
                           seeds=1)
    text = run_model_bench(cfg, model=plain, progress=False).read_text()
    assert "Not judged: the rule needs a quality measure" in text and not rules.exists()
    assert resolve(GenerationRequest(prompt="a red circle on a black background", seconds=1.0, preset="auto"),
                   plain).preset == plain.defaults.preset


def test_a_killed_benchmark_resumes_and_new_weights_make_new_keys(tiny_model, tmp_path, monkeypatch, rules):
    cfg = ModelBenchConfig(out=tmp_path / "out", seconds=(1.0,), presets=("none", "flex"), seeds=1, prompts=2)
    real, calls = job.run_one, []

    def counted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # the warm-up, one video, then the kill
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(job, "run_one", counted)
    with pytest.raises(KeyboardInterrupt):
        run_model_bench(cfg, model=tiny_model, progress=False)
    assert len(RunStore(tmp_path / "out" / "runs")) == 1
    calls.clear()
    monkeypatch.setattr(job, "run_one", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    run_model_bench(cfg, model=tiny_model, progress=False)
    assert len(calls) == 1 + 3  # the warm-up and the three videos the kill left
    calls.clear()
    text = run_model_bench(cfg, model=tiny_model, progress=False).read_text()
    assert calls == [] and "4 runs reported" in text  # nothing made twice
    other = dataclasses.replace(tiny_model, weights_sha256="0" * 64)
    run_model_bench(cfg, model=other, progress=False)
    assert len(calls) == 1 + 4  # other weights: every run made again, under new keys
    assert len(RunStore(tmp_path / "out" / "runs")) == 8


@pytest.mark.parametrize("lines, match", [
    ('{"prompt": "a fox", "colour": "red"}\n', "unknown key.*colour.*allowed: prompt, seconds, category"),
    ('{"prompt": "a fox"}\n{"prompt": "a fox"}\n', "repeats 'a fox'"),
    ('{"prompt": "a fox", "seconds": -3}\n', "seconds = -3 must be a length in seconds"),
    ('{"prompt": ""}\n', "The prompt of prompts.jsonl, line 1 is empty"),
    ("not json\n", "line 1 is not JSON"),
])
def test_bad_prompt_files_are_refused_by_line_before_any_model_is_loaded(tmp_path, lines, match, monkeypatch):
    import longroll.models.registry as registry

    path = tmp_path / "prompts.jsonl"
    path.write_text(lines)
    monkeypatch.setattr(registry, "load_model", lambda *a, **k: pytest.fail("a model was loaded"))
    with pytest.raises(ValueError, match=match):
        run_model_bench(ModelBenchConfig(out=tmp_path / "out", prompt_file=str(path)), progress=False)


def test_bad_benchmark_settings_are_refused_by_name(tmp_path, capsys):
    from longroll.cli import main

    with pytest.raises(ValueError, match="Preset 'deep-forcing' sets the chunk-wise rollout's KV cache"):
        ModelBenchConfig(out=tmp_path, presets=("deep-forcing",), schedule="fifo")
    with pytest.raises(ValueError, match="seconds = 0.0 is out of range"):
        ModelBenchConfig(out=tmp_path, seconds=(0.0,))
    with pytest.raises(ValueError, match="--dino .* is not a local DINO model folder"):
        ModelBenchConfig(out=tmp_path, dino=str(tmp_path))
    assert main(["bench", "--model", "causal-wan", "--out", str(tmp_path)]) == 2
    assert "needs a checkpoint" in capsys.readouterr().err
    assert main(["bench", "--seconds", "10", "--groups", "rho", "--out", str(tmp_path)]) == 2
    assert "--groups belong(s) to the built-in model's matrix" in capsys.readouterr().err
    assert main(["bench", "--seconds", "10", "--lengths", "4", "--out", str(tmp_path)]) == 2
    assert "Give --seconds or --lengths, not both" in capsys.readouterr().err
    assert main(["bench", "--seconds", "ten", "--out", str(tmp_path)]) == 2
    assert "--seconds must be comma-separated numbers" in capsys.readouterr().err
    assert main(["bench", "--seconds", "10"]) == 2
    assert "needs --out DIR" in capsys.readouterr().err


def test_the_suite_has_32_different_prompts_in_five_categories():
    from collections import Counter

    from longroll.bench.suite import SUITE, read_prompt_file

    suite = read_prompt_file(SUITE)
    assert len(suite) == 32 and len({p.text for p in suite}) == 32
    assert set(Counter(p.category for p in suite)) == {"subject", "scene", "motion", "camera", "multi-subject"}
    assert min(Counter(p.category for p in suite).values()) >= 6


def test_the_predict_protocol_on_the_world_scores_against_the_exact_continuation(tiny_model, tmp_path, rules):
    from feature_fixtures import write_lpips_folder

    cfg = ModelBenchConfig(out=tmp_path / "out", seconds=(1.5,), presets=("none", "sink"), seeds=1, prompts=2,
                           protocol="predict", context=3, lpips=str(write_lpips_folder(tmp_path / "lpips")))
    text = run_model_bench(cfg, model=tiny_model, progress=False).read_text()
    assert "### Prediction against the true continuation" in text and _tables_are_whole(text)
    none_row = text.split("| preset | PSNR dB |")[1].split("| none | ")[1].split("\n")[0].split(" | ")
    assert none_row[2].count("[") == 1 and "LPIPS-Alex (v0.1) from" in text  # a number where the weights were given
    assert "| preset | PSNR dB | SSIM | LPIPS | Centre error px | Lost | On track | Time to drift s |" in text
    assert "Context: 3 real frames; 12 to 12 predicted frames compared per video" in text
    assert "Chosen for continuing real frames: `" in text and not rules.exists()  # --preset auto: text to video
    store = RunStore(tmp_path / "out" / "runs")
    runs = [store.get(k) for k in store.keys()]
    assert len(runs) == 4 and all(r["context_frames"] == 3 and r["prediction"]["frames_compared"] == 12 and
                                  r["trajectory"]["segments"] for r in runs)
    assert len(list((tmp_path / "out" / "context").iterdir())) == 2  # one context per prompt and seed
    t2v = ModelBenchConfig(out=tmp_path / "out", seconds=(1.5,), presets=("none",), seeds=1, prompts=2)
    assert "| LPIPS |" not in run_model_bench(t2v, model=tiny_model, progress=False).read_text()
    assert len(RunStore(tmp_path / "out" / "runs")) == 6  # text to video keys differ from predicted ones


def test_the_predict_protocol_on_another_model_reads_one_true_video_per_prompt(tiny_model, tmp_path, rules):
    from longroll.io.video import VideoWriter
    from longroll.world.render import render
    from longroll.world.scene import scene_from_prompt

    plain = dataclasses.replace(tiny_model, world=False)
    prompts = tmp_path / "p.txt"
    prompts.write_text("a red circle on a black background\n")
    videos = tmp_path / "videos"
    videos.mkdir()
    cfg = dict(out=tmp_path / "out", prompt_file=str(prompts), seconds=(1.0,), presets=("none",), seeds=2,
               protocol="predict", context=2)
    with pytest.raises(ValueError, match="needs --videos DIR"):
        run_model_bench(ModelBenchConfig(**cfg), model=plain, progress=False)
    with pytest.raises(ValueError, match="looked for PROMPT.mp4 and PROMPT-0.mp4"):
        run_model_bench(ModelBenchConfig(**cfg, videos=str(videos)), model=plain, progress=False)
    frames = render(scene_from_prompt("a red circle on a black background", 5), 0, 6)  # shorter than the prediction
    with VideoWriter(videos / "a red circle on a black background-0.mp4", 8) as writer:
        writer.write(frames)
    text = run_model_bench(ModelBenchConfig(**cfg, videos=str(videos)), model=plain, progress=False).read_text()
    assert "Context: 2 real frames; 4 to 4 predicted frames compared per video (8 past the end of a true video " \
           "left out)" in text
    assert "Centre error" not in text  # no exact trajectories outside the built-in world
    with pytest.raises(ValueError, match="--context, --videos and --lpips belong to --protocol predict"):
        ModelBenchConfig(out=tmp_path, context=3)
    with pytest.raises(ValueError, match="needs the chunk schedule; the fifo schedule starts from noise"):
        ModelBenchConfig(out=tmp_path, protocol="predict", schedule="fifo")


def test_the_predict_protocol_makes_one_item_per_true_video_prompted_as_the_model_reads_it(tiny_model, tmp_path,
                                                                                            rules):
    """FAR's test sets (UCF-101 files, DMLab's .npz with the actions): every video of --videos is an item, named
    by its file, its prompt what the model reads from the file; two videos may share a prompt."""
    import numpy as np

    from longroll.bench.suite import videos_suite
    from longroll.io.video import VideoWriter
    from longroll.world.render import render
    from longroll.world.scene import scene_from_prompt

    text = "a red circle on a black background"
    videos = tmp_path / "videos"
    videos.mkdir()
    np.savez(videos / "episode_1.npz", video=render(scene_from_prompt(text, 1), 0, 16), actions=np.zeros(16))
    with VideoWriter(videos / "episode_0.mp4", 8) as writer:
        writer.write(render(scene_from_prompt(text, 2), 0, 16))
    (videos / "notes.txt").write_text("not a video")
    cfg = ModelBenchConfig(out=tmp_path / "out", seconds=(0.5,), presets=("none",), seeds=1, protocol="predict",
                           context=2, videos=str(videos))  # shorter than the horizon (1 s) and a segment
    with pytest.raises(ValueError, match="cannot tell a video's prompt from its file: give --prompt-file"):
        run_model_bench(cfg, model=dataclasses.replace(tiny_model, world=False), progress=False)
    seen = []

    def short_conditioning(cond, frames):  # as a world model's actions: they cover only what the items need
        if frames > 6:
            raise ValueError(f"The video has {frames} frames but the actions cover 6.")

    plain = dataclasses.replace(tiny_model, world=False, video_prompt=lambda path: seen.append(path) or text,
                                check_cond=short_conditioning)
    items = videos_suite(videos, plain)
    assert [(p.text, p.video, p.model_text) for p in items] == [("episode_0", "episode_0.mp4", text),
                                                               ("episode_1", "episode_1.npz", text)]
    report = run_model_bench(cfg, model=plain, progress=False).read_text()  # the warm-up as long as an item
    assert "one per video of `videos`, prompted as the model reads its file" in report
    assert "Context: 2 real frames; 4 to 4 predicted frames compared per video" in report
    store = RunStore(tmp_path / "out" / "runs")
    runs = [store.get(k) for k in store.keys()]
    assert sorted(r["prompt"] for r in runs) == ["episode_0", "episode_1"]
    assert len(list((tmp_path / "out" / "context").iterdir())) == 2  # two true videos, two contexts
