"""The built-in procedural world: prompts, scenes, rendering, detection and training clips."""

from longroll.world.detect import Blob, Detection, detect, find_blobs
from longroll.world.render import render
from longroll.world.scene import FPS, RESOLUTION, Scene, Sprite, random_prompt, scene_from_prompt
from longroll.world.tracks import presence, separation, track
from longroll.world.vocab import (
    BACKGROUNDS,
    COLOURS,
    SHAPES,
    ObjectSpec,
    Prompt,
    PromptError,
    parse_prompt,
    vocabulary_text,
    vocabulary_words,
)

__all__ = [
    "BACKGROUNDS", "COLOURS", "FPS", "RESOLUTION", "SHAPES", "Blob", "Detection", "ObjectSpec", "Prompt",
    "PromptError", "Scene", "Sprite", "detect", "find_blobs", "parse_prompt", "presence", "random_prompt",
    "render", "scene_from_prompt", "separation", "track", "vocabulary_text", "vocabulary_words",
]
