"""The version of longroll (one place: the package, its sidecars and --version read it)."""

__version__ = "0.1.0"
