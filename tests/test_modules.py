"""The small modules, each tested by name: validation messages, atomic files and hashing, the live switch
queue, the studio's worker pool, the cache's policy stores, the matrix and the constants the papers state;
and the rule that every module of the package is imported by some test by name."""

import ast
import hashlib
import threading
import time
from pathlib import Path

import pytest
import torch

SRC = Path(__file__).parent.parent / "src" / "longroll"


def test_validation_names_the_value_and_the_allowed_range():
    from longroll._validate import check_choice, check_float, check_int, excerpt

    with pytest.raises(ValueError, match=r"steps = 0 is out of range \(allowed range \[1, 8\]\)"):
        check_int("steps", 0, low=1, high=8)
    with pytest.raises(ValueError, match="steps must be an integer, got 1.5"):
        check_int("steps", 1.5)
    with pytest.raises(ValueError, match=r"rho = 2.0 is out of range"):
        check_float("rho", 2.0, low=-1.0, high=1.0)
    with pytest.raises(ValueError, match="preset must be one of 'a', 'b'; got 'c'"):
        check_choice("preset", "c", ["a", "b"])
    assert excerpt("x" * 500, 10) == "'xxxxxxxxx... (500 characters)" and excerpt(1.5) == "1.5"


def test_an_atomic_write_never_leaves_half_a_file(tmp_path):
    from longroll.io.atomic import atomic_output, write_json

    target = tmp_path / "r.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text().strip().startswith("{") and list(tmp_path.iterdir()) == [target]
    with pytest.raises(RuntimeError), atomic_output(tmp_path / "v.mp4", keep_partial=True) as tmp:
        tmp.write_bytes(b"prefix")
        raise RuntimeError("cut short")
    assert (tmp_path / "v.mp4").read_bytes() == b"prefix"  # a useful prefix is kept under its name


def test_file_hashes_are_sha256_and_follow_changes(tmp_path):
    from longroll.io.hashing import file_sha256

    path = tmp_path / "w.bin"
    path.write_bytes(b"weights")
    assert file_sha256(path) == hashlib.sha256(b"weights").hexdigest()
    time.sleep(0.01)
    path.write_bytes(b"other weights")  # another size and mtime: the memo does not answer for it
    assert file_sha256(path) == hashlib.sha256(b"other weights").hexdigest()


def test_live_switches_take_the_last_prompt_and_any_cut():
    from longroll.pipelines.live import LiveSwitches

    live = LiveSwitches()
    assert live.due(3) == []
    live.ask("a", "cond-a")
    live.ask("b", "cond-b", cut=True)
    live.ask("c", "cond-c")
    (switch,) = live.due(6)
    assert (switch.frame, switch.cond, switch.cut) == (6, "cond-c", True) and live.due(9) == []
    assert live.schedule(8.0) == [{"at_seconds": 0.75, "prompt": "c", "cut": True}]


def test_the_worker_pool_queues_refuses_when_full_and_survives_a_failure():
    from longroll.studio.jobs import QueueFull, StudioJob, WorkerPool

    done, sent, gate = [], [], threading.Event()

    def execute(job):
        gate.wait(10)
        if job.id == "bad":
            raise RuntimeError("broken")
        done.append(job.id)

    pool = WorkerPool(execute, workers=1, max_queue=1)
    jobs = [StudioJob(id=name, plan=None, send=sent.append) for name in ("bad", "b", "c")]
    pool.submit(jobs[0])
    time.sleep(0.2)  # the worker took "bad"
    assert pool.submit(jobs[1]) == 1
    with pytest.raises(QueueFull, match="queue is full"):
        pool.submit(jobs[2])
    gate.set()
    t0 = time.time()
    while done != ["b"] and time.time() - t0 < 10:
        time.sleep(0.05)
    assert done == ["b"] and jobs[0].state == "failed"
    assert any(m.get("type") == "error" and "broken" in m["message"] for m in sent if isinstance(m, dict))
    pool.close()


def test_participative_compression_keeps_the_most_attended_tokens():
    from longroll.cache.compression import participation_scores, top_tokens

    q = torch.zeros(1, 1, 1, 2, 4)
    q[..., 0] = 1.0  # the recent queries look along dimension 0
    k = torch.zeros(1, 1, 1, 6, 4)
    k[..., 3, 0] = 5.0  # candidate token 3 answers them most
    scores = participation_scores(q, k)
    assert scores.shape == (1, 6) and int(scores.argmax()) == 3
    time_ = torch.arange(6)[None]
    kept = top_tokens(scores, time_, torch.zeros(1, 6, dtype=torch.long), 1, 1)
    assert kept.flatten().tolist() == [3]


def test_memory_streams_are_emas_at_their_rates():
    from longroll.cache.memory import MemoryTokens

    mem = MemoryTokens(1, 1, 1, 2, 4, (0.5, 0.25), "frame", device="cpu", dtype=torch.float32)
    assert mem.count == 0
    mem.update(torch.ones(1, 1, 1, 1, 2, 4), torch.ones(1, 1, 1, 1, 2, 4))
    assert mem.count == 4
    first = mem.k[0, 0, 0, :, 0, 0].tolist()
    mem.update(torch.full((1, 1, 1, 1, 2, 4), 3.0), torch.zeros(1, 1, 1, 1, 2, 4))
    long, short = mem.k[0, 0, 0, :, 0, 0].tolist()
    assert long == pytest.approx(0.5 * first[0] + 0.5 * 3.0) and short == pytest.approx(0.75 * first[1] + 0.25 * 3.0)


def test_a_cache_config_refuses_a_sink_that_fills_its_window():
    from longroll.cache.config import CacheConfig

    with pytest.raises(ValueError, match=r"sink = 12 must be smaller than window = 12 \(allowed range \[0, 11\]\)"):
        CacheConfig(window=12, sink=12)
    with pytest.raises(ValueError, match="keys must be cached un-rotated"):
        CacheConfig(positions="relative")


def test_the_papers_values_are_stated_once():
    from longroll import constants as c

    assert (c.FLEX_ALPHA, c.FLEX_BETA, c.FLEX_RHO, c.FLEX_SINK, c.FLEX_TRAIN_LEN) == (0.1, 2.5, -1.0, 3, 21)
    assert (c.SELF_FORCING_TRAIN_LEN, c.SELF_FORCING_CHUNK, c.LONGLIVE_WINDOW, c.LONGLIVE_SINK) == (21, 3, 12, 3)
    assert (c.DEEP_FORCING_SINK, c.DEEP_FORCING_BUDGET, c.DEEP_FORCING_RECENT) == (10, 16, 4)
    assert c.FLEXROPE_LAMBDA == 0.2 and c.ROPE_THETA == 10000.0


def test_the_version_is_the_packages():
    import re

    from longroll.version import __version__

    pyproject = (SRC.parents[1] / "pyproject.toml").read_text()
    assert re.search(r'^version = "([^"]+)"', pyproject, re.M).group(1) == __version__


def test_the_progress_bar_can_be_off(capsys):
    from longroll.progress import progress_bar

    bar = progress_bar(10, desc="x", unit="frame", enabled=False)
    bar.update(5)
    bar.close()
    assert capsys.readouterr().err == ""


def test_the_benchmark_matrix_is_paired_and_its_quick_form_small():
    from longroll.bench.matrix import GROUPS, BenchConfig, variants

    rows = variants(False)
    assert {v.group for v in rows} == set(GROUPS) and len({(v.name, v.group) for v in rows}) == len(rows)
    quick = BenchConfig(out=Path("."), quick=True)
    assert quick.multiples == (1, 4, 8) and quick.cell(8) == (2, 1)
    with pytest.raises(ValueError, match="group must be one of"):
        BenchConfig(out=Path("."), groups=("nope",))


def test_every_override_is_declared_once_and_offered_where_it_acts():
    from longroll.pipelines.overrides import TABLE
    from longroll.pipelines.presets import OVERRIDES, resolve_preset
    from longroll.pipelines.rollouts import SCHEDULES

    assert [o.name for o in TABLE] == list(OVERRIDES) and len(set(OVERRIDES)) == len(OVERRIDES)
    assert set().union(*(s.takes for s in SCHEDULES.values())) == set(OVERRIDES)
    from longroll.models.base import ModelDefaults
    from longroll.sampler import FewStepSchedule

    d = ModelDefaults(train_len=21, chunk_size=3, window=12, sink=3, schedule=FewStepSchedule(),
                      context_timestep=0.0)
    with pytest.raises(ValueError, match="Unknown override"):
        resolve_preset("none", d, nope=1)


def test_a_torchrun_rank_other_than_zero_does_not_report(monkeypatch):
    from longroll.batch.distributed import in_torchrun, reports_here

    monkeypatch.delenv("RANK", raising=False)
    assert reports_here() and not in_torchrun()
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert not reports_here()


def _defines_something(path: Path) -> bool:
    """A module with code of its own (not a package's docstring and re-exports)."""
    tree = ast.parse(path.read_text())
    return any(isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) for n in tree.body) or any(
        isinstance(n, (ast.Assign, ast.AnnAssign)) and not (isinstance(n, ast.Assign) and any(
            getattr(t, "id", "") == "__all__" for t in n.targets)) for n in tree.body)


def test_every_module_is_imported_by_some_test_by_name():
    modules = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if _defines_something(path) and not name.endswith("__main__"):
            modules[name] = path
    imported = set()
    for path in Path(__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("longroll"):
                imported.add(node.module)
                imported.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                imported.update(a.name for a in node.names)
    assert sorted(set(modules) - imported) == []
