"""Temporal RoPE: the Wan split, every scaling method's equation, and bad input."""

import math

import pytest
import torch

from longroll.rope import (
    ROPE_METHODS,
    RopeScaling,
    apply_rotary,
    axes_rope_freqs,
    axis_freqs,
    exposure_gate,
    intrinsic_plane,
    rope_cos_sin,
    scale_temporal_freqs,
    training_exposure,
    wan_axis_dims,
    wan_rope_freqs,
    wan_temporal_freqs,
    wavelength,
    yarn_attention_scale,
)


def test_wan_head_dim_128_splits_44_42_42():
    assert wan_axis_dims(128) == (44, 42, 42)
    freqs = wan_rope_freqs(128)
    assert freqs.temporal.shape == (22,) and freqs.height.shape == (21,) and freqs.width.shape == (21,)
    assert freqs.head_dim == 128


def test_wan_temporal_freqs_are_the_geometric_table_in_float64():
    freqs = wan_temporal_freqs(128)
    assert freqs.dtype == torch.float64
    m = torch.arange(22, dtype=torch.float64)
    torch.testing.assert_close(freqs, 10000.0 ** (-2 * m / 44), rtol=0, atol=0)
    assert freqs[0] == 1.0


def test_axes_layout_takes_explicit_dims():
    freqs = axes_rope_freqs((16, 24, 24), theta=500.0)
    assert freqs.temporal.numel() == 8 and freqs.height.numel() == 12 and freqs.head_dim == 64
    torch.testing.assert_close(freqs.temporal, axis_freqs(16, 500.0))


@pytest.mark.parametrize("head_dim", [0, -6, 4, 7, 129])
def test_bad_head_dim_is_a_clear_error(head_dim):
    with pytest.raises(ValueError, match=f"head_dim.*{head_dim}"):
        wan_axis_dims(head_dim)


def test_anchor_table_gate_values_for_l_train_21():
    # anchors_ar.md §1.2, derived: r_m and g for L_train 21, alpha 0.1, beta 2.5.
    r = training_exposure(wan_temporal_freqs(128), 21)
    g = exposure_gate(r, 0.1, 2.5)
    assert r[0] == pytest.approx(21 / (2 * math.pi))
    torch.testing.assert_close(g[:3], torch.tensor([1.0, 0.875, 0.56], dtype=torch.float64), atol=6e-3, rtol=0)
    assert (g[9:] == 0).all() and g[8] > 0


def test_gate_is_zero_below_alpha_one_above_beta_linear_between():
    r = torch.tensor([0.0, 0.05, 0.1, 1.3, 2.5, 3.0], dtype=torch.float64)
    g = exposure_gate(r, 0.1, 2.5)
    torch.testing.assert_close(g, torch.tensor([0, 0, 0, 0.5, 1, 1], dtype=torch.float64))


@pytest.mark.parametrize("method", [m for m in ROPE_METHODS if m != "riflex"])
@pytest.mark.parametrize("target_len", [1, 10, 21])
def test_no_change_inside_the_training_horizon(method, target_len):
    freqs = wan_temporal_freqs(128)
    out = scale_temporal_freqs(freqs, method, train_len=21, target_len=target_len)
    torch.testing.assert_close(out, freqs, rtol=0, atol=0)
    assert out is not freqs


def test_pi_equals_dividing_positions_by_s():
    rope = wan_rope_freqs(64)
    s = 126 / 21
    pi = rope.with_temporal(scale_temporal_freqs(rope.temporal, "pi", train_len=21, target_len=126))
    positions = torch.arange(0, 126, 7)
    cos_a, sin_a = rope_cos_sin(pi, positions, 2, 2, dtype=torch.float64)
    cos_b, sin_b = rope_cos_sin(rope, positions.double() / s, 2, 2, dtype=torch.float64)
    torch.testing.assert_close(cos_a, cos_b)
    torch.testing.assert_close(sin_a, sin_b)


def test_ntk_is_a_base_change():
    d_f, s = 44, 8.0
    out = scale_temporal_freqs(axis_freqs(d_f), "ntk", train_len=16, target_len=128)
    torch.testing.assert_close(out, axis_freqs(d_f, 10000.0 * s ** (d_f / (d_f - 2))))
    assert out[0] == 1.0  # highest frequency untouched
    assert out[-1] == pytest.approx(float(axis_freqs(d_f)[-1]) / s)  # lowest fully interpolated


def test_flex_keeps_high_planes_and_interpolates_low_planes():
    freqs = wan_temporal_freqs(128)
    s = 6.0
    out = scale_temporal_freqs(freqs, "flex", train_len=21, target_len=126)
    r = training_exposure(freqs, 21)
    assert torch.equal(out[r > 2.5], freqs[r > 2.5])
    torch.testing.assert_close(out[r < 0.1], freqs[r < 0.1] / s)
    mid = (r >= 0.1) & (r <= 2.5)
    g = (r[mid] - 0.1) / 2.4
    torch.testing.assert_close(out[mid], (1 - g) * freqs[mid] / s + g * freqs[mid])


def test_yarn_uses_flex_frequencies_and_its_temperature():
    freqs = wan_temporal_freqs(128)
    yarn = scale_temporal_freqs(freqs, "yarn", train_len=21, target_len=126, alpha=1, beta=15)
    flex = scale_temporal_freqs(freqs, "flex", train_len=21, target_len=126, alpha=1, beta=15)
    assert torch.equal(yarn, flex)
    assert yarn_attention_scale(21, 126) == pytest.approx(0.1 * math.log(6) + 1)
    assert yarn_attention_scale(21, 10) == 1.0
    assert RopeScaling("yarn").attention_scale(train_len=21, length=126) > 1
    assert RopeScaling("flex").attention_scale(train_len=21, length=126) == 1


