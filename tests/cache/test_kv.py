"""The KV cache: full-window equivalence, sink + window semantics, fixed memory, storage policies."""

import pytest
import torch

from longroll.attention import chunk_causal_mask, frame_chunks, windowed_attention
from longroll.cache.config import CacheConfig
from longroll.cache.kv import KVCache
from longroll.rope import TemporalBias, apply_rotary, rope_cos_sin, scale_temporal_freqs, wan_rope_freqs

B, H, D, HW = 2, 2, 24, (2, 2)
T = HW[0] * HW[1]


def _rope(length=None):
    rope = wan_rope_freqs(D)
    if length is not None:
        rope = rope.with_temporal(scale_temporal_freqs(rope.temporal, "flex", train_len=8, target_len=length))
    return rope


def _rotate_fn(rope):
    def rotate(x, frames):  # x (B, H, n*T, D), frames (n,)
        cos, sin = rope_cos_sin(rope, frames, *HW)
        return apply_rotary(x, cos, sin)
    return rotate


def _qkv(num_frames, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(B, H, num_frames * T, D, generator=g) for _ in range(3)]


def _rollout(cache, q, k, v, chunk, rotate, bias=None, layer=0):
    """Chunk-wise attention through the cache; returns outputs for every query token."""
    outs = []
    num_frames = q.shape[2] // T
    for s in range(0, num_frames, chunk):
        sl = slice(s * T, (s + chunk) * T)
        cache.begin(s, chunk)
        cache.write(layer, k[:, :, sl], v[:, :, sl], rotate)
        kw, vw = cache.read(layer, rotate)
        qf = torch.arange(s, s + chunk)
        token_bias = None if bias is None else bias.token_bias(qf, cache.frame_positions(), H, T)
        outs.append(windowed_attention(rotate(q[:, :, sl], qf), kw, vw, bias=token_bias))
    return torch.cat(outs, dim=2)


def _reference(q, k, v, chunk, rotate, allowed_frames=None, bias=None):
    """Uncached attention over the whole video with a chunk-causal (and optional window) mask."""
    num_frames = q.shape[2] // T
    frames = torch.arange(num_frames)
    mask = chunk_causal_mask(frame_chunks(num_frames, chunk), T)
    if allowed_frames is not None:
        mask = mask & allowed_frames.repeat_interleave(T, 0).repeat_interleave(T, 1)
    token_bias = None if bias is None else bias.token_bias(frames, frames, H, T)
    q_rot = rotate(q, frames)
    k_rot = rotate(k, frames)
    return windowed_attention(q_rot, k_rot, v, mask=mask, bias=token_bias)


@pytest.mark.parametrize("rotated", [True, False])
@pytest.mark.parametrize("bias", [None, TemporalBias("flexrope", 0.3), TemporalBias("alibi")])
def test_window_covering_everything_equals_full_causal_attention(rotated, bias):
    frames, chunk = 12, 3
    q, k, v = _qkv(frames)
    rotate = _rotate_fn(_rope(frames))
    cache = KVCache(CacheConfig(window=frames, sink=0, rotated=rotated), num_layers=1, batch_size=B,
                    num_heads=H, tokens_per_frame=T, head_dim=D)
    out = _rollout(cache, q, k, v, chunk, rotate, bias)
    ref = _reference(q, k, v, chunk, rotate, bias=bias)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("rotated", [True, False])
