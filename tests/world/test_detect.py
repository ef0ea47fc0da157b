"""The world's detector cannot be fooled by a blob: shapes, sizes, occlusion over time, separation."""

import numpy as np
import pytest

from longroll.world import (
    BACKGROUNDS,
    COLOURS,
    detect,
    parse_prompt,
    presence,
    random_prompt,
    render,
    scene_from_prompt,
)
from longroll.world.detect import COLOUR_MATCH
from longroll.world.render import shape_mask
from longroll.world.tracks import ground_truth_touching, object_motion, separation, track

pytest.importorskip("cv2")
R = 32
PROMPT = parse_prompt("a red circle and a blue square on a navy background")


def _coverage(shape, cx, cy, size, ss=4):
    xs = (np.arange(R * ss) + 0.5) / ss
    gx, gy = np.meshgrid(xs, xs)
    return shape_mask(shape, np.array([cx]), np.array([cy]), size, gx, gy)[0].reshape(R, ss, R, ss).mean(axis=(1, 3))


def _paint(layers, background="navy"):
    img = np.tile(np.asarray(BACKGROUNDS[background], float), (R, R, 1))
    for colour, alpha in layers:
        rgb = np.asarray(COLOURS[colour], float) if isinstance(colour, str) else np.asarray(colour, float)
        img = img * (1 - alpha[..., None]) + rgb * alpha[..., None]
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def _blur(frame, sigma):
    import cv2

    return cv2.GaussianBlur(frame, (0, 0), sigma)


def _fused_frames():
    """Hand-made frames of a red circle and a blue square fused into one shape."""
    top = (np.arange(R)[:, None] < 16).astype(float)
    cap_rows = (np.arange(R)[:, None] < 12).astype(float)
    disc = _coverage("circle", 16, 16, 12)
    a, b = _coverage("circle", 14, 16, 11), _coverage("square", 18, 16, 11)
    mixed = _paint([("red", a), ("blue", b)]).astype(float)
    mixed[(a > 0) & (b > 0)] = (np.asarray(COLOURS["red"]) + np.asarray(COLOURS["blue"])) / 2
    return {
        "one disc, half red half blue": _paint([("red", disc * top), ("blue", disc * (1 - top))]),
        "overlap with mixed colours": np.clip(mixed, 0, 255).astype(np.uint8),
        "two small discs blurred into a blob": _blur(_paint([("red", _coverage("circle", 15, 15, 9)),
                                                            ("blue", _coverage("circle", 17, 17, 9))]), 1.2),
        "a red cap on a blob body": _blur(_paint([("red", _coverage("circle", 16, 12, 10) * cap_rows),
                                                  ("blue", _coverage("circle", 16, 19, 13) * 0.9)]), 1.0),
    }


@pytest.mark.parametrize("name", list(_fused_frames()))
def test_a_fused_two_colour_blob_counts_for_neither_object(name):
    frame = _fused_frames()[name]
    det = detect(frame, PROMPT)
    assert det.presence == 0, (name, det.found)


def test_a_whole_sprite_in_front_of_a_cap_that_never_separates_counts_once():
    """One frame cannot tell a cap from a sprite behind a square; 32 frames of it can."""
    cap = _coverage("circle", 16, 11, 11) * (np.arange(R)[:, None] < 12)
    frame = _paint([("red", cap), ("blue", _coverage("square", 16, 17, 11))])
    single = detect(frame, PROMPT)
    assert single.found[1] is not None and single.found[1].whole and single.found[0] is not None  # looks hidden
    assert not single.found[0].whole
    video = np.stack([frame] * 32)
    assert presence(video, PROMPT).mean() == 0.5  # the cap is never seen whole: one object at most
    assert separation([detect(f, PROMPT) for f in video], PROMPT) > 1.5


def test_objects_apart_are_found_with_their_shapes_and_do_not_touch():
    frame = _paint([("red", _coverage("circle", 8, 8, 11)), ("blue", _coverage("square", 22, 22, 11))])
    det = detect(frame, PROMPT)
    assert [b.shape for b in det.found] == ["circle", "square"] and all(b.whole for b in det.found)
    assert not det.touching
    assert all(b.faithful_colour for b in det.found)


def test_wrong_shape_or_wrong_size_is_not_found():
    square = _paint([("red", _coverage("square", 16, 16, 11))])
    assert detect(square, parse_prompt("a red circle on a navy background")).presence == 0
    giant = _paint([("red", _coverage("circle", 16, 16, 24))])
    tiny = _paint([("red", _coverage("circle", 16, 16, 5))])
    for frame in (giant, tiny):
        assert detect(frame, parse_prompt("a red circle on a navy background")).presence == 0


def test_a_washed_out_colour_is_found_but_not_faithful():
    pale = (np.asarray(COLOURS["red"]) * 0.75 + np.asarray(BACKGROUNDS["navy"]) * 0.25)  # 55 RGB away from red
    det = detect(_paint([(pale, _coverage("circle", 16, 16, 11))]), parse_prompt("a red circle on a navy background"))
    assert det.found[0] is not None and det.found[0].colour_error > COLOUR_MATCH
    assert not det.found[0].faithful_colour


