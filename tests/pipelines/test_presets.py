"""The training-free horizon extenders built on the cache: position policies (StreamingLLM's cache-relative
positions, Infinity-RoPE's Block-Relativistic RoPE, Deep Sink's re-aligned sink), KV Flush and RoPE Cut."""

import pytest
import torch

from longroll.cache import CacheConfig, KVCache
from longroll.pipelines.presets import PRESETS, resolve_preset
from longroll.pipelines.rollout import Switch, rollout
from longroll.rope import apply_rotary, rope_cos_sin, wan_rope_freqs
from longroll.rope.positions import largest_distance, window_positions


def _cache(window, sink, positions="relative", anchor=None, tokens=1, dim=8):
    config = CacheConfig(window=window, sink=sink, rotated=positions == "absolute", positions=positions, anchor=anchor)
    return KVCache(config, num_layers=1, batch_size=1, num_heads=1, tokens_per_frame=tokens, head_dim=dim)


@pytest.fixture(scope="module")
def sharp_model(tiny_model):
    """The random tiny model with qk-norm gains of 4: the shared fixture's random gains (~0.05) make
    attention nearly uniform, so temporal positions would hardly change its output."""
    import copy

    model = copy.deepcopy(tiny_model)
    with torch.no_grad():
        for block in model.denoiser.blocks:
            block.q_norm.weight.fill_(4.0)
            block.k_norm.weight.fill_(4.0)
    return model


def _collect(model, cond, frames, config, seed=0, switches=()):
    with torch.no_grad():
        chunks = list(rollout(model.denoiser, cond, num_frames=frames, config=config,
                              generator=torch.Generator().manual_seed(seed), switches=switches))
    return torch.cat([c.latents for c in chunks], dim=1)


# ----------------------------------------------------------------------------------- position policies
def test_relative_positions_put_the_sink_before_a_tail_that_keeps_its_geometry():
    timeline = torch.tensor([0, 1, 2, 97, 98, 99, 100, 104, 105])  # sink 0-2, a tail with a gap of 3
    is_sink = timeline < 3
    pos = window_positions(timeline, is_sink, "relative")
    assert pos.tolist() == [0, 1, 2, 3, 4, 5, 6, 10, 11]
    assert window_positions(timeline, is_sink, "absolute").tolist() == timeline.tolist()
    anchored = window_positions(timeline, is_sink, "relative", anchor=20)
    assert anchored.max() == 20 and torch.equal(anchored - anchored[0], pos)  # a shift of the same geometry


@pytest.mark.parametrize("window, sink, chunk", [(12, 3, 3), (21, 10, 3), (6, 0, 1)])
def test_cache_relative_queries_never_see_beyond_the_window_even_at_frame_ten_thousand(window, sink, chunk):
    cache = _cache(window, sink)
    for start in range(0, 10_002, chunk):
        cache.begin(start, chunk)
    assert cache.end_frame > 10_000
    distance = largest_distance(cache.query_positions(), cache.key_positions())
    assert distance < window
    absolute = _cache(window, sink, positions="absolute")
    for start in range(0, 10_002, chunk):
        absolute.begin(start, chunk)
    assert largest_distance(absolute.query_positions(), absolute.key_positions()) > 9_000 or sink == 0


def test_deep_sink_phases_equal_the_papers_rotation_of_the_sink_keys():
    """Deep Forcing eq. 6: sink keys rotated at their own positions, then by exp(i w_t Delta) along time only,
    equal keys rotated at the relative positions (sink right before the tail); spatial phases untouched."""
    rope = wan_rope_freqs(24)
    g = torch.Generator().manual_seed(0)
    k = torch.randn(1, 1, 3 * 4, 24, generator=g)  # 3 sink frames, 2x2 tokens each
    sink_frames = torch.arange(3)
    tail_start = 40  # the tail's oldest frame: s_tail
    cos, sin = rope_cos_sin(rope, sink_frames, 2, 2)
    at_own = apply_rotary(k, cos, sin)
    delta = tail_start - 1 - 2  # the sink's last frame moves to s_tail - 1
    p_t = rope.temporal.numel()
    angle = torch.zeros(3 * 4, cos.shape[-1], dtype=torch.float64)
    angle[:, :p_t] = delta * rope.temporal  # temporal planes only
    realigned = apply_rotary(at_own, torch.cos(angle).float(), torch.sin(angle).float())
    relative = window_positions(torch.tensor([0, 1, 2, tail_start]), torch.tensor([True, True, True, False]),
                                "relative", anchor=tail_start)
    cos_r, sin_r = rope_cos_sin(rope, relative[:3], 2, 2)
    torch.testing.assert_close(realigned, apply_rotary(k, cos_r, sin_r), atol=1e-5, rtol=1e-5)


