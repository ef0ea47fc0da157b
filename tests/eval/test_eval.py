"""Evaluation: every metric on synthetic videos with known answers, segments, JSON, bad input."""

import json
from pathlib import Path

import numpy as np
import pytest

from longroll.cli import main
from longroll.eval import metrics as M
from longroll.eval.evaluate import _segments, evaluate_frames
from longroll.io.video import VideoWriter
from longroll.world import render, scene_from_prompt


def _frozen(n=32, size=64, seed=0):
    frame = (np.random.default_rng(seed).random((size, size, 3)) * 255).astype(np.uint8)
    return np.repeat(frame[None], n, axis=0)


def _sliding_wave(n=32, size=64, speed=3.0, wavelength=40.0):
    """A smooth pattern translating at constant speed (pixels per frame)."""
    x = np.arange(size)[None, :]
    y = np.arange(size)[:, None]
    frames = []
    for t in range(n):
        v = 127 + 100 * np.sin(2 * np.pi * (x - speed * t) / wavelength) * np.cos(2 * np.pi * y / 64)
        frames.append(np.repeat(v[..., None], 3, axis=-1))
    return np.clip(np.stack(frames), 0, 255).astype(np.uint8)


def test_flicker_is_vbench_formula_by_hand():
    a = np.zeros((4, 4, 3), np.uint8)
    b = np.full((4, 4, 3), 51, np.uint8)
    frames = np.stack([a, b, a])
    assert M.temporal_flickering(frames) == pytest.approx((255 - 51) / 255)
    assert M.temporal_flickering(_frozen()) == 1.0


def test_frozen_video_is_static():
    frames = _frozen()
    assert M.dynamic_degree(frames, 8) == 0.0
    assert M.static_fraction(frames, 8) == 1.0
    assert M.motion_smoothness(frames) == 1.0
    assert M.ssim(frames[0], frames[-1]) == pytest.approx(1.0)


def test_constant_speed_motion_is_dynamic_and_smooth():
    frames = _sliding_wave()
    mags = M.flow_magnitudes(frames, 8)
    assert np.median(mags) == pytest.approx(3.0, rel=0.35)  # Farneback recovers the speed
    assert M.dynamic_degree(frames, 8) == 1.0 and M.static_fraction(frames, 8) == 0.0
    smooth = M.motion_smoothness(frames)
    assert smooth > 0.98
    jittery = frames[np.random.default_rng(0).permutation(len(frames))]
    assert M.motion_smoothness(jittery) < smooth - 0.05


def test_fading_colour_has_negative_saturation_drift():
    frames = []
    for t in range(48):
        s = 1 - t / 48
        frames.append(np.full((32, 32, 3), [200, 200 * (1 - s), 200 * (1 - s)], np.float32))
    result = evaluate_frames(np.stack(frames).astype(np.uint8), 8, segment_seconds=2)
    assert result["drift"]["saturation_drift"] < -0.5
    sats = [s["saturation"] for s in result["segments"]]
    assert sats == sorted(sats, reverse=True)


def test_object_disappearing_halfway_reads_one_then_zero():
    prompt = "a red circle on a navy background"
    frames = render(scene_from_prompt(prompt, seed=2), 0, 32)
    frames[16:] = frames[16:, :1, :1]  # background colour everywhere
    result = evaluate_frames(frames, 8, segment_seconds=2, prompt=prompt)
    presence = [s["object_presence"] for s in result["segments"]]
    assert presence == [1.0, 0.0]
    assert result["drift"]["object_presence"] == -1.0
    assert result["segments"][1]["background_drift"] < 5