def test_riflex_picks_the_plane_whose_period_is_nearest_n():
    freqs = wan_temporal_freqs(128)
    periods = torch.round(wavelength(freqs))
    k = intrinsic_plane(freqs, 21)
    assert k == int(torch.argmin((periods - 21).abs()))
    out = scale_temporal_freqs(freqs, "riflex", train_len=21, target_len=126)
    changed = torch.nonzero(out != freqs).flatten().tolist()
    assert changed == [k]
    assert out[k] == pytest.approx(0.9 * 2 * math.pi / 126)


def test_riflex_leaves_the_plane_alone_when_the_video_is_shorter_than_its_period():
    freqs = wan_temporal_freqs(128)
    k = intrinsic_plane(freqs, 21)
    period = int(torch.round(wavelength(freqs))[k])
    out = scale_temporal_freqs(freqs, "riflex", train_len=21, target_len=period)
    assert torch.equal(out, freqs)
    out = scale_temporal_freqs(freqs, "riflex", train_len=21, target_len=period + 1)
    assert not torch.equal(out, freqs)


def test_riflex_n_defaults_to_train_len():
    freqs = wan_temporal_freqs(128)
    a = scale_temporal_freqs(freqs, "riflex", train_len=16, target_len=200)
    b = scale_temporal_freqs(freqs, "riflex", train_len=16, target_len=200, riflex_n=16)
    c = scale_temporal_freqs(freqs, "riflex", train_len=16, target_len=200, riflex_n=60)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_bad_scaling_input_names_the_value():
    freqs = wan_temporal_freqs(128)
    with pytest.raises(ValueError, match="rope method must be one of .*'flex'.*got 'flexx'"):
        scale_temporal_freqs(freqs, "flexx", train_len=21, target_len=40)
    with pytest.raises(ValueError, match="alpha = 3.0 must be smaller than beta = 2.5"):
        scale_temporal_freqs(freqs, "flex", train_len=21, target_len=40, alpha=3.0)
    with pytest.raises(ValueError, match="train_len = 0 is out of range"):
        scale_temporal_freqs(freqs, "pi", train_len=0, target_len=40)
    with pytest.raises(ValueError, match="target_len = -5 is out of range"):
        scale_temporal_freqs(freqs, "pi", train_len=21, target_len=-5)
    with pytest.raises(ValueError, match="alpha must be a finite number"):
        RopeScaling("flex", alpha=float("nan"))
    with pytest.raises(ValueError, match="positive"):
        scale_temporal_freqs(torch.tensor([1.0, 0.0]), "pi", train_len=2, target_len=4)


def test_rotation_preserves_norm_and_depends_only_on_relative_position():
    rope = wan_rope_freqs(24)
    torch.manual_seed(0)
    q = torch.randn(1, 24, dtype=torch.float64)
    k = torch.randn(1, 24, dtype=torch.float64)

    def rotated(x, frame):
        cos, sin = rope_cos_sin(rope, torch.tensor([frame]), 1, 1, dtype=torch.float64)
        return apply_rotary(x, cos, sin)

    assert torch.linalg.norm(rotated(q, 37)) == pytest.approx(float(torch.linalg.norm(q)))
    score_a = (rotated(q, 10) * rotated(k, 3)).sum()
    score_b = (rotated(q, 1007) * rotated(k, 1000)).sum()
    assert float(score_a) == pytest.approx(float(score_b), rel=1e-9)


def test_positions_are_computed_so_length_is_unbounded():
    rope = wan_rope_freqs(24)
    cos, _ = rope_cos_sin(rope, torch.tensor([10**6, 10**6 + 1]), 2, 3)
    assert cos.shape == (2 * 2 * 3, 12) and torch.isfinite(cos).all()


@pytest.mark.parametrize("timeline,sinks,reserved,anchor", [
    ([0, 1, 2, 9, 10, 11], [1, 1, 1, 0, 0, 0], 0, None),
    ([10, 2, 11, 0, 9, 1], [0, 1, 0, 1, 0, 1], 2, None),  # read order not timeline order
    ([4, 5, 6], [0, 0, 0], 0, 20),  # no sink, anchored
    ([3, 1], [1, 1], 0, None),  # only sinks
])
def test_relative_window_positions_rank_the_sink_and_close_the_gap(timeline, sinks, reserved, anchor):
    """Sink frames at 0..n_sink-1 in timeline order, the tail right after them (and ``reserved`` free
    positions), kept in its own spacing; an anchor moves the newest frame to it. Computed on the device
    (no nonzero or host reads): equal to the rule written out frame by frame."""
    from longroll.rope.positions import window_positions

    tau = torch.tensor(timeline)
    got = window_positions(tau, torch.tensor(sinks, dtype=torch.bool), "relative", reserved=reserved, anchor=anchor)
    sink_taus = sorted(t for t, s in zip(timeline, sinks) if s)
    tail = [t for t, s in zip(timeline, sinks) if not s]
    want = [float(sink_taus.index(t)) if s else len(sink_taus) + reserved + t - min(tail)
            for t, s in zip(timeline, sinks)]
    if anchor is not None:
        want = [w + anchor - max(want) for w in want]
    assert got.dtype == torch.float64 and got.tolist() == want
    absolute = window_positions(tau, torch.tensor(sinks, dtype=torch.bool), "absolute")
    assert absolute.tolist() == [float(t) for t in timeline]
