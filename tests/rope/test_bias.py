"""Temporal attention bias: FlexRoPE decay and ALiBi slopes."""

import pytest
import torch

from longroll.attention import windowed_attention
from longroll.rope import TemporalBias, alibi_slopes


def _weights(bias, q_frames, k_frames, heads=1, tokens=1):
    """Attention weights of one query token with identical keys (so only the bias matters)."""
    tb = bias.token_bias(q_frames, k_frames, heads, tokens)
    logits = torch.zeros(1, heads, len(q_frames) * tokens, len(k_frames) * tokens)
    if tb is not None:
        logits = logits + tb
    return logits.softmax(-1)


def test_lambda_zero_changes_nothing():
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 2, 8, 6) for _ in range(3))
    bias = TemporalBias("flexrope", 0.0)
    assert not bias.active and bias.token_bias(torch.arange(2), torch.arange(2), 2, 4) is None
    assert torch.equal(windowed_attention(q, k, v, bias=None), windowed_attention(q, k, v))
    zero = TemporalBias("none").token_bias(torch.arange(2), torch.arange(2), 2, 4)
    assert zero is None


def test_larger_lambda_lowers_attention_to_far_frames_monotonically():
    keys = torch.tensor([0, 1, 2, 20, 21, 22, 23])  # sink frames 0..2 at their true positions
    query = torch.tensor([23])
    far = []
    for lam in (0.0, 0.05, 0.1, 0.2, 0.5, 1.0):
        w = _weights(TemporalBias("flexrope", lam), query, keys)[0, 0, 0]
        far.append(float(w[:3].sum()))
        # within one lambda, weight falls with distance
        assert torch.all(w[:-1] <= w[1:] + 1e-7)
    assert all(a > b for a, b in zip(far, far[1:]))


def test_alibi_slopes_are_geometric():
    torch.testing.assert_close(alibi_slopes(8), 2.0 ** -torch.arange(1, 9, dtype=torch.float64))
    bias = TemporalBias("alibi").frame_bias(torch.tensor([4]), torch.tensor([0, 4]), 4)
    assert bias.shape == (4, 1, 2)
    torch.testing.assert_close(bias[:, 0, 0], (-4 * alibi_slopes(4)).float())
    assert (bias[:, 0, 1] == 0).all()


def test_token_bias_is_frame_bias_repeated():
    b = TemporalBias("flexrope", 0.5).token_bias(torch.tensor([5, 6]), torch.tensor([0, 5, 6]), 3, 4)
    assert b.shape == (1, 8, 12)
    assert b[0, 0, 0] == -2.5 and b[0, 7, 11] == 0 and b[0, 3, 4] == 0


def test_bad_bias_config():
    with pytest.raises(ValueError, match="temporal bias must be one of"):
        TemporalBias("linear")
    with pytest.raises(ValueError, match="flexrope lambda = -0.1 is out of range"):
        TemporalBias("flexrope", -0.1)


@pytest.mark.parametrize("dtype,atol", [(torch.float32, 2e-6), (torch.bfloat16, 1e-2)])
@pytest.mark.parametrize("kind", ["flexrope", "alibi"])
@pytest.mark.parametrize("per_token", [False, True])
def test_the_mask_free_biased_attention_equals_the_dense_bias(dtype, atol, kind, per_token):
    """``frame_biased_attention`` folds a bias that depends on (query frame, key) into extra key
    channels: the same attention as adding the dense (Nq, Nk) bias, within float tolerance, for frame
    biases and for per-token key positions (compressed tokens at their own positions)."""
    from longroll.attention import frame_biased_attention
    from longroll.rope.bias import expand_frame_bias

    g = torch.Generator().manual_seed(3)
    b, h, t, d, fq = 2, 4, 5, 16, 3
    query_frames = torch.tensor([9.0, 10.0, 11.0])
    key_frames = torch.arange(12.0) if not per_token else torch.rand(12 * t, generator=g) * 12
    q = torch.randn(b, h, fq * t, d, generator=g)
    k = torch.randn(b, h, 12 * t, d, generator=g)
    v = torch.randn(b, h, 12 * t, d, generator=g)
    bias = TemporalBias(kind, 0.3)
    frame_bias = bias.frame_bias(query_frames, key_frames, h)  # (1 or H, Fq, Fk or Nk)
    key_bias = frame_bias if per_token else frame_bias.repeat_interleave(t, dim=-1)
    dense = windowed_attention(q, k, v, bias=key_bias.repeat_interleave(t, dim=-2) if per_token else
                               expand_frame_bias(frame_bias, t, t))
    free = frame_biased_attention(q.to(dtype), k.to(dtype), v.to(dtype), key_bias)
    assert free.dtype == dtype and free.shape == dense.shape
    torch.testing.assert_close(free.float(), dense, rtol=0, atol=atol)
    far = windowed_attention(q, k, v)  # without the bias: the bias does change the result
    assert (far - dense).abs().max() > 10 * atol


def test_a_bias_that_does_not_fit_the_queries_is_refused():
    from longroll.attention import frame_biased_attention

    q, k = torch.zeros(1, 2, 10, 8), torch.zeros(1, 2, 12, 8)
    with pytest.raises(ValueError, match="does not fit"):
        frame_biased_attention(q, k, k, torch.zeros(1, 3, 12))


@pytest.mark.parametrize("dtype,atol", [(torch.float32, 2e-6), (torch.bfloat16, 1e-2)])
@pytest.mark.parametrize("kind", [None, "flexrope", "alibi"])
@pytest.mark.parametrize("frames,chunk", [(7, 3), (6, 3), (4, 1)])
def test_chunk_causal_attention_without_a_mask_equals_the_dense_mask(dtype, atol, kind, frames, chunk):
    """The uncached chunk-causal forward attends chunk by chunk over the keys up to each chunk's end:
    the same as the dense frame-chunk-causal mask (with the dense temporal bias beside it), within
    float tolerance, for whole and partial last chunks and for chunks of one frame."""
    from longroll.attention import chunk_causal_attention, chunk_causal_mask, frame_chunks
    from longroll.rope.bias import expand_frame_bias

    g = torch.Generator().manual_seed(5)
    b, h, t, d = 2, 4, 5, 16
    q, k, v = (torch.randn(b, h, frames * t, d, generator=g) for _ in range(3))
    positions = torch.arange(frames, dtype=torch.float32) + 4
    mask = chunk_causal_mask(frame_chunks(frames, chunk), t)
    bias, key_bias = None, None
    if kind is not None:
        frame_bias = TemporalBias(kind, 0.3).frame_bias(positions, positions, h)
        bias, key_bias = expand_frame_bias(frame_bias, t, t), frame_bias.repeat_interleave(t, dim=-1)
    dense = windowed_attention(q, k, v, mask=mask, bias=bias)
    free = chunk_causal_attention(q.to(dtype), k.to(dtype), v.to(dtype), chunk_tokens=chunk * t, key_bias=key_bias)
    assert free.dtype == dtype and free.shape == dense.shape
    torch.testing.assert_close(free.float(), dense, rtol=0, atol=atol)
    full = windowed_attention(q, k, v, bias=bias)  # without the mask: causality does change the result
    assert (full - dense).abs().max() > 10 * atol


def test_chunk_causal_attention_refuses_keys_over_other_tokens():
    from longroll.attention import chunk_causal_attention

    q, k = torch.zeros(1, 2, 10, 8), torch.zeros(1, 2, 12, 8)
    with pytest.raises(ValueError, match="10 queries, 12 keys"):
        chunk_causal_attention(q, k, k, chunk_tokens=5)
