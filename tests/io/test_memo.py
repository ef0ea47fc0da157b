"""JSON memos in the user's cache: kept across processes, and never a reason for a run to fail."""

from longroll.io.memo import cache_folder, read_memo, remember


def test_a_value_remembered_is_read_back_and_a_damaged_memo_is_empty(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_folder() == tmp_path / "longroll" and read_memo("m.json") == {}
    remember("m.json", "a", 0.25)
    remember("m.json", "b", [1, 2])
    assert read_memo("m.json") == {"a": 0.25, "b": [1, 2]}
    (tmp_path / "longroll" / "m.json").write_text("{cut")
    assert read_memo("m.json") == {}


def test_a_cache_folder_that_cannot_be_made_only_costs_the_memo(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))  # a file where the folder would go
    remember("m.json", "a", 1)
    assert read_memo("m.json") == {}
