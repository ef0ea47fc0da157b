"""``longroll rope-report``: which temporal RoPE planes a method interpolates for a given model."""

from __future__ import annotations

import argparse

HELP = "print the per-plane training exposure and scaling of temporal RoPE (FLEX Fig. 1)"


def register(parser: argparse.ArgumentParser) -> None:
    from longroll.constants import FLEX_ALPHA, FLEX_BETA, ROPE_THETA, SELF_FORCING_TRAIN_LEN, WAN21_HEAD_DIM
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


def run(args: argparse.Namespace) -> int:
    from longroll.io.atomic import atomic_output, check_output_path
    from longroll.rope.report import exposure_table, format_table, plot_table

    if args.plot:
        check_output_path(args.plot)
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
