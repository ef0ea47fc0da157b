"""CausalWan: equal to diffusers' Wan on shared weights; cached rollout equal to the uncached
causal pass; sink + window eviction equal to a window rebuilt from scratch; bad input."""

import pytest
import torch
from rollout_reference import uncached_reference

from longroll.models.causal_wan import CausalWan, CausalWanConfig
from longroll.models.causal_wan.rollout_spec import CausalWanDenoiser, WanRolloutSpec, spec_for
from longroll.pipelines.presets import resolve_preset
from longroll.pipelines.rollout import rollout

pytest.importorskip("diffusers")


def _inputs(f=3, seed=1, h=8, w=12):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, 16, f, h, w, generator=g), torch.randn(1, 7, 16, generator=g)


def _per_token(t, tokens):
    return t.repeat_interleave(tokens, dim=1)


def _padded(ctx, text_len=512):
    """The context as Wan's pipelines hand it over: zero-padded to text_len tokens."""
    return torch.nn.functional.pad(ctx, (0, 0, 0, text_len - ctx.shape[1]))


def test_one_chunk_equals_diffusers_with_scalar_and_per_frame_timesteps(wan_transformer):
    model = CausalWan.from_diffusers(wan_transformer)
    x, ctx = _inputs()
    tokens = (8 // 2) * (12 // 2)
    with torch.no_grad():
        ref = wan_transformer(x, torch.tensor([700.0]), _padded(ctx)).sample
        out = model(x, torch.full((1, 3), 700.0), ctx)
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4 * ref.abs().max().item())
        t = torch.tensor([[900.0, 500.0, 100.0]])
        ref = wan_transformer(x, _per_token(t, tokens), _padded(ctx)).sample
        out = model(x, t, ctx)
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4 * ref.abs().max().item())
        assert not torch.allclose(out, model(x, torch.full((1, 3), 500.0), ctx))


def test_from_diffusers_shares_weights_and_config(wan_transformer):
    model = CausalWan.from_diffusers(wan_transformer)
    assert model.blocks[1].self_attn.q.weight.data_ptr() == wan_transformer.blocks[1].attn1.to_q.weight.data_ptr()
    assert model.blocks[0].norm3.weight.data_ptr() == wan_transformer.blocks[0].norm2.weight.data_ptr()
    assert model.head.modulation.data_ptr() == wan_transformer.scale_shift_table.data_ptr()
    cfg = model.config
    assert (cfg.dim, cfg.num_heads, cfg.head_dim, cfg.num_layers, cfg.ffn_dim) == (24, 2, 12, 2, 32)
    assert cfg.tokens_per_frame(60, 104) == 1560  # Wan2.1 at 480 x 832, derived, not written down


def test_wan_context_is_computed_once_per_prompt(wan_transformer):
    model = CausalWan.from_diffusers(wan_transformer)
    x, ctx = _inputs()
    t = torch.full((1, 3), 400.0)
    with torch.no_grad():
        torch.testing.assert_close(model(x, t, model.encode_context(ctx)), model(x, t, ctx))


def test_unpadded_and_padded_contexts_give_the_same_output(wan_transformer):
    """Wan pads the text states to text_len inside the model; a caller who passes them unpadded gets
    the family's output all the same."""
    model = CausalWan.from_diffusers(wan_transformer)
    x, ctx = _inputs()
    t = torch.full((1, 3), 400.0)
    with torch.no_grad():
        torch.testing.assert_close(model(x, t, ctx), model(x, t, _padded(ctx)))
        assert not torch.allclose(model(x, t, ctx), model(x, t, _padded(ctx)[:, :-1] + 0.5))
    with pytest.raises(ValueError, match="at most text_len = 512"):
        model.encode_context(torch.zeros(1, 513, 16))


def test_a_later_chunk_never_changes_an_earlier_one(wan_transformer):
    model = CausalWan.from_diffusers(wan_transformer, chunk_size=3)
    x, ctx = _inputs(f=6)
    t = torch.full((1, 6), 600.0)
    y = x.clone()
    y[:, :, 3:] = torch.randn_like(y[:, :, 3:])
    with torch.no_grad():
        a, b = model(x, t, ctx), model(y, t, ctx)
    torch.testing.assert_close(a[:, :, :3], b[:, :, :3])
    assert not torch.allclose(a[:, :, 3:], b[:, :, 3:])


def _denoiser(transformer, **spec):
    model = CausalWan.from_diffusers(transformer)
    return CausalWanDenoiser(model, WanRolloutSpec(height=32, width=48, train_len=6, **spec))


