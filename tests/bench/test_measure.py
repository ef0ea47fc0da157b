"""What a benchmark run costs: chunk times inside the stream only, the steady state after the window, memory."""

import time

import numpy as np

from longroll.bench.measure import RunMeter


def _stream(seconds_per_chunk, frames=4):
    for s in seconds_per_chunk:
        time.sleep(s)
        yield np.zeros((frames, 8, 8, 3), np.uint8)


def test_only_time_inside_the_stream_counts_and_the_steady_state_starts_after_the_fill():
    meter = RunMeter("cpu", fill_frames=8)
    for _ in meter.wrap(_stream([0.05, 0.05, 0.01, 0.01, 0.01])):
        time.sleep(0.03)  # the evaluator's time: overhead, not generation
    r = meter.result()
    assert r["chunks"] == 5 and r["frames"] == 20 and r["steady_chunks"] == 3  # chunks starting at frames 8, 12, 16
    assert 0.01 <= r["steady_chunk_seconds"] < 0.03 <= r["first_chunk_seconds"]
    assert 0.13 <= r["generation_seconds"] < 0.2 and r["overhead_seconds"] >= 0.14
    assert abs(r["fps"] - 20 / r["generation_seconds"]) < 1e-9 and r["steady_fps"] > r["fps"]
    assert r["device"] == "cpu" and r["threads"] >= 1


def test_peak_memory_is_the_runs_own_peak_on_linux():
    meter = RunMeter("cpu")

    def big():
        block = np.ones((64, 1024, 1024), np.uint8)  # 64 MiB, touched, then freed before the next chunk
        yield block[:1, :8, :8, None].repeat(3, axis=-1)
        del block

    list(meter.wrap(big()))
    r = meter.result()
    assert r["memory_kind"] == "peak RSS of the run"
    assert r["peak_memory_bytes"] - r["start_memory_bytes"] >= 60 * 2 ** 20