def test_sink_and_window_attend_exactly_to_sink_plus_recent_frames(rotated):
    frames, chunk, sink, window = 20, 2, 2, 8
    q, k, v = _qkv(frames, seed=1)
    rotate = _rotate_fn(_rope(frames))
    cache = KVCache(CacheConfig(window=window, sink=sink, rotated=rotated), num_layers=1, batch_size=B,
                    num_heads=H, tokens_per_frame=T, head_dim=D)
    out = _rollout(cache, q, k, v, chunk, rotate, TemporalBias("flexrope", 0.1))
    # Query frame i (in chunk c) may see key frame j if j is a sink frame, or within the last
    # (window - sink) frames up to the end of its chunk.
    idx = torch.arange(frames)
    chunk_end = (idx // chunk + 1) * chunk
    allowed = (idx[None, :] < sink) | (idx[None, :] >= (chunk_end[:, None] - (window - sink)))
    ref = _reference(q, k, v, chunk, rotate, allowed_frames=allowed, bias=TemporalBias("flexrope", 0.1))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_sink_survives_any_number_of_evictions_and_memory_stays_fixed():
    cfg = CacheConfig(window=12, sink=3, rotated=True)
    cache = KVCache(cfg, num_layers=2, batch_size=1, num_heads=2, tokens_per_frame=4, head_dim=8)
    pointers = (cache.k.data_ptr(), cache.v.data_ptr())
    nbytes = cache.nbytes
    chunk = 3
    for c in range(1000):
        cache.begin(c * chunk, chunk)
        for layer in range(2):
            k = torch.full((1, 2, chunk * 4, 8), float(c))
            cache.write(layer, k, k)
    positions = sorted(cache.frame_positions().tolist())
    assert positions[:3] == [0, 1, 2]
    assert positions[3:] == list(range(3000 - 9, 3000))
    # The sink slots still hold the first chunk's keys.
    assert torch.equal(cache.k[:, :, :, :3], torch.zeros_like(cache.k[:, :, :, :3]))
    assert (cache.k.data_ptr(), cache.v.data_ptr()) == pointers
    assert cache.nbytes == nbytes


@pytest.mark.parametrize("length", [40, 200])
def test_rotated_and_unrotated_storage_give_the_same_attention_for_a_fixed_scale(length):
    frames, chunk = 30, 3
    q, k, v = _qkv(frames, seed=2)
    rotate = _rotate_fn(_rope(length))
    outs = []
    for rotated in (True, False):
        cache = KVCache(CacheConfig(window=9, sink=3, rotated=rotated), num_layers=1, batch_size=B,
                        num_heads=H, tokens_per_frame=T, head_dim=D)
        outs.append(_rollout(cache, q, k, v, chunk, rotate))
    torch.testing.assert_close(outs[0], outs[1], atol=1e-5, rtol=1e-5)


def test_unrotated_storage_rotates_with_the_frequencies_of_the_read():
    cache = KVCache(CacheConfig(window=6, sink=0, rotated=False), num_layers=1, batch_size=1, num_heads=1,
                    tokens_per_frame=T, head_dim=D)
    k = torch.randn(1, 1, 2 * T, D)
    cache.begin(0, 2)
    cache.write(0, k, k, _rotate_fn(_rope(10)))
    raw, _ = cache.read(0)
    assert torch.equal(raw, k)  # stored un-rotated
    short, _ = cache.read(0, _rotate_fn(_rope(10)))
    long, _ = cache.read(0, _rotate_fn(_rope(1000)))
    assert not torch.allclose(short, long)


def test_rewriting_the_current_chunk_overwrites_it():
    cache = KVCache(CacheConfig(window=4, sink=0), num_layers=1, batch_size=1, num_heads=1, tokens_per_frame=1,
                    head_dim=2)
    cache.begin(0, 2)
    for step in range(4):
        cache.write(0, torch.full((1, 1, 2, 2), float(step)), torch.full((1, 1, 2, 2), float(step)))
    k, _ = cache.read(0)
    assert k.shape == (1, 1, 2, 2) and (k == 3).all()
    assert cache.end_frame == 2 and cache.num_frames == 2


def test_recompute_of_frames_in_the_window_and_order_errors():
    cache = KVCache(CacheConfig(window=6, sink=2), num_layers=1, batch_size=1, num_heads=1, tokens_per_frame=1,
                    head_dim=2)
    for s in range(0, 12, 2):
        cache.begin(s, 2)
        cache.write(0, torch.full((1, 1, 2, 2), float(s)), torch.zeros(1, 1, 2, 2))
    cache.begin(0, 2)  # sink frames: still there
    cache.begin(8, 2)  # recent frames: still there
    cache.write(0, torch.full((1, 1, 2, 2), -1.0), torch.zeros(1, 1, 2, 2))
    assert cache.end_frame == 12
    with pytest.raises(ValueError, match="Cannot rewrite frames \\[4, 6\\)"):
        cache.begin(4, 2)  # evicted
    with pytest.raises(ValueError, match="next frame is 12, got 14"):
        cache.begin(14, 2)
    with pytest.raises(ValueError, match="num_frames = 5 is out of range"):
        cache.begin(12, 5)  # larger than the ring


def test_reset_empties_the_window_without_reallocating():
    cache = KVCache(CacheConfig(window=4, sink=1), num_layers=1, batch_size=1, num_heads=1, tokens_per_frame=1,
                    head_dim=2)
    ptr = cache.k.data_ptr()
    cache.begin(0, 1)
    cache.write(0, torch.ones(1, 1, 1, 2), torch.ones(1, 1, 1, 2))
    cache.reset()
    assert cache.end_frame == 0 and cache.num_frames == 0 and cache.k.data_ptr() == ptr and not cache.k.any()
    cache.begin(0, 1)


@pytest.mark.parametrize("window,sink", [(3, 3), (3, 5), (0, 0), (4, -1)])
def test_bad_cache_config_is_a_clear_error(window, sink):
    with pytest.raises(ValueError, match="sink|window"):
        CacheConfig(window=window, sink=sink)


def test_write_before_begin_and_wrong_shapes_are_errors():
    cache = KVCache(CacheConfig(window=4, sink=0), num_layers=1, batch_size=1, num_heads=1, tokens_per_frame=2,
                    head_dim=2)
    with pytest.raises(RuntimeError, match="before begin"):
        cache.write(0, torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2))
    cache.begin(0, 1)
    with pytest.raises(ValueError, match="shape"):
        cache.write(0, torch.zeros(1, 1, 3, 2), torch.zeros(1, 1, 3, 2))


