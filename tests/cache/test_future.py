"""Future Forcing (arXiv 2605.30083): the proxy of future queries, importance under it, the merge of redundant
tokens, on hand-made tensors; the window that uses them and the preset."""

import math

import pytest
import torch

from longroll.cache import CacheConfig, KVCache
from longroll.cache.future import QueryStats, future_scores, merge_redundant


def test_the_proxy_is_the_running_mean_and_variance_of_the_queries():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 2, 3, 2, 5, 4, generator=g), torch.randn(2, 2, 3, 1, 5, 4, generator=g) + 1.0
    stats = QueryStats(2, 3, 4, device="cpu")
    stats.update(a)
    stats.update(b)
    every = torch.cat([a.permute(0, 2, 1, 3, 4, 5).reshape(2, 3, -1, 4),
                       b.permute(0, 2, 1, 3, 4, 5).reshape(2, 3, -1, 4)], dim=2)  # (L, H, N, D)
    mean, var = stats.moments()
    assert stats.count == 2 * 2 * 5 + 2 * 1 * 5
    torch.testing.assert_close(mean, every.mean(dim=2))
    torch.testing.assert_close(var, every.var(dim=2, unbiased=False), atol=1e-5, rtol=1e-5)


def test_importance_is_the_expected_attention_mass_under_the_gaussian_proxy():
    """``mu.k / sqrt(D) + sum s^2 k^2 / 2D`` is log E[exp(q.k / sqrt(D))] for q ~ N(mu, diag s^2) (checked by
    sampling), combined by log-sum-exp over heads and summed over the batch."""
    g = torch.Generator().manual_seed(1)
    d = 8
    queries = torch.randn(1, 1, 2, 1, 4000, d, generator=g) * torch.tensor([0.5, 1.0, 0.2, 0.8, 0.3, 0.1, 0.6, 0.4])
    queries = queries + torch.linspace(-1, 1, d)
    stats = QueryStats(1, 2, d, device="cpu")
    stats.update(queries)
    keys = torch.randn(1, 2, 2, 3, d, generator=g)  # (L, B, H, Nc, D)
    got = future_scores(stats, keys)  # (1, 3)
    mean, var = stats.moments()
    direct = torch.zeros(3)
    for j in range(3):
        for bb in range(2):
            per_head = [float(mean[0, hh] @ keys[0, bb, hh, j]) / math.sqrt(d)
                        + float((var[0, hh] * keys[0, bb, hh, j] ** 2).sum()) / (2 * d) for hh in range(2)]
            direct[j] += math.log(sum(math.exp(x) for x in per_head))
    torch.testing.assert_close(got[0], direct, atol=1e-5, rtol=1e-5)
    # The moment generating function, by sampling the proxy itself.
    k = keys[0, 0, 0, 0]
    sampled = torch.randn(200_000, d, generator=g, dtype=torch.float64) * var[0, 0].double().sqrt()
    sampled = sampled + mean[0, 0].double()
    mc = float(torch.logsumexp(sampled @ k.double() / math.sqrt(d), 0) - math.log(200_000))
    closed = float(mean[0, 0] @ k) / math.sqrt(d) + float((var[0, 0] * k**2).sum()) / (2 * d)
    assert mc == pytest.approx(closed, abs=0.01)


def test_a_redundant_token_merges_into_its_nearest_kept_one_and_an_unlike_one_is_dropped():
    k = torch.tensor([[1.0, 0.0, 0.0], [0.98, 0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # (Nc, D)
    v = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 1.0], [0.0, 5.0]])
    cand_k, cand_v = k[None, None, None].clone(), v[None, None, None].clone()  # (1, 1, 1, 4, D)
    time = torch.tensor([[10, 20, 30, 40]])
    scores = torch.tensor([[0.0, math.log(3.0), 0.0, 2.0]])
    merge_redundant(cand_k, cand_v, time, scores, torch.tensor([[0, 2]]))
    # Token 1 (cosine 0.995 with token 0) joins it with weight e^log 3 = 3 against 1; token 3 is unlike both.
    torch.testing.assert_close(cand_k[0, 0, 0, 0], (k[0] + 3 * k[1]) / 4)
    torch.testing.assert_close(cand_v[0, 0, 0, 0], (v[0] + 3 * v[1]) / 4)
    assert int(time[0, 0]) == 17  # (10 + 3 * 20) / 4 = 17.5, rounded down
    torch.testing.assert_close(cand_k[0, 0, 0, 2], k[2])  # nothing was near it
    assert int(time[0, 2]) == 30


def _run(cache: KVCache, frames: int, chunk: int = 3, tokens: int = 4) -> None:
    for start in range(0, frames, chunk):
        cache.begin(start, chunk)
        k = torch.randn(1, 2, chunk * tokens, 8, generator=torch.Generator().manual_seed(start))
        for layer in range(cache.k.shape[0]):
            cache.write(layer, k, -k, q=k + 1.0)


def test_the_window_counts_each_clean_query_once_in_bounded_memory():
    cfg = CacheConfig(window=12, sink=3, budget=9, recent=4, positions="relative", rotated=False, future=True)
    cache = KVCache(cfg, num_layers=2, batch_size=1, num_heads=2, tokens_per_frame=4, head_dim=8)
    before = cache.nbytes
    _run(cache, 300)
    assert cache.nbytes == before and cache.num_compressed == cfg.compressed * 4
    assert cache.query_stats.count == 297 * 4  # every frame but the last chunk's, once, when the next began
    assert cache.compressed.time[0, :8].max() < 300 - 4
    with pytest.raises(ValueError, match="budget is off"):
        CacheConfig(window=12, sink=3, rotated=False, future=True)
    with pytest.raises(ValueError, match="un-rotated"):
        CacheConfig(window=12, sink=3, budget=9, recent=4, future=True)


def test_the_preset_is_deterministic_and_differs_from_deep_forcing_scoring(tiny_model):
    from longroll.pipelines.generate import generate
    from longroll.pipelines.presets import resolve_preset

    den = tiny_model.denoiser
    cfg = resolve_preset("future-forcing", den, steps=2)
    c = cfg.cache
    assert c.future and c.budget == c.sink + c.compressed + c.recent and not c.rotated and c.positions == "relative"
    prompt = "a red circle on a black background"
    a = generate(prompt, seconds=6.0, model=tiny_model, seed=2, progress=False, preset="future-forcing", steps=2)
    b = generate(prompt, seconds=6.0, model=tiny_model, seed=2, progress=False, preset="future-forcing", steps=2)
    assert a.tobytes() == b.tobytes()
    plain = generate(prompt, seconds=6.0, model=tiny_model, seed=2, progress=False, preset="future-forcing",
                     steps=2, future=False)  # the same window under Deep Forcing's recent-query score
    assert a.shape == plain.shape and a.tobytes() != plain.tobytes()
