"""The history between sink and tail: Relax Forcing's selection and FadeMem's merges on hand-made tensors, and the
windows that keep them."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from longroll.cache import CacheConfig, KVCache
from longroll.cache.history import frame_descriptors, select_history


def _greedy_by_hand(cands, tail, newest, count, lam):
    """The rule written out directly: at each step the candidate with the largest cos(c, newest) - lam * max cos to
    the tail and the chosen; ties to the later candidate."""
    def cos(a, b):
        return float(F.cosine_similarity(a, b, dim=0))

    chosen = []
    for _ in range(count):
        best, pick = None, None
        for i in range(len(cands)):
            if i in chosen:
                continue
            others = [tail[j] for j in range(len(tail))] + [cands[j] for j in chosen]
            r = max((cos(cands[i], o) for o in others), default=0.0)
            score = cos(cands[i], newest) - lam * r
            if best is None or score >= best - 1e-12:
                best, pick = score, i
        chosen.append(pick)
    return sorted(chosen)


def test_history_is_relevance_minus_redundancy_greedily():
    # Axis-aligned descriptors: the newest frame shows content 0, the tail content 1; candidate 3 repeats 0.
    e = torch.eye(4)
    newest, tail = e[0], e[1][None]
    cands = torch.stack([e[0], e[1], e[2], e[0]])  # scores at lambda 0.5: 1, -0.5, 0, 1
    assert select_history(cands, tail, newest, 1, 0.5) == [3]  # a tie goes to the more recent candidate
    assert select_history(cands, tail, newest, 2, 0.5) == [0, 3]  # 0 is now redundant with 3: 1 - 0.5 > 0
    assert select_history(cands, tail, newest, 2, 2.0) == [2, 3]  # weighed harder, new content 2 wins
    assert select_history(cands, tail, newest, 3, 2.0) == [0, 2, 3]
    assert select_history(cands, tail, newest, 9, 0.5) == [0, 1, 2, 3]  # room for all of them
    g = torch.Generator().manual_seed(0)
    for count, lam in itertools.product((1, 2, 3), (0.0, 0.5, 2.0)):
        c, t, n = torch.randn(7, 6, generator=g), torch.randn(2, 6, generator=g), torch.randn(6, generator=g)
        assert select_history(c, t, n, count, lam) == _greedy_by_hand(c, t, n, count, lam)


def test_descriptors_are_the_values_averaged_over_batch_and_heads_token_by_token():
    v = torch.arange(2 * 3 * 4 * 5 * 2, dtype=torch.float32).reshape(2, 3, 4, 5, 2)  # (B, H, n, T, D)
    d = frame_descriptors(v)
    assert d.shape == (4, 10) and torch.allclose(d[1], v[:, :, 1].mean(dim=(0, 1)).flatten())


def _content(frame: int) -> int:
    """The content each hand-made frame shows: frames 0-2 sink, then scenes that come back (0, 1, 2, 0, 1, ...)."""
    return (frame // 3) % 4


def _run(cache: KVCache, frames: int, chunk: int = 3) -> None:
    """Write frames whose values encode their content (one-hot per token), a chunk at a time."""
    for start in range(0, frames, chunk):
        cache.begin(start, chunk)
        v = torch.zeros(1, 1, chunk, 2, 8)
        for i in range(chunk):
            v[0, 0, i, :, _content(start + i)] = 1.0
        k = torch.randn(1, 1, chunk * 2, 8)
        for layer in range(cache.k.shape[0]):
            cache.write(layer, k, v.reshape(1, 1, chunk * 2, 8))


def test_the_window_keeps_selected_history_between_sink_and_tail_in_bounded_memory():
    cfg = CacheConfig(window=12, sink=3, history=3, positions="relative", rotated=False)
    assert cfg.ring == 6 and cfg.slots == 12
    cache = KVCache(cfg, num_layers=2, batch_size=1, num_heads=1, tokens_per_frame=2, head_dim=8)
    before = cache.nbytes
    _run(cache, 60)
    assert cache.nbytes == before  # preallocated: nothing grows with the video
    held = cache.held_frames()
    sink, rest = held[:3], held[3:]
    history = sorted(cache._history)
    assert sink == [0, 1, 2] and len(history) == 3 and len(held) == 12
    tail = [f for f in rest if f not in history]
    assert tail == list(range(54, 60))  # the ring: the newest six frames
    # The last selection (the chunk at 57 evicting 51-53) continued frame 56 (content 2) with a tail of content 2:
    # redundancy keeps one frame of each other content (0, 1, 3), none of the tail's, no two alike.
    assert sorted(_content(f) for f in history) == [0, 1, 3]
    # Under relative positions the sink and the history sit right before the tail, in time order.
    cache.begin(60, 3)  # the next chunk: frames 54-56 leave the ring and compete for the history
    history = sorted(cache._history)
    keys = cache.key_positions()
    pos = dict(zip(cache.frame_positions().tolist(), keys.tolist()))
    assert [pos[f] for f in sink + history] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert pos[57] == 6.0 and max(keys.tolist()) == 11.0  # the tail from position 6; the new chunk last


def test_history_is_refused_with_the_parts_that_fill_the_same_place():
    with pytest.raises(ValueError, match="history = 2 selects frames .* use one of them"):
        CacheConfig(window=12, sink=3, history=2, memory=True, positions="relative", rotated=False)
    with pytest.raises(ValueError, match="leaves no slot for recent frames .* and the 9 history frames"):
        CacheConfig(window=12, sink=3, history=9)
    with pytest.raises(ValueError, match="history"):
        CacheConfig(window=12, sink=3, history=-1)


def test_a_flush_drops_the_history_and_a_selected_frame_is_read_back_exactly():
    cfg = CacheConfig(window=9, sink=0, history=3)
    cache = KVCache(cfg, num_layers=1, batch_size=1, num_heads=1, tokens_per_frame=2, head_dim=8)
    _run(cache, 30)
    history = sorted(cache._history)
    assert len(history) == 3 and all(cache.holds(f) for f in history)
    k, v = cache.frames_kv(history)
    for i, f in enumerate(history):
        assert torch.equal(v[0, 0, 0, i, 0], torch.eye(8)[_content(f)])  # the frame's own values, moved whole
    cache.flush(3)
    assert not cache._history and cache.held_frames() == [27, 28, 29]


def test_a_video_with_selected_history_is_deterministic_and_composes_with_the_sink_presets(tiny_model):
    """``--history`` is an override of any chunk-wise preset: with the sink presets' window and sink, absolute or
    relative positions; same seed, same bits."""
    import numpy as np

    from longroll.pipelines.generate import generate
    from longroll.pipelines.presets import resolve_preset

    prompt = "a red circle on a black background"
    cfg = resolve_preset("cache-relative", tiny_model, history=2, window=8)
    assert (cfg.cache.window, cfg.cache.sink, cfg.cache.history, cfg.cache.ring) == (8, 3, 2, 3)
    a = generate(prompt, seconds=4.0, model=tiny_model, seed=1, progress=False, preset="cache-relative", history=2,
                 window=8)
    b = generate(prompt, seconds=4.0, model=tiny_model, seed=1, progress=False, preset="cache-relative", history=2,
                 window=8)
    plain = generate(prompt, seconds=4.0, model=tiny_model, seed=1, progress=False, preset="cache-relative", window=8)
    assert np.array_equal(a, b) and not np.array_equal(a, plain)
    assert generate(prompt, seconds=2.0, model=tiny_model, progress=False, preset="sink", history=1,
                    history_lambda=1.0).shape[0] == 16
    with pytest.raises(ValueError, match="leaves 1 frames for recent context; the model's chunk of 2 frames"):
        resolve_preset("sink", tiny_model, history=4, window=8)


def _fade_by_hand(spans, budget, power):
    """FadeMem's merge rule written out: merge the adjacent pair with the smallest (a + b) / (r + 1)^p, r from the
    newest pair (0), ties to the older pair, until at most ``budget`` entries remain."""
    groups = [[i] for i in range(len(spans))]
    while len(groups) > budget:
        best = None
        for i in range(len(groups) - 1):
            r = len(groups) - 2 - i
            cost = (sum(spans[j] for j in groups[i]) + sum(spans[j] for j in groups[i + 1])) / (r + 1) ** power
            if best is None or cost < best[0]:
                best = (cost, i)
        i = best[1]
        groups[i:i + 2] = [groups[i] + groups[i + 1]]
    return groups


def test_fademem_merges_adjacent_entries_by_a_power_law_dense_near_sparse_far():
    from longroll.cache.history import fade_groups

    assert fade_groups([1, 1, 1], 3) == [[0], [1], [2]]  # within the budget: nothing merges
    assert fade_groups([1, 1, 1], 2, 2.0) == [[0, 1], [2]]  # costs 2/4 (older pair) against 2/1: the older merges
    g = torch.Generator().manual_seed(0)
    for budget, power in itertools.product((1, 2, 4), (0.5, 1.0, 2.0)):
        spans = torch.randint(1, 6, (9,), generator=g).tolist()
        assert fade_groups(spans, budget, power) == _fade_by_hand(spans, budget, power)
    entries = []
    for _ in range(60):  # frames arriving one at a time, as the ring lets them go
        spans = entries + [1]
        entries = [sum(spans[i] for i in grp) for grp in fade_groups(spans, 5, 2.0)]
    assert sum(entries) == 60 and len(entries) == 5
    assert entries == sorted(entries, reverse=True) and entries[-1] == 1 and entries[0] > 10 * entries[-2]


def test_a_fademem_window_holds_span_weighted_means_at_their_mean_position():
    cfg = CacheConfig(window=9, sink=0, history=3, fade=1.0, rotated=False)
    cache = KVCache(cfg, num_layers=1, batch_size=1, num_heads=1, tokens_per_frame=1, head_dim=4)
    for start in range(0, 30, 3):
        cache.begin(start, 3)
        frames = torch.arange(start, start + 3, dtype=torch.float32)
        value = frames[None, None, :, None].expand(1, 1, 3, 4).contiguous()  # each frame's values: its index
        cache.write(0, value, value)
    entries = sorted(cache._history.items())
    assert len(entries) == 3 and sum(cache._spans.values()) == 24  # frames 0-23 left the ring of 6
    first = 0
    for newest, slot in entries:
        span = cache._spans[slot]
        mean = (first + newest) / 2  # an entry merges adjacent frames first..newest
        assert newest - first + 1 == span
        assert torch.allclose(cache.v[0, 0, 0, slot], torch.full((1, 4), mean))  # the mean of its frames' values
        assert int(cache.timeline[slot]) == round(mean)  # at its frames' mean position
        first = newest + 1
    with pytest.raises(ValueError, match="un-rotated"):
        CacheConfig(window=9, sink=0, history=3, fade=1.0)
    with pytest.raises(ValueError, match="history = 0"):
        CacheConfig(window=9, sink=0, fade=1.0, rotated=False)


def test_a_fademem_video_is_deterministic_and_bounded(tiny_model):
    from longroll.pipelines.generate import generate
    from longroll.pipelines.presets import resolve_preset

    cfg = resolve_preset("fademem", tiny_model, window=8, history=2)
    assert (cfg.cache.fade, cfg.cache.history, cfg.cache.rotated, cfg.cache.positions) == (2.0, 2, False, "relative")
    prompt = "a red circle on a black background"
    a = generate(prompt, seconds=4.0, model=tiny_model, seed=2, progress=False, preset="fademem", window=8, history=2)
    b = generate(prompt, seconds=4.0, model=tiny_model, seed=2, progress=False, preset="fademem", window=8, history=2)
    assert a.tobytes() == b.tobytes()


def _novel_by_hand(cands, refs, count):
    """RECAP's bank written out: each token's best cosine to any reference or chosen token, a frame's novelty the
    mean of 1 - best over its tokens; the most novel first, ties to the later candidate."""
    def cos(a, b):
        return float(F.cosine_similarity(a, b, dim=0))

    chosen = []
    for _ in range(count):
        best_score, pick = None, None
        for i in range(len(cands)):
            if i in chosen:
                continue
            others = [tok for frame in list(refs) + [cands[j] for j in chosen] for tok in frame]
            score = sum(1 - max((cos(tok, o) for o in others), default=-1.0) for tok in cands[i]) / len(cands[i])
            if best_score is None or score >= best_score - 1e-9:
                best_score, pick = score, i
        chosen.append(pick)
    return sorted(chosen)


def test_the_novelty_bank_is_the_greedy_rule_written_out():
    from longroll.cache.history import select_novel

    g = torch.Generator().manual_seed(4)
    for n, m, count in [(5, 2, 2), (6, 0, 3), (4, 3, 1)]:
        cands, refs = torch.randn(n, 3, 4, generator=g), torch.randn(m, 3, 4, generator=g)
        assert select_novel(cands, refs, count) == _novel_by_hand(cands, refs, count)
    # A frame whose tokens are a moved copy of the tail's shows nothing new; a frame of new content does.
    tail = torch.eye(4)[None, :3]  # (1, 3, 4): tokens e0, e1, e2
    moved = tail[:, [2, 0, 1]]  # the same content at other places (a displacement): novelty 0
    fresh = torch.eye(4)[None, [3, 3, 3]]  # e3 everywhere: nothing in the tail explains it
    assert select_novel(torch.cat([moved, fresh]), tail, 1) == [1]


def test_a_recap_window_banks_content_that_came_once():
    """Chunks of three frames show scenes 0, 1, 2, 0, 1, 2, ... (the sink shows 0); a scene seen once (frames 12-14:
    scene 7) stays in the bank while the recurring scenes come and go through the tail, and scene 0, which the sink
    explains, never enters it."""
    from longroll.cache.leaving import LeavingFrames

    cfg = CacheConfig(window=12, sink=3, history=3, positions="relative", rotated=False, history_rule="novelty")
    cache = KVCache(cfg, num_layers=2, batch_size=1, num_heads=1, tokens_per_frame=2, head_dim=8)
    assert isinstance(cache, LeavingFrames)  # the eviction policies (cache/leaving.py) are the cache's
    scene = {f: (7 if 12 <= f < 15 else (f // 3) % 3) for f in range(60)}  # scene 7 only once
    before = cache.nbytes
    for start in range(0, 60, 3):
        cache.begin(start, 3)
        v = torch.zeros(1, 1, 3, 2, 8)
        for i in range(3):
            v[0, 0, i, :, scene[start + i]] = 1.0
        for layer in range(2):
            cache.write(layer, torch.randn(1, 1, 6, 8), v.reshape(1, 1, 6, 8))
    assert cache.nbytes == before
    bank = sorted(cache._history)
    assert len(bank) == 3 and any(12 <= f < 15 for f in bank)  # the one-off scene is kept
    assert all(scene[f] != 0 for f in bank) and len({scene[f] for f in bank}) == 3  # no duplicate, no sink scene
    with pytest.raises(ValueError, match="history_rule must be one of 'relevance', 'novelty'; got 'both'"):
        CacheConfig(window=12, sink=3, history=3, positions="relative", rotated=False, history_rule="both")
    with pytest.raises(ValueError, match="use one of them"):
        CacheConfig(window=12, sink=3, history=3, positions="relative", rotated=False, history_rule="novelty",
                    fade=2.0)


def test_the_recap_preset_is_deterministic_and_differs_from_relax_forcing(tiny_model):
    from longroll.pipelines.generate import generate
    from longroll.pipelines.presets import resolve_preset

    cfg = resolve_preset("recap-forcing", tiny_model, window=8, history=2)
    assert (cfg.cache.history_rule, cfg.cache.history, cfg.cache.positions) == ("novelty", 2, "relative")
    prompt = "a red circle on a black background"
    a = generate(prompt, seconds=4.0, model=tiny_model, seed=2, progress=False, preset="recap-forcing", window=8,
                 history=2)
    b = generate(prompt, seconds=4.0, model=tiny_model, seed=2, progress=False, preset="recap-forcing", window=8,
                 history=2)
    relax = generate(prompt, seconds=4.0, model=tiny_model, seed=2, progress=False, preset="relax-forcing", window=8,
                     history=2)
    assert a.tobytes() == b.tobytes() and a.shape == relax.shape and a.tobytes() != relax.tobytes()
