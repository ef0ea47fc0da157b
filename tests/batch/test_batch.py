"""Batch generation and evaluation: items, seeds, names, sharding, manifest, resume, torchrun, bad input."""

import json
import multiprocessing as mp
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from longroll.batch.backends import run_job
from longroll.batch.evaluation import EvaluationJob
from longroll.batch.generation import BatchSettings, GenerationJob
from longroll.batch.items import MAX_STEM_BYTES, build_items, item_seed, read_prompts, safe_stem
from longroll.batch.manifest import Manifest
from longroll.batch.runner import Summary, balanced_shards, shard
from longroll.cli import main

PROMPTS = ["a red circle on a navy background", "two yellow triangles on a black background",
           "a red circle on a navy background"]  # the duplicate is deliberate


def write_prompts(folder: Path, prompts=PROMPTS, name="prompts.txt") -> Path:
    path = folder / name
    path.write_text("# a comment\n\n" + "\n".join(prompts) + "\n")
    return path


def make_job(tmp_path, weights, *, seeds=2, seconds=0.5, force=False, prompts=PROMPTS, **kw) -> GenerationJob:
    settings = BatchSettings(seconds=seconds, preset="none", weights=str(weights), upscale=1, **kw)
    return GenerationJob(str(write_prompts(tmp_path, prompts)), str(tmp_path / "out"), seeds, settings, force=force)


def manifest_keys(folder) -> list[str]:
    return [r["key"] for r in Manifest(folder).records()]


# ------------------------------------------------------------------------------------ items
def test_prompt_file_skips_blank_and_comment_lines(tmp_path):
    entries = read_prompts(write_prompts(tmp_path))
    assert [e.prompt for e in entries] == PROMPTS
    assert [e.line for e in entries] == [3, 4, 5]


@pytest.mark.parametrize("content, message", [
    ("", "has no prompts"),
    ("\n# only a comment\n\n", "has no prompts"),
])
def test_empty_prompt_file_is_an_error(tmp_path, content, message):
    path = tmp_path / "p.txt"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_prompts(path)


def test_unreadable_prompt_files_are_errors(tmp_path):
    binary = tmp_path / "p.txt"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ValueError, match="Cannot read the prompt file"):
        read_prompts(binary)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_prompts(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="is a folder"):
        read_prompts(tmp_path)


def test_jsonl_lines_carry_settings_and_bad_lines_name_their_number(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"prompt": "a red circle on a navy background", "seconds": 1.5, "seeds": 3}) + "\n"
                    + json.dumps({"prompt": "a blue square on a black background",
                                  "switches": [{"at": 0.5, "prompt": "a red circle on a navy background"}]}) + "\n")
    entries = read_prompts(path)
    items = build_items(entries, seeds=1)
    assert [i.key for i in items] == ["0:0", "0:1", "0:2", "1:0"]
    assert items[0].settings["seconds"] == 1.5
    path.write_text('{"prompt": "a red circle on a navy background"}\n{"prompt": "x", "colour": 1}\n')
    with pytest.raises(ValueError, match=r"line 2 has unknown key\(s\) colour; allowed: prompt"):
        read_prompts(path)
    path.write_text('{"prompt": ""}\n')
    with pytest.raises(ValueError, match="line 1 needs a non-empty 'prompt'"):
        read_prompts(path)
    path.write_text('not json\n')
    with pytest.raises(ValueError, match="line 1 is not valid JSON"):
        read_prompts(path)


def test_duplicate_prompts_are_kept_and_continue_the_vbench_index(tmp_path):
    items = build_items(read_prompts(write_prompts(tmp_path)), seeds=2)
    assert len(items) == 6
    names = [i.name for i in items]
    assert len(set(names)) == 6
    assert names[:2] == [f"{PROMPTS[0]}-0", f"{PROMPTS[0]}-1"]
    assert names[4:] == [f"{PROMPTS[0]}-2", f"{PROMPTS[0]}-3"]  # the duplicate continues at 2
    assert items[0].seed != items[4].seed  # and has its own seeds