def test_world_metrics_accept_upscaled_frames_and_see_identity_drift():
    prompt = "a red circle on a navy background"
    frames = render(scene_from_prompt(prompt, seed=3), 0, 32)
    recoloured = frames.copy()
    red = np.all(recoloured[16:] == [230, 40, 40], axis=-1)
    recoloured[16:][red] = [200, 70, 70]  # still red to the detector, but drifted
    big = recoloured.repeat(4, axis=1).repeat(4, axis=2)
    result = evaluate_frames(big, 8, segment_seconds=2, prompt=prompt)
    assert result["segments"][1]["identity_colour_drift"] > 20
    assert abs(result["segments"][1]["identity_size_drift"]) < 0.2


def test_segments_cover_the_edges():
    frames = [np.full((8, 8, 3), i, np.uint8) for i in range(40)]
    segs = [(start, s[:, 0, 0, 0].tolist()) for start, s in _segments(frames, 16)]
    assert [s for s, _ in segs] == [0, 16, 24]
    assert segs[2][1] == list(range(24, 40))  # the last partial clip is extended backwards
    assert len(list(_segments(frames[:32], 16))) == 2


def test_json_format_from_the_cli(tmp_path: Path):
    video = tmp_path / "v.mp4"
    with VideoWriter(video, 8, upscale=2) as w:
        w.write(render(scene_from_prompt("two yellow triangles on a black background", seed=1), 0, 40))
    out = tmp_path / "r.json"
    plot = tmp_path / "r.png"
    assert main(["eval", str(video), "--prompt", "two yellow triangles on a black background", "--json", str(out),
                 "--plot", str(plot)]) == 0
    r = json.loads(out.read_text())
    assert r["fps"] == 8 and r["frames"] == 40 and len(r["segments"]) == 3
    for key in ("temporal_flickering", "dynamic_degree", "motion_smoothness", "first_frame_consistency",
                "previous_frame_consistency", "saturation_drift", "static_fraction", "object_presence",
                "identity_colour_drift", "identity_size_drift", "background_drift", "motion_energy"):
        assert key in r["metrics"] and key in r["drift"] and key in r["segments"][0]
    assert r["segments"][0]["start_s"] == 0 and r["segments"][-1]["end_s"] == 5.0
    assert r["metrics"]["object_presence"] > 0.8
    assert plot.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("make,message", [
    (lambda p: None, "does not exist"),
    (lambda p: p.write_bytes(b""), "is empty"),
    (lambda p: p.write_text("not a video at all"), "not a readable video"),
])
def test_bad_videos_are_clear_errors_and_leave_no_json(tmp_path: Path, capsys, make, message):
    video = tmp_path / "bad.mp4"
    make(video)
    out = tmp_path / "r.json"
    assert main(["eval", str(video), "--json", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_truncated_and_short_videos(tmp_path: Path, capsys):
    video = tmp_path / "v.gif"
    with VideoWriter(video, 8) as w:
        w.write(render(scene_from_prompt("a red circle", seed=1), 0, 40))
    truncated = tmp_path / "t.gif"
    truncated.write_bytes(video.read_bytes()[:200])
    out = tmp_path / "r.json"
    assert main(["eval", str(truncated), "--json", str(out)]) == 2
    assert not out.exists()
    assert main(["eval", str(video), "--segment", "6s", "--json", str(out)]) == 2
    assert "fewer than 2 segments" in capsys.readouterr().err
    assert main(["eval", str(video), "--prompt", "a red dragon", "--json", str(out)]) == 2
    assert "unknown shape 'dragon'" in capsys.readouterr().err
    assert not out.exists()


def test_too_short_videos_and_empty_folders_say_what_was_found(tmp_path, capsys):
    from longroll.cli import main
    from longroll.io.video import VideoWriter

    gif = tmp_path / "short.gif"
    with VideoWriter(gif, 8.0) as w:
        w.write(np.zeros((16, 16, 16, 3), np.uint8))
    assert main(["eval", str(gif), "--json", str(tmp_path / "e.json")]) == 2
    assert "has 16 frames" in capsys.readouterr().err and not (tmp_path / "e.json").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["eval", str(empty), "--json", str(tmp_path / "e.json")]) == 2
    assert "has no videos" in capsys.readouterr().err
