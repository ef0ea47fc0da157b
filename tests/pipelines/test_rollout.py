"""The chunk-wise rollout: equivalence with an uncached pass, determinism, presets, switches."""

import pytest
import torch
from rollout_reference import uncached_reference as _uncached_reference

from longroll.noise import NoiseConfig
from longroll.pipelines.presets import PRESETS, RolloutConfig, resolve_preset
from longroll.pipelines.rollout import Switch, rollout
from longroll.sampler import FewStepSchedule


def _collect(model, cond, frames, config, seed=0, switches=()):
    with torch.no_grad():
        chunks = list(rollout(model.denoiser, cond, num_frames=frames, config=config,
                              generator=torch.Generator().manual_seed(seed), switches=switches))
    return torch.cat([c.latents for c in chunks], dim=1), chunks


@pytest.mark.parametrize("sampler", ["renoise", "euler"])
@pytest.mark.parametrize("preset", ["none", "flex", "yarn", "flexrope"])
def test_window_covering_the_video_equals_the_uncached_causal_pass(tiny_model, preset, sampler):
    den = tiny_model.denoiser
    cond = tiny_model.encode_prompt("a red circle and a blue square on a navy background")
    config = resolve_preset(preset, den, window=12, sink=0, steps=3, sampler=sampler)
    out, _ = _collect(tiny_model, cond, 12, config)
    ref = _uncached_reference(den, cond, 12, config)
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)


def test_same_seed_same_bits_different_seed_differs(tiny_model):
    cond = tiny_model.encode_prompt("two yellow triangles on a black background")
    config = resolve_preset("flex", tiny_model.denoiser, steps=2)
    a, _ = _collect(tiny_model, cond, 20, config, seed=1)
    b, _ = _collect(tiny_model, cond, 20, config, seed=1)
    c, _ = _collect(tiny_model, cond, 20, config, seed=2)
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_chunks_cover_the_requested_frames_and_the_window_stays_fixed(tiny_model):
    den = tiny_model.denoiser
    cond = tiny_model.encode_prompt("a red circle on a black background")
    config = resolve_preset("flex", den, steps=1)
    out, chunks = _collect(tiny_model, cond, 41, config)
    assert [c.start for c in chunks] == list(range(0, 42, 2)) and out.shape[1] == 42