def test_unsafe_and_long_prompts_get_hashed_names():
    long = "a very long prompt " * 20
    for prompt in (long, "a/b on c", ".hidden", "tab\there", "ends with a dot."):
        name = safe_stem(prompt, 3)
        assert name.endswith("-3") and "~" in name
        assert "/" not in name and "\t" not in name and not name.startswith(".")
        assert len(name.encode()) <= MAX_STEM_BYTES
    assert safe_stem(long, 0) != safe_stem(long + "x", 0)
    vbench = "A person is riding a bike, with a dog running alongside, 'slowly' (close-up)"
    assert safe_stem(vbench, 4) == f"{vbench}-4"


def test_seeds_depend_only_on_prompt_and_seed_index():
    assert item_seed(0, 3, 1) == item_seed(0, 3, 1)
    seeds = {item_seed(0, p, s) for p in range(30) for s in range(5)}
    assert len(seeds) == 150 and all(0 <= s < 2**63 for s in seeds)
    assert item_seed(1, 3, 1) != item_seed(0, 3, 1)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 60), world=st.integers(1, 7))
def test_sharding_covers_every_item_exactly_once(n, world):
    items = list(range(n))
    shards = [shard(items, r, world) for r in range(world)]
    flat = sorted(x for s in shards for x in s)
    assert flat == items
    assert max(map(len, shards)) - min(map(len, shards)) <= 1  # nothing dropped, balanced


@settings(max_examples=80, deadline=None)
@given(costs=st.lists(st.floats(0, 200, allow_nan=False), max_size=40), world=st.integers(1, 6))
def test_cost_balanced_shards_cover_every_item_once_and_differ_by_at_most_one_item(costs, world):
    shards = balanced_shards(costs, world)
    assert sorted(i for s in shards for i in s) == list(range(len(costs)))
    assert all(s == sorted(s) for s in shards)  # each rank keeps the job's order
    loads = [sum(costs[i] for i in s) for s in shards]
    assert max(loads) - min(loads) <= max(costs, default=0.0) + 1e-9  # the greedy's bound
    assert balanced_shards(list(costs), world) == shards  # the same costs, the same shards


def test_cost_balanced_shards_spread_long_items_that_a_stride_would_stack():
    costs = [120.0, 16.0, 120.0, 16.0, 120.0, 16.0]  # a resumed cell: long and short items alternate
    assert [sum(costs[i] for i in s) for s in (list(range(6))[0::2], list(range(6))[1::2])] == [360.0, 48.0]
    shards = balanced_shards(costs, 2)
    assert shards == [[0, 4], [1, 2, 3, 5]]
    assert [sum(costs[i] for i in s) for s in shards] == [240.0, 168.0]
    for n in range(12):  # equal costs: the rank-strided split
        for world in range(1, 5):
            assert balanced_shards([1.0] * n, world) == [list(range(n))[r::world] for r in range(world)]
    items = list("abcdef")
    assert [shard(items, r, 2, costs) for r in range(2)] == [["a", "e"], ["b", "c", "d", "f"]]


def test_bad_costs_are_refused_naming_the_item():
    with pytest.raises(ValueError, match=r"Item 1 has the cost nan; an item's cost is a finite number >= 0"):
        balanced_shards([1.0, float("nan")], 2)
    with pytest.raises(ValueError, match=r"Item 0 has the cost -1"):
        balanced_shards([-1.0], 2)
    with pytest.raises(ValueError, match=r"2 costs were given for 3 items; give one cost per item"):
        shard([1, 2, 3], 0, 2, [1.0, 1.0])
    with pytest.raises(ValueError, match="world size"):
        balanced_shards([1.0], 0)


def test_an_items_cost_is_its_seconds_of_video(tmp_path, tiny_weights):
    script = "a red circle on a navy background [0.5s] | a blue square on a black background [2s#]"
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"prompt": "a red circle on a navy background", "seconds": 3.0}) + "\n"
                    + json.dumps({"prompt": "a blue square on a black background"}) + "\n"
                    + json.dumps({"script": script}) + "\n")
    job = GenerationJob(str(path), str(tmp_path / "out"), 1,
                        BatchSettings(seconds=8, preset="none", weights=str(tiny_weights), upscale=1))
    assert [job.item_cost(i) for i in job.items] == [3.0, 8.0, 2.5]


def test_item_seeds_do_not_depend_on_the_worker_count(tmp_path):
    items = build_items(read_prompts(write_prompts(tmp_path)), seeds=5)
    by_key = {i.key: i.seed for i in items}
    for world in range(1, 8):
        for r in range(world):
            for item in shard(items, r, world):
                assert item.seed == by_key[item.key]


