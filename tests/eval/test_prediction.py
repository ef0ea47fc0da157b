"""Prediction against a true continuation: PSNR / SSIM per segment, and the world's exact trajectories."""

import numpy as np
import pytest

from longroll.eval.prediction import PSNR_CAP, PredictionScore, psnr
from longroll.eval.trajectory import TrajectoryError, true_centroids
from longroll.world.render import render
from longroll.world.scene import scene_from_prompt


def _shift(frames, dx, background):
    """Frames moved ``dx`` pixels right, the uncovered columns filled with the background."""
    out = np.empty_like(frames)
    out[:] = np.asarray(background, np.uint8)
    out[:, :, dx:] = frames[:, :, :frames.shape[2] - dx]
    return out


def test_psnr_is_capped_on_identical_frames_and_falls_as_a_shift_grows():
    scene = scene_from_prompt("a red circle and a blue square on a black background", 1)
    frames = render(scene, 0, 12)
    score = PredictionScore(lambda s, n: frames[s:s + n], segment_frames=5, fps=8)
    score.add(frames[:7])
    score.add(frames[7:])
    r = score.result()
    assert r["metrics"]["psnr"] == PSNR_CAP and r["metrics"]["ssim"] == pytest.approx(1.0)
    assert [s["end_frame"] - s["start_frame"] for s in r["segments"]] == [5, 5, 2] and r["frames_compared"] == 12
    values = [np.mean([psnr(a, b) for a, b in zip(_shift(frames, dx, scene.background_rgb), frames)])
              for dx in (1, 2, 4, 8)]
    assert all(a > b for a, b in zip(values, values[1:])) and values[0] < PSNR_CAP
    assert psnr(np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 255, np.uint8)) == 0.0
    with pytest.raises(ValueError, match="cannot be compared"):
        psnr(frames[0], frames[0, :8])


def test_frames_past_the_end_of_the_truth_are_not_compared():
    frames = np.zeros((10, 8, 8, 3), np.uint8)
    score = PredictionScore(lambda s, n: frames[4:][s:s + n], segment_frames=4, fps=8)
    score.add(frames)
    r = score.result()
    assert r["frames_compared"] == 6 and r["frames_predicted"] == 10


@pytest.mark.parametrize("prompt", ["a red circle on a black background",
                                    "a green triangle and a blue square on a navy background",
                                    "two yellow triangles on a black background"])
def test_trajectory_error_is_near_zero_on_rendered_frames_and_the_offset_on_shifted_ones(prompt):
    scene = scene_from_prompt(prompt, 3)
    frames = render(scene, 10, 32)
    exact = TrajectoryError(scene, 10, segment_frames=16, fps=8)
    exact.add(frames)
    r = exact.result()
    assert r["metrics"]["centre_error"] < 0.4 and r["time_to_drift_s"] is None  # the detector's pixel precision
    moved = TrajectoryError(scene, 10, segment_frames=16, fps=8)
    moved.add(_shift(frames, 3, scene.background_rgb))
    assert moved.result()["metrics"]["centre_error"] == pytest.approx(3.0, abs=0.4)
    far = TrajectoryError(scene, 10 + 40, segment_frames=16, fps=8)  # compared with the path 5 s later
    far.add(frames)
    assert far.result()["metrics"]["on_track"] < r["metrics"]["on_track"]


def test_a_triangles_centroid_lies_a_sixth_of_its_side_below_its_box_centre():
    scene = scene_from_prompt("a green triangle on a black background", 0)
    sprite = scene.sprites[0]
    box = sprite.centre(np.array([0.0]))
    assert true_centroids(scene, np.array([0.0]))[0, 0, 1] == pytest.approx(box[0, 1] + sprite.size / 6)
