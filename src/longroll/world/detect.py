"""Find each prompted object in a frame: the ground truth behind the world-aware metrics.

Pixels close to an object's named colour are grouped into 4-connected components; each component
gets an area, a centroid and a shape: a triangle (apex up) has its centroid a sixth of its height
below the centre of its bounding box, circles and squares have it at the centre; a square fills
its bounding box (fill ratio ~1), a circle fills pi/4 of it. Prompted objects are matched to components of their colour and
shape, largest first; an object still unmatched may take a blob of its colour whose outline touches
another sprite or is irregular (partly hidden, so its shape cannot be judged), and objects of one
colour may share an irregular blob (two overlapping sprites of the same colour merge): sprites
overlap often on a 32x32 canvas and a hidden corner does not make an object absent. A sprite is
never cut by the frame edge, so an irregular blob (bounding-box aspect far from 1, or sparse) is
two sprites or a hidden one. The background colour is the median of pixels that match no object colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from longroll.world.vocab import BACKGROUNDS, COLOURS, ObjectSpec, Prompt

COLOUR_TOLERANCE = 70.0  # max RGB distance from the named colour for a pixel to count
MIN_AREA = 12  # pixels; smaller blobs are noise (sprites are at least ~40 px)
FILL_SQUARE = 0.935  # fill ratio (area / bounding box) at or above: square, else circle
IRREGULAR_ASPECT = (0.8, 1.25)  # a whole sprite's bounding box is square; outside this range: irregular
IRREGULAR_FILL = 0.45  # a whole triangle fills ~1/2 of its box; sparser blobs are irregular
TRIANGLE_OFFSET = 0.08  # centroid below the bbox centre by more than this share of its height: triangle


@dataclass(frozen=True)
class Blob:
    """A connected component of one colour."""

    colour: str
    shape: str
    area: int  # pixels
    centroid: tuple[float, float]  # (x, y) in pixels
    fill: float  # area / bounding-box area
    offset: float  # (centroid y - bbox centre y) / bbox height; ~1/6 for a triangle, ~0 otherwise
    touching: bool  # its outline touches a pixel of another palette colour (possibly occluded)
    aspect: float  # bounding-box width / height (1 for every single unhidden sprite)
    mean_rgb: tuple[float, float, float]  # mean colour of its pixels

    @property
    def irregular(self) -> bool:
        """Not the outline of one whole sprite: merged with another of its colour, or partly hidden."""
        return not (IRREGULAR_ASPECT[0] <= self.aspect <= IRREGULAR_ASPECT[1]) or self.fill < IRREGULAR_FILL


@dataclass(frozen=True)
class Detection:
    """What the detector found for one frame."""

    found: tuple[Blob | None, ...]  # per prompted object, the matched blob or None
    background_rgb: tuple[float, float, float]  # estimated background colour
    background_error: float  # RGB distance of the estimate to the prompted background

    @property
    def presence(self) -> float:
        """Share of prompted objects found."""
        return sum(b is not None for b in self.found) / len(self.found)


def classify(fill: float, offset: float) -> str:
    """Shape of a blob from its fill ratio and vertical centroid offset."""
    if offset > TRIANGLE_OFFSET:
        return "triangle"
    return "square" if fill >= FILL_SQUARE else "circle"


def _components(mask: np.ndarray) -> list[np.ndarray]:
    """4-connected components of a boolean (H, W) mask, each as an (n, 2) array of (row, col)."""
    h, w = mask.shape
    labels = np.zeros((h, w), dtype=np.int32)
    comps = []
    for r0, c0 in zip(*np.nonzero(mask)):
        if labels[r0, c0]:
            continue
        label = len(comps) + 1
        stack, pixels = [(r0, c0)], []
        labels[r0, c0] = label
        while stack:
            r, c = stack.pop()
            pixels.append((r, c))
            for rr, cc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                if 0 <= rr < h and 0 <= cc < w and mask[rr, cc] and not labels[rr, cc]:
                    labels[rr, cc] = label
                    stack.append((rr, cc))
        comps.append(np.asarray(pixels))
    return comps


def _colour_masks(frame: np.ndarray) -> dict[str, np.ndarray]:
    """Per palette colour, the pixels within COLOUR_TOLERANCE of it: bool (H, W)."""
    pixels = frame.astype(np.float32)
    return {c: np.linalg.norm(pixels - np.asarray(rgb, dtype=np.float32), axis=-1) <= COLOUR_TOLERANCE
            for c, rgb in COLOURS.items()}


def _dilate(mask: np.ndarray) -> np.ndarray:
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    return out


def find_blobs(frame: np.ndarray, colour: str, masks: dict[str, np.ndarray] | None = None) -> list[Blob]:
    """Components of pixels near ``colour`` in an RGB frame (H, W, 3), largest first."""
    masks = _colour_masks(frame) if masks is None else masks
    others = np.zeros(frame.shape[:2], dtype=bool)
    for c, m in masks.items():
        if c != colour:
            others |= m
    blobs = []
    for pixels in _components(masks[colour]):
        area = len(pixels)
        if area < MIN_AREA:
            continue
        rows, cols = pixels[:, 0], pixels[:, 1]
        height = rows.max() - rows.min() + 1
        width = cols.max() - cols.min() + 1
        fill = area / (height * width)
        offset = (rows.mean() - (rows.min() + rows.max()) / 2) / height
        own = np.zeros(frame.shape[:2], dtype=bool)
        own[rows, cols] = True
        touching = bool((_dilate(own) & others).any())
        blobs.append(Blob(colour, classify(fill, offset), area, (float(cols.mean() + 0.5), float(rows.mean() + 0.5)),
                          float(fill), float(offset), touching, float(width / height),
                          tuple(float(c) for c in frame[rows, cols].reshape(-1, 3).mean(axis=0))))
    return sorted(blobs, key=lambda b: -b.area)


def detect(frame: np.ndarray, prompt: Prompt) -> Detection:
    """Match every prompted object in an RGB uint8 frame (H, W, 3)."""
    masks = _colour_masks(frame)
    blobs_by_colour = {c: find_blobs(frame, c, masks) for c in {o.colour for o in prompt.objects}}
    used: set[int] = set()
    found: list[Blob | None] = [None] * len(prompt.objects)
    # Pass 1: colour and shape agree. Pass 2: a partly hidden blob of the right colour.
    # Pass 3: share an irregular blob with another object of the same colour (merged sprites).
    def accept(pass_no: int, obj: ObjectSpec, blob: Blob) -> bool:
        if pass_no == 0:
            return id(blob) not in used and blob.shape == obj.shape
        if pass_no == 1:
            return id(blob) not in used and (blob.touching or blob.irregular)
        return blob.irregular

    for pass_no in range(3):
        for i, obj in enumerate(prompt.objects):
            if found[i] is not None:
                continue
            match = next((b for b in blobs_by_colour[obj.colour] if accept(pass_no, obj, b)), None)
            if match is not None:
                found[i] = match
                used.add(id(match))
    object_like = np.zeros(frame.shape[:2], dtype=bool)
    for m in masks.values():
        object_like |= m
    pixels = frame.reshape(-1, 3).astype(np.float32)
    object_like = object_like.reshape(-1)
    rest = pixels[~object_like] if (~object_like).any() else pixels
    bg = np.median(rest, axis=0)
    error = float(np.linalg.norm(bg - np.asarray(BACKGROUNDS[prompt.background], dtype=np.float32)))
    return Detection(tuple(found), (float(bg[0]), float(bg[1]), float(bg[2])), error)


def presence(frames: np.ndarray, prompt: Prompt) -> np.ndarray:
    """Per-frame share of prompted objects found: (n,) for frames (n, H, W, 3)."""
    return np.asarray([detect(f, prompt).presence for f in frames])


__all__ = ["Blob", "Detection", "ObjectSpec", "classify", "detect", "find_blobs", "presence"]
