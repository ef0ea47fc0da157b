"""The built-in model with FAR's long short-term context: the gate's warm start, cached == uncached, the
coarse embedder's pooling, the multi-level cache in flat memory, training and loading through the recipe."""

import json
from dataclasses import replace

import pytest
import torch

from longroll.attention import gated_attention
from longroll.cache.config import CacheConfig
from longroll.models.tiny.config import DiTConfig
from longroll.models.tiny.dit import TinyDiT, patchify
from longroll.models.tiny.long import TinyLongDiT, build_dit
from longroll.models.tiny.train import TrainConfig, long_span, long_timesteps, train, warm_start
from longroll.models.tiny.weights import load_tiny, random_tiny, save_tiny
from longroll.rope.bias import TemporalBias
from longroll.world.vocab import MAX_OBJECTS

CONFIG = DiTConfig(width=32, depth=2, heads=2, temporal_rope_dim=None, chunk_size=3, train_len=6, context_patch=4,
                   short_window=6)


def _model(seed=0, gates=None) -> TinyLongDiT:
    torch.manual_seed(seed)
    model = TinyLongDiT(CONFIG).eval()
    with torch.no_grad():  # zero-initialised heads and gates would hide every difference
        for name, p in model.named_parameters():
            p.add_(0.2 * torch.randn_like(p)) if "gate" not in name else None
        for parts in model.long_parts:
            parts.gate.copy_(torch.tensor([0.0, 0.0]) if gates is None else torch.tensor(gates))
    return model


def _cond():
    return torch.zeros(1, MAX_OBJECTS + 1, dtype=torch.long)


def test_gated_attention_is_softmax_with_log_gate_and_exact_at_zero():
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 2, 5, 8, generator=g) for _ in range(3))
    k = torch.cat([k, torch.randn(2, 2, 3, 8, generator=g)], 2)
    v = torch.cat([v, torch.randn(2, 2, 3, 8, generator=g)], 2)
    gate = torch.tensor([0.5, 2.0])
    bias = torch.zeros(1, 2, 1, 8)
    bias[..., :3] = gate.log()[None, :, None, None]
    want = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias.expand(2, 2, 5, 8))
    assert torch.allclose(gated_attention(q, k, v, gate=gate, gated=3), want, atol=1e-6)
    # Gate 0: the gated keys change nothing, and the gate still has a gradient.
    zero = torch.zeros(2, requires_grad=True)
    out = gated_attention(q, k, v, gate=zero, gated=3)
    plain = torch.nn.functional.scaled_dot_product_attention(q, k[:, :, 3:], v[:, :, 3:])
    assert torch.allclose(out, plain, atol=1e-6)
    out.square().sum().backward()
    assert bool((zero.grad.abs() > 0).all())
    # A gate pushed below 0 acts as 0 and keeps its gradient, so it can open again.
    below = torch.tensor([-0.5, -0.1], requires_grad=True)
    out = gated_attention(q, k, v, gate=below, gated=3)
    assert torch.allclose(out, plain, atol=1e-6)
    out.square().sum().backward()
    assert torch.allclose(below.grad, zero.grad)


def test_closed_gates_compute_the_model_it_was_warm_started_from():
    model = _model()
    base = TinyDiT(replace(CONFIG, context_patch=None)).eval()
    base.load_state_dict({k: v for k, v in model.state_dict().items() if k in base.state_dict()})
    x = torch.randn(1, 15, 8, 8, 8)
    t = torch.full((1, 15), -1.0)
    t[:, -3:] = 0.7
    with torch.no_grad():
        long = model(x, t, _cond())
        short = base(x[:, -6:], t[:, -6:], _cond(), start_frame=9)
    assert torch.allclose(long[:, -6:], short, atol=1e-5)
    assert torch.count_nonzero(long[:, :-6]) == 0  # the coarse frames' outputs: zeros
    with torch.no_grad():
        for parts in model.long_parts:
            parts.gate.fill_(1.0)
        opened = model(x, t, _cond())
    assert (opened[:, -6:] - short).abs().max() > 1e-2  # open gates: the long-term frames are seen


