"""The built-in world: prompt parsing, deterministic rendering, the detector, training clips."""

import numpy as np
import pytest

from longroll.cli import main
from longroll.world import (
    BACKGROUNDS,
    COLOURS,
    SHAPES,
    ObjectSpec,
    Prompt,
    PromptError,
    detect,
    parse_prompt,
    presence,
    random_prompt,
    render,
    scene_from_prompt,
)
from longroll.world.dataset import make_clips


def test_prompts_parse_to_scenes():
    p = parse_prompt("a red circle and a blue square on a dark green background")
    assert p.objects == (ObjectSpec("red", "circle"), ObjectSpec("blue", "square"))
    assert p.background == "dark green"
    p = parse_prompt("Two yellow triangles on a black background.")
    assert p.objects == (ObjectSpec("yellow", "triangle"),) * 2 and p.background == "black"
    p = parse_prompt("one white square, a cyan circle and an orange triangle on a navy background")
    assert [o.colour for o in p.objects] == ["white", "cyan", "orange"]
    assert parse_prompt("three purple circles").background == "black"


def test_vocabulary_covers_the_issue():
    assert {"red", "green", "blue", "yellow", "purple", "orange", "white", "cyan"} <= set(COLOURS)
    assert set(SHAPES) == {"circle", "square", "triangle"}
    assert {"black", "gray", "navy", "dark green"} <= set(BACKGROUNDS)


@pytest.mark.parametrize("prompt,word", [
    ("a magenta circle on a black background", "magenta"),
    ("a red hexagon on a black background", "hexagon"),
    ("a red circle on a pink background", "pink"),
    ("four red circles on a black background", "four"),
    ("two red circle on a black background", "singular and plural"),
    ("two red circles and two blue squares", "4 objects"),
    ("", "empty"),
    ("red circle", "not '<count> <colour> <shape>'"),
])
def test_bad_prompts_name_the_word_and_list_the_vocabulary(prompt, word):
    with pytest.raises(PromptError, match="Vocabulary: counts: a, an, one") as err:
        parse_prompt(prompt)
    assert word in str(err.value)


def test_the_vocabulary_words_make_up_every_prompt():
    """What the studio offers as one types: every word (or two-word background) of any prompt."""
    import re

    from longroll.world import vocabulary_words

    words = vocabulary_words()
    assert words == tuple(sorted(words)) and {"dark green", "circles", "and"} <= set(words)
    rng = np.random.default_rng(2)
    for _ in range(50):
        text = random_prompt(rng).text().replace(",", " ")
        for phrase in sorted(words, key=len, reverse=True):
            text = re.sub(rf"\b{phrase}\b", " ", text)
        assert not text.strip(), text


def test_canonical_text_round_trips():
    rng = np.random.default_rng(1)
    for _ in range(50):
        p = random_prompt(rng)
        assert parse_prompt(p.text()) == p


def test_rendering_is_deterministic_and_windowed():
    scene = scene_from_prompt("a red circle and two blue squares on a gray background", seed=7)
    a = render(scene, 0, 24)
    b = render(scene_from_prompt("a red circle and two blue squares on a gray background", seed=7), 0, 24)
    assert a.dtype == np.uint8 and a.shape == (24, 32, 32, 3)
    assert np.array_equal(a, b)
    assert np.array_equal(render(scene, 10, 5), a[10:15])  # any window renders directly
    assert not np.array_equal(render(scene_from_prompt("a red circle on a gray background", seed=8), 0, 1),
                              render(scene_from_prompt("a red circle on a gray background", seed=9), 0, 1))


def test_sprites_move_and_stay_inside_the_frame():
    scene = scene_from_prompt("a red circle on a black background", seed=3)
    centres = scene.sprites[0].centre(np.arange(2000))
    half = scene.sprites[0].size / 2
    assert centres.min() >= half - 1e-9 and centres.max() <= 32 - half + 1e-9
    assert np.abs(np.diff(centres, axis=0)).sum(axis=1).min() > 0  # always moving


def test_detector_finds_single_objects_with_their_shape_and_position():
    for i, (colour, shape) in enumerate((c, s) for c in COLOURS for s in SHAPES):
        prompt = Prompt((ObjectSpec(colour, shape),), list(BACKGROUNDS)[i % 4])
        scene = scene_from_prompt(prompt, seed=i)
        frames = render(scene, 5 * i, 3)
        for j, frame in enumerate(frames):
            det = detect(frame, prompt)
            blob = det.found[0]
            assert blob is not None and blob.shape == shape, (colour, shape, blob)
            truth = scene.sprites[0].centre(np.array([5 * i + j]))[0]
            assert abs(blob.centroid[0] - truth[0]) < 1.0
            assert det.background_error < 5


def test_detector_agrees_with_ground_truth_on_random_scenes():
    rng = np.random.default_rng(0)
    shares = []
    for i in range(40):
        p = random_prompt(rng)
        shares.append(presence(render(scene_from_prompt(p, i), int(rng.integers(0, 500)), 8), p).mean())
    assert np.mean(shares) > 0.93  # misses are sprites hidden behind others


def test_detector_reports_absent_objects():
    frame = render(scene_from_prompt("a red circle on a black background", seed=1), 0, 1)[0]
    det = detect(frame, parse_prompt("a red circle and a green square on a black background"))
    assert det.found[0] is not None and det.found[1] is None and det.presence == 0.5
    blank = np.zeros((32, 32, 3), dtype=np.uint8)
    det = detect(blank, parse_prompt("a red circle on a navy background"))
    assert det.presence == 0 and det.background_error > 50


def test_training_clips_are_reproducible():
    a, scenes = make_clips(3, 16, seed=5)
    b, _ = make_clips(3, 16, seed=5)
    assert a.shape == (3, 16, 32, 32, 3) and np.array_equal(a, b) and len(scenes) == 3


def test_world_list_prints_the_vocabulary(capsys):
    assert main(["world", "--list"]) == 0
    out = capsys.readouterr().out
    assert "dark green" in out and "triangle" in out and "three" in out