# ------------------------------------------------------------------------------------ manifest
def _append_many(folder, worker):
    m = Manifest(folder)
    for i in range(40):
        m.append({"key": f"{worker}:{i}", "pad": "x" * 500})


def test_manifest_appends_from_processes_never_interleave(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(str(tmp_path), w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    lines = (tmp_path / "manifest.jsonl").read_text().splitlines()
    assert len(lines) == 160 and all(json.loads(line)["pad"] == "x" * 500 for line in lines)


def test_manifest_ignores_a_torn_last_line(tmp_path):
    m = Manifest(tmp_path)
    m.append({"key": "0:0"})
    with open(m.path, "a") as fh:
        fh.write('{"key": "0:1", "pa')
    assert manifest_keys(tmp_path) == ["0:0"]


# ------------------------------------------------------------------------------------ generation
def test_local_batch_makes_every_item_once_and_resumes(tmp_path, tiny_weights):
    job = make_job(tmp_path, tiny_weights)
    summary = run_job(job, show_progress=False)
    assert summary.ok and len(summary.done) == 6
    out = tmp_path / "out"
    records = Manifest(out).records()
    assert sorted(r["key"] for r in records) == sorted(i.key for i in job.items)
    for r in records:
        assert (out / r["path"]).is_file()
        meta = json.loads((out / (r["path"] + ".json")).read_text())
        assert meta["complete"] and meta["seed"] == r["seed"] and r["frames"] == 4
        assert set(r) >= {"prompt", "seed", "path", "settings_hash", "seconds", "wall_s"}
    again = run_job(make_job(tmp_path, tiny_weights), show_progress=False)
    assert again.done == [] and len(again.skipped) == 6
    assert len(Manifest(out).records()) == 6


def test_resume_after_a_crash_mid_item_redoes_only_that_item(tmp_path, tiny_weights, monkeypatch):
    import longroll.io.video as video

    real_write = video.VideoWriter.write
    calls = {"n": 0}

    def crashing_write(self, frames):
        calls["n"] += 1
        if calls["n"] == 6:  # the third item's second chunk (two chunks per item)
            raise KeyboardInterrupt
        return real_write(self, frames)

    monkeypatch.setattr(video.VideoWriter, "write", crashing_write)
    job = make_job(tmp_path, tiny_weights, seconds=0.5)
    with pytest.raises(KeyboardInterrupt):
        run_job(job, show_progress=False)
    out = tmp_path / "out"
    assert len(manifest_keys(out)) == 2
    crashed = job.items[2]
    meta = json.loads((out / f"{crashed.name}.mp4.json").read_text())
    assert meta["complete"] is False  # the cut video is playable, recorded as partial, not in the manifest
    # A hard kill leaves a temporary file behind: it must not get in the way.
    (out / f"{job.items[3].name}.partial-99999.mp4").write_bytes(b"junk")
    monkeypatch.setattr(video.VideoWriter, "write", real_write)
    summary = run_job(make_job(tmp_path, tiny_weights), show_progress=False)
    assert sorted(summary.done) == sorted(i.key for i in job.items[2:]) and len(summary.skipped) == 2
    keys = manifest_keys(out)
    assert sorted(keys) == sorted(i.key for i in job.items) and len(keys) == len(set(keys))
    assert json.loads((out / f"{crashed.name}.mp4.json").read_text())["complete"] is True


def test_a_folder_made_with_other_settings_is_refused_unless_forced(tmp_path, tiny_weights):
    run_job(make_job(tmp_path, tiny_weights, seeds=1), show_progress=False)
    with pytest.raises(ValueError, match=r"other settings \(changed: seconds\).*--force"):
        make_job(tmp_path, tiny_weights, seeds=1, seconds=1.0)
    forced = run_job(make_job(tmp_path, tiny_weights, seeds=1, seconds=1.0, force=True), show_progress=False)
    assert len(forced.done) == 3  # every item remade under the new settings
    latest = Manifest(tmp_path / "out").latest()
    assert {r["seconds"] for r in latest.values()} == {1.0}
    # More seeds into the same folder is not a settings change: only the new items are made.
    more = run_job(make_job(tmp_path, tiny_weights, seeds=2, seconds=1.0), show_progress=False)
    assert len(more.done) == 3 and len(more.skipped) == 3


def test_bad_input_fails_before_any_file(tmp_path, tiny_weights):
    (tmp_path / "file").write_text("x")
    settings = BatchSettings(seconds=0.5, preset="none", weights=str(tiny_weights))
    prompts = str(write_prompts(tmp_path))
    with pytest.raises(ValueError, match="is a file; give a folder"):
        GenerationJob(prompts, str(tmp_path / "file"), 1, settings)
    with pytest.raises(ValueError, match="preset must be one of"):
        BatchSettings(seconds=0.5, preset="nope")
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text('{"prompt": "a red circle on a navy background", "overrides": {"sinks": 2}}\n')
    with pytest.raises(ValueError, match=r"prompt 1 \(line 1\): unknown override\(s\) sinks"):
        GenerationJob(str(jsonl), str(tmp_path / "o2"), 1, settings)
    with pytest.raises(ValueError, match="workers = 2 needs --backend torchrun or ray"):
        run_job(GenerationJob(prompts, str(tmp_path / "o3"), 1, settings), workers=2)
    assert not (tmp_path / "o2").exists() and not (tmp_path / "o3").exists()


def test_jsonl_items_use_their_own_settings(tmp_path, tiny_weights):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"prompt": "a red circle on a navy background", "seconds": 1.0}) + "\n"
                    + json.dumps({"prompt": "a blue square on a black background", "seconds": 0.75,
                                  "switches": [{"at": 0.5, "prompt": "a red circle on a navy background"}]}) + "\n")
    job = GenerationJob(str(path), str(tmp_path / "out"), 1,
                        BatchSettings(seconds=0.5, preset="none", weights=str(tiny_weights), upscale=1))
    assert run_job(job, show_progress=False).ok
    frames = {r["key"]: r["frames"] for r in Manifest(tmp_path / "out").records()}
    assert frames == {"0:0": 8, "1:0": 6}
    meta = json.loads((tmp_path / "out" / f"{job.items[1].name}.mp4.json").read_text())
    assert len(meta["prompt_schedule"]) == 2