def test_rendered_videos_score_as_the_ground_truth():
    """The world's own videos: objects found (misses are sprites hidden for long), faithful colours,
    separation 1 by construction, and motion in the world's speed range."""
    rng = np.random.default_rng(0)
    shares, faithful, ratios, speeds = [], [], [], []
    for i in range(24):
        p = random_prompt(rng)
        scene = scene_from_prompt(p, 500 + i)
        frames = render(scene, int(rng.integers(0, 300)), 48)
        dets = [detect(f, p) for f in frames]
        tracked = track(dets)
        shares.append(np.mean([sum(b is not None for b in row) / len(row) for row in tracked]))
        faithful += [b.faithful_colour for row in tracked for b in row if b is not None]
        if len(p.objects) > 1:
            ratios.append(np.mean([d.touching for d in dets]) / ground_truth_touching(p))
        speeds += [m for m in object_motion(tracked) if m is not None]
    assert np.mean(shares) >= 0.93
    assert np.mean(faithful) >= 0.99
    assert 0.5 < np.mean(ratios) < 1.5
    assert 0.3 < np.median(speeds) < 1.5


@pytest.mark.parametrize("one_convolution", [True, False], ids=["torch convolution", "opencv per template"])
def test_template_correlation_counts_every_placement_that_touches_the_sprite(one_convolution, monkeypatch):
    """The detector correlates templates only around a sprite, every size at once: at every placement
    that overlaps it, each template's counts equal a direct sum over the whole (zero-padded) frame,
    and the placement maps back to frame coordinates; both ways of correlating give the same counts."""
    import importlib

    detect = importlib.import_module("longroll.world.detect")
    from longroll.world.detect import _Bank, _Frame

    monkeypatch.setattr(detect, "_one_convolution", lambda: one_convolution)

    rng = np.random.default_rng(3)
    mask = np.zeros((R, R), dtype=bool)
    mask[2:11, 20:31] = rng.random((9, 11)) < 0.7  # near the frame's edge: placements hang outside
    other = rng.random((R, R)) < 0.3
    bank = _Bank([("triangle", 12.0), ("circle", 8.4), ("square", 14.9)])  # k = 15, 12, 18
    assert [m.shape[1] for m in bank.masks] == [15, 12, 18] and bank.k == 18
    frame = _Frame(mask, other)
    rows, cols = np.nonzero(mask)
    for masks, counts, (visible, inside) in zip(bank.masks, bank.counts, frame.correlate(bank)):
        k = masks.shape[1]
        assert visible.shape == inside.shape and visible.shape[0] == len(masks) == len(counts) == 16
        padded_mask, padded_other = np.pad(mask, k), np.pad(other, k)
        for t in (0, 5, 15):
            for i in range(visible.shape[1]):
                for j in range(visible.shape[2]):
                    top, left = frame.top_left(k, i, j)
                    window = (slice(top + k, top + 2 * k), slice(left + k, left + 2 * k))
                    assert visible[t, i, j] == (padded_mask[window] & masks[t]).sum()
                    assert inside[t, i, j] == (padded_other[window] & masks[t]).sum()
        # Placements outside the cut do not touch the sprite: the cut is the box grown by k - 1 each way.
        assert frame.top_left(k, 0, 0) == (rows.min() - k + 1, cols.min() - k + 1)
        assert visible.shape[1:] == (rows.max() - rows.min() + k, cols.max() - cols.min() + k)
    # All at once: past a smaller template's own output the counts are zero (off the sprite).
    whole = frame.correlate(bank, split=False)
    assert whole.shape == (2, 48, rows.max() - rows.min() + 18, cols.max() - cols.min() + 18)
    assert np.array_equal(whole[:, :16, :rows.max() - rows.min() + 15, :cols.max() - cols.min() + 15],
                          frame.correlate(bank)[0])
    assert not whole[0, :16, rows.max() - rows.min() + 15:].any()
    from longroll.world.detect import fit_inside, fit_whole

    empty = np.zeros((R, R), dtype=bool)  # nothing to fit: no shape, no template
    assert fit_whole(empty)[1] == 0.0 and fit_inside(empty, "circle", other)[0] is None


def test_the_ground_truth_touching_rate_is_kept_on_disk_keyed_by_the_worlds_code(tmp_path, monkeypatch):
    import json

    import longroll.world.tracks as tracks

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(tracks, "TRUTH_SCENES", 2)  # a smaller truth: the memo is what is tested
    monkeypatch.setattr(tracks, "TRUTH_FRAMES", 12)
    prompt = parse_prompt("a red circle and a blue square on a navy background")
    tracks.ground_truth_touching.cache_clear()
    first = tracks.ground_truth_touching(prompt)
    memo = json.loads((tmp_path / "longroll" / "world_truth.json").read_text())
    assert list(memo.values()) == [first] and tracks._code_hash() in next(iter(memo))
    calls = []
    monkeypatch.setattr(tracks, "detect", lambda *a: calls.append(1) or pytest.fail("computed again"))
    tracks.ground_truth_touching.cache_clear()
    assert tracks.ground_truth_touching(prompt) == first and not calls  # read back, bit for bit
    monkeypatch.setattr(tracks, "_code_hash", lambda: "changed")
    tracks.ground_truth_touching.cache_clear()
    with pytest.raises(pytest.fail.Exception):
        tracks.ground_truth_touching(prompt)  # other code: computed again
    tracks.ground_truth_touching.cache_clear()


def test_detect_recent_answers_as_detect_and_remembers_recent_frames():
    from longroll.world.detect import _detect_bytes, detect_recent

    prompt = parse_prompt("two blue squares on a black background")
    frames = render(scene_from_prompt(prompt, 2), 0, 3)
    _detect_bytes.cache_clear()
    assert [detect_recent(f, prompt) for f in frames] == [detect(f, prompt) for f in frames]
    assert detect_recent(frames[1].copy(), prompt) == detect(frames[1], prompt)
    assert _detect_bytes.cache_info().hits == 1
