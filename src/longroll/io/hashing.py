"""One SHA-256 helper for weights and videos: files or folders, memoised by path, size and mtime.

Multi-gigabyte checkpoints are hashed once; a later call with the same files (same sizes and
modification times) reads the digest from ``~/.cache/longroll/sha256.json``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from longroll.io.memo import read_memo, remember

WEIGHT_FILE_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt", ".json")  # what a weights folder's hash covers
MEMO = "sha256.json"  # the memo of digests (io.memo)


def file_sha256(path: Path) -> str:
    """sha256 of a file or of a directory's weight files, memoised by path, size and mtime."""
    files = sorted(p for p in (path.rglob("*") if path.is_dir() else [path])
                   if p.is_file() and p.suffix in WEIGHT_FILE_SUFFIXES)
    stamp = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    key = hashlib.sha256(json.dumps(stamp).encode()).hexdigest()
    memo = read_memo(MEMO)
    if key in memo:
        return memo[key]
    digest = hashlib.sha256()
    for p in files:
        with open(p, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 24), b""):
                digest.update(block)
    remember(MEMO, key, digest.hexdigest())
    return digest.hexdigest()


__all__ = ["file_sha256"]
