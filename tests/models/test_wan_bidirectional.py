"""Wan2.1 through diffusers as a per-frame-timestep denoiser: unchanged by default, per-frame
timesteps, positions, temporal RoPE scaling and bias reach the attention."""

import pytest
import torch

from longroll.rope.bias import TemporalBias
from longroll.rope.scaling import RopeScaling

pytest.importorskip("diffusers")


@pytest.fixture()
def pair():
    from wan_fixtures import tiny_transformer

    from longroll.models.wan.bidirectional import DiffusersWanDenoiser

    ref = tiny_transformer(seed=2)
    return ref, DiffusersWanDenoiser(tiny_transformer(seed=2), train_len=4)


def _inputs(f=4):
    g = torch.Generator().manual_seed(0)
    return torch.randn(1, f, 16, 4, 6, generator=g), torch.randn(1, 5, 16, generator=g)


def test_default_equals_plain_diffusers_and_per_frame_levels_reach_their_frames(pair):
    ref, den = pair
    x, ctx = _inputs()
    with torch.no_grad():
        plain = ref(x.transpose(1, 2), torch.tensor([600.0]), ctx).sample.transpose(1, 2)
        ours = den(x, torch.full((1, 4), 0.6), ctx)
        torch.testing.assert_close(ours, plain, rtol=1e-5, atol=1e-5)
        t = torch.tensor([[0.9, 0.7, 0.5, 0.3]])
        per_token = t.mul(1000).repeat_interleave(6, dim=1)
        expected = ref(x.transpose(1, 2), per_token, ctx).sample.transpose(1, 2)
        torch.testing.assert_close(den(x, t, ctx), expected, rtol=1e-5, atol=1e-5)


def test_positions_shift_invariance_and_no_1024_limit(pair):
    _, den = pair
    x, ctx = _inputs()
    t = torch.full((1, 4), 0.5)
    with torch.no_grad():
        near = den(x, t, ctx)
        far = den(x, t, ctx, start_frame=3000)  # past the 1024-row table of diffusers' rope
        gaps = den(x, t, ctx, frame_positions=torch.tensor([0, 1, 2, 40]))
    torch.testing.assert_close(near, far, rtol=1e-3, atol=1e-3)
    assert not torch.allclose(near, gaps, atol=1e-3)


def test_rope_scaling_and_bias_reach_the_attention(pair):
    _, den = pair
    x, ctx = _inputs(f=6)
    t = torch.full((1, 6), 0.5)
    freqs = den.rope_freqs
    with torch.no_grad():
        base = den(x, t, ctx)
        same = den(x, t, ctx, rope=freqs.with_temporal(RopeScaling("flex").temporal(freqs.temporal, train_len=4,
                                                                                    length=4)))
        scaled = den(x, t, ctx, rope=freqs.with_temporal(RopeScaling("pi").temporal(freqs.temporal, train_len=4,
                                                                                    length=24)))
        zero_bias = den(x, t, ctx, bias=TemporalBias("flexrope", 0.0))
        biased = den(x, t, ctx, bias=TemporalBias("flexrope", 0.5))
    torch.testing.assert_close(same, base)  # S = 1: no-op
    torch.testing.assert_close(zero_bias, base, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(scaled, base, atol=1e-4) and not torch.allclose(biased, base, atol=1e-4)
    with pytest.raises(ValueError, match="one noise level per frame"):
        den(x, torch.zeros(1, 5), ctx)


@pytest.mark.parametrize("kind", ["flexrope", "alibi"])
def test_the_mask_free_bias_equals_diffusers_attention_with_the_dense_bias(pair, kind):
    """The bias processor attends without a mask (the bias in extra key channels); diffusers' own
    processor given the same bias as a dense (N, N) additive mask (the path before) agrees."""
    from diffusers.models.transformers.transformer_wan import WanAttnProcessor

    class Dense(WanAttnProcessor):
        key_bias = None

        def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, rotary_emb=None):
            if self.key_bias is not None and encoder_hidden_states is None:
                tokens = hidden_states.shape[1] // self.key_bias.shape[-2]
                attention_mask = self.key_bias.repeat_interleave(tokens, dim=-2)[None].to(hidden_states.dtype)
            return super().__call__(attn, hidden_states, encoder_hidden_states, attention_mask, rotary_emb)

    _, den = pair
    x, ctx = _inputs(f=6)
    t = torch.tensor([[0.9, 0.8, 0.6, 0.5, 0.3, 0.1]])
    bias = TemporalBias(kind, 0.5)
    with torch.no_grad():
        base = den(x, t, ctx)
        free = den(x, t, ctx, start_frame=7, bias=bias)
        dense = {name: Dense() for name in den.processors}
        den.transformer.set_attn_processor({name: dense.get(name, proc)
                                            for name, proc in den.transformer.attn_processors.items()})
        den.processors = dense
        reference = den(x, t, ctx, start_frame=7, bias=bias)
    torch.testing.assert_close(free, reference, rtol=1e-5, atol=1e-5)
    assert (free - base).abs().max() > 1e-3  # the bias does change the result


@pytest.mark.parametrize("kind", ["fifo", "miga"])
def test_diagonal_schedules_run_on_diffusers_wan(kind):
    from wan_fixtures import tiny_transformer

    from longroll.models.wan.bidirectional import DiffusersWanDenoiser
    from longroll.noise import NoiseConfig
    from longroll.pipelines.fifo import DiagonalStats, diagonal_rollout, resolve_diagonal

    den = DiffusersWanDenoiser(tiny_transformer(seed=3), train_len=6, height=32, width=32)
    opts = dict(partitions=1) if kind == "fifo" else dict(steps=8, stage2_steps=2, k=2, guidance=1, judge=2)
    cfg = resolve_diagonal(kind, den, **opts)
    stats = DiagonalStats()
    ctx = torch.randn(1, 5, 16)
    with torch.no_grad():
        out = torch.cat([c.latents for c in diagonal_rollout(den, ctx, num_frames=10, config=cfg, stats=stats,
                                                             noise=NoiseConfig().sampler(torch.Generator()))], 1)
    assert out.shape[1] >= 10 and out.shape[2:] == (16, 4, 4) and torch.isfinite(out).all()
