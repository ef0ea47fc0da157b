"""A last partial clip counts as a segment only from half a segment on: a 17-frame video at 2 s segments is
one segment and a frame, not two nearly identical segments with a drift between them."""

import numpy as np
import pytest

from longroll.eval.evaluate import evaluate_frames


def _frames(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (16, 16, 3), dtype=np.uint8) for _ in range(n)]


def test_a_one_frame_tail_is_not_a_segment():
    with pytest.raises(ValueError, match=r"17 frames, fewer than 2 segments of 16 frames \(2 s at 8 fps; a last "
                                         r"part counts from 8 frames\); use a shorter --segment \(at most 1 s"):
        evaluate_frames(_frames(17), 8.0, segment_seconds=2.0)
    one = evaluate_frames(_frames(17), 8.0, segment_seconds=2.0, min_segments=1)
    assert [(s["start_frame"], s["end_frame"]) for s in one["segments"]] == [(0, 16)]
    assert one["frames_left_out"] == 1


def test_a_tail_of_half_a_segment_is_extended_backwards():
    result = evaluate_frames(_frames(24), 8.0, segment_seconds=2.0)
    assert [(s["start_frame"], s["end_frame"]) for s in result["segments"]] == [(0, 16), (8, 24)]
    assert result["frames_left_out"] == 0


def test_the_benchmark_protocol_counts_every_tail():
    result = evaluate_frames(_frames(17), 8.0, segment_seconds=2.0, min_tail=0.0)
    assert [(s["start_frame"], s["end_frame"]) for s in result["segments"]] == [(0, 16), (1, 17)]


def test_world_metrics_find_every_object_of_a_rendered_scene():
    from longroll.eval.world_metrics import WorldTrack
    from longroll.world import parse_prompt, render
    from longroll.world.scene import scene_from_prompt

    prompt = "a red circle and a blue square on a navy background"
    frames = render(scene_from_prompt(prompt, seed=2), 0, 16)
    track = WorldTrack(parse_prompt(prompt))
    track.add(0, frames)
    (row,) = track.segments([(0, 16)])
    assert row["object_presence"] > 0.9 and row["colour_fidelity"] > 0.9  # sprites may cross one another


def test_curves_over_time_are_drawn(tmp_path):
    pytest.importorskip("matplotlib")
    from longroll.eval.plots import plot_over_time

    rows = [{"start_s": s - 2, "end_s": s, "temporal_flickering": 0.9 + 0.01 * s} for s in (2, 4, 6)]
    plot_over_time({"flex": rows, "none": rows}, ["temporal_flickering"], tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
