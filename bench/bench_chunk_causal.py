"""Chunk-causal attention without a mask, against the dense mask it replaced (issue 41).

An uncached forward over more frames than a chunk (FIFO's and MIGA's windows, a causal model's
teacher-forced training forward) is chunk-causal: bidirectional inside a chunk, causal across.
Built as a dense ``(Nq, Nk)`` mask it takes SDPA off its flash kernels and computes every block the
mask then hides; ``attention.chunk_causal_attention`` runs one mask-free attention per chunk over
the keys up to its end instead. Timed alternately, each line printing ``chunk by chunk / dense``
(below 1: the new path faster) and the largest difference between the two paths' outputs:

1. the shipped built-in model: the FIFO and MIGA rollouts (latents only, no decode);
2. a causal Wan at Wan2.1-1.3B's width and heads (``--layers`` blocks, random weights, bf16 on a
   GPU, fp32 on the CPU) at ``--height x --width``: one uncached forward over a 21-frame window
   (FIFO's forward on Wan2.1), with and without FlexRoPE's temporal bias.

    python bench/bench_chunk_causal.py [--seconds 12] [--repeats 3] [--layers 2 --height 128 --width 128]
"""

from __future__ import annotations

import platform
import statistics
import time
from contextlib import contextmanager
from unittest import mock

import torch


@contextmanager
def dense_mask():
    """The path before: the frame-chunk-causal mask (and a temporal bias) as dense tensors for SDPA."""
    import longroll.attention as attention

    def dense(q, k, v, *, chunk_tokens: int, key_bias=None):
        n = q.shape[2]
        chunks = torch.arange(n, device=q.device) // chunk_tokens
        mask = chunks[:, None] >= chunks[None, :]  # (Nq, Nk)
        bias = None
        if key_bias is not None:
            bias = key_bias.repeat_interleave(n // key_bias.shape[-2], dim=-2)  # (1|H, Nq, Nk)
        return attention.windowed_attention(q, k, v, mask=mask, bias=bias)

    with mock.patch.object(attention, "chunk_causal_attention", dense):
        yield


def compare(name: str, run, repeats: int) -> None:
    """``run() -> (seconds, output)`` timed chunk by chunk and with the dense mask, alternated."""
    run()  # warm-up
    with dense_mask():
        run()
    free_s, dense_s = [], []
    for _ in range(repeats):
        seconds, free = run()
        free_s.append(seconds)
        with dense_mask():
            seconds, dense = run()
        dense_s.append(seconds)
    a, b = statistics.median(free_s), statistics.median(dense_s)
    diff = (free.float() - dense.float()).abs().max().item()
    print(f"  {name}: chunk by chunk {a:.3f} s   dense mask {b:.3f} s   chunk by chunk / dense {a / b:.3f}   "
          f"largest difference {diff:.2g}")


def builtin(args) -> None:
    from bench_rotate_once import tiny_rollout

    from longroll.models.registry import load_model

    model = load_model("tiny")
    for schedule in ("fifo", "miga"):
        compare(f"built-in model, {schedule}, {args.seconds:g} s",
                lambda s=schedule: tiny_rollout(model, "none", args.seconds, schedule=s), args.repeats)


def wan(args) -> None:
    from bench_bias import small_wan, sync

    from longroll.rope.bias import TemporalBias

    g = torch.Generator().manual_seed(0)
    den, cond, device, dtype = small_wan(args, g)
    x = torch.randn(1, 21, *den.latent_shape, generator=g).to(device)
    t = torch.linspace(0.05, 0.95, 21).to(device)[None]  # FIFO: every frame at its own level

    for label, bias in (("no bias", None), ("FlexRoPE bias", TemporalBias("flexrope", 0.5))):
        def run(bias=bias):
            sync(device)
            t0 = time.perf_counter()
            with torch.no_grad():
                out = den(x, t, cond, start_frame=0, bias=bias)
            sync(device)
            return time.perf_counter() - t0, out

        compare(f"Wan2.1-1.3B width, {args.layers} blocks, {args.height}x{args.width}, {dtype}, one 21-frame "
                f"forward, {label}", run, args.repeats)


def main() -> None:
    from bench_bias import arguments

    args = arguments(__doc__.splitlines()[0], seconds=12.0)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"{args.repeats} alternated repeats (median)")
    if not args.skip_builtin:
        builtin(args)
    wan(args)

if __name__ == "__main__":
    main()
