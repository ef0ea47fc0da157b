"""The ``longroll`` command: thin argparse subcommands that build configs and call the library."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from longroll.cli import batch, bench, extend, generate, rope_report, studio, train_tiny, world
from longroll.cli import eval as eval_cmd
from longroll.version import __version__

# Each command module exposes register(subparsers) and run(args) -> int.
COMMANDS = {
    "batch": batch,
    "bench": bench,
    "eval": eval_cmd,
    "extend": extend,
    "generate": generate,
    "rope-report": rope_report,
    "studio": studio,
    "train-tiny": train_tiny,
    "world": world,
}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each default printed once: where the help text states it (a model's or a preset's default, written
    out where it depends on the model), or as ``(default: X)`` where a fixed default is left unsaid; never
    for a flag without a value of its own (None, a switch that is off, an empty list)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "default" in text.lower() or default is None or default is False or default == [] \
                or default is argparse.SUPPRESS or isinstance(action, argparse._StoreConstAction):
            return text
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="longroll", description="Long video generation past the training horizon, training-free."
    )
    parser.add_argument("--version", action="version", version=f"longroll {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        module.register(sub.add_parser(name, help=module.HELP, description=module.HELP,
                                       formatter_class=HelpFormatter))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from longroll import interrupts

    interrupts.install()  # before any heavy import: a signal during one is recorded, not lost
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if a in COMMANDS), "")
    try:
        with interrupts.deferred():  # a Ctrl-C inside torch's import would abort it: raised after
            parser = build_parser()  # imports torch (lazily, through the presets)
        args = parser.parse_args(argv)
        args.argv = argv  # for commands that relaunch themselves (torchrun)
        logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                            format="%(levelname)s %(message)s")
        if args.command is None:
            parser.print_help()
            return 2
        command = args.command
        code = COMMANDS[command].run(args)
        interrupts.check()  # a signal swallowed on the way still ends the run as one
        return code
    except KeyboardInterrupt as err:
        interrupts.clear()
        terminated = isinstance(err, interrupts.Terminated)
        print(f"longroll {command}: {'terminated' if terminated else 'interrupted'}; what was made so far is kept",
              file=sys.stderr)
        return 143 if terminated else 130
    except (ValueError, FileNotFoundError) as err:
        print(f"longroll {command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