def test_cache_relative_over_a_window_that_never_evicts_equals_absolute(sharp_model):
    cond = sharp_model.encode_prompt("a red circle and a blue square on a navy background")
    den = sharp_model.denoiser
    absolute = resolve_preset("sink", den, window=8, steps=2)
    relative = resolve_preset("cache-relative", den, window=8, steps=2)
    assert relative.cache.positions == "relative" and not relative.cache.rotated
    frames = 8  # the window holds every frame: nothing is evicted
    torch.testing.assert_close(_collect(sharp_model, cond, frames, relative),
                               _collect(sharp_model, cond, frames, absolute), atol=1e-5, rtol=1e-5)


def test_block_relativistic_equals_cache_relative_because_rope_sees_only_differences(sharp_model):
    cond = sharp_model.encode_prompt("two yellow triangles on a black background")
    den = sharp_model.denoiser
    infinity = resolve_preset("infinity-rope", den, steps=2)
    relative = resolve_preset("cache-relative", den, steps=2)
    assert infinity.cache.anchor == den.defaults.train_len - 1 and relative.cache.anchor is None
    a, b = _collect(sharp_model, cond, 30, infinity), _collect(sharp_model, cond, 30, relative)
    rounding = float((a - b).abs().max())
    assert rounding < 1e-5
    # Past the window, relative positions differ from absolute ones by far more than that rounding.
    sink = _collect(sharp_model, cond, 30, resolve_preset("sink", den, steps=2))
    assert float((a - sink).abs().max()) > 10 * max(rounding, 1e-7)


# ----------------------------------------------------------------------------------- KV Flush, RoPE Cut
def test_kv_flush_keeps_only_the_sink_and_the_last_frames_and_refills_without_copies():
    cache = _cache(window=9, sink=3, tokens=2, dim=4)
    for start in range(0, 30, 3):
        cache.begin(start, 3)
        cache.write(0, torch.full((1, 1, 6, 4), float(start)), torch.zeros(1, 1, 6, 4))
    cache.flush(keep=1)
    assert cache.held_frames() == [0, 1, 2, 29]
    k, _ = cache.read(0)
    assert k.shape[2] == 4 * 2  # 4 frames of 2 tokens: no key of frames 24-28 is read
    cache.begin(30, 3)
    assert cache.held_frames() == [0, 1, 2, 29, 30, 31, 32]
    with pytest.raises(ValueError, match="allowed range"):
        cache.flush(keep=6)


def test_rope_cut_moves_the_new_scene_far_from_the_old_one_under_both_policies():
    for positions in ("absolute", "relative"):
        cache = _cache(window=9, sink=3, positions=positions)
        for start in range(0, 12, 3):
            cache.begin(start, 3)
        cache.flush(keep=1)
        cache.cut(42)
        cache.begin(12, 3)
        keys, query = cache.key_positions(), cache.query_positions()
        kept = keys[cache.frame_positions() == 11]
        assert float(query.min() - kept) == 43.0  # 42 positions skipped between the old frame and the new scene


def test_a_cut_in_a_rollout_flushes_and_the_new_scene_differs_from_a_smooth_switch(sharp_model):
    den = sharp_model.denoiser
    first = sharp_model.encode_prompt("a red circle on a black background")
    second = sharp_model.encode_prompt("two blue squares on a navy background")
    config = resolve_preset("cache-relative", den, steps=2)
    smooth = _collect(sharp_model, first, 20, config, switches=[Switch(10, second)])
    cut = _collect(sharp_model, first, 20, config, switches=[Switch(10, second, cut=True)])
    torch.testing.assert_close(smooth[:, :10], cut[:, :10])  # the past is untouched
    assert not torch.allclose(smooth[:, 10:], cut[:, 10:], atol=1e-5, rtol=0)
    flush = resolve_preset("infinity-rope", den, steps=2)
    assert flush.scene.switch == "flush" and flush.scene.cut_gap == 2 * den.defaults.train_len
    out = _collect(sharp_model, first, 20, flush, switches=[Switch(10, second)])
    assert out.shape == smooth.shape and torch.isfinite(out).all()