def _collect(den, cond, frames, config, seed=0):
    with torch.no_grad():
        chunks = list(rollout(den, cond, num_frames=frames, config=config,
                              generator=torch.Generator().manual_seed(seed)))
    return torch.cat([c.latents for c in chunks], dim=1)


@pytest.mark.parametrize("preset", ["none", "flex", "flexrope"])
def test_cached_rollout_equals_the_uncached_causal_pass(wan_transformer, preset):
    den = _denoiser(wan_transformer)
    cond = den.model.encode_context(torch.randn(1, 5, 16, generator=torch.Generator().manual_seed(3)))
    config = resolve_preset(preset, den, window=9, sink=0, steps=2, sampler="euler", rho=-0.5)
    out = _collect(den, cond, 9, config)
    ref = uncached_reference(den, cond, 9, config)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("rotated", [True, False])
def test_sink_and_window_eviction_equals_a_window_rebuilt_from_scratch(wan_transformer, rotated):
    """A 6-frame window with a 3-frame sink over 15 frames: each chunk sees the sink and the latest
    chunk, exactly as if the cache had been built afresh from those frames' clean latents."""
    den = _denoiser(wan_transformer)
    cond = den.model.encode_context(torch.randn(1, 5, 16))
    config = resolve_preset("sink", den, window=6, sink=3, steps=2, sampler="euler", rotated=rotated,
                            dynamic=None if rotated else True)
    out = _collect(den, cond, 15, config)
    noise = config.noise.sampler(torch.Generator().manual_seed(0))
    sig = config.schedule.sigmas().tolist()
    with torch.no_grad():
        for start in range(0, 15, 3):
            length = start + 3 if config.rope.dynamic else 15
            rope = den.rope_freqs.with_temporal(config.rope.temporal(den.rope_freqs.temporal, train_len=6,
                                                                     length=length))
            x = noise.sample(start, (1, 3, *den.latent_shape))
            for s, s_next in zip(sig[:-1], sig[1:]):
                cache = _never_evicted(den, config, out, cond, start, rope)
                v = den(x, torch.full((1, 3), s), cond, cache=cache, start_frame=start, rope=rope)
                x = x + (s_next - s) * v
            torch.testing.assert_close(x, out[:, start:start + 3], rtol=1e-4, atol=1e-4)


def _never_evicted(den, config, out, cond, start, rope):
    """A fresh cache holding only the sink chunk and the latest chunk before ``start`` (clean
    latents); the frames in between are skipped by moving the write pointer, never evicted."""
    cache = den.new_cache(config.cache)
    if start > 0:
        den(out[:, 0:3], torch.zeros(1, 3), cond, cache=cache, start_frame=0, rope=rope)
    if start > 3:
        cache._end = start - 3
        den(out[:, start - 3:start], torch.zeros(1, 3), cond, cache=cache, start_frame=start - 3, rope=rope)
    return cache


def test_positions_are_unbounded_and_shift_invariant(wan_transformer):
    """No 1024-row table: frame 5000 works, and with no window limit a far-away run matches."""
    model = CausalWan.from_diffusers(wan_transformer)
    x, ctx = _inputs()
    t = torch.full((1, 3), 300.0)
    with torch.no_grad():
        near = model(x, t, ctx, start_frame=0)
        far = model(x, t, ctx, start_frame=5000)
    torch.testing.assert_close(near, far, rtol=1e-3, atol=1e-3)  # RoPE is relative within the chunk


def test_cast_keeps_norms_and_modulation_in_fp32(wan_transformer):
    model = CausalWan.from_diffusers(wan_transformer)
    half = CausalWan(model.config)
    half.load_state_dict(model.state_dict())
    half.cast(torch.bfloat16)
    assert half.blocks[0].self_attn.q.weight.dtype == torch.bfloat16
    assert half.blocks[0].modulation.dtype == torch.float32 and half.head.modulation.dtype == torch.float32
    assert half.blocks[0].norm3.weight.dtype == torch.float32
    assert half.time_embedding[0].weight.dtype == torch.float32
    x, ctx = _inputs()
    with torch.no_grad():
        out = half(x, torch.full((1, 3), 500.0), ctx)
        ref = model(x, torch.full((1, 3), 500.0), ctx)
    assert out.dtype == torch.float32 and (out - ref).abs().mean() < 0.05 * ref.abs().mean()


@pytest.mark.parametrize("call, match", [
    (lambda m, x, c: m(x[:, :4], torch.zeros(1, 3), c), "channels"),
    (lambda m, x, c: m(x, torch.zeros(1, 2), c), "one timestep per frame"),
    (lambda m, x, c: m(x, torch.zeros(1, 3), c[..., :8]), "text-encoder states"),
    (lambda m, x, c: m(x[..., :7], torch.zeros(1, 3), c), "patches"),
])
def test_bad_input_is_a_clear_error(wan_transformer, call, match):
    model = CausalWan.from_diffusers(wan_transformer)
    x, ctx = _inputs()
    with pytest.raises(ValueError, match=match):
        call(model, x, ctx)


