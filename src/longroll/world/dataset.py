"""Training clips of the built-in world: random scenes, seeds, speeds and start times."""

from __future__ import annotations

import numpy as np

from longroll.world.render import render
from longroll.world.scene import Scene, random_prompt, scene_from_prompt


def random_scene(rng: np.random.Generator) -> Scene:
    """A random prompt made concrete with a random seed."""
    return scene_from_prompt(random_prompt(rng), int(rng.integers(0, 2**31 - 1)))


def make_clips(count: int, length: int, seed: int) -> tuple[np.ndarray, list[Scene]]:
    """``count`` clips of ``length`` frames: uint8 (count, length, H, W, 3) and their scenes.

    Each clip starts at a random time of its scene, so sprites are seen anywhere on their path.
    """
    rng = np.random.default_rng(seed)
    scenes = [random_scene(rng) for _ in range(count)]
    res = scenes[0].resolution if scenes else 32
    clips = np.empty((count, length, res, res, 3), dtype=np.uint8)
    for i, scene in enumerate(scenes):
        clips[i] = render(scene, int(rng.integers(0, 10_000)), length)
    return clips, scenes