def test_jsonl_scripts_bring_their_shots_and_length(tmp_path, tiny_weights):
    script = "a red circle on a navy background [0.5s] | a blue square on a black background [0.5s#]"
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"script": script}) + "\n" + json.dumps({"prompt": script}) + "\n")
    job = GenerationJob(str(path), str(tmp_path / "out"), 1,
                        BatchSettings(seconds=8, preset="none", weights=str(tiny_weights), upscale=1))
    assert run_job(job, show_progress=False).ok
    records = list(Manifest(tmp_path / "out").records())
    assert [r["frames"] for r in records] == [8, 8] and {r["seconds"] for r in records} == {1.0}
    meta = json.loads((tmp_path / "out" / f"{job.items[0].name}.mp4.json").read_text())
    assert [s["cut"] for s in meta["prompt_schedule"]] == [False, True]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"script": "a red circle on a navy background [1s] | two blue squares [2 sec]"}) + "\n")
    with pytest.raises(ValueError, match=r"line 1: Shot 2 of the script"):
        GenerationJob(str(bad), str(tmp_path / "o2"), 1, BatchSettings(seconds=8, weights=str(tiny_weights)))


def test_batch_cli_summary_and_exit_codes(tmp_path, tiny_weights, capsys):
    prompts = write_prompts(tmp_path, PROMPTS[:1] + ["a pink circle on a navy background"])
    rc = main(["batch", str(prompts), "--seeds", "1", "--seconds", "0.5", "--out", str(tmp_path / "out"),
               "--weights", str(tiny_weights), "--preset", "none", "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2  # a prompt outside the vocabulary stops the batch before any video, naming its line
    assert "prompt 2 (line 4)" in err and "pink" in err
    assert not (tmp_path / "out").exists()
    assert main(["batch", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "o")]) == 2


# ------------------------------------------------------------------------------------ torchrun
@pytest.mark.slow
def test_torchrun_two_gloo_processes_match_the_local_run(tmp_path, tiny_weights):
    prompts = write_prompts(tmp_path)
    common = ["batch", str(prompts), "--seeds", "2", "--seconds", "0.75", "--weights", str(tiny_weights),
              "--preset", "none", "--upscale", "1", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "longroll", *common, "--out", str(tmp_path / "dist"),
                           "--backend", "torchrun", "--workers", "2"], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "6 done, 0 skipped" in proc.stdout
    records = Manifest(tmp_path / "dist").records()
    keys = [r["key"] for r in records]
    assert sorted(keys) == sorted(set(keys)) and len(keys) == 6
    assert len({r["worker"] for r in records}) == 2  # both ranks worked
    assert json.loads((tmp_path / "dist" / "last_run.json").read_text())["failed"] == {}
    # Run again: rank 0 plans for both, so every complete item is skipped and counted once.
    proc = subprocess.run([sys.executable, "-m", "longroll", *common, "--out", str(tmp_path / "dist"),
                           "--backend", "torchrun", "--workers", "2"], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "0 done, 6 skipped" in proc.stdout
    assert len(Manifest(tmp_path / "dist").records()) == 6
    assert main([*common, "--out", str(tmp_path / "local")]) == 0
    local = {r["key"]: r for r in Manifest(tmp_path / "local").records()}
    for r in records:  # same item, same raw frames (hashed before the codec), whatever the number of workers
        assert r["seed"] == local[r["key"]]["seed"]
        assert r["frames_sha256"] == local[r["key"]]["frames_sha256"], r["key"]
    # The evaluation of the folder on the same backend: every video once, one aggregate.
    proc = subprocess.run([sys.executable, "-m", "longroll", "eval", str(tmp_path / "dist"), "--segment", "0.25s",
                           "--backend", "torchrun", "--workers", "2", "--no-progress"], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "6 done, 0 skipped" in proc.stdout
    evaluated = [r["key"] for r in Manifest(tmp_path / "dist" / "eval").records()]
    assert sorted(evaluated) == sorted(r["path"] for r in records)
    assert json.loads((tmp_path / "dist" / "eval" / "summary.json").read_text())["videos"] == 6


# ------------------------------------------------------------------------------------ evaluation
def test_eval_over_a_batch_folder_is_resumable(tmp_path, tiny_weights, capsys):
    job = make_job(tmp_path, tiny_weights, seeds=1, seconds=1.0)
    run_job(job, show_progress=False)
    out = tmp_path / "out"
    assert main(["eval", str(out), "--segment", "0.5s", "--no-progress"]) == 0
    results = out / "eval"
    for item in job.items:
        data = json.loads((results / f"{item.name}.json").read_text())
        assert len(data["segments"]) == 2 and data["metrics"]["object_presence"] is not None
    summary = json.loads((results / "summary.json").read_text())
    assert summary["videos"] == 3 and summary["metrics"]["temporal_flickering"]["videos"] == 3
    assert "| object_presence |" in (results / "summary.md").read_text()
    capsys.readouterr()
    assert main(["eval", str(out), "--segment", "0.5s", "--no-progress"]) == 0
    assert "0 done, 3 skipped" in capsys.readouterr().out
    with pytest.raises(ValueError, match="other settings"):
        EvaluationJob(str(out), segment_seconds=0.25)
    # A video made again (another base seed, forced into the folder) is evaluated again.
    remade = run_job(make_job(tmp_path, tiny_weights, seeds=1, seconds=1.0, force=True, base_seed=1),
                     show_progress=False)
    assert len(remade.done) == 3
    todo, skipped = EvaluationJob(str(out), segment_seconds=0.5).plan()
    assert len(todo) == 3 and not skipped


def test_eval_folder_without_manifest_reads_vbench_names(tmp_path, tiny_weights):
    run_job(make_job(tmp_path, tiny_weights, seeds=1, seconds=1.0), show_progress=False)
    out = tmp_path / "out"
    (out / "manifest.jsonl").unlink()
    for sidecar in out.glob("*.json"):
        sidecar.unlink()
    items = EvaluationJob(str(out), str(tmp_path / "ev"), segment_seconds=0.5).items
    assert {i.prompt for i in items} == set(PROMPTS[:2])


def test_summary_text_lists_failures():
    s = Summary("generate", done=["0:0"], failed={"1:0": "ValueError: bad"}, retried=1)
    assert "1 done" in s.text() and "failed 1:0: ValueError: bad" in s.text() and "1 redone" in s.text()
