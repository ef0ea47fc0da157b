"""The horizon benchmark's prompts: a fixed, stratified rule over the built-in world's vocabulary.

``stratified_prompts(n)``: one, two and three objects equally often (n / 3 each); object slots take
the 8 colours and the 3 shapes in turn (every colour-shape pair once in 24 slots); prompts take
the 4 backgrounds in turn. Those cycles all close after 12 prompts (24 slots), so block ``k`` of 12
prompts shifts the colours by ``k``. A prompt's place in its block fixes its object count and
background (12 = 3 x 4 places), so two prompts can only coincide at the same place of two blocks,
whose colours differ for the first 8 blocks: the rule makes ``MAX_PROMPTS`` = 96 different
prompts. Each block uses every colour-shape pair once, every colour, shape and background
is used equally often over whole blocks, no prompt repeats a colour, and the list is the same on
every machine (a longer list starts with a shorter one). The 32-prompt list the benchmark uses is
committed in ``bench/horizon/prompts.txt``.
"""

from __future__ import annotations

from longroll.world.vocab import BACKGROUNDS, COLOURS, SHAPES, ObjectSpec, Prompt

BLOCK = 12  # prompts after which counts (3), backgrounds (4) and colour-shape slots (24) all repeat
MAX_PROMPTS = BLOCK * len(COLOURS)  # different prompts the rule makes (one colour shift per block)


def stratified_prompts(n: int) -> list[str]:
    """``n`` different prompt texts by the stratified rule (see the module docstring)."""
    if not 1 <= n <= MAX_PROMPTS:
        raise ValueError(f"n = {n}: the stratified rule makes 1 to {MAX_PROMPTS} different prompts.")
    colours, backgrounds = list(COLOURS), list(BACKGROUNDS)
    slot, prompts = 0, []
    for i in range(n):
        count = 1 + i % 3  # 1, 2, 3, 1, 2, 3, ...
        colour_shift = i // BLOCK  # the block: its shift makes its prompts differ from every earlier block's
        objects = []
        for _ in range(count):
            colour = colours[(slot + colour_shift) % len(colours)]
            shape = SHAPES[slot % len(SHAPES)]  # 8 and 3 coprime: every pair in 24 slots
            objects.append(ObjectSpec(colour, shape))
            slot += 1
        prompts.append(Prompt(tuple(objects), backgrounds[i % len(backgrounds)]).text())
    return prompts


__all__ = ["MAX_PROMPTS", "stratified_prompts"]
