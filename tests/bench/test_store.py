"""The run store: one JSONL file per cell, read by key, appended whole or not at all."""

import multiprocessing

import pytest

from longroll.bench.store import RunStore, cell_name


def test_cell_names_are_file_safe_and_lengths_read_as_multiples():
    assert cell_name(16.0, "FLEX w/o sink") == "16x-flex-w-o-sink"
    assert cell_name(120, "alpha 1, beta 0.5") == "120x-alpha-1-beta-0.5"
    assert cell_name(30, "+ sink") == "30x-sink"
    with pytest.raises(ValueError, match="cell = 'a/b' is not a file-safe cell name"):
        RunStore("x").append("a/b", "k", {})


def test_runs_are_found_by_key_in_any_cell_and_a_second_copy_is_ignored(tmp_path):
    store = RunStore(tmp_path)
    store.append("1x-none", "a", {"v": 1})
    store.append("2x-sink", "b", {"v": 2})
    store.append("2x-flex", "a", {"v": 3})  # made twice (two ranks raced): the first one stands
    again = RunStore(tmp_path)
    assert len(again) == 2 and again.get("a") == {"v": 1} and again.get("b") == {"v": 2} and "c" not in again
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1x-none.jsonl", "2x-flex.jsonl", "2x-sink.jsonl"]


def test_a_line_cut_by_a_kill_is_skipped_and_the_next_append_starts_a_new_line(tmp_path):
    store = RunStore(tmp_path)
    store.append("1x-none", "a", {"v": 1})
    with open(tmp_path / "1x-none.jsonl", "a") as f:
        f.write('{"key":"b","run":{"v"')  # the kill came in the middle of a write
    assert RunStore(tmp_path).keys() == {"a"}
    store.append("1x-none", "c", {"v": 3})
    again = RunStore(tmp_path)
    assert again.keys() == {"a", "c"} and again.get("c") == {"v": 3}
    assert (tmp_path / "1x-none.jsonl").read_text().count("\n") == 3  # the cut line closed, never parsed


def _append_many(folder, start):
    store = RunStore(folder)
    for i in range(start, start + 50):
        store.append("1x-none", f"k{i}", {"payload": "x" * 5000, "i": i})


def test_processes_appending_at_once_never_interleave_lines(tmp_path):
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(tmp_path, s)) for s in (0, 50, 100)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    store = RunStore(tmp_path)
    assert len(store) == 150 and all(store.get(f"k{i}")["i"] == i for i in range(150))


def test_refresh_sees_what_other_processes_appended(tmp_path):
    reader = RunStore(tmp_path)
    assert len(reader) == 0
    RunStore(tmp_path).append("1x-none", "a", {})
    assert "a" not in reader
    reader.refresh()
    assert "a" in reader
