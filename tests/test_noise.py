"""Initial noise: FLEX Prop. 3.1 and 3.2 for antiphase noise, FreeNoise's reuse, determinism, bad input."""

import math

import pytest
import torch

from longroll.noise import NoiseConfig, antiphase_noise, iid_noise

SAMPLES = 40_000  # tolerance ~ 4 / sqrt(SAMPLES) = 0.02


def _chain(rho, f=5, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = antiphase_noise((SAMPLES, f, d), rho, generator=g, dtype=torch.float64)  # (B, f, d)
    return z


@pytest.mark.parametrize("rho", [-1.0, -0.6, 0.0, 0.5, 1.0])
def test_each_frame_is_standard_normal(rho):
    z = _chain(rho)
    mean = z.mean(dim=0)
    var = z.var(dim=0)
    assert mean.abs().max() < 0.03
    assert (var - 1).abs().max() < 0.04


@pytest.mark.parametrize("rho", [-1.0, -0.6, 0.0, 0.5, 1.0])
def test_covariance_is_toeplitz_rho_to_the_distance(rho):
    z = _chain(rho)
    f = z.shape[1]
    for u in range(f):
        for v in range(f):
            cov = (z[:, u] * z[:, v]).mean(dim=0)  # per channel, zero mean
            expected = rho ** abs(u - v)
            assert (cov - expected).abs().max() < 0.04, (u, v, cov, expected)
            # distinct channels stay uncorrelated (Cov = rho^|u-v| I)
            cross = (z[:, u, 0] * z[:, v, 1]).mean()
            assert abs(float(cross)) < 0.04


@pytest.mark.parametrize("rho", [-1.0, -0.5, 0.0, 0.5, 0.9])
def test_adjacent_difference_energy_is_2_f_minus_1_1_minus_rho_d(rho):
    f, d = 6, 4
    z = _chain(rho, f=f, d=d)
    energy = ((z[:, 1:] - z[:, :-1]) ** 2).sum(dim=(1, 2)).mean()
    expected = 2 * (f - 1) * (1 - rho) * d
    assert float(energy) == pytest.approx(expected, abs=0.03 * max(expected, 1) + 0.05)


def test_rho_minus_one_flips_sign_exactly_and_rho_one_repeats_exactly():
    g = torch.Generator().manual_seed(3)
    z = antiphase_noise((2, 4, 8), -1.0, generator=g)
    assert torch.equal(z[:, 1], -z[:, 0]) and torch.equal(z[:, 2], z[:, 0]) and torch.equal(z[:, 3], -z[:, 0])
    z = antiphase_noise((2, 4, 8), 1.0, generator=g)
    assert all(torch.equal(z[:, u], z[:, 0]) for u in range(4))


def test_rho_zero_is_iid_noise_bit_for_bit():
    # FLEX Table 3's "without antiphase noise" and Fig. 5's rho 0 are one sample (the benchmark found it).
    a = antiphase_noise((2, 5, 8), 0.0, generator=torch.Generator().manual_seed(4))
    b = iid_noise((2, 5, 8), generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b)


def test_same_seed_same_bits_and_dtype_honoured():
    a = antiphase_noise((2, 4, 3, 5), -0.7, generator=torch.Generator().manual_seed(11))
    b = antiphase_noise((2, 4, 3, 5), -0.7, generator=torch.Generator().manual_seed(11))
    c = antiphase_noise((2, 4, 3, 5), -0.7, generator=torch.Generator().manual_seed(12))
    assert torch.equal(a, b) and not torch.equal(a, c)
    h = antiphase_noise((2, 4, 3, 5), -0.7, generator=torch.Generator().manual_seed(11), dtype=torch.bfloat16)
    assert h.dtype == torch.bfloat16
    torch.testing.assert_close(h.float(), a, atol=0.02, rtol=0.02)
    assert iid_noise((1, 2, 3), generator=torch.Generator().manual_seed(0), dtype=torch.float16).dtype == torch.float16


@pytest.mark.parametrize("rho", [-1.0001, 1.5, float("nan"), float("inf")])
def test_rho_outside_the_interval_is_rejected(rho):
    with pytest.raises(ValueError, match=r"rho.*\[-1, 1\]"):
        antiphase_noise((1, 2, 3), rho)
    with pytest.raises(ValueError, match="rho"):
        NoiseConfig(kind="antiphase", rho=rho)


def test_bad_shape_and_kind_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        antiphase_noise((4,), -1.0)
    with pytest.raises(ValueError, match="noise kind must be one of"):
        NoiseConfig(kind="pink")
    with pytest.raises(ValueError, match="stride"):
        NoiseConfig(kind="freenoise", window=4, stride=8)


def test_chunk_sampler_draws_independent_antiphase_chunks():
    sampler = NoiseConfig(kind="antiphase", rho=-1.0).sampler(torch.Generator().manual_seed(0))
    a = sampler.sample(0, (1, 4, 6))
    b = sampler.sample(4, (1, 4, 6))
    assert torch.equal(a[:, 1], -a[:, 0]) and not torch.equal(b[:, 0].abs(), a[:, 0].abs())


def test_freenoise_reuses_the_window_earlier_in_shuffled_groups():
    cfg = NoiseConfig(kind="freenoise", window=8, stride=4)
    z = cfg.sampler(torch.Generator().manual_seed(0)).sample(0, (1, 32, 5))[0]  # (F, 5)
    for start in range(8, 32, 4):
        group = {tuple(row.tolist()) for row in z[start:start + 4]}
        source = {tuple(row.tolist()) for row in z[start - 8:start - 4]}
        assert group == source
    assert not torch.equal(z[8:12], z[0:4])  # shuffled somewhere in the first groups (seed 0)


def test_freenoise_is_the_same_however_the_video_is_chunked_and_keeps_bounded_history():
    cfg = NoiseConfig(kind="freenoise", window=16, stride=4)
    whole = cfg.sampler(torch.Generator().manual_seed(5)).sample(0, (2, 60, 3))
    sampler = cfg.sampler(torch.Generator().manual_seed(5))
    parts = [sampler.sample(s, (2, 3, 3)) for s in range(0, 60, 3)]
    assert torch.equal(torch.cat(parts, dim=1), whole)
    assert len(sampler._frames) <= 16 + 4 + 3
    with pytest.raises(ValueError, match="forward"):
        sampler.sample(0, (2, 3, 3))


def test_energy_grows_as_rho_falls():
    energies = []
    for rho in (0.9, 0.0, -0.5, -1.0):
        z = _chain(rho, f=4, d=2)
        energies.append(float(((z[:, 1:] - z[:, :-1]) ** 2).sum(dim=(1, 2)).mean()))
    assert energies == sorted(energies)
    assert math.isclose(energies[-1], 2 * 3 * 2 * 2, rel_tol=0.03)


def test_noise_seed_is_the_seed_without_a_salt_and_a_stable_hash_with_one():
    from longroll.noise import noise_seed

    assert [noise_seed(s) for s in (0, 1, 7)] == [0, 1, 7]  # the families' own inference: manual_seed(seed)
    salted = [noise_seed(s, "longroll-tiny-noise") for s in range(100)]
    assert len(set(salted)) == 100 and all(0 <= v < 2**63 for v in salted)
    assert not set(salted) & set(range(1000))  # no salted stream is a small manual seed (a training stream)
    assert salted[0] == noise_seed(0, "longroll-tiny-noise") and salted[0] != noise_seed(0, "another salt")
    with pytest.raises(ValueError, match="seed"):
        noise_seed(-1, "longroll-tiny-noise")


def test_the_built_in_model_salts_its_noise_and_the_sidecar_says_so():
    """The built-in recipe initialises its weights with manual_seed(0): user seed 0's noise must not be
    that stream (it came out empty for every one-object prompt)."""
    from longroll.models.tiny.weights import random_tiny
    from longroll.noise import noise_seed
    from longroll.pipelines.plan import resolve
    from longroll.pipelines.request import GenerationRequest
    from longroll.pipelines.sidecar import Sidecar

    model = random_tiny()
    plan = resolve(GenerationRequest(prompt="a red circle on a black background", seconds=1.0, seed=0), model)
    assert model.defaults.seed_salt is not None
    assert plan.noise_seed == noise_seed(0, model.defaults.seed_salt) != 0
    side = Sidecar.of(plan, model, frames=1, wall_seconds=0.0, complete=True, frames_sha256="").to_dict()
    assert side["seed"] == 0 and side["noise_seed"] == plan.noise_seed