def test_the_coarse_embedder_starts_as_the_mean_of_the_fine_patches_under_it():
    torch.manual_seed(0)
    model = TinyLongDiT(CONFIG)
    with torch.no_grad():
        model.patch_embed.weight.normal_()
        model.patch_embed.bias.normal_()
        model.init_context_from_fine()
        x = torch.randn(1, 1, 8, 8, 8)
        fine = model.patch_embed(patchify(x, 2)).reshape(1, 4, 4, -1)  # (1, rows, cols, D) of 2x2 patches
        coarse = model.context_embed(patchify(x, 4)).reshape(1, 2, 2, -1)
        pooled = fine.reshape(1, 2, 2, 2, 2, -1).mean(dim=(2, 4))
    assert torch.allclose(coarse, pooled, atol=1e-5)


@pytest.mark.parametrize("bias", [None, TemporalBias("flexrope", 0.05)])
def test_the_multi_level_cache_equals_recomputing_the_whole_context(bias):
    """Chunk by chunk: each denoising step against the two levels equals an uncached forward over every
    frame so far (the earlier ones clean, the coarse ones by then long-term)."""
    model = _model(gates=[0.7, 1.3])
    cache = model.new_cache(CacheConfig(window=60, sink=0), 1)
    x = torch.randn(1, 24, 8, 8, 8)
    worst = 0.0
    for s in range(0, 24, 3):
        noisy, t = torch.randn(1, 3, 8, 8, 8), torch.full((1, 3), 0.6)
        with torch.no_grad():
            got = model(noisy, t, _cond(), cache=cache, start_frame=s, bias=bias)
            ref = model(torch.cat([x[:, :s], noisy], 1), torch.cat([torch.full((1, s), -1.0), t], 1), _cond(),
                        bias=bias)[:, -3:]
            assert torch.count_nonzero(model(x[:, s:s + 3], torch.full((1, 3), -1.0), _cond(), cache=cache,
                                             start_frame=s, bias=bias)) == 0
        worst = max(worst, float((got - ref).abs().max() / ref.abs().max()))
    assert worst < 1e-5
    assert cache.coarse.held_frames() == list(range(21)) and cache.fine_frames == [21, 22, 23]


def test_the_multi_level_cache_stays_flat_under_a_window():
    model = _model(gates=[1.0, 1.0])
    cache = model.new_cache(CacheConfig(window=9, sink=3), 1)
    sizes = []
    for s in range(0, 60, 3):
        with torch.no_grad():
            model(torch.randn(1, 3, 8, 8, 8), torch.full((1, 3), -1.0), _cond(), cache=cache, start_frame=s)
        sizes.append(cache.nbytes)
    assert len(set(sizes[-8:])) == 1  # bounded: the coarse window and the short-term window are full
    assert cache.coarse.held_frames()[:3] == [0, 1, 2] and len(cache.coarse.held_frames()) == 9


def test_bad_calls_are_refused_with_the_reason():
    model = _model()
    cache = model.new_cache(CacheConfig(window=60, sink=0), 1)
    with pytest.raises(ValueError, match="makes frame 0 next; got frame 3"):
        model(torch.randn(1, 3, 8, 8, 8), torch.full((1, 3), 0.5), _cond(), cache=cache, start_frame=3)
    with pytest.raises(ValueError, match="one chunk of 3 frames"):
        model(torch.randn(1, 2, 8, 8, 8), torch.full((1, 2), 0.5), _cond(), cache=cache)
    with pytest.raises(ValueError, match="long-term context and must be clean"):
        model(torch.randn(1, 9, 8, 8, 8), torch.full((1, 9), 0.5), _cond())
    with pytest.raises(ValueError, match="context_patch = 6 must be a multiple of patch = 2 and divide latent_size"):
        replace(CONFIG, context_patch=6)
    with pytest.raises(ValueError, match="short_window = 7 must be a multiple of chunk_size = 3"):
        replace(CONFIG, short_window=7)
    assert {part for part, _ in model.defaults.refuses} >= {"fifo", "miga", "relative", "switch"}


