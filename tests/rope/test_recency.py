"""Recency Forcing (arXiv 2609.19729, training-free): a non-positive bias on the history, scaled by the step's
noise level, folded into key channels; its preset through the chunk-wise rollout."""

import pytest
import torch

from longroll.attention import frame_biased_attention, windowed_attention
from longroll.pipelines.presets import resolve_preset
from longroll.pipelines.rollout import Switch, rollout
from longroll.rope import TemporalBias


def _direct(query, keys, gamma, level, chunk_starts=None):
    """The rule written out entry by entry: -gamma * level * (s_i - p_j) for keys before query i's chunk."""
    out = torch.zeros(len(query), len(keys))
    for i, qi in enumerate(query.tolist()):
        start = min(query.tolist()) if chunk_starts is None else chunk_starts[i]
        for j, pj in enumerate(keys.tolist()):
            out[i, j] = -gamma * level * (start - pj) if pj < start else 0.0
    return out


def test_the_bias_is_the_rule_on_hand_made_positions():
    query = torch.tensor([9.0, 10.0, 11.0])
    keys = torch.tensor([0.0, 1.0, 2.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0])  # a sink, history, the chunk
    bias = TemporalBias("recency", 0.1).at(0.5)
    got = bias.frame_bias(query, keys, 4)
    assert got.shape == (1, 3, 9)
    torch.testing.assert_close(got[0], _direct(query, keys, 0.1, 0.5))
    assert float(got[0, 0, 0]) == pytest.approx(-0.45) and (got[0, :, 6:] == 0).all() and (got <= 0).all()
    # Chunks of 2 inside one uncached call: each query frame's history starts at its own chunk.
    starts = torch.tensor([8.0, 10.0, 10.0])
    torch.testing.assert_close(bias.frame_bias(query, keys, 4, present=starts)[0],
                               _direct(query, keys, 0.1, 0.5, starts.tolist()))


def test_the_level_scales_it_and_level_zero_is_the_model_itself():
    bias = TemporalBias("recency", 0.2)
    assert bias.per_level and bias.strength == 0.2
    q, k = torch.tensor([4.0]), torch.tensor([0.0, 2.0, 4.0])
    rows = [float(bias.at(s).frame_bias(q, k, 1)[0, 0, 0]) for s in (0.25, 0.5, 1.0)]
    assert rows == pytest.approx([-0.2, -0.4, -0.8])
    assert bias.at(0.0) == TemporalBias() and not bias.at(0.0).active
    flex = TemporalBias("flexrope", 0.2)
    assert flex.at(0.3) is flex and not flex.per_level
    assert TemporalBias("recency").strength == pytest.approx(0.1)  # RECENCY_GAMMA
    with pytest.raises(ValueError, match=r"bias level = 1.5 is out of range \(allowed range \[0, 1\]\)"):
        TemporalBias("recency", level=1.5)
    with pytest.raises(ValueError, match="recency gamma = -1"):
        TemporalBias("recency", -1.0)


@pytest.mark.parametrize("dtype,atol", [(torch.float32, 2e-6), (torch.bfloat16, 1e-2)])
def test_one_key_channel_equals_the_dense_bias(dtype, atol):
    """Within a chunk the bias depends on the key alone: one row folded into one key channel (two in half
    precision) is the dense (Nq, Nk) bias."""
    g = torch.Generator().manual_seed(7)
    b, h, t, d = 1, 2, 4, 16
    query, keys = torch.tensor([6.0, 7.0]), torch.arange(8.0)
    q = torch.randn(b, h, 2 * t, d, generator=g)
    k, v = (torch.randn(b, h, 8 * t, d, generator=g) for _ in range(2))
    row = TemporalBias("recency", 0.4).at(0.9).frame_bias(query, keys, h)[:, :1]  # (1, 1, Fk)
    key_bias = row.repeat_interleave(t, dim=-1)  # (1, 1, Nk)
    dense = windowed_attention(q, k, v, bias=key_bias.expand(1, 2 * t, 8 * t))
    free = frame_biased_attention(q.to(dtype), k.to(dtype), v.to(dtype), key_bias)
    torch.testing.assert_close(free.float(), dense, rtol=0, atol=atol)
    assert (windowed_attention(q, k, v) - dense).abs().max() > 10 * atol


