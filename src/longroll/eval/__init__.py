"""Measuring a long video: weight-free metrics per segment, world-aware metrics, drift, reports."""
