"""FAR's multi-level cache's bookkeeping: which frames are short-term, which leave for the coarse level, in order."""

import pytest
import torch

from longroll.cache import CacheConfig, KVCache
from longroll.cache.multilevel import MultiLevelCache


def _cache(window=16, short=4):
    coarse = KVCache(CacheConfig(window=window, sink=0), num_layers=2, batch_size=1, num_heads=1, tokens_per_frame=4,
                     head_dim=8)
    return MultiLevelCache(coarse, short, num_layers=2)


def test_frames_move_from_the_short_term_window_to_the_coarse_level_in_order():
    cache = _cache()
    assert cache.short_frames(2) == [0, 1] and cache.long_end(2) == 0
    assert cache.short_frames(9) == [6, 7, 8] and cache.long_end(9) == 6  # the window counts the frame made
    for frame in range(5):
        cache.add_clean(frame, torch.zeros(1, 4, 8, 8), torch.tensor([frame]))
    assert cache.end_frame == 5 and cache.leaving() == [0, 1]  # frame 5 sees 2, 3, 4 at full resolution
    latents, cond = cache.pop_clean(0)
    assert latents.shape == (1, 4, 8, 8) and cond.tolist() == [0] and 0 not in cache.latents
    with pytest.raises(ValueError, match="takes frames in order: the next frame is 5, got 7"):
        cache.add_clean(7, torch.zeros(1, 4, 8, 8))
    k = torch.ones(1, 1, 8, 8)
    for layer in range(2):
        cache.set_fine(layer, [2, 3], k, k, append=False)
    assert cache.fine_frames == [2, 3]
    for layer in range(2):
        cache.set_fine(layer, [4], k[:, :, :4], k[:, :, :4], append=True)
    assert cache.fine_frames == [2, 3, 4] and cache.fine(1)[0].shape == (1, 1, 12, 8)
    assert cache.held_frames() == [2, 3, 4] and cache.nbytes > cache.coarse.nbytes


def test_a_flush_or_a_cut_is_refused_with_the_reason():
    cache = _cache()
    with pytest.raises(ValueError, match="KV Flush .* does not apply"):
        cache.flush(2)
    with pytest.raises(ValueError, match="RoPE Cut does not apply"):
        cache.cut(4)


def test_a_chunked_window_moves_a_chunk_at_a_time():
    """The built-in model's variant: chunks of 3, a 12-frame short-term window counting the chunk being made."""
    coarse = KVCache(CacheConfig(window=30, sink=0), num_layers=1, batch_size=1, num_heads=1, tokens_per_frame=4,
                     head_dim=8)
    cache = MultiLevelCache(coarse, 12, num_layers=1, chunk_size=3)
    assert cache.long_end(9) == 0 and cache.short_frames(9) == list(range(9))
    assert cache.long_end(12) == 3 and cache.short_frames(12) == list(range(3, 12))
    for frame in range(12):
        cache.add_clean(frame, torch.zeros(1, 4, 8, 8))
    assert cache.leaving() == [0, 1, 2]  # the chunk at 12 sees frames 3-11 at full resolution
    with pytest.raises(ValueError, match="short_window = 10 must be a multiple of chunk_size = 3"):
        MultiLevelCache(coarse, 10, num_layers=1, chunk_size=3)
    with pytest.raises(ValueError, match="short_window"):
        MultiLevelCache(coarse, 3, num_layers=1, chunk_size=3)  # no room for a clean frame
