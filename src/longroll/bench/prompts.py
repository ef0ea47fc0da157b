"""The horizon benchmark's prompts: a fixed, stratified rule over the built-in world's vocabulary.

``stratified_prompts(n)``: one, two and three objects equally often (n / 3 each); object slots take
the 8 colours and the 3 shapes in turn (every colour-shape pair once in 24 slots); prompts take
the 4 backgrounds in turn. So across the list every colour, shape and background is used equally
often (up to rounding), no prompt repeats a colour, and the list is the same on every machine. The
32-prompt list the benchmark uses is committed in ``bench/horizon/prompts.txt``.
"""

from __future__ import annotations

from longroll.world.vocab import BACKGROUNDS, COLOURS, SHAPES, ObjectSpec, Prompt


def stratified_prompts(n: int) -> list[str]:
    """``n`` prompt texts by the stratified rule (see the module docstring)."""
    if n < 1:
        raise ValueError(f"n = {n}: ask for at least one prompt.")
    colours, backgrounds = list(COLOURS), list(BACKGROUNDS)
    counts = [1 + i % 3 for i in range(n)]  # 1, 2, 3, 1, 2, 3, ...
    slot, prompts = 0, []
    for i, count in enumerate(counts):
        objects = []
        for _ in range(count):
            colour = colours[slot % len(colours)]
            shape = SHAPES[slot % len(SHAPES)]  # 8 and 3 are coprime: every colour-shape pair in 24 slots
            objects.append(ObjectSpec(colour, shape))
            slot += 1
        prompts.append(Prompt(tuple(objects), backgrounds[i % len(backgrounds)]).text())
    return prompts


__all__ = ["stratified_prompts"]