def test_configs_from_both_spellings_and_bad_values():
    native = {"_class_name": "WanModel", "dim": 1536, "ffn_dim": 8960, "num_heads": 12, "num_layers": 30,
              "in_dim": 16, "out_dim": 16, "text_len": 512, "freq_dim": 256, "patch_size": [1, 2, 2],
              "qk_norm": True, "cross_attn_norm": True, "eps": 1e-6, "model_type": "t2v"}
    diffusers = {"num_attention_heads": 12, "attention_head_dim": 128, "in_channels": 16, "out_channels": 16,
                 "text_dim": 4096, "freq_dim": 256, "ffn_dim": 8960, "num_layers": 30, "patch_size": [1, 2, 2]}
    assert CausalWanConfig.from_any(native) == CausalWanConfig.from_any(diffusers) == CausalWanConfig()
    assert CausalWanConfig().head_dim == 128
    with pytest.raises(ValueError, match="Not a Wan transformer config"):
        CausalWanConfig.from_any({"hidden": 3})
    with pytest.raises(ValueError, match="only text-to-video"):
        CausalWanConfig.from_native({**native, "model_type": "i2v"})
    with pytest.raises(ValueError, match="patch_size\\[0\\] = 2"):
        CausalWanConfig(patch_size=(2, 2, 2))
    with pytest.raises(ValueError, match="multiple of num_heads"):
        CausalWanConfig(dim=100, num_heads=12)


def test_flavour_specs_and_their_presets(wan_transformer):
    model = CausalWan.from_diffusers(wan_transformer)
    sf = CausalWanDenoiser(model, spec_for("self-forcing", height=32, width=48))
    ll = CausalWanDenoiser(model, spec_for("longlive", height=32, width=48))
    assert sf.defaults.schedule.sigmas().tolist()[:4] == pytest.approx([1.0, 0.9375, 0.8333333, 0.625])
    flex = resolve_preset("flex", sf)
    assert (flex.rope.alpha, flex.rope.beta, flex.noise.rho) == (pytest.approx(0.1), pytest.approx(2.5), -1.0)
    assert (flex.cache.window, flex.cache.sink, flex.schedule.sampler) == (12, 3, "renoise")
    lflex = resolve_preset("flex", ll)
    assert (ll.defaults.train_len, lflex.rope.alpha, lflex.rope.beta) == (240, 1.0, 15.0)
    with pytest.raises(ValueError, match="flavour must be one of"):
        spec_for("wan2.2")
    with pytest.raises(ValueError, match="multiple of 16"):
        spec_for("self-forcing", height=500)


def test_a_compiled_block_is_one_graph_without_breaks_and_rolls_out_as_the_eager_model(wan_transformer):
    """``compile_blocks``: the self-attention (cache, rotation, eviction: Python) is one opaque operator,
    so dynamo captures each block whole; a compiled rollout with a sink and eviction equals the eager one
    and compiles nothing more once warm."""
    import torch._dynamo
    from torch._dynamo.utils import counters

    from longroll.attention import attending, frame_attend_op

    den = _denoiser(wan_transformer)
    cond = den.model.encode_context(torch.randn(1, 5, 16, generator=torch.Generator().manual_seed(3)))
    config = resolve_preset("sink", den, window=6, sink=3, steps=2)
    eager = _collect(den, cond, 12, config)
    seen, block = [], den.model.blocks[1]
    block.forward = lambda *a, **k: seen.append((a, k)) or type(block).forward(block, *a, **k)
    _collect(den, cond, 6, config)
    del block.forward
    (args, kwargs) = seen[-1]
    frame_attend_op()
    with attending(args[5]):
        explained = torch._dynamo.explain(block)(*args, **kwargs)
    assert explained.graph_count == 1 and explained.graph_break_count == 0, explained.break_reasons
    torch._dynamo.reset()
    try:
        den.model.compile_blocks(backend="aot_eager")  # dynamo and the operator's fake; no code generation
        compiled = _collect(den, cond, 12, config)
        counters.clear()
        again = _collect(den, cond, 12, config)
        assert counters["stats"]["unique_graphs"] == 0 and not counters["graph_break"]
    finally:
        for b in den.model.blocks:
            b._compiled_call_impl = None
        torch._dynamo.reset()
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-5)
    assert torch.equal(again, compiled)
