"""Classifier-free guidance as a denoiser wrapper: ``v = v_null + w (v_prompt - v_null)``.

The wrapper runs the prompt and the "no prompt" rows as one batch of 2B, so a KV cache made by
``new_cache`` holds both streams (their keys differ in every layer after the first AdaLN) and the
clean-context pass, prompt switches and diagonal schedules work unchanged. It needs a denoiser
that offers ``null_condition(cond)`` and was trained with prompt dropout; everything else
(``defaults``, ``rope_freqs``, ``latent_shape``...) is read through from the wrapped denoiser.
Guidance scale 1 is the plain conditional model (the wrapper is then not used at all).

Same frames on every backend: CPU matrix kernels round a batch of two differently with the number of
intra-op threads (MKL takes another path for some small shapes on two threads), so a guided video made
by one process of two threads differed from the same item on a torchrun rank or a Ray actor of one
thread. A guided rollout on the CPU therefore runs on one intra-op thread wherever it runs
(``one_thread``, around each guided forward), which is what every batch worker already had. Measured side by side
(``bench/bench_guidance.py``, ``bench/RESULTS.md``), this costs less than running the two streams as
separate passes, on one process and on one-thread workers alike. One row alone rounds the same on any
thread count, so an unguided model keeps every thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


def _stack(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cat([a, b], dim=0)


class GuidedDenoiser(nn.Module):
    """A denoiser with classifier-free guidance of scale ``scale`` (> 1 sharpens the prompt)."""

    def __init__(self, denoiser: nn.Module, scale: float) -> None:
        super().__init__()
        check_guidance(denoiser, scale)
        self.inner = denoiser
        self.scale = float(scale)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["inner"], name)

    def new_cache(self, cache_config, batch_size: int = 1, **kwargs):
        """A cache for both streams: rows [0, B) follow the prompt, rows [B, 2B) the null prompt."""
        return self.inner.new_cache(cache_config, 2 * batch_size, **kwargs)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond, **kwargs) -> torch.Tensor:
        """Guided velocity for ``x (B, F, ...)`` at timesteps ``t (B, F)``; keyword arguments pass through.
        On the CPU the batch of two runs on one intra-op thread (``one_thread``: the same bits everywhere)."""
        b = x.shape[0]
        if kwargs.get("jump") is not None:
            kwargs["jump"] = _stack(kwargs["jump"], kwargs["jump"])
        with one_thread(self):
            out = self.inner(_stack(x, x), _stack(t, t), _stack(cond, self.inner.null_condition(cond)), **kwargs)
        v_cond, v_null = out[:b], out[b:]
        return v_null + self.scale * (v_cond - v_null)


@contextlib.contextmanager
def one_thread(denoiser: nn.Module) -> Iterator[None]:
    """While a guided denoiser's forward runs on the CPU: one intra-op thread for the calling thread (PyTorch
    keeps the setting per thread, so concurrent runs on other threads, a studio's workers, each pin and give
    back their own). Only the forward: decoding and everything else keep every thread."""
    if not isinstance(denoiser, GuidedDenoiser) or next(denoiser.parameters()).device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def check_guidance(denoiser: nn.Module, scale: float) -> None:
    """Whether ``denoiser`` can be guided at ``scale`` (ValueError naming what is missing); nothing is built."""
    if not scale >= 1.0:
        raise ValueError(f"cfg = {scale} is out of range; allowed: a number >= 1 (1 = no guidance).")
    if scale == 1.0:
        return
    if not hasattr(denoiser, "null_condition"):
        raise ValueError(f"{type(denoiser).__name__} has no unconditional mode, so cfg = {scale} cannot apply; "
                         "use cfg 1 (no guidance) with this model.")
    if not getattr(denoiser, "null_trained", True):
        raise ValueError(f"These weights were not trained with prompt dropout (no 'null_cond'), so cfg = {scale} "
                         "has no unconditional model to push away from; use cfg 1 (allowed for these weights).")


def with_guidance(denoiser: nn.Module, scale: float) -> nn.Module:
    """``denoiser`` itself for scale 1, else a ``GuidedDenoiser`` (which checks ``scale`` and the weights)."""
    return denoiser if scale == 1.0 else GuidedDenoiser(denoiser, scale)


__all__ = ["GuidedDenoiser", "check_guidance", "one_thread", "with_guidance"]
