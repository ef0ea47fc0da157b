"""longroll's causal Wan against a family's own inference, side by side on the same weights.

Run through ``bench_causal_wan.py --reference PATH`` (a local checkout of guandeh17/Self-Forcing or
of NVlabs/LongLive's branch v1.0; see ``reference_families.py`` for how their code is driven).
longroll runs the same family's flavour with its own inference settings (``--preset none``). Both
sides get one random weight set (values rounded to bf16, so both hold the same numbers in any
dtype), the same encoder states and the same device and dtype, and are run alternately. Printed,
one line per measurement, each with the ratio ``longroll / reference`` (below 1: longroll faster or
smaller):

1. **Equivalence**: a 21-frame video from the same noise (the reference's re-noising draws replayed
   from the generator longroll draws them from), the largest latent difference relative to the
   largest latent; and the sampler's timesteps, compared exactly.
2. **Per cache fill** (3, 12, 21 frames: the first, fourth and seventh chunk of a 21-frame video):
   ms per denoising forward, ms for the clean-context forward, ms per chunk (first forward's
   start to the context pass's end: the sampler's work in between included), each the median of
   ``--repeats`` videos.
3. **End to end**: 81 video frames (21 latent frames) with the VAE decode, frames per second (the
   figure the papers quote): longroll decodes chunk by chunk as it streams, the reference all at
   the end, as each does.
4. **Steady state**: a ``--seconds`` video with the family's window for long videos (Self Forcing
   with ``local_attn_size = 21``, its own rolling cache; LongLive with its released 12-frame window
   and 3-frame sink), the late / early chunk time of each and the ratio of their late chunk times.
5. **Peak memory** of a 21-frame video and of the steady-state video, each side in a fresh process
   (a process's allocator keeps what earlier runs freed, so in-process peaks after the first run
   say little): the peak and what the run added to the memory held before it (the weights). On a
   GPU, ``torch.cuda.max_memory_allocated``; on the CPU the peak resident set.

The equivalence line is read against a floor: the same difference between longroll in float32 and
longroll in bf16, which is what bf16 alone changes in these 21 frames.
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager
from unittest import mock

import torch
from reference_families import SAMPLER_ARGS, FamilyReference, import_family, sync

FILLS = (3, 12, 21)  # cache fills reported: frames a chunk's forwards attend to
CLIP = 21  # latent frames of the families' clip (81 video frames)


class _Timed:
    """Times every forward of longroll's denoiser like the reference's (device synchronised), while
    in its ``with`` block."""

    def __init__(self, den, device) -> None:
        self.den, self.device = den, device
        self.begins, self.ends, self.starts = [], [], []

    def __enter__(self) -> _Timed:
        den, device, forward = self.den, self.device, self.den.forward

        def timed(x, t, cond, **kwargs):
            sync(device)
            t0 = time.perf_counter()
            out = forward(x, t, cond, **kwargs)
            sync(device)
            self.begins.append(t0)
            self.ends.append(time.perf_counter())
            self.starts.append(kwargs.get("start_frame", 0))
            return out

        den.forward = timed
        return self

    def __exit__(self, *exc) -> None:
        del self.den.forward  # the class's forward again


def _chunk_times(begins, ends, starts, chunk: int) -> dict[int, dict]:
    """Per chunk (keyed by its cache fill): denoising forwards' seconds, the context pass's, the chunk's."""
    out: dict[int, dict] = {}
    groups: dict[int, list[int]] = {}
    for i, s in enumerate(starts):
        groups.setdefault(s, []).append(i)
    for s, idx in groups.items():
        fill = s + chunk
        out[fill] = {"forward": [ends[i] - begins[i] for i in idx[:-1]], "context": ends[idx[-1]] - begins[idx[-1]],
                     "chunk": ends[idx[-1]] - begins[idx[0]]}
    return out


