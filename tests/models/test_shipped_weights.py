"""The weights that ship inside the package load, and a sample shows the prompted objects."""

import numpy as np
import pytest

from longroll.models.tiny.weights import load_tiny, shipped_weights
from longroll.pipelines.generate import generate
from longroll.world import detect, parse_prompt

pytestmark = pytest.mark.skipif(not shipped_weights().is_file(), reason="no shipped weights in this checkout")


def test_shipped_weights_load_with_their_config():
    model = load_tiny()
    assert model.weights_sha256 != "random-init" and len(model.weights_sha256) == 64
    # Self Forcing's geometry and sampler (issue 18): 21 latent frames, chunks of 3, 4 re-noising steps.
    assert model.defaults.train_len == 21 and model.defaults.chunk_size == 3
    assert model.defaults.window == 12 and model.defaults.sink == 3
    schedule = model.defaults.schedule
    assert schedule.sampler == "renoise" and list(schedule.timesteps) == [1000, 750, 500, 250]
    assert len(schedule.first_timesteps) == 16 and schedule.cfg == 2.0  # the recipe's sampler (train/stage3.json)
    assert not model.denoiser.training


def test_a_sample_shows_the_prompted_objects_on_the_prompted_background():
    model = load_tiny()
    prompt = "two yellow triangles on a black background"
    shares, bg_errors = [], []
    for seed in range(4):
        frames = generate(prompt, seconds=model.defaults.train_len / model.fps, seed=seed, model=model, preset="none")
        dets = [detect(f, parse_prompt(prompt)) for f in frames]
        shares.append(np.mean([d.presence for d in dets]))
        bg_errors.append(np.mean([d.background_error for d in dets]))
    assert np.mean(shares) >= 0.65  # 0.92 when recorded (seeds 0-3: 0.79, 1.00, 0.90, 1.00)
    assert np.mean(bg_errors) < 30


def test_seed_zero_of_a_one_object_prompt_shows_its_object():
    """Before the noise seed was salted, user seed 0 drew the noise stream the recipe initialised the
    weights from, and every one-object prompt came out as bare background (presence 0; seeds 1-23 of
    `a red circle on a black background` found the circle at 0.86-1.0)."""
    model = load_tiny()
    prompt = "a red circle on a black background"
    frames = generate(prompt, seconds=model.defaults.train_len / model.fps, seed=0, model=model, preset="none")
    presence = np.mean([detect(f, parse_prompt(prompt)).presence for f in frames])
    assert presence >= 0.8  # 1.00 when recorded
