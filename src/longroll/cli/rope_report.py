"""``longroll rope-report``: which temporal RoPE planes a method interpolates for a given model."""

from __future__ import annotations

import argparse

HELP = ("print the per-plane training exposure and scaling of temporal RoPE (FLEX Fig. 1), or with --preset the "
        "phases a query at --frame sees under any method against the training domain")


def register(parser: argparse.ArgumentParser) -> None:
    from longroll.constants import (
        FLEX_ALPHA,
        FLEX_BETA,
        LONGLIVE_SINK,
        LONGLIVE_WINDOW,
        ROPE_THETA,
        SELF_FORCING_CHUNK,
        SELF_FORCING_TRAIN_LEN,
        WAN21_HEAD_DIM,
    )
    from longroll.rope.scaling import ROPE_METHODS

    parser.add_argument("--head-dim", type=int, default=WAN21_HEAD_DIM, help="attention head dim (Wan2.1-1.3B: 128)")
    parser.add_argument("--train-len", type=int, default=SELF_FORCING_TRAIN_LEN,
                        help="training horizon in latent frames")
    parser.add_argument("--target-len", type=int, default=126, help="rollout length in latent frames")
    parser.add_argument("--method", default="flex", choices=ROPE_METHODS, help="temporal frequency scaling")
    parser.add_argument("--alpha", type=float, default=FLEX_ALPHA,
                        help="FLEX gate: full interpolation below this exposure")
    parser.add_argument("--beta", type=float, default=FLEX_BETA,
                        help="FLEX gate: no interpolation above this exposure")
    parser.add_argument("--theta", type=float, default=ROPE_THETA, help="RoPE base")
    parser.add_argument("--riflex-n", type=int, default=None, help="RIFLEx repetition frame (default: train length)")
    parser.add_argument("--plot", default=None, help="also draw the table to this PNG")
    parser.add_argument("--preset", default=None,
                        help="comma-separated presets: show the phases a query at --frame sees under each")
    parser.add_argument("--frame", type=int, default=1000, help="with --preset: the query's latent frame")
    parser.add_argument("--window", type=int, default=None,
                        help="with --preset: the window of the sink presets (default: the built-in model's, "
                             f"{LONGLIVE_WINDOW}; presets without a sink attend its own {SELF_FORCING_TRAIN_LEN})")
    parser.add_argument("--sink", type=int, default=None,
                        help="with --preset: the sink of the sink presets (default: the built-in model's, "
                             f"{LONGLIVE_SINK}; its own inference has none)")
    parser.add_argument("--chunk", type=int, default=SELF_FORCING_CHUNK, help="with --preset: latent frames per chunk")
    parser.add_argument("--heads", type=int, default=12, help="with --preset: attention heads (LoL's jitter)")


def run(args: argparse.Namespace) -> int:
    from longroll.io.atomic import atomic_output, check_output_path
    from longroll.reports.rope_exposure import exposure_table, format_table, plot_table

    if args.plot:
        check_output_path(args.plot)
    if args.preset:
        return _phases(args)
    rows = exposure_table(args.head_dim, args.train_len, args.target_len, args.method, alpha=args.alpha,
                          beta=args.beta, theta=args.theta, riflex_n=args.riflex_n)
    print(format_table(rows, head_dim=args.head_dim, train_len=args.train_len, target_len=args.target_len,
                       method=args.method, alpha=args.alpha, beta=args.beta))
    if args.plot:
        with atomic_output(args.plot) as tmp:
            plot_table(rows, tmp, alpha=args.alpha, beta=args.beta,
                       title=f"temporal RoPE exposure, L_train {args.train_len} -> L {args.target_len} "
                             f"({args.method})")
        print(f"plot written to {args.plot}")
    return 0


def _phases(args: argparse.Namespace) -> int:
    from longroll._validate import check_choice, check_int
    from longroll.constants import LONGLIVE_SINK, LONGLIVE_WINDOW, SELF_FORCING_CHUNK, SELF_FORCING_TRAIN_LEN
    from longroll.io.atomic import atomic_output
    from longroll.models.base import ModelDefaults
    from longroll.pipelines.presets import PRESETS
    from longroll.reports.rope_phases import format_report, phase_report, plot_reports
    from longroll.sampler import FewStepSchedule

    presets = [p.strip() for p in args.preset.split(",") if p.strip()]
    for name in presets:
        check_choice("preset", name, PRESETS)
    check_int("frame", args.frame, low=0)
    # The built-in model's defaults (a scale model of Self Forcing: its own 21-frame window, no sink; the sink
    # presets' 12 / 3), with what was given on the command line.
    from dataclasses import replace

    from longroll.models.tiny.weights import shipped_defaults

    base = shipped_defaults() or ModelDefaults(train_len=SELF_FORCING_TRAIN_LEN, chunk_size=SELF_FORCING_CHUNK,
                                               window=LONGLIVE_WINDOW, sink=LONGLIVE_SINK, schedule=FewStepSchedule(),
                                               context_timestep=0.0)
    native = base.native if args.train_len == base.train_len else replace(base.native, window=args.train_len)
    defaults = replace(base, train_len=args.train_len, chunk_size=args.chunk, native=native,
                       window=base.window if args.window is None else args.window,
                       sink=base.sink if args.sink is None else args.sink)
    reports = [phase_report(name, defaults, frame=args.frame, head_dim=args.head_dim, heads=args.heads,
                            theta=args.theta) for name in presets]
    print("\n\n".join(format_report(r, train_len=args.train_len) for r in reports))
    if args.plot:
        with atomic_output(args.plot) as tmp:
            plot_reports(reports, tmp, title=f"temporal phases seen at frame {args.frame} (L_train {args.train_len})")
        print(f"plot written to {args.plot}")
    return 0