# ----------------------------------------------------------------------------------- presets, composition, input
def test_presets_take_each_papers_stated_values_on_a_self_forcing_scale_model(sharp_model):
    den = sharp_model.denoiser
    d = den.defaults
    deep = resolve_preset("deep-forcing", den)
    assert deep.cache.window == d.train_len and deep.cache.sink == max(1, round(10 * d.train_len / 21))
    assert deep.cache.positions == "relative"
    infinity = resolve_preset("infinity-rope", den)
    assert (infinity.cache.window, infinity.cache.sink, infinity.scene.flush_keep) == (d.window, d.sink, 1)
    assert all(PRESETS[p].cache_only for p in ("cache-relative", "infinity-rope", "deep-forcing", "rolling-sink",
                                               "memrope"))


def test_relative_positions_compose_with_flex_and_far_bias(sharp_model):
    cond = sharp_model.encode_prompt("a green circle and a red square on a black background")
    den = sharp_model.denoiser
    base = _collect(sharp_model, cond, 24, resolve_preset("cache-relative", den, steps=2))
    with_flex = _collect(sharp_model, cond, 24, resolve_preset("cache-relative", den, steps=2, rope="flex",
                                                              noise="antiphase"))
    with_bias = _collect(sharp_model, cond, 24, resolve_preset("cache-relative", den, steps=2, bias="flexrope"))
    flex_alone = _collect(sharp_model, cond, 24, resolve_preset("flex", den, steps=2))
    for other in (with_flex, with_bias):
        assert not torch.allclose(base, other, atol=1e-5, rtol=0)
    assert not torch.allclose(with_flex, flex_alone, atol=1e-5, rtol=0)


def test_impossible_combinations_are_refused_with_the_allowed_range(sharp_model):
    den = sharp_model.denoiser
    with pytest.raises(ValueError, match="un-rotated"):
        CacheConfig(window=12, sink=3, positions="relative", rotated=True)
    with pytest.raises(ValueError, match="anchor"):
        CacheConfig(window=12, sink=3, rotated=False, anchor=5)
    with pytest.raises(ValueError, match="not one of"):
        CacheConfig(window=12, sink=3, rotated=False, positions="sideways")
    with pytest.raises(ValueError, match=r"flush_keep = 9 .*allowed range \[0, 3\]"):
        resolve_preset("infinity-rope", den, flush_keep=9)
    with pytest.raises(ValueError, match="rotated = False"):
        resolve_preset("cache-relative", den, rotated=True)


