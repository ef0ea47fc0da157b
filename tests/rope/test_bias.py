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