def build(args, device, dtype):
    """longroll's denoiser and the family's pipeline on the same weights (and, where the family's
    long videos need other attention settings, a second pipeline with them)."""
    from longroll.models.causal_wan import CausalWan, CausalWanConfig
    from longroll.models.causal_wan.rollout_spec import CausalWanDenoiser, spec_for

    ref = import_family(args.reference)
    family = ref.family
    config = CausalWanConfig(num_layers=args.layers)  # Wan2.1-T2V-1.3B's width and heads
    spec = spec_for(family.name, height=args.height, width=args.width)
    torch.manual_seed(args.seed)
    model = CausalWan(config, chunk_size=spec.chunk_size)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p).mul_(0.02).to(torch.bfloat16))  # bf16 values: the same in any dtype
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.to(device).cast(dtype).eval().requires_grad_(False)
    den = CausalWanDenoiser(model, spec)
    reference = FamilyReference(ref, config, state, spec.latent_hw, device=device, dtype=dtype, vae=not args.no_vae)
    rolling = reference if family.steady_window == family.window else FamilyReference(
        ref, config, state, spec.latent_hw, device=device, dtype=dtype, window=family.steady_window)
    return den, reference, rolling, ref


def _draws(shape, chunks: int, steps: int, seed: int):
    """What longroll's rollout draws, in its order: each chunk's noise, then a fresh draw per re-noising."""
    gen = torch.Generator().manual_seed(seed)
    noise, fresh = [], []
    for _ in range(chunks):
        noise.append(torch.randn(shape, generator=gen))
        fresh += [torch.randn(shape, generator=gen) for _ in range(steps - 1)]
    return torch.cat(noise, dim=1), fresh


@contextmanager
def _replayed(fresh: list[torch.Tensor]):
    """``torch.randn_like`` (the reference's re-noising) returns the given draws in order."""
    queue = list(fresh)

    def randn_like(like, **kwargs):
        return queue.pop(0).reshape(like.shape).to(device=like.device, dtype=like.dtype)

    with mock.patch.object(torch, "randn_like", randn_like):
        yield queue


def ours(den, cond, config, frames: int, seed: int, decoder=None):
    """longroll's rollout (and the streaming decoder): latents (1, F, C, H, W), video frames made."""
    from longroll.pipelines.rollout import rollout

    parts, made, generator = [], 0, torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for chunk in rollout(den, cond, num_frames=frames, config=config, generator=generator):
            parts.append(chunk.latents)
            if decoder is not None:
                made += len(decoder(chunk.latents))
    sync(next(den.parameters()).device)
    return torch.cat(parts, dim=1), made


