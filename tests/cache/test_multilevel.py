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
