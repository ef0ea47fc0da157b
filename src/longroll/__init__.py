"""longroll: long video generation far past a model's training horizon, training-free.

Subpackages, top to bottom: ``cli`` -> ``pipelines`` -> ``eval`` -> ``models`` ->
``rope`` / ``noise`` / ``cache`` / ``attention`` (model-agnostic extensions) -> ``world`` -> ``io``.
"""

__version__ = "0.1.0"
