"""Detection over time: occlusions confirmed by the frames around them, separation, motion.

A single frame cannot tell a sprite partly hidden behind another from two sprites fused into one
shape; time can. World sprites move on straight lines at 0.4-1.4 px/frame in random directions,
so a real occlusion ends: the hidden sprite is seen whole again (or was, shortly before). A
partly hidden match therefore counts only when the same object is found *whole* within
``OCCLUSION_FRAMES`` frames of it; a two-colour blob that never separates is one object at most.

- ``track``: per-frame detections with unconfirmed hidden matches removed.
- ``presence``: per-frame share of prompted objects found (confirmed).
- ``touching_share``: share of frames in which two prompted objects touch or merge;
  ``ground_truth_touching``: the same share on videos the world renders for the same prompt
  (fixed scenes), the rate a faithful model should reach; ``separation`` is their ratio. It takes
  seconds per prompt (768 frames detected), so it is kept on disk too (``~/.cache/longroll``), keyed
  by the prompt and a hash of the code that computes it: a change to the world's scenes, renderer
  or detector computes it again.
- ``object_motion``: per object, mean centroid travel per frame between consecutive whole sightings.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from longroll.world.detect import Blob, Detection, detect
from longroll.world.render import render
from longroll.world.scene import FPS, scene_from_prompt
from longroll.world.vocab import Prompt

OCCLUSION_FRAMES = 2 * FPS  # a hidden match needs a whole sighting of its object within this many frames
TRUTH_SCENES = 8  # scenes rendered for the ground-truth touching rate of a prompt
TRUTH_FRAMES = 96  # frames per ground-truth scene (12 s)
TRUTH_MEMO = "world_truth.json"  # where the ground-truth rates are kept (io.memo)


def track(detections: list[Detection]) -> list[tuple[Blob | None, ...]]:
    """Per frame, per object: the matched blob, with hidden matches dropped unless the object is
    seen whole within ``OCCLUSION_FRAMES`` frames."""
    if not detections:
        return []
    n, k = len(detections), len(detections[0].found)
    whole = np.array([[b is not None and b.whole for b in d.found] for d in detections], dtype=bool)  # (n, k)
    # Nearest whole sighting within the window: a running count over a box filter of width 2W + 1.
    counts = np.concatenate([np.zeros((1, k), dtype=np.int64), np.cumsum(whole, axis=0)])
    idx = np.arange(n)
    lo, hi = np.clip(idx - OCCLUSION_FRAMES, 0, n), np.clip(idx + OCCLUSION_FRAMES + 1, 0, n)
    near = (counts[hi] - counts[lo]) > 0  # (n, k)
    return [tuple(b if b is not None and (b.whole or near[t, i]) else None for i, b in enumerate(d.found))
            for t, d in enumerate(detections)]


def presence(frames: np.ndarray, prompt: Prompt) -> np.ndarray:
    """Per-frame share of prompted objects found (hidden sprites confirmed over time): (n,)."""
    tracked = track([detect(f, prompt) for f in frames])
    return np.asarray([sum(b is not None for b in row) / len(row) for row in tracked])


def touching_share(detections: list[Detection]) -> float:
    """Share of frames in which two prompted objects touch or merge."""
    return float(np.mean([d.touching for d in detections])) if detections else 0.0


@lru_cache(maxsize=256)
def ground_truth_touching(prompt: Prompt) -> float:
    """The touching share of the world's own videos of ``prompt`` (``TRUTH_SCENES`` fixed scenes)."""
    if len(prompt.objects) < 2:
        return 0.0
    from longroll.io.memo import read_memo, remember

    key = f"{prompt.text()}|{TRUTH_SCENES}|{TRUTH_FRAMES}|{_code_hash()}"
    memo = read_memo(TRUTH_MEMO)
    if key in memo:
        return memo[key]
    shares = []
    for seed in range(TRUTH_SCENES):
        frames = render(scene_from_prompt(prompt, seed), 0, TRUTH_FRAMES)
        shares.append(touching_share([detect(f, prompt) for f in frames]))
    value = float(np.mean(shares))
    remember(TRUTH_MEMO, key, value)
    return value


@lru_cache(maxsize=1)
def _code_hash() -> str:
    """sha256 of the modules the ground truth is computed by (this one, the detector, renderer, scenes, vocabulary)."""
    import hashlib
    import inspect
    import sys

    from longroll.world import detect as d
    from longroll.world import render as r
    from longroll.world import scene as s
    from longroll.world import vocab as v

    digest = hashlib.sha256()
    for module in (sys.modules[__name__], d, r, s, v):
        digest.update(inspect.getsource(module).encode())
    return digest.hexdigest()[:16]


def separation(detections: list[Detection], prompt: Prompt) -> float | None:
    """Touching share of a video over the world's own rate for its prompt (1 = as in the world;
    higher = objects stick together). None for one-object prompts."""
    truth = ground_truth_touching(prompt)
    if len(prompt.objects) < 2 or truth <= 0:
        return None
    return touching_share(detections) / truth


def object_motion(tracked: list[tuple[Blob | None, ...]]) -> list[float | None]:
    """Per object, mean centroid travel (px/frame) between consecutive frames where it is seen whole."""
    if not tracked:
        return []
    out = []
    for i in range(len(tracked[0])):
        steps = [np.hypot(a[i].centroid[0] - b[i].centroid[0], a[i].centroid[1] - b[i].centroid[1])
                 for a, b in zip(tracked, tracked[1:])
                 if a[i] is not None and b[i] is not None and a[i].whole and b[i].whole]
        out.append(float(np.mean(steps)) if steps else None)
    return out


__all__ = ["OCCLUSION_FRAMES", "ground_truth_touching", "object_motion", "presence", "separation", "touching_share",
           "track"]