def equivalence(den, cond, config, reference, states, seed: int) -> dict:
    """The same 21-frame video on both sides: the largest latent difference, relative."""
    chunk, steps = den.defaults.chunk_size, len(SAMPLER_ARGS["denoising_step_list"])
    shape = (1, chunk, *den.latent_shape)
    noise, fresh = _draws(shape, CLIP // chunk, steps, seed)
    mine, _ = ours(den, cond, config, CLIP, seed)
    with _replayed(fresh) as left:
        theirs, _ = reference.generate(noise, states)
    if left:
        raise RuntimeError(f"The reference drew {len(fresh) - len(left)} re-noising tensors, not {len(fresh)}: "
                           "its sampler no longer matches the one this comparison replays.")
    diff = (mine.float() - theirs.float().to(mine.device)).abs().max().item()
    scale = theirs.float().abs().max().item()
    floor = _bf16_floor(den, states, config, seed, mine)
    sig_theirs = [float(t) / 1000 for t in reference.pipeline.denoising_step_list]
    sig_mine = [float(s) for s in config.schedule.sigmas()[:-1]]
    return {"max_abs_diff": diff, "relative": diff / scale, "bf16_floor_relative": floor / scale,
            "timesteps_longroll": sig_mine,
            "timesteps_reference": sig_theirs,
            "timesteps_equal": all(abs(a - b) < 1e-6 for a, b in zip(sig_mine, sig_theirs)) and
            len(sig_mine) == len(sig_theirs)}


def _bf16_floor(den, states: torch.Tensor, config, seed: int, mine: torch.Tensor) -> float:
    """The largest latent difference between longroll in float32 and in bf16, same noise and weights."""
    from longroll.models.causal_wan.rollout_spec import CausalWanDenoiser

    model, device = den.model, next(den.parameters()).device
    exact = type(model)(model.config, chunk_size=model.chunk_size).to(device)
    exact.load_state_dict({k: v.float() for k, v in model.state_dict().items()})
    exact_den = CausalWanDenoiser(exact.eval().requires_grad_(False), den.spec)
    with torch.no_grad():
        cond = exact.encode_context(states.float().to(device))
    full, _ = ours(exact_den, cond, config, CLIP, seed)
    return (full - mine.float()).abs().max().item()


def per_fill(den, cond, config, reference, states, args, device) -> dict:
    """Median ms per forward, context pass and chunk at each fill, over ``args.repeats`` videos each."""
    chunk = den.defaults.chunk_size
    mine_runs, theirs_runs, out = [], [], {}
    noise = torch.randn(1, CLIP, *den.latent_shape, generator=torch.Generator().manual_seed(args.seed))
    from torch._dynamo.utils import counters

    for r in range(args.repeats + 1):  # the first pair warms up (kernels, allocator, autotuning, compiling)
        if r == 1:
            out["compile_warm_up"] = {"graphs": counters["stats"]["unique_graphs"],
                                      "graph_breaks": sum(counters["graph_break"].values())}
            counters.clear()
        with _Timed(den, device) as timed:
            ours(den, cond, config, CLIP, args.seed + r)
        reference.generate(noise, states, seed=args.seed + r)
        if r:
            mine_runs.append(_chunk_times(timed.begins, timed.ends, timed.starts, chunk))
            log = reference.log
            theirs_runs.append(_chunk_times(log.begins, log.ends, log.starts, chunk))
    out["compile_after_warm_up"] = {"graphs": counters["stats"]["unique_graphs"],
                                    "graph_breaks": sum(counters["graph_break"].values())}
    for fill in FILLS:
        row = {}
        for name, runs in (("longroll", mine_runs), ("reference", theirs_runs)):
            row[name] = {"forward_ms": 1000 * statistics.median(statistics.median(r[fill]["forward"]) for r in runs),
                         "context_ms": 1000 * statistics.median(r[fill]["context"] for r in runs),
                         "chunk_ms": 1000 * statistics.median(r[fill]["chunk"] for r in runs)}
        out[fill] = row
    return out


def end_to_end(den, cond, config, reference, states, args, device, dtype) -> dict:
    """81 video frames with the VAE decode on both sides: frames per second."""
    from diffusers import AutoencoderKLWan

    from longroll.models.wan.vae import StreamingWanDecoder

    vae = AutoencoderKLWan().to(device=device, dtype=dtype).eval().requires_grad_(False)  # Wan2.1's VAE shape
    noise = torch.randn(1, CLIP, *den.latent_shape, generator=torch.Generator().manual_seed(args.seed))
    mine_s, theirs_s, made = [], [], 0
    for r in range(args.repeats + 1):
        t0 = time.perf_counter()
        _, made = ours(den, cond, config, CLIP, args.seed + r, decoder=StreamingWanDecoder(vae))
        mine = time.perf_counter() - t0
        t0 = time.perf_counter()
        _, video = reference.generate(noise, states, decode=True, seed=args.seed + r)
        theirs = time.perf_counter() - t0
        if r:
            mine_s.append(mine)
            theirs_s.append(theirs)
    frames = video.shape[1]
    if made != frames:
        raise RuntimeError(f"longroll made {made} video frames and the reference {frames}: not the same video.")
    return {"frames": frames, "longroll_fps": frames / statistics.median(mine_s),
            "reference_fps": frames / statistics.median(theirs_s),
            "longroll_seconds": statistics.median(mine_s), "reference_seconds": statistics.median(theirs_s)}


def steady(den, cond, config, rolling, states, args, device) -> dict:
    """A long video with the family's long-video window on both sides: late / early chunk time and the
    late ratio."""
    chunk = den.defaults.chunk_size
    latents = steady_frames(args.seconds, chunk)
    with _Timed(den, device) as timed:
        ours(den, cond, config, latents, args.seed)
    mine = _chunk_times(timed.begins, timed.ends, timed.starts, chunk)
    noise = torch.randn(1, latents, *den.latent_shape, generator=torch.Generator().manual_seed(args.seed))
    rolling.generate(noise, states, seed=args.seed)
    log = rolling.log
    theirs = _chunk_times(log.begins, log.ends, log.starts, chunk)

    def late_early(times):
        chunks = [times[k]["chunk"] for k in sorted(times)][2:]  # the first two warm up
        k = max(1, len(chunks) // 10)
        return statistics.median(chunks[:k]), statistics.median(chunks[-k:])

    (me, ml), (te, tl) = late_early(mine), late_early(theirs)
    return {"latent_frames": latents, "video_seconds": args.seconds,
            "longroll": {"early_ms": 1000 * me, "late_ms": 1000 * ml, "late_over_early": ml / me},
            "reference": {"early_ms": 1000 * te, "late_ms": 1000 * tl, "late_over_early": tl / te}}


def steady_frames(seconds: float, chunk: int) -> int:
    """Latent frames of a ``seconds`` video at 16 FPS, whole chunks."""
    latents = 1 + int((seconds * 16 - 1) // 4)
    return latents - latents % chunk


def _setup(args):
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = torch.bfloat16  # the families' code runs in bf16 only (its SDPA fallback returns bf16)
    den, reference, rolling, ref = build(args, device, dtype)
    states = torch.randn(1, 512, den.model.config.text_dim, generator=torch.Generator().manual_seed(args.seed))
    with torch.no_grad():
        cond = den.model.encode_context(states.to(device))
    return device, dtype, den, reference, rolling, ref, states, cond


def _memory_child(options: dict, side: str, what: str) -> dict:
    """One side's run in this (fresh) process: its peak memory and the memory held before it."""
    from types import SimpleNamespace

    from longroll.bench.measure import PeakMemory
    from longroll.pipelines.presets import resolve_preset

    args = SimpleNamespace(**{**options, "no_vae": what != "e2e" or side == "longroll"})  # each side's own VAE
    device, dtype, den, reference, rolling, _, states, cond = _setup(args)
    config = resolve_preset("none", den)
    frames = steady_frames(args.seconds, den.defaults.chunk_size) if what == "steady" else CLIP
    decoder = None
    if what == "e2e" and side == "longroll":
        from diffusers import AutoencoderKLWan

        from longroll.models.wan.vae import StreamingWanDecoder

        decoder = StreamingWanDecoder(AutoencoderKLWan().to(device=device, dtype=dtype).eval().requires_grad_(False))
    noise = torch.randn(1, frames, *den.latent_shape, generator=torch.Generator().manual_seed(args.seed))
    with PeakMemory(device) as m:
        if side == "longroll":
            ours(den, cond, config, frames, args.seed, decoder=decoder)
        else:
            (rolling if what == "steady" else reference).generate(noise, states, decode=what == "e2e")
    return {"start": m.start, "peak": m.peak, "kind": m.kind}


def memory(args) -> dict:
    """Peak memory of each side, each run in a fresh process (see the module docstring)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    whats = ["clip"] + (["e2e"] if not args.no_vae else []) + (["steady"] if args.seconds else [])
    out = {}
    for what in whats:
        for side in ("longroll", "reference"):
            with context.Pool(1) as pool:
                out.setdefault(what, {})[side] = pool.apply(_memory_child, (vars(args), side, what))
    return out


def attention_kernel(den, cond, config, device) -> str:
    """The attention kernels a longroll forward actually ran (from the profiler's operator names)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        ours(den, cond, config, den.defaults.chunk_size, 0)
    names = {e.key for e in prof.key_averages()}
    found = sorted(n for n in names if "attention" in n.lower() and ("flash" in n.lower() or "efficient" in n.lower()
                                                                     or "cudnn" in n.lower() or "math" in n.lower()
                                                                     or "scaled_dot_product" in n.lower()))
    return ", ".join(found) or "none found"


def compare(args) -> dict:
    """Every measurement of the module docstring, printed as it is made; the whole as a dict."""
    from longroll.pipelines.presets import resolve_preset

    device, dtype, den, reference, rolling, ref, states, cond = _setup(args)
    if args.compile:
        den.model.compile_blocks()
    config = resolve_preset("none", den)
    result = {"family": ref.family.name, "reference": str(ref.root), "reference_commit": ref.commit,
              "reference_kernel": ref.kernel, "window": reference.window, "sink": reference.sink,
              "layers": args.layers, "height": args.height, "width": args.width, "dtype": str(dtype),
              "tokens_per_frame": reference.tokens_per_frame, "compile": args.compile}
    print(f"reference {ref.family.repository} at {ref.root} ({ref.commit}), window {reference.window}, "
          f"sink {reference.sink}; its attention: {ref.kernel}")
    from longroll.attention import attention_backend

    result["longroll_kernel"] = f"{attention_backend(device, dtype)}: {attention_kernel(den, cond, config, device)}"
    print(f"longroll's attention ran: {result['longroll_kernel']}")
    eq = result["equivalence"] = equivalence(den, cond, config, reference, states, args.seed)
    print(f"equivalence: 21 frames, largest latent difference {eq['max_abs_diff']:.4g} "
          f"({eq['relative']:.2%} of the largest latent; bf16 alone: {eq['bf16_floor_relative']:.2%}); "
          f"timesteps equal: {eq['timesteps_equal']}")
    fills = result["fills"] = per_fill(den, cond, config, reference, states, args, device)
    if args.compile:
        w, a = fills["compile_warm_up"], fills["compile_after_warm_up"]
        print(f"compile: warm-up {w['graphs']} graphs, {w['graph_breaks']} graph breaks; after warm-up "
              f"{a['graphs']} graphs (recompiles), {a['graph_breaks']} graph breaks")
    for fill in FILLS:
        a, b = fills[fill]["longroll"], fills[fill]["reference"]
        for what in ("forward_ms", "context_ms", "chunk_ms"):
            name = what.replace("_ms", "")
            print(f"fill {fill:2d}: {name:8s} longroll {a[what]:9.1f} ms  reference {b[what]:9.1f} ms  "
                  f"longroll / reference {a[what] / b[what]:.2f}")
    if not args.no_vae:
        e2e = result["end_to_end"] = end_to_end(den, cond, config, reference, states, args, device, dtype)
        print(f"end to end, {e2e['frames']} frames with VAE decode: longroll {e2e['longroll_fps']:.2f} FPS, "
              f"reference {e2e['reference_fps']:.2f} FPS, longroll / reference time "
              f"{e2e['longroll_seconds'] / e2e['reference_seconds']:.2f}")
    if args.seconds:
        st = result["steady"] = steady(den, cond, config, rolling, states, args, device)
        a, b = st["longroll"], st["reference"]
        print(f"steady, {st['video_seconds']:g} s ({st['latent_frames']} latent frames): late / early chunk "
              f"longroll {a['late_over_early']:.2f}, reference {b['late_over_early']:.2f}; late chunk "
              f"longroll {a['late_ms']:.1f} ms, reference {b['late_ms']:.1f} ms, longroll / reference "
              f"{a['late_ms'] / b['late_ms']:.2f}")
    mem = result["memory"] = memory(args)
    names = {"clip": "21-frame video", "e2e": "81 frames with VAE", "steady": f"{args.seconds:g} s video"}
    for what, sides in mem.items():
        a, b = sides["longroll"], sides["reference"]
        if a["peak"] is None or b["peak"] is None:
            print(f"peak memory, {names[what]}: not measurable here")
            continue
        added = [(x["peak"] - x["start"]) / 2**20 for x in (a, b)]
        print(f"peak memory, {names[what]} ({a['kind']}, fresh process each): longroll {a['peak'] / 2**20:.0f} MiB, "
              f"reference {b['peak'] / 2**20:.0f} MiB, longroll / reference {a['peak'] / b['peak']:.2f}; added by "
              f"the run: longroll {added[0]:.0f} MiB, reference {added[1]:.0f} MiB")
    return result


__all__ = ["compare"]
