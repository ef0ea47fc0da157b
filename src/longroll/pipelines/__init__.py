"""Ways to roll a video out: chunk-wise autoregressive (``rollout``), presets, and the public API."""
