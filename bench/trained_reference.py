"""The trained reference against the training-free presets (issue 42): the built-in model fine-tuned with
FAR's long short-term context (``train/lstc.json``) next to the shipped model's presets, on the same
prompts and seeds of the horizon benchmark's matrix.

1. The variant's runs: the built-in matrix (``longroll bench``'s presets rows) on its weights, in ``--out``
   (its own REPORT.md there, resumable like any benchmark).
2. The shipped model's runs of the same cells: read from its run store (``bench/horizon/runs``, committed);
   a cell it lacks is made into ``--out/shipped`` (never into the main benchmark's folder).
3. ``--out/COMPARISON.md``: per length, every row's mean [95% interval] and its paired difference against
   the shipped model's `none` (its sliding window) and against the variant's own inference, with the
   verdicts of ``bench.stats``; then the variant's cache: coarse tokens per frame, bytes per frame of each
   level, measured by a rollout, and what an hour of video would hold.

    python bench/trained_reference.py --weights runs/lstc-export/tiny.safetensors --lengths 16,120 \\
        --prompts 16 --seeds 2 --long-prompts 8 --long-seeds 1
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_RUNS = ROOT / "bench" / "horizon"
SHIPPED_PRESETS = ("none", "riflex", "flex", "ntk", "sink")  # its sliding window and the best training-free rows


def _runs(cfg, model, store_root: Path, *, make: bool) -> list[dict]:
    """The matrix's runs of ``cfg`` on ``model`` from the store under ``store_root``; missing ones made into
    ``cfg.out`` when ``make``, else an error naming them."""
    from longroll.bench.horizon import matrix_items, run_bench
    from longroll.bench.store import RunStore

    rows, items = matrix_items(cfg, model)
    store = RunStore(store_root / "runs")
    missing = [k for k in items if k not in store]
    if missing and not make:
        raise SystemExit(f"{len(missing)} runs of the shipped model are not in {store_root}/runs; rerun with "
                         "--make-shipped to make them into --out/shipped.")
    if missing:
        run_bench(cfg, model)
        store = RunStore(Path(cfg.out) / "runs")
    return [{**store.get(k), "variant": v.name, "group": v.group} for v, k in rows if k in store]


def cache_statement(model, seconds: float) -> list[str]:
    """The multi-level cache of the variant: measured on a rollout of ``seconds``, extrapolated to an hour."""
    import torch

    from longroll.cache.config import CacheConfig

    dit = model.denoiser
    cfg = dit.config
    window = model.defaults.window
    frames = int(round(seconds * model.fps)) // cfg.chunk_size * cfg.chunk_size
    cond = model.encode_prompt("a red circle on a black background")
    unbounded = dit.new_cache(CacheConfig(window=frames + cfg.chunk_size, sink=0), 1)
    bounded = dit.new_cache(CacheConfig(window=window, sink=min(model.defaults.sink, window - 1)), 1)
    x = torch.randn(1, cfg.chunk_size, *dit.latent_shape, generator=torch.Generator().manual_seed(0))
    clean = torch.full((1, cfg.chunk_size), -1.0)
    with torch.no_grad():
        for start in range(0, frames, cfg.chunk_size):
            for cache in (unbounded, bounded):
                dit(x, clean, cond, cache=cache, start_frame=start)
    coarse_frame = unbounded.coarse.nbytes / unbounded.coarse.config.slots
    hour = 3600 * model.fps
    fine = bounded.nbytes - bounded.coarse.nbytes
    return [
        "## The variant's cache (FAR's multi-level cache)", "",
        f"- Long-term tokens per frame: {cfg.context_tokens_per_frame} (short-term: {cfg.tokens_per_frame}); "
        f"short-term window {cfg.short_window} frames.",
        f"- Coarse level: {coarse_frame / 1024:.1f} KiB per frame ({cfg.depth} layers, keys and values, "
        f"{unbounded.coarse.k.dtype}); fine level and the window's clean latents: {fine / 1024:.1f} KiB.",
        f"- Measured after {frames} frames ({seconds:g} s): unbounded {unbounded.nbytes / 2**20:.2f} MiB, under the "
        f"default window of {window} frames {bounded.nbytes / 2**20:.2f} MiB.",
        f"- One hour at {model.fps:g} fps ({hour:.0f} frames): unbounded {hour * coarse_frame / 2**30:.2f} GiB of "
        f"coarse level (twice that with guidance: two caches); under the window {bounded.nbytes / 2**20:.2f} MiB "
        "(the size measured above, which stops growing once the window is full).", ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", required=True, help="the variant's tiny.safetensors (an exported lstc run)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "trained_reference"))
    parser.add_argument("--lengths", default="16,120", help="multiples of the horizon")
    parser.add_argument("--presets", default="none", help="the variant's rows (its own inference: none)")
    parser.add_argument("--shipped-presets", default=",".join(SHIPPED_PRESETS))
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--long-prompts", type=int, default=8)
    parser.add_argument("--long-seeds", type=int, default=1)
    parser.add_argument("--make-shipped", action="store_true",
                        help="when the committed store lacks some of the shipped model's cells, make them all into "
                             "--out/shipped")
    parser.add_argument("--cache-seconds", type=float, default=60.0)
    args = parser.parse_args(argv)

    from longroll.bench.matrix import BenchConfig
    from longroll.bench.report import paired_block
    from longroll.bench.stats import grid_label
    from longroll.models.registry import load_model

    out = Path(args.out)
    multiples = tuple(float(m) for m in args.lengths.split(","))
    size = dict(multiples=multiples, prompts=args.prompts, seeds=args.seeds, long_prompts=args.long_prompts,
                long_seeds=args.long_seeds)
    # 1. The variant's runs (made here, resumable).
    variant = load_model("tiny", weights=args.weights)
    if not getattr(variant.denoiser.config, "long", False):
        raise SystemExit(f"{args.weights} is not a model with long short-term context (its config has no "
                         "context_patch).")
    vcfg = BenchConfig(out=out, presets=tuple(args.presets.split(",")), weights=args.weights, **size)
    from longroll.bench.horizon import run_bench

    run_bench(vcfg, variant)
    ours = _runs(vcfg, variant, out, make=False)
    # 2. The shipped model's runs of the same cells.
    shipped = load_model("tiny")
    scfg = BenchConfig(out=out / "shipped", presets=tuple(args.shipped_presets.split(",")), **size)
    theirs = _runs(scfg, shipped, SHIPPED_RUNS, make=args.make_shipped)
    # 3. One table per length: every row against the shipped model's `none`, and against the variant's.
    results = ([{**r, "variant": f"lstc {r['variant']}"} for r in ours]
               + [{**r, "variant": f"shipped {r['variant']}"} for r in theirs])
    rows = [f"lstc {p}" for p in vcfg.presets] + [f"shipped {p}" for p in scfg.presets]
    lines = ["# The trained reference (long short-term context) against the training-free presets", "",
             f"Variant `{Path(args.weights).name}` (sha256 `{variant.weights_sha256[:12]}`), shipped model "
             f"`{shipped.weights_sha256[:12]}`; the horizon benchmark's prompts and seeds (paired); generated by "
             "`bench/trained_reference.py`.", ""]
    for m in multiples:
        units = {(r["prompt"], r["seed"]) for r in results if r["multiple"] == m}
        lines += [f"## {m:g}x the horizon ({grid_label(units)})", ""]
        lines += paired_block(results, rows, m, baseline="shipped none")
        lines += paired_block(results, rows, m, baseline=f"lstc {vcfg.presets[0]}")
    lines += cache_statement(variant, args.cache_seconds)
    from longroll.io.atomic import atomic_output

    with atomic_output(out / "COMPARISON.md") as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'COMPARISON.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

