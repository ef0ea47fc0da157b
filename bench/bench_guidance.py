"""Classifier-free guidance's cost, and the price of the same frames on every backend.

A batch of two (prompt and null prompt) rounds differently on one and on two CPU threads, so the same
item made by a local process (all cores) and by a torchrun rank or Ray actor (one thread) differed.
Two ways give the same bits everywhere: run a guided rollout on one intra-op thread (shipped:
``pipelines.guidance.one_thread``), or run the two streams as two forwards of one row each (a row
alone rounds alike on any thread count). This measures both against the old way, side by side in one
run, alternated:

    python bench/bench_guidance.py [--seconds 8] [--repeats 3]

Prints the median seconds per video of each way and its ratio to the shipped way; the shipped built-in
model, its default preset and guidance.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch
from torch import nn


class _Wrapper(nn.Module):
    def __init__(self, inner: nn.Module, scale: float) -> None:
        super().__init__()
        self.inner, self.scale = inner, scale

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["inner"], name)


class BatchedGuidance(_Wrapper):
    """Prompt and null prompt as one batch of 2B over a 2B-row cache (the shipped wrapper, unpinned)."""

    def new_cache(self, cache_config, batch_size: int = 1, **kwargs):
        return self.inner.new_cache(cache_config, 2 * batch_size, **kwargs)

    def forward(self, x, t, cond, **kwargs):
        b = x.shape[0]
        out = self.inner(torch.cat([x, x]), torch.cat([t, t]), torch.cat([cond, self.inner.null_condition(cond)]),
                         **kwargs)
        return out[b:] + self.scale * (out[:b] - out[b:])


class _CachePair:
    """Two caches driven alike (the two-pass way's cost; its own cache per stream)."""

    def __init__(self, a, b) -> None:
        self.pair = (a, b)

    def __getattr__(self, name: str):
        first = getattr(self.pair[0], name)
        if not callable(first) or name in ("held_frames", "holds"):
            return first
        return lambda *args, **kwargs: [getattr(c, name)(*args, **kwargs) for c in self.pair][0]


class TwoPassGuidance(_Wrapper):
    """Prompt and null prompt as two forwards of one row each."""

    def new_cache(self, cache_config, batch_size: int = 1, **kwargs):
        return _CachePair(*(self.inner.new_cache(cache_config, batch_size, **kwargs) for _ in range(2)))

    def forward(self, x, t, cond, *, cache=None, **kwargs):
        a, b = (None, None) if cache is None else cache.pair
        v_cond = self.inner(x, t, cond, cache=a, **kwargs)
        v_null = self.inner(x, t, self.inner.null_condition(cond), cache=b, **kwargs)
        return v_null + self.scale * (v_cond - v_null)


def _time(den, cond, config, frames: int, threads: int) -> float:
    from longroll.pipelines.rollout import rollout

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    with torch.no_grad():
        for _ in rollout(den, cond, num_frames=frames, config=config, generator=torch.Generator().manual_seed(0)):
            pass
    return time.perf_counter() - t0


def main() -> None:
    from longroll.models.registry import load_model
    from longroll.pipelines.presets import resolve_preset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model = load_model("tiny")
    den, d = model.denoiser, model.denoiser.defaults
    config = resolve_preset(d.preset, den)
    cfg = config.schedule.cfg
    frames = model.latent_frames(args.seconds)
    cond = model.encode_prompt("a red circle and a blue square on a navy background")
    cores = torch.get_num_threads()
    ways = {"one batch of two, 1 thread (shipped on the CPU)": (BatchedGuidance(den, cfg), 1),
            f"one batch of two, {cores} threads (before; other bits)": (BatchedGuidance(den, cfg), cores),
            f"two passes of one row, {cores} threads": (TwoPassGuidance(den, cfg), cores),
            "two passes of one row, 1 thread (a one-thread worker)": (TwoPassGuidance(den, cfg), 1)}
    times = {name: [] for name in ways}
    _time(den, cond, config, 6, cores)  # warm-up
    for _ in range(args.repeats):
        for name, (wrapped, threads) in ways.items():
            times[name].append(_time(wrapped, cond, config, frames, threads))
    torch.set_num_threads(cores)
    print(f"machine: {platform.machine()}, {cores} threads, torch {torch.__version__}; preset {d.preset}, cfg {cfg}, "
          f"{args.seconds:g} s of video ({frames} latent frames), rollout only, {args.repeats} alternated repeats "
          f"(median)")
    base = sorted(times[next(iter(ways))])[args.repeats // 2]
    for name, ts in times.items():
        median = sorted(ts)[args.repeats // 2]
        print(f"  {name:55s} {median:6.2f} s per video   x{median / base:.2f} of the shipped way")


if __name__ == "__main__":
    main()
