"""Scenes of the built-in world: sprites moving at constant velocity and bouncing off the walls.

A scene is a parsed prompt plus, for each object, a size, a start position and a velocity drawn
from a seed. Positions are analytic (a folded straight line), so any frame of an arbitrarily long
video is known exactly: the ground truth for the world-aware metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from longroll.world.vocab import BACKGROUNDS, COLOURS, MAX_OBJECTS, SHAPES, ObjectSpec, Prompt, parse_prompt

RESOLUTION = 32  # frame height and width in pixels
FPS = 8  # frames per second of the world
SIZE_RANGE = (9.0, 13.0)  # sprite diameter / side in pixels
SPEED_RANGE = (0.4, 1.4)  # pixels per frame


@dataclass(frozen=True)
class Sprite:
    """One object of a scene with its motion."""

    spec: ObjectSpec
    size: float  # diameter (circle) or side (square, triangle) in pixels
    x0: float  # centre at frame 0, pixels
    y0: float
    vx: float  # velocity, pixels per frame
    vy: float

    def centre(self, frames: np.ndarray, resolution: int = RESOLUTION) -> np.ndarray:
        """Centres at the given frame indices: (n, 2) as (x, y), bouncing elastically off the walls."""
        half = self.size / 2
        x = _fold(self.x0 + self.vx * frames, half, resolution - half)
        y = _fold(self.y0 + self.vy * frames, half, resolution - half)
        return np.stack([x, y], axis=-1)


@dataclass(frozen=True)
class Scene:
    """A prompt made concrete: sprites with sizes and motion over a background."""

    prompt: Prompt
    sprites: tuple[Sprite, ...]
    resolution: int = RESOLUTION

    @property
    def background_rgb(self) -> tuple[int, int, int]:
        return BACKGROUNDS[self.prompt.background]


def _fold(p: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Reflect a straight-line coordinate into [lo, hi] (a triangle wave)."""
    span = hi - lo
    q = np.mod(np.asarray(p, dtype=np.float64) - lo, 2 * span)
    return lo + np.where(q > span, 2 * span - q, q)


def scene_from_prompt(prompt: str | Prompt, seed: int, *, resolution: int = RESOLUTION,
                      speed_range: tuple[float, float] = SPEED_RANGE) -> Scene:
    """Draw sizes, start positions and velocities for a prompt's objects from ``seed``."""
    parsed = parse_prompt(prompt) if isinstance(prompt, str) else prompt
    rng = np.random.default_rng(seed)
    sprites = []
    for spec in parsed.objects:
        size = float(rng.uniform(*SIZE_RANGE)) * resolution / RESOLUTION
        half = size / 2
        x0, y0 = rng.uniform(half, resolution - half, size=2)
        speed = rng.uniform(*speed_range) * resolution / RESOLUTION
        angle = rng.uniform(0, 2 * np.pi)
        sprites.append(Sprite(spec, size, float(x0), float(y0), float(speed * np.cos(angle)),
                              float(speed * np.sin(angle))))
    return Scene(parsed, tuple(sprites), resolution)


def random_prompt(rng: np.random.Generator) -> Prompt:
    """A uniformly random prompt of the vocabulary (1-3 objects, repeats allowed)."""
    n = int(rng.integers(1, MAX_OBJECTS + 1))
    colours = list(COLOURS)
    objects = tuple(ObjectSpec(colours[rng.integers(len(colours))], SHAPES[rng.integers(len(SHAPES))])
                    for _ in range(n))
    backgrounds = list(BACKGROUNDS)
    return Prompt(objects, backgrounds[rng.integers(len(backgrounds))])