def test_causal_wan_runs_every_cache_policy_chunkwise_and_framewise(wan_transformer):
    from longroll.models.causal_wan.model import CausalWan
    from longroll.models.causal_wan.rollout_spec import CausalWanDenoiser, WanRolloutSpec

    causal = CausalWan.from_diffusers(wan_transformer)
    cond = causal.encode_context(torch.randn(1, 5, 16, generator=torch.Generator().manual_seed(3)))
    for flavour, window, sink, train_len in (("self-forcing", 8, 3, 12), ("causal-forcing-frame", 4, 1, 6)):
        den = CausalWanDenoiser(causal, WanRolloutSpec(flavour=flavour, height=32, width=48, train_len=train_len,
                                                       window=window, sink=sink))
        for preset in ("cache-relative", "infinity-rope", "deep-forcing", "rolling-sink", "memrope"):
            config = resolve_preset(preset, den, steps=1)
            frames = 3 * config.cache.window
            with torch.no_grad():
                chunks = list(rollout(den, cond, num_frames=frames, config=config,
                                      generator=torch.Generator().manual_seed(0),
                                      switches=[Switch(frames // 2, cond, cut=True)]))
            out = torch.cat([c.latents for c in chunks], dim=1)
            assert out.shape[1] >= frames and torch.isfinite(out).all()


# ----------------------------------------------------------------------------------- Participative Compression
def _pc_cache():
    config = CacheConfig(window=8, sink=2, rotated=False, positions="relative", budget=5, recent=2)
    assert (config.compressed, config.ring) == (1, 5)
    return KVCache(config, num_layers=1, batch_size=1, num_heads=1, tokens_per_frame=2, head_dim=4)


def test_participative_compression_keeps_exactly_the_top_c_by_participation_and_never_grows():
    g = torch.Generator().manual_seed(0)
    k, v, q = (torch.randn(8, 1, 1, 2, 4, generator=g) for _ in range(3))  # per frame (B, H, T, D)
    cache = _pc_cache()
    size = cache.nbytes
    for j in range(7):  # sink 0-1 and a full ring 2-6
        cache.begin(j, 1)
        cache.write(0, k[j], v[j], q=q[j])
    assert cache.num_compressed == 0
    cache.begin(7, 1)  # frame 7 would evict frame 2: compress first
    # Brute force, eq. 7-9: candidates are the tokens of frames 2-4, scored by the queries of frames 5-6.
    recent_q = torch.cat([q[5][0, 0], q[6][0, 0]])  # (4, D)
    candidates = [(j, s) for j in (2, 3, 4) for s in range(2)]
    scores = {c: float(sum(recent_q[r] @ k[c[0]][0, 0, c[1]] for r in range(4))) for c in candidates}
    best = sorted(sorted(candidates, key=scores.get, reverse=True)[:2])  # top C = 2 tokens, in time order
    kept = cache.compressed.k[0, 0, 0, :2]
    torch.testing.assert_close(kept, torch.stack([k[j][0, 0, s] for j, s in best]))
    assert cache.compressed.time[0, :2].tolist() == [j for j, _ in best]
    assert cache.held_frames() == [0, 1, 5, 6, 7] and cache.nbytes == size
    # Temporal RoPE Unification: sink 0-1, the kept tokens as one pseudo-frame at 2, then the recent frames.
    positions = cache.key_token_positions(0).tolist()  # frames in slot order, then the kept tokens
    frames = cache.frame_positions().repeat_interleave(2).tolist()
    assert dict(zip(frames, positions[:10])) == {0: 0, 1: 1, 5: 3, 6: 4, 7: 5} and positions[10:] == [2, 2]
    for j in range(8, 40):  # many more compressions: the cache never holds more than the window
        cache.begin(j, 1)
        cache.write(0, k[j % 8], v[j % 8], q=q[j % 8])
        assert cache.num_frames + -(-cache.num_compressed // 2) <= 8 and cache.nbytes == size


def test_participative_compression_changes_nothing_until_the_window_is_full(sharp_model):
    den = sharp_model.denoiser
    cond = sharp_model.encode_prompt("a red circle and a blue square on a navy background")
    deep = resolve_preset("deep-forcing", den, steps=2)
    sink_only = resolve_preset("deep-forcing", den, steps=2, budget=0)
    assert deep.cache.budget is not None and sink_only.cache.budget is None
    window = deep.cache.window
    a, b = _collect(sharp_model, cond, 40, deep), _collect(sharp_model, cond, 40, sink_only)
    full = deep.cache.sink + deep.cache.ring  # frames before the first compression
    torch.testing.assert_close(a[:, :full], b[:, :full])
    assert not torch.allclose(a[:, full + 2:], b[:, full + 2:], atol=1e-5, rtol=0)
    assert window == den.defaults.train_len and torch.isfinite(a).all()
    biased = _collect(sharp_model, cond, 40, resolve_preset("deep-forcing", den, steps=2, bias="flexrope"))
    assert not torch.allclose(a, biased, atol=1e-5, rtol=0)  # FAR's bias composes, per-token over the kept block


def test_participative_compression_budgets_outside_the_range_are_refused():
    with pytest.raises(ValueError, match=r"budget = 5 .*allowed range \[6, 11\]"):
        CacheConfig(window=12, sink=3, rotated=False, positions="relative", budget=5, recent=2)
    with pytest.raises(ValueError, match=r"allowed range \[6, 11\]"):
        CacheConfig(window=12, sink=3, rotated=False, budget=12, recent=2)


# ----------------------------------------------------------------------------------- MemRoPE
def test_memrope_streams_follow_the_ema_recursion_at_both_rates_and_sit_after_the_sink():
    config = CacheConfig(window=6, sink=1, rotated=False, positions="relative", memory=True, memory_rates=(0.25, 0.5))
    assert config.ring == 3  # 6 = 1 sink + 2 memory streams + 3 recent
    cache = KVCache(config, num_layers=1, batch_size=1, num_heads=1, tokens_per_frame=2, head_dim=2)
    def key(j):  # frame j's keys: (T, D)
        return torch.tensor([[float(j), -float(j)], [3.0 * j, 1.0]])

    for j in range(12):
        cache.begin(j, 1)
        cache.write(0, key(j)[None, None], 2 * key(j)[None, None])
    long = short = None
    for evicted in range(1, 9):  # frames 4..11 each push out the frame 3 before them
        pooled = key(evicted).mean(0)  # SpatialPool: every token of the frame averaged
        long = pooled if long is None else 0.75 * long + 0.25 * pooled
        short = pooled if short is None else 0.5 * short + 0.5 * pooled
    assert cache.memory.updates == 8
    torch.testing.assert_close(cache.memory.k[0, 0, 0, 0, 0], long)
    torch.testing.assert_close(cache.memory.k[0, 0, 0, 1, 1], short)
    torch.testing.assert_close(cache.memory.v[0, 0, 0, 1, 0], 2 * short)
    positions = cache.key_token_positions(0).tolist()
    frames = cache.frame_positions().repeat_interleave(2).tolist()
    assert dict(zip(frames, positions[:8])) == {0: 0, 9: 3, 10: 4, 11: 5}  # sink, then the tail after 2 streams
    assert positions[8:] == [1, 1, 2, 2]  # long-term stream at 1, short-term at 2


def test_memrope_adds_nothing_before_the_first_eviction_and_composes(sharp_model):
    den = sharp_model.denoiser
    cond = sharp_model.encode_prompt("a red circle and a blue square on a navy background")
    mem = resolve_preset("memrope", den, steps=2)
    assert mem.cache.memory and mem.cache.ring == mem.cache.window - mem.cache.sink - 2
    plain = resolve_preset("cache-relative", den, steps=2, window=mem.cache.window - 2)  # the same ring, no streams
    a, b = _collect(sharp_model, cond, 30, mem), _collect(sharp_model, cond, 30, plain)
    first = mem.cache.sink + mem.cache.ring
    torch.testing.assert_close(a[:, :first], b[:, :first])
    assert not torch.allclose(a[:, first + 2:], b[:, first + 2:], atol=1e-5, rtol=0)
    flexed = _collect(sharp_model, cond, 30, resolve_preset("memrope", den, steps=2, rope="flex", noise="antiphase"))
    assert not torch.allclose(a, flexed, atol=1e-5, rtol=0) and torch.isfinite(flexed).all()


# ----------------------------------------------------------------------------------- Rolling Sink
def test_rolling_sink_replays_the_first_window_forward_then_backward_at_sliding_positions():
    cache = KVCache(CacheConfig(window=6, sink=0, rotated=False, rolling=True), num_layers=1, batch_size=1,
                    num_heads=1, tokens_per_frame=1, head_dim=1)
    replayed = {}
    for start in range(0, 14, 2):
        cache.begin(start, 2)
        cache.write(0, torch.tensor([float(start), start + 1.0]).view(1, 1, 2, 1), torch.zeros(1, 1, 2, 1))
        for f in cache.held_frames():
            replayed.setdefault(start, {})[f] = float(cache.k[0, 0, 0, cache.slot(f), 0, 0])
    # Period 4 (window 6 less a chunk of 2): chunk 4-5 takes frames 3, 2 (backward), 6-7 takes 1, 0, 8-9 takes 0, 1.
    assert replayed[6][4] == 3 and replayed[6][5] == 2
    assert replayed[8][6] == 1 and replayed[8][7] == 0
    assert replayed[10][8] == 0 and replayed[10][9] == 1
    assert replayed[12][12] == 12 and replayed[12][13] == 13  # the newest chunk is always its own content
    assert sorted(cache.key_positions().tolist()) == [8, 9, 10, 11, 12, 13]  # Sliding Indices: true positions


def test_rolling_sink_preset_is_self_forcings_own_cache_without_a_sink(sharp_model):
    den = sharp_model.denoiser
    rolling = resolve_preset("rolling-sink", den, steps=2)
    assert (rolling.cache.window, rolling.cache.sink, rolling.cache.rolling, rolling.cache.rotated) == \
        (den.defaults.train_len, 0, True, False)
    cond = sharp_model.encode_prompt("two yellow triangles on a black background")
    plain = resolve_preset("none", den, steps=2, window=rolling.cache.window, rotated=False)
    a, b = _collect(sharp_model, cond, 30, rolling), _collect(sharp_model, cond, 30, plain)
    w = rolling.cache.window
    torch.testing.assert_close(a[:, :w], b[:, :w])  # nothing is replayed before the first window is complete
    assert not torch.allclose(a[:, w:], b[:, w:], atol=1e-5, rtol=0)


def test_memory_and_rolling_combinations_that_cannot_work_are_refused():
    with pytest.raises(ValueError, match="positions = 'relative'"):
        CacheConfig(window=12, sink=3, rotated=False, memory=True)
    with pytest.raises(ValueError, match="use one of them"):
        CacheConfig(window=12, sink=3, rotated=False, positions="relative", memory=True, budget=9, recent=2)
    with pytest.raises(ValueError, match="rotated = False"):
        CacheConfig(window=12, sink=0, rotated=True, rolling=True)
    with pytest.raises(ValueError, match=r"alpha_long = 0.0 .*\(0, 1\]"):
        CacheConfig(window=12, sink=3, rotated=False, positions="relative", memory=True, memory_rates=(0.0, 0.1))


# ----------------------------------------------------------------------------------- LoL
def test_lol_jitter_is_a_per_head_rope_base_and_desynchronises_the_heads():
    from longroll.rope.freqs import axis_freqs, wan_rope_freqs

    base = wan_rope_freqs(128)  # Wan2.1: 22 temporal planes
    jittered = base.with_jitter(0.8, seed=3)
    tables = jittered.head_temporal(12)  # (H, P)
    assert tables.shape == (12, 22)
    torch.testing.assert_close(tables[:, 0], base.temporal[0].expand(12))  # plane 0 (theta = 1) never moves
    g = torch.Generator().manual_seed(3)
    eps = torch.rand(12, generator=g, dtype=torch.float64) * 2 - 1
    for h in (0, 5, 11):  # each head's table is Wan's table with the base b (1 + sigma eps_h)
        torch.testing.assert_close(tables[h], axis_freqs(44, 10000.0 * (1 + 0.8 * float(eps[h]))))
    # At a distance of 132 frames (LoL's collapse point) the heads' phases on plane 1 spread over the circle.
    phases = torch.remainder(tables[:, 1] * 132, 2 * torch.pi)
    assert float(phases.max() - phases.min()) > torch.pi / 2
    assert torch.equal(base.with_jitter(0.0).head_temporal(12), base.temporal.expand(12, -1))


def test_lol_rotation_per_head_equals_rotating_each_head_with_its_own_table():
    from longroll.rope.freqs import RopeFreqs, wan_rope_freqs
    from longroll.rope.rotator import FrameRotator

    rope = wan_rope_freqs(24).with_jitter(0.5, seed=1)
    x = torch.randn(2, 3, 4 * 4, 24, generator=torch.Generator().manual_seed(0))  # (B, H, n*T, D): 4 frames of 2x2
    frames = torch.tensor([0, 7, 40, 300])
    out = FrameRotator(rope, 2, 2)(x, frames)
    tables = rope.head_temporal(3)
    for h in range(3):
        single = RopeFreqs(tables[h], rope.height, rope.width)
        cos, sin = rope_cos_sin(single, frames, 2, 2)
        torch.testing.assert_close(out[:, h], apply_rotary(x[:, h], cos, sin))


def test_lol_preset_runs_chunkwise_and_on_fifo_and_composes_with_flex(sharp_model, wan_transformer):
    den = sharp_model.denoiser
    cond = sharp_model.encode_prompt("a red circle and a blue square on a navy background")
    lol = resolve_preset("lol", den, steps=2)
    assert lol.rope.jitter == 0.8 and lol.cache.sink == den.defaults.sink
    a = _collect(sharp_model, cond, 24, lol)
    sink = _collect(sharp_model, cond, 24, resolve_preset("sink", den, steps=2))
    torch.testing.assert_close(_collect(sharp_model, cond, 24, resolve_preset("lol", den, steps=2, jitter=0.0)), sink)
    assert not torch.allclose(a, sink, atol=1e-5, rtol=0)
    both = _collect(sharp_model, cond, 24, resolve_preset("lol", den, steps=2, rope="flex", noise="antiphase"))
    flex = _collect(sharp_model, cond, 24, resolve_preset("flex", den, steps=2))
    assert not torch.allclose(both, flex, atol=1e-5, rtol=0) and not torch.allclose(both, a, atol=1e-5, rtol=0)
    # A bidirectional model through diffusers: the FIFO schedule takes the jitter (no cache involved).
    from longroll.models.wan.bidirectional import DiffusersWanDenoiser
    from longroll.pipelines.rollouts import SCHEDULES

    wan = DiffusersWanDenoiser(wan_transformer, height=32, width=48)
    config = SCHEDULES["fifo"].resolve("lol", wan, {}, {"steps": 4, "window": 4, "partitions": 1})
    assert config.method.rope.jitter == 0.8
    wcond = torch.randn(1, 5, wan_transformer.config.text_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        chunks = list(SCHEDULES["fifo"].run(wan, [wcond], [], 6, config, torch.Generator().manual_seed(0)))
    assert torch.isfinite(torch.cat([c.latents for c in chunks], dim=1)).all()
