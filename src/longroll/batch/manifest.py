"""The batch folder's records: ``manifest.jsonl`` (one line per completed item) and ``batch.json``.

- ``manifest.jsonl`` is append-only. A line is written after the item's file and sidecar are in
  place, so a line means a complete item. Writers on several processes (torchrun ranks) append
  under an exclusive ``flock`` with one ``write`` per line; the last line of an item wins.
- ``batch.json`` holds the batch-wide settings and their hash. A re-run with different settings
  into the same folder is refused unless forced: mixing videos of two settings in one folder
  would silently corrupt a benchmark.
- ``settings_hash`` is the SHA-256 of the canonical JSON of a settings dict.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

MANIFEST = "manifest.jsonl"
BATCH_FILE = "batch.json"


def settings_hash(settings: dict) -> str:
    """SHA-256 (hex, first 16 characters) of ``settings`` as canonical JSON."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def check_out_dir(out: str | Path) -> Path:
    """The output folder, created if missing; a path that is a file is a clear error."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"The output path {str(out)!r} is a file; give a folder (it is created if missing).")
    parent = out.parent if str(out.parent) else Path(".")
    if not out.exists() and not parent.is_dir():
        raise ValueError(f"The parent folder {str(parent)!r} of the output folder does not exist.")
    return out


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``.{name}.lock`` beside ``path`` (a no-op where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path.with_name(f".{path.name}.lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class Manifest:
    """``DIR/manifest.jsonl``: read the completed items, append new ones."""

    def __init__(self, folder: str | Path, name: str = MANIFEST) -> None:
        self.path = Path(folder) / name

    def records(self) -> list[dict]:
        """Every readable line, in order. A torn last line (a crash mid-write) is ignored."""
        if not self.path.exists():
            return []
        out = []
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict) and "key" in record:
                    out.append(record)
        return out

    def latest(self) -> dict[str, dict]:
        """Item key -> its last record."""
        return {r["key"]: r for r in self.records()}

    def append(self, record: dict) -> None:
        """Append one record as one line (atomic with respect to other writers using this class)."""
        line = (json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(self.path):
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)


def check_batch_settings(folder: str | Path, settings: dict, *, force: bool, what: str = "batch") -> str:
    """Compare ``settings`` with the folder's ``batch.json`` (read only); return their hash.

    A folder made with other settings is an error unless ``force``: then the items whose record
    has another settings hash are made again."""
    digest = settings_hash(settings)
    path = Path(folder) / BATCH_FILE
    if not path.exists() or force:
        return digest
    try:
        old = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{str(path)!r} is unreadable ({err}); remove it or pass --force.") from None
    if old.get("settings_hash") != digest:
        changed = sorted(k for k in set(old.get("settings", {})) | set(settings)
                         if old.get("settings", {}).get(k) != settings.get(k))
        raise ValueError(
            f"{str(folder)!r} holds a {what} made with other settings (changed: {', '.join(changed) or 'hash'}); "
            "mixing them would corrupt the results. Use another folder, or pass --force to remake the items "
            "whose settings differ.")
    return digest


def write_batch_settings(folder: str | Path, settings: dict) -> None:
    """Write ``batch.json`` (temporary name, then rename)."""
    from longroll.io.atomic import write_text

    write_text(Path(folder) / BATCH_FILE, json.dumps({"settings_hash": settings_hash(settings), "settings": settings},
                                                     indent=2, sort_keys=True, default=str) + "\n")


__all__ = ["BATCH_FILE", "MANIFEST", "Manifest", "check_batch_settings", "check_out_dir", "settings_hash",
           "write_batch_settings"]