@pytest.mark.parametrize("preset", ["cache-relative", "infinity-rope", "deep-forcing", "rolling-sink", "memrope"])
def test_keys_rotated_once_per_chunk_give_the_same_bits_as_rotating_on_every_read(tiny_model, preset, monkeypatch):
    """Un-rotated keys are rotated whole once per chunk and only the chunk's tokens at its later steps; a fold,
    replay or compression between chunks is seen from the keys' version and rotates anew."""
    import numpy as np

    from longroll.pipelines.generate import generate
    from longroll.rope.rotator import FrameRotator

    prompt = "a red circle and a blue square on a navy background"
    monkeypatch.setattr(KVCache, "reuse_rotated", False)
    before = generate(prompt, seconds=4.0, seed=1, model=tiny_model, preset=preset, upscale=1)
    monkeypatch.setattr(KVCache, "reuse_rotated", True)
    calls = []
    real = FrameRotator.rows
    monkeypatch.setattr(FrameRotator, "rows", lambda self, *a: (calls.append(1), real(self, *a))[1])
    after = generate(prompt, seconds=4.0, seed=1, model=tiny_model, preset=preset, upscale=1)
    assert calls and np.array_equal(before, after)


def test_a_change_to_the_keys_outside_write_forgets_the_rotated_keys():
    from longroll.rope.rotator import FrameRotator

    cfg = CacheConfig(window=4, sink=0, rotated=False)
    cache = KVCache(cfg, num_layers=1, batch_size=B, num_heads=H, tokens_per_frame=T, head_dim=D)
    rotator = FrameRotator(_rope(), *HW)
    cache.begin(0, 2)
    k = torch.randn(B, H, 2 * T, D)
    cache.write(0, k, k.clone(), rotator)
    first, _ = cache.read(0, rotator)
    assert cache._rotated  # kept for the chunk's later steps
    cache.k.mul_(2)  # e.g. a fold into the sink: not a write
    again, _ = cache.read(0, rotator)
    assert torch.equal(again, rotator(2 * k, cache.key_positions()))
    assert not torch.equal(again, first)
