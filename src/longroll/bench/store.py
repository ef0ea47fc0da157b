"""The benchmarks' run store: every video's result as one line of an appendable JSONL file per cell.

A benchmark makes thousands of videos; one file per video (what ``bench/horizon/runs`` held before,
7,520 files) makes the repository's tree a list of hashes. Here a cell (a row of the matrix at one
length) is one file, ``DIR/<cell>.jsonl``, and each line is one run: ``{"key": KEY, "run": {...}}``,
where ``KEY`` is the run's cache key (its fully resolved settings and the weights' hash). Which file a
run is in does not matter for finding it: the store reads every file and indexes runs by key, so a
run shared by two rows is stored once, wherever it was made first.

Writes are appends made whole or not at all, from any number of processes (torchrun ranks append to
the same files): each line is written with one ``write`` under an exclusive ``flock`` and flushed to
disk before the lock is released, and a line cut by a kill (no final newline) is ignored when read and
closed by the next append, so a killed run leaves every finished run readable and its own unmade.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIX = ".jsonl"


def cell_name(*parts: object) -> str:
    """A file-safe cell name from its parts (``("flex w/o sink", 16.0)`` -> ``"16x-flex-w-o-sink"``): numbers
    as lengths (``16x``), text lowercased with every run of other characters as one ``-``."""
    out = []
    for part in parts:
        if isinstance(part, (int, float)) and not isinstance(part, bool):
            out.append(f"{part:g}x")
        else:
            out.append(re.sub(r"[^a-z0-9.]+", "-", str(part).lower()).strip("-.") or "row")
    return "-".join(out)


class RunStore:
    """The runs of one benchmark folder (``DIR/*.jsonl``), indexed by key; read once, appended to."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._runs: dict[str, dict] | None = None

    def _load(self) -> dict[str, dict]:
        if self._runs is None:
            self._runs = {}
            for path in sorted(self.folder.glob(f"*{SUFFIX}")) if self.folder.is_dir() else []:
                for key, run in _read(path):
                    self._runs.setdefault(key, run)  # a run made twice (two ranks raced): the first one
        return self._runs

    def refresh(self) -> None:
        """Forget what was read (other processes may have appended since)."""
        self._runs = None

    def __contains__(self, key: str) -> bool:
        return key in self._load()

    def __len__(self) -> int:
        return len(self._load())

    def get(self, key: str) -> dict | None:
        return self._load().get(key)

    def keys(self) -> set[str]:
        return set(self._load())

    def append(self, cell: str, key: str, run: dict) -> None:
        """Add one run to the cell's file: one whole line, or nothing (see the module docstring)."""
        import fcntl

        if not re.fullmatch(r"[a-z0-9][a-z0-9.\-]*", cell):
            raise ValueError(f"cell = {cell!r} is not a file-safe cell name (use bench.store.cell_name).")
        line = json.dumps({"key": key, "run": run}, separators=(",", ":"), allow_nan=False) + "\n"
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / f"{cell}{SUFFIX}", os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":  # a line cut by a kill: close it, it stays unread
                line = "\n" + line
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)  # closing releases the lock
        if self._runs is not None:
            self._runs.setdefault(key, run)


def _read(path: Path) -> Iterator[tuple[str, dict]]:
    """(key, run) of every whole line of one cell file; a cut or unreadable line is skipped (and logged)."""
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.endswith("\n"):
                log.info("%s: line %d was cut short (a killed run); its run is made again", path, number)
                continue
            try:
                entry = json.loads(line)
                yield entry["key"], entry["run"]
            except (ValueError, KeyError, TypeError):
                if line.strip():
                    log.warning("%s: line %d is not a run; skipped", path, number)


__all__ = ["RunStore", "cell_name"]
