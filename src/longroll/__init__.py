"""longroll: long video generation far past a model's training horizon, training-free.

Subpackages, top to bottom (imports point downward only; see ARCHITECTURE.md, checked by
tests/test_layering.py): ``cli`` / ``studio`` -> ``bench`` / ``batch`` / ``reports`` -> ``pipelines``
-> ``eval`` -> ``models`` -> ``rope`` / ``noise`` / ``cache`` / ``attention`` / ``sampler``
(model-agnostic extensions) -> ``world`` -> ``io``.
"""

from longroll.version import __version__ as __version__


def __getattr__(name: str):
    # The public API is imported lazily so that `import longroll` stays free of work.
    if name in ("generate", "replay", "generate_request", "GenerationRequest", "resolve", "run"):
        from longroll.pipelines import generate as _generate

        return getattr(_generate, name)
    raise AttributeError(f"module 'longroll' has no attribute {name!r}")
