"""longroll: long video generation far past a model's training horizon, training-free.

Subpackages, top to bottom (imports point downward only; see ARCHITECTURE.md): ``cli`` ->
``bench`` / ``batch`` -> ``pipelines`` -> ``eval`` -> ``models`` -> ``rope`` / ``noise`` /
``cache`` / ``attention`` (model-agnostic extensions) -> ``world`` -> ``io``.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    # The public API is imported lazily so that `import longroll` stays free of work.
    if name in ("generate", "replay", "generate_request", "GenerationRequest", "resolve", "run"):
        from longroll.pipelines import generate as _generate

        return getattr(_generate, name)
    raise AttributeError(f"module 'longroll' has no attribute {name!r}")
