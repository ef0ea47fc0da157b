"""Streaming I/O: atomic file writes (and, in later layers, video writers and readers)."""

from longroll.io.atomic import atomic_output, check_output_path

__all__ = ["atomic_output", "check_output_path"]