def _run(model, config, frames=16, seed=0, switches=()):
    cond = model.encode_prompt("a red circle and a blue square on a navy background")
    with torch.no_grad():
        chunks = list(rollout(model.denoiser, cond, num_frames=frames, config=config, switches=switches,
                              generator=torch.Generator().manual_seed(seed)))
    return torch.cat([c.latents for c in chunks], dim=1)


def test_the_preset_is_deterministic_acts_and_builds_the_bias_per_step(tiny_model, monkeypatch):
    den = tiny_model.denoiser
    config = resolve_preset("recency-forcing", den, steps=2)
    assert config.bias.kind == "recency" and config.cache == resolve_preset("none", den, steps=2).cache
    a, b = _run(tiny_model, config), _run(tiny_model, config)
    assert torch.equal(a, b)
    plain = _run(tiny_model, resolve_preset("none", den, steps=2))
    assert not torch.allclose(a, plain)
    # The first chunk has no history: it is the base model's own.
    f = den.defaults.chunk_size
    torch.testing.assert_close(a[:, :f], plain[:, :f], atol=1e-6, rtol=0)
    seen = []
    forward = type(den).forward

    def spy(self, x, t, cond, **kw):
        seen.append(kw["bias"])
        return forward(self, x, t, cond, **kw)

    monkeypatch.setattr(type(den), "forward", spy)
    _run(tiny_model, config, frames=2 * f)
    levels = sorted({bb.level for bb in seen if bb.kind == "recency"})
    assert len(levels) == 2 and all(0 < level <= 1 for level in levels)  # one per denoising step
    assert any(bb.kind == "none" for bb in seen)  # the clean-context passes are unbiased


def test_it_composes_with_a_sink_and_a_prompt_switch(tiny_model):
    den = tiny_model.denoiser
    config = resolve_preset("sink", den, steps=2, recency=0.3)
    assert config.bias.kind == "recency" and config.bias.strength == 0.3 and config.cache.sink == den.defaults.sink
    other = tiny_model.encode_prompt("two yellow triangles on a black background")
    f = den.defaults.chunk_size
    out = _run(tiny_model, config, frames=8 * f, switches=[Switch(4 * f, other)])
    again = _run(tiny_model, config, frames=8 * f, switches=[Switch(4 * f, other)])
    assert torch.equal(out, again) and torch.isfinite(out).all()
    assert not torch.allclose(out, _run(tiny_model, resolve_preset("sink", den, steps=2), frames=8 * f,
                                        switches=[Switch(4 * f, other)]))


def test_the_strength_override_names_its_bias_and_a_mismatch_is_refused(tiny_model):
    den = tiny_model.denoiser
    assert resolve_preset("none", den, recency=0.05).bias == TemporalBias("recency", 0.05)
    with pytest.raises(ValueError, match="recency = 0.05 is the recency bias's strength, but the bias is 'flexrope'"):
        resolve_preset("none", den, recency=0.05, bias="flexrope")


@pytest.mark.parametrize("schedule", ["fifo", "miga", "rolling"])
def test_schedules_that_denoise_several_levels_at_once_refuse_it(tiny_model, schedule):
    from longroll.pipelines.rollouts import SCHEDULES

    with pytest.raises(ValueError, match=f"the {schedule} schedule denoises frames at several"):
        SCHEDULES[schedule].resolve("recency-forcing", tiny_model.denoiser, {}, {})
    with pytest.raises(ValueError, match=f"The recency bias .* the {schedule} schedule denoises frames at several"):
        SCHEDULES[schedule].resolve("none", tiny_model.denoiser, {"bias": "recency"}, {})
    assert "recency-forcing" not in SCHEDULES[schedule].presets()
    assert "recency-forcing" in SCHEDULES["chunk"].presets()