def test_dynamic_rope_needs_unrotated_keys(tiny_model):
    with pytest.raises(ValueError, match="un-rotated"):
        resolve_preset("flex", tiny_model.denoiser, dynamic=True, rotated=True)
    config = resolve_preset("flex", tiny_model.denoiser, dynamic=True, steps=1)
    assert not config.cache.rotated
    cond = tiny_model.encode_prompt("a red circle on a black background")
    dyn, _ = _collect(tiny_model, cond, 16, config)
    # Inside the horizon (frames < L_train = 8) the dynamic scale is 1: plain extrapolation.
    plain, _ = _collect(tiny_model, cond, 16, resolve_preset("flex", tiny_model.denoiser, steps=1, rope="none",
                                                             rotated=False))
    torch.testing.assert_close(dyn[:, :8], plain[:, :8], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(dyn[:, 8:], plain[:, 8:])


def test_prompt_switch_changes_only_what_comes_after(tiny_model):
    den = tiny_model.denoiser
    a = tiny_model.encode_prompt("a red circle on a black background")
    b = tiny_model.encode_prompt("a red circle on a navy background")
    config = resolve_preset("flex", den, steps=2)
    base, _ = _collect(tiny_model, a, 16, config)
    switched, _ = _collect(tiny_model, a, 16, config, switches=[Switch(8, b)])
    assert torch.equal(base[:, :8], switched[:, :8])
    assert not torch.allclose(base[:, 8:], switched[:, 8:])


def test_flex_takes_flex_rho_from_models_without_their_own():
    from longroll.models.base import ModelDefaults

    stochastic = ModelDefaults(train_len=21, chunk_size=3, window=12, sink=3, context_timestep=0.0,
                               schedule=FewStepSchedule(steps=4, shift=5.0, sampler="renoise"))  # Self Forcing-style
    flex = resolve_preset("flex", stochastic)
    assert flex.noise.rho == -1.0 and flex.rope.alpha == pytest.approx(0.1) and flex.rope.beta == pytest.approx(2.5)


def test_presets_resolve_against_the_model(tiny_model):
    den = tiny_model.denoiser
    flex = resolve_preset("flex", den)
    d = den.defaults
    assert flex.rope.method == "flex" and flex.noise.kind == "antiphase" and flex.noise.rho == d.rho == -1.0
    assert flex.cache.sink == d.sink and flex.cache.window == d.window
    assert flex.rope.alpha == pytest.approx(0.1 * d.train_len / 21)
    assert resolve_preset("none", den).cache.sink == 0
    assert resolve_preset("flexrope", den).bias.kind == "flexrope"
    assert resolve_preset("sink", den).rope.method == "none"
    over = resolve_preset("flex", den, rope="pi", rho=-0.5, sink=2, window=6, flexrope_lambda=0.3, bias="flexrope")
    assert (over.rope.method, over.noise.rho, over.cache.sink, over.cache.window, over.bias.strength) == \
        ("pi", -0.5, 2, 6, 0.3)
    assert set(PRESETS) == {"none", "pi", "ntk", "yarn", "riflex", "flexrope", "sink", "flex", "cache-relative",
                            "infinity-rope", "deep-forcing", "rolling-sink", "memrope", "lol", "relax-forcing",
                            "fademem", "recency-forcing", "pack-forcing", "future-forcing", "recap-forcing"}
    assert isinstance(flex, RolloutConfig)


@pytest.mark.parametrize("overrides,match", [
    (dict(rho=2.0), "rho"),
    (dict(alpha=3.0, beta=1.0), "alpha"),
    (dict(sink=8, window=8), "sink"),
    (dict(window=3, sink=2), "window - sink"),
    (dict(rope="linear"), "rope method"),
    (dict(colour="red"), "Unknown override"),
])
def test_bad_overrides_are_clear_errors(tiny_model, overrides, match):
    with pytest.raises(ValueError, match=match):
        resolve_preset("flex", tiny_model.denoiser, **overrides)
    with pytest.raises(ValueError, match="preset must be one of"):
        resolve_preset("longlive", tiny_model.denoiser)


def test_freenoise_composes_with_the_rollout(tiny_model):
    config = resolve_preset("none", tiny_model.denoiser, noise="freenoise", steps=1)
    assert config.noise == NoiseConfig(kind="freenoise", rho=tiny_model.defaults.rho)
    cond = tiny_model.encode_prompt("a red circle on a black background")
    out, _ = _collect(tiny_model, cond, 24, config)
    assert torch.isfinite(out).all()


def test_an_hour_of_video_has_no_position_limit(tiny_model):
    """One hour at 8 fps is 28800 latent frames: positions are computed, never looked up."""
    import itertools

    den = tiny_model.denoiser
    cond = tiny_model.encode_prompt("a red circle on a black background")
    config = resolve_preset("flex", den, steps=1)
    with torch.no_grad():
        chunks = list(itertools.islice(rollout(den, cond, num_frames=28800, config=config,
                                               generator=torch.Generator().manual_seed(0)), 3))
        assert [c.start for c in chunks] == [0, 2, 4]
        x = torch.randn(1, 6, *den.latent_shape)
        far = den(x, torch.full((1, 6), 0.5), cond, start_frame=28794)  # far past any fixed position table
        near = den(x, torch.full((1, 6), 0.5), cond, start_frame=0)
    # RoPE is relative: shifting every frame by 28794 positions must change nothing.
    torch.testing.assert_close(far, near, atol=1e-4, rtol=1e-4)
