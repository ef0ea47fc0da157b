"""Atomic output files: write to a temporary name in the same folder, rename when complete.

A failed or interrupted write never leaves a half-written file under the final name, and never
clobbers a previous complete file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


def check_output_path(path: str | Path, *, folder_output: bool = False) -> Path:
    """Validate that ``path`` can be created: its folder exists and is writable, and it is not a folder
    (unless the output is itself a folder, ``folder_output``)."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"The output folder {str(folder)!r} does not exist; create it first.")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"The output folder {str(folder)!r} is not writable.")
    if path.is_dir() and not folder_output:
        raise ValueError(f"The output path {str(path)!r} is a folder; give a file name.")
    return path


@contextlib.contextmanager
def atomic_output(path: str | Path, *, keep_partial: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` when the block succeeds.

    On an exception the temporary file is removed, unless ``keep_partial`` is set, in which case it
    is renamed to the final name as well (for streams whose prefix is useful, e.g. a video cut short).
    The temporary name keeps the suffix so that format-sniffing writers still work.
    """
    path = check_output_path(path)
    tmp = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
    try:
        yield tmp
    except BaseException:
        if keep_partial and tmp.exists() and tmp.stat().st_size > 0:
            os.replace(tmp, path)
        else:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        raise
    os.replace(tmp, path)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (the old file stays whole until the new one is complete)."""
    with atomic_output(path) as tmp:
        Path(tmp).write_text(text)
    return Path(path)


def write_json(path: str | Path, data, *, compact: bool = False) -> Path:
    """``data`` as JSON, atomically: indented, or on one line without spaces when ``compact``."""
    import json

    if compact:
        return write_text(path, json.dumps(data, separators=(",", ":"), allow_nan=False) + "\n")
    return write_text(path, json.dumps(data, indent=2, allow_nan=False) + "\n")
