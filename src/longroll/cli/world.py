"""``longroll world``: the built-in world's vocabulary, and a rendered ground-truth clip."""

from __future__ import annotations

import argparse

HELP = "list the built-in world's prompt vocabulary or parse a prompt"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--list", action="store_true", help="print the vocabulary")
    parser.add_argument("--parse", metavar="PROMPT", default=None, help="parse a prompt and print its scene")
    parser.add_argument("--seed", type=int, default=0, help="seed for the scene drawn from --parse")


def run(args: argparse.Namespace) -> int:
    from longroll.world import BACKGROUNDS, COLOURS, SHAPES, scene_from_prompt, vocabulary_text
    from longroll.world.vocab import COUNTS

    if args.parse:
        scene = scene_from_prompt(args.parse, args.seed)
        print(f"background: {scene.prompt.background}")
        for s in scene.sprites:
            print(f"{s.spec}: size {s.size:.1f} px, start ({s.x0:.1f}, {s.y0:.1f}), "
                  f"velocity ({s.vx:.2f}, {s.vy:.2f}) px/frame")
        return 0
    print("counts:      " + ", ".join(COUNTS))
    print("colours:     " + ", ".join(COLOURS))
    print("shapes:      " + ", ".join(SHAPES))
    print("backgrounds: " + ", ".join(BACKGROUNDS))
    print()
    print(vocabulary_text())
    return 0
