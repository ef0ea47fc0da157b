"""The horizon benchmark: it drives the pipelines (many requests) and the evaluator, so it sits
above both (``longroll.bench.horizon`` runs the matrix, ``longroll.bench.report`` writes it up)."""
