"""Classifier-free guidance: the combination, the shared two-stream cache, prompt dropout, bad input."""

import pytest
import torch

from longroll.models.tiny.dit import NULL_BACKGROUND, encode_prompt, null_prompt
from longroll.models.tiny.recipe import TrainConfig
from longroll.pipelines.generate import generate
from longroll.pipelines.guidance import GuidedDenoiser, with_guidance
from longroll.pipelines.presets import resolve_preset
from longroll.pipelines.rollout import rollout
from longroll.world.vocab import MAX_OBJECTS, parse_prompt

PROMPT = "a red circle and a blue square on a navy background"


def test_guided_velocity_is_null_plus_scale_times_difference(tiny_model):
    den = tiny_model.denoiser
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 2, *den.latent_shape, generator=g)
    t = torch.rand(2, 2, generator=g)
    cond = torch.stack([encode_prompt(parse_prompt(PROMPT))] * 2)
    with torch.no_grad():
        v_c, v_n = den(x, t, cond), den(x, t, null_prompt(cond))
        guided = GuidedDenoiser(den, 3.0)(x, t, cond)
    torch.testing.assert_close(guided, v_n + 3.0 * (v_c - v_n), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(v_c, v_n)  # the null prompt is a different condition
    assert with_guidance(den, 1.0) is den


def test_null_prompt_rows_use_the_null_embedding(tiny_model):
    den = tiny_model.denoiser
    cond = encode_prompt(parse_prompt(PROMPT))[None]
    null = null_prompt(cond)
    assert int(null[0, MAX_OBJECTS]) == NULL_BACKGROUND
    with torch.no_grad():
        torch.testing.assert_close(den.condition(null)[0], den.null_cond)
        torch.testing.assert_close(den.condition(torch.cat([cond, null]))[0], den.condition(cond)[0])


def test_guided_cached_rollout_equals_the_uncached_reference(tiny_model):
    """The 2B-row cache holds the prompt and the null stream apart: a guided rollout with a cache
    equals the same algorithm rerunning the whole causal prefix of both streams at every step."""
    from rollout_reference import uncached_reference

    den = tiny_model.denoiser
    cond = encode_prompt(parse_prompt(PROMPT))[None]
    config = resolve_preset("none", den)
    guided = GuidedDenoiser(den, 2.5)
    with torch.no_grad():
        cached = [torch.cat([c.latents for c in rollout(guided, cond, num_frames=8, config=config,
                                                        generator=torch.Generator().manual_seed(3))], dim=1)
                  for _ in range(2)]
        plain = torch.cat([c.latents for c in rollout(den, cond, num_frames=8, config=config,
                                                      generator=torch.Generator().manual_seed(3))], dim=1)
    reference = uncached_reference(guided, cond, 8, config, seed=3)
    torch.testing.assert_close(cached[0], reference, rtol=1e-4, atol=1e-4)
    assert torch.equal(cached[0], cached[1])  # same seed, same bits
    assert not torch.allclose(cached[0], plain, atol=1e-3)  # guidance changes the result


def test_weights_without_prompt_dropout_refuse_guidance(tiny_model, tmp_path):
    den = tiny_model.denoiser
    den.null_trained = False
    try:
        with pytest.raises(ValueError, match="not trained with prompt dropout"):
            generate(PROMPT, seconds=0.5, model=tiny_model, cfg=2.0, out=tmp_path / "x.mp4")
        assert not list(tmp_path.iterdir())  # refused before any file
        generate(PROMPT, seconds=0.5, model=tiny_model, cfg=1.0)  # no guidance still works
    finally:
        den.null_trained = True
    with pytest.raises(ValueError, match=r"cfg .*allowed range \[1, 50\]"):
        generate(PROMPT, seconds=0.5, model=tiny_model, cfg=0.5)


def test_save_leaves_out_an_untrained_null_and_load_marks_it(tiny_model, tmp_path):
    from safetensors.torch import load_file

    from longroll.models.tiny.weights import load_tiny, save_tiny

    den = tiny_model.denoiser
    den.null_trained = False
    try:
        path = save_tiny(tiny_model.autoencoder, den, tmp_path)
    finally:
        den.null_trained = True
    assert "dit.null_cond" not in load_file(str(path))
    assert load_tiny(path).denoiser.null_trained is False
    path = save_tiny(tiny_model.autoencoder, den, tmp_path / "with")
    assert load_tiny(path).denoiser.null_trained is True


def test_prompt_dropout_is_validated():
    with pytest.raises(ValueError, match="prompt_dropout"):
        TrainConfig(prompt_dropout=1.5)
