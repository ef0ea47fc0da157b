"""PackForcing, zero-shot (arXiv 2603.25730): frames released by the compression packed 32x (frame pairs x 4 x 4
token blocks) before the Top-C selection; the packs spread over the middle's positions; the preset."""

import pytest
import torch

from longroll.cache import CacheConfig, KVCache
from longroll.cache.compression import pack_tokens


def _pack_by_hand(x, time, rows, cols, space, frames):
    """Each pack written out: the mean over its frames and the in-grid tokens of its block, its frames' mean
    timeline rounded down, its block's centre token (clamped into the grid)."""
    n = x.shape[3]
    out, times, centres = [], [], []
    for s in range(0, n, frames):
        for br in range(0, rows, space):
            for bc in range(0, cols, space):
                tokens = [r * cols + c for r in range(br, min(br + space, rows))
                          for c in range(bc, min(bc + space, cols))]
                block = x[:, :, :, s:s + frames][:, :, :, :, tokens]  # (L, B, H, f, k, D)
                out.append(block.mean(dim=(3, 4)))
                times.append(int(time[s:s + frames].double().mean().floor()))
                centres.append(min(br + space // 2, rows - 1) * cols + min(bc + space // 2, cols - 1))
    return torch.stack(out, dim=3), times, centres


def test_packs_are_block_means_on_hand_made_tokens():
    g = torch.Generator().manual_seed(0)
    rows, cols, n = 5, 6, 3  # blocks cut by the grid's edge, and a frame left over after a pair
    k = torch.randn(2, 1, 2, n, rows * cols, 4, generator=g)
    v = torch.randn(2, 1, 2, n, rows * cols, 4, generator=g)
    time = torch.tensor([7, 8, 12])
    pk, pv, pt, ps = pack_tokens(k, v, time, (rows, cols), 4)
    want_k, times, centres = _pack_by_hand(k, time, rows, cols, 4, 2)
    want_v, _, _ = _pack_by_hand(v, time, rows, cols, 4, 2)
    assert pk.shape == (2, 1, 2, 2 * 2 * 2, 4)  # 2 groups of frames x 2 x 2 blocks
    torch.testing.assert_close(pk, want_k)
    torch.testing.assert_close(pv, want_v)
    assert pt[0].tolist() == times == [7] * 4 + [12] * 4 and (pt[1] == pt[0]).all()
    assert ps[0].tolist() == centres == [2 * 6 + 2, 2 * 6 + 5, 4 * 6 + 2, 4 * 6 + 5] * 2
    # 32x on a grid the blocks divide: two 8 x 8 frames become 4 tokens.
    assert pack_tokens(k[:, :, :, :2, :1].expand(-1, -1, -1, -1, 64, -1), v[:, :, :, :2, :1].expand(
        -1, -1, -1, -1, 64, -1), time[:2], (8, 8), 4)[0].shape[3] == 4
    with pytest.raises(ValueError, match="A grid of 5 x 5 does not hold the 30 tokens"):
        pack_tokens(k, v, time, (5, 5), 4)


def _run(cache: KVCache, frames: int, chunk: int = 3, tokens: int = 16) -> None:
    for start in range(0, frames, chunk):
        cache.begin(start, chunk)
        k = torch.randn(1, 1, chunk * tokens, 8, generator=torch.Generator().manual_seed(start))
        q = torch.randn(1, 1, chunk * tokens, 8, generator=torch.Generator().manual_seed(start + 1))
        for layer in range(cache.k.shape[0]):
            cache.write(layer, k, k * 0.5, q=q)


def test_the_middle_holds_packs_in_bounded_memory_spread_over_its_positions():
    cfg = CacheConfig(window=12, sink=3, budget=9, recent=4, positions="relative", rotated=False, pack=4)
    assert cfg.compressed == 2 and cfg.ring == 7
    cache = KVCache(cfg, num_layers=2, batch_size=1, num_heads=1, tokens_per_frame=16, head_dim=8, grid=(4, 4))
    before = cache.nbytes
    _run(cache, 300)
    assert cache.nbytes == before  # preallocated: nothing grows with the video
    assert cache.num_compressed == 32  # C = 2 frames' worth of tokens, each a pack of up to 2 frames x 16 tokens
    time = cache.compressed.time[0, :32]
    assert time.max() < min(f for f in cache.held_frames() if f >= 3)  # only history is packed
    assert time.max() - time.min() > 24  # 32 packs reach further back than the 12-frame window
    cache.begin(300, 3)
    pos, space = cache.compressed_positions(0)
    # Between the 3 sink frames and the tail (which starts after the middle's 2 positions), by timeline.
    assert float(pos.min()) == 3.0 and float(pos.max()) < 5.0
    order = torch.argsort(time, stable=True)
    assert (pos[order].diff() >= 0).all() and (space == 10).all()  # the 4 x 4 block's centre (2, 2)
    tail = cache.key_positions()[cache.frame_positions() >= 3]
    assert float(tail.min()) == 5.0


def test_pack_is_refused_without_its_parts():
    with pytest.raises(ValueError, match="budget is off"):
        CacheConfig(window=12, sink=3, positions="relative", rotated=False, pack=4)
    with pytest.raises(ValueError, match="un-rotated"):
        CacheConfig(window=12, sink=3, budget=9, recent=4, pack=4)
    with pytest.raises(ValueError, match="pack = 0 is out of range"):
        CacheConfig(window=12, sink=3, budget=9, recent=4, rotated=False, pack=0)
    cfg = CacheConfig(window=12, sink=3, budget=9, recent=4, rotated=False, pack=4)
    with pytest.raises(ValueError, match=r"needs grid = \(rows, cols\) holding its 16 tokens, got None"):
        KVCache(cfg, num_layers=1, batch_size=1, num_heads=1, tokens_per_frame=16, head_dim=8)


def test_the_preset_is_deterministic_bounded_and_composes_with_a_switch(tiny_model):
    from longroll.pipelines.generate import generate
    from longroll.pipelines.presets import resolve_preset
    from longroll.pipelines.rollout import Switch, rollout

    den = tiny_model.denoiser
    cfg = resolve_preset("pack-forcing", den, steps=2)
    c = cfg.cache
    assert (c.pack, c.sink, c.positions, c.rotated) == (4, den.defaults.sink, "relative", False)
    assert c.compressed == max(1, round(c.window / 6)) and c.budget == c.sink + c.compressed + c.recent
    prompt = "a red circle on a black background"
    a = generate(prompt, seconds=6.0, model=tiny_model, seed=2, progress=False, preset="pack-forcing", steps=2)
    b = generate(prompt, seconds=6.0, model=tiny_model, seed=2, progress=False, preset="pack-forcing", steps=2)
    assert a.tobytes() == b.tobytes()
    # Before anything is compressed the window is cache-relative's: the frames made before the ring is full.
    cond = tiny_model.encode_prompt(prompt)
    other = tiny_model.encode_prompt("two yellow triangles on a black background")

    def run(config, switches=()):
        with torch.no_grad():
            return torch.cat([c.latents for c in rollout(den, cond, num_frames=30, config=config, switches=switches,
                                                         generator=torch.Generator().manual_seed(0))], dim=1)

    packed, relative = run(cfg), run(resolve_preset("cache-relative", den, steps=2))
    first = (c.sink + c.ring) // den.defaults.chunk_size * den.defaults.chunk_size
    assert first >= 2 * den.defaults.chunk_size
    torch.testing.assert_close(packed[:, :first], relative[:, :first], atol=1e-5, rtol=0)
    assert not torch.allclose(packed[:, 15:], relative[:, 15:])
    switched = run(cfg, [Switch(15, other)])
    assert torch.isfinite(switched).all() and not torch.allclose(switched[:, 15:], packed[:, 15:])
    # --pack on another preset with compression: Deep Forcing's cache, its middle packed.
    deep = resolve_preset("deep-forcing", den, pack=2, steps=2)
    assert deep.cache.pack == 2 and deep.cache.budget is not None and not deep.cache.rotated
