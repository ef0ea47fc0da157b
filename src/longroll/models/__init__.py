"""Denoisers: ``tiny`` (the built-in model); real checkpoints are added beside it."""