def test_training_spans_end_in_a_noisy_short_term_window_after_clean_coarse_frames():
    cfg = TrainConfig(clip_len=30, dit=replace(CONFIG, train_len=6))
    gen = torch.Generator().manual_seed(0)
    spans = [long_span(cfg, gen) for _ in range(300)]
    assert all(first % 3 == 0 and n % 3 == 0 and 6 <= n and first + n <= 30 for first, n in spans)
    assert {n for _, n in spans} == set(range(6, 31, 3))  # every coarse length, none to all
    t = long_timesteps(cfg, 4, 15, gen)
    assert bool((t[:, :9] < 0).all()) and t.shape == (4, 15)
    with pytest.raises(ValueError, match="clip_len"):
        TrainConfig(clip_len=5, dit=CONFIG)


def test_the_recipe_fine_tunes_from_exported_weights_and_exports_a_loadable_long_model(tmp_path):
    short = random_tiny(0, dit=replace(CONFIG, context_patch=None))
    with torch.no_grad():
        for p in short.denoiser.parameters():
            p.add_(0.1 * torch.randn_like(p))
    save_tiny(short.autoencoder, short.denoiser, tmp_path / "short")
    weights = str(tmp_path / "short" / "tiny.safetensors")
    cfg = TrainConfig(clips=4, clip_len=15, steps=2, batch=2, checkpoint_every=1, bf16=False, dit=CONFIG,
                      init_from=weights, ae_from=weights)
    train(cfg, tmp_path / "run", tmp_path / "w")
    ae_state = torch.load(tmp_path / "run" / "ae.pt")
    assert all(torch.equal(ae_state[k], v) for k, v in short.autoencoder.state_dict().items())  # not retrained
    model = load_tiny(tmp_path / "w" / "tiny.safetensors")
    assert isinstance(model.denoiser, TinyLongDiT) and model.defaults.native.window is None
    assert json.loads((tmp_path / "w" / "tiny.json").read_text())["dit"]["context_patch"] == 4
    # A warm start keeps the short model's weights and pools them into the coarse stream.
    fresh = build_dit(CONFIG)
    warm_start(fresh, weights)
    fresh.init_context_from_fine()
    assert torch.equal(fresh.long_parts[1].qkv.weight, short.denoiser.blocks[1].qkv.weight)
    # Its one-file checkpoint leaves out the autoencoder of ae_from, and a resume takes it from there again.
    from longroll.models.tiny.resume import pack, unpack

    packed = torch.load(pack(tmp_path / "run", tmp_path / "ckpt.pt"), weights_only=False)
    assert packed["ae"] is None and packed["step"] == 2
    unpack(tmp_path / "ckpt.pt", tmp_path / "moved")
    assert not (tmp_path / "moved" / "ae.pt").exists()
    train(replace(cfg, steps=3), tmp_path / "moved")
    assert torch.load(tmp_path / "moved" / "dit_ckpt.pt", weights_only=False)["step"] == 3
    assert all(torch.equal(torch.load(tmp_path / "moved" / "ae.pt")[k], v) for k, v in ae_state.items())
    with pytest.raises(FileNotFoundError, match="ae_from"):
        train(replace(cfg, ae_from=str(tmp_path / "nothing.safetensors")), tmp_path / "run2")


def test_a_long_video_of_the_variant_is_deterministic_and_refuses_what_its_cache_cannot_take(tmp_path):
    """Through the main job: same seed, same bits; guidance and the sink presets run on its coarse level; FIFO and
    relative positions are refused at resolve with the reason."""
    import numpy as np

    from longroll.pipelines.generate import generate

    model = random_tiny(0, dit=CONFIG)
    with torch.no_grad():
        for name, p in model.denoiser.named_parameters():
            p.add_(0.05 * torch.randn_like(p))
    prompt = "a red circle on a black background"
    a = generate(prompt, seconds=3.0, model=model, seed=3, progress=False, preset="none", window=9)
    b = generate(prompt, seconds=3.0, model=model, seed=3, progress=False, preset="none", window=9)
    assert a.shape[0] == 24 and np.array_equal(a, b)
    assert generate(prompt, seconds=2.0, model=model, progress=False, preset="sink", cfg=2.0).shape[0] == 16
    with pytest.raises(ValueError, match="fifo schedule: its long-term frames are seen only clean"):
        generate(prompt, seconds=2.0, model=model, progress=False, schedule="fifo")
    with pytest.raises(ValueError, match="relative RoPE positions in the cache: its two levels keep absolute"):
        generate(prompt, seconds=2.0, model=model, progress=False, preset="infinity-rope")
