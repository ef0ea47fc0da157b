"""Small JSON memos in the user's cache folder (``$XDG_CACHE_HOME/longroll``, ``~/.cache/longroll``).

Values that are slow to compute and fixed by their key (a weights file's hash, the world's
ground-truth rates) are kept across processes in one JSON object per memo. Writes are atomic (the
last writer wins; a value lost to a race is computed again); a missing, unreadable or read-only
cache only costs the memo, never the run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def cache_folder() -> Path:
    """longroll's folder in the user's cache."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "longroll"


def read_memo(name: str) -> dict:
    """The memo ``name`` (``cache_folder() / name``), or an empty one."""
    try:
        return json.loads((cache_folder() / name).read_text())
    except (OSError, ValueError):
        return {}


def remember(name: str, key: str, value) -> None:
    """Add ``key: value`` to the memo ``name`` (atomically; errors of the cache folder are ignored)."""
    from longroll.io.atomic import write_text

    memo = read_memo(name)
    memo[key] = value
    try:
        cache_folder().mkdir(parents=True, exist_ok=True)
        write_text(cache_folder() / name, json.dumps(memo))
    except OSError:
        pass


__all__ = ["cache_folder", "read_memo", "remember"]
