"""Find each prompted object in a frame: the ground truth behind the world-aware metrics.

1. Segment: every pixel takes the nearest palette colour if it lies within ``COLOUR_TOLERANCE``
   of it (else it is background); each colour's pixels are cut into 4-connected components
   (OpenCV).
2. Fit shapes: a component is a **whole sprite** when a template of one of the world's shapes,
   drawn as the renderer draws it (``render.shape_mask``) at a world size (``SIZE_RANGE`` within
   ``SIZE_TOLERANCE``), overlaps it with IoU >= ``WHOLE_IOU``. Its shape is the best template's.
3. Match: each prompted object takes a whole sprite of its colour and shape, largest first.
   An object still unmatched may take a **partly hidden** sprite: a template of its shape at a
   world size that holds a component of its colour (at most ``SPILL`` of the component outside),
   shows at least ``MIN_VISIBLE`` of itself, and whose hidden rest lies under a *whole* sprite of
   another colour (a sprite in front). Two sprites of one colour that overlap form one component;
   it is split by fitting one template, then a second to the rest (both must hold the component).

What a fused blob scores, and why: a blob of two colours whose parts are not whole sprites counts
for neither object, since neither part has a sprite's shape and neither hides behind a whole one.
Where one part is a whole sprite and the other fits a whole sprite behind it, a single frame
cannot tell that from a real occlusion, so both count in that frame; fusion that persists is what
``separation`` (share of frames in which objects touch, against the world's own rate for the same
prompt) measures over time.

Legend: H, W frame size; n candidate templates; h, w crop size.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from longroll.world.render import SUPERSAMPLE, shape_mask
from longroll.world.scene import SIZE_RANGE
from longroll.world.vocab import BACKGROUNDS, COLOURS, SHAPES, ObjectSpec, Prompt

COLOUR_TOLERANCE = 70.0  # max RGB distance from the nearest palette colour for a pixel to count as that colour
COLOUR_MATCH = 40.0  # a found object's core colour within this RGB distance of its palette colour: faithful
MIN_AREA = 12  # pixels; smaller components are noise (the smallest whole sprite covers ~35)
WHOLE_IOU = 0.72  # IoU with a template at or above: a whole sprite of that shape
SIZE_TOLERANCE = (0.9, 1.15)  # a sprite's fitted size may lie this far outside the world's SIZE_RANGE
SPILL = 0.12  # at most this share of a hidden sprite's visible component may lie outside its template
MIN_VISIBLE = 0.25  # a partly hidden sprite shows at least this share of its template
HIDDEN_COVER = 0.85  # ...and at least this share of its hidden template pixels lies under a sprite in front
# Templates are drawn on the renderer's own sub-sample grid; an edge pixel lies within the colour
# tolerance of its sprite when >= 3 of its 4 sub-samples are covered, for every palette colour on
# every background (1 - COLOUR_TOLERANCE / |sprite - background| <= 0.75).
COVERAGE = 0.75  # a template pixel counts when the shape covers this share of its sub-samples


@dataclass(frozen=True)
class Blob:
    """A sprite found in a frame: one object's pixels and the template that explains them."""

    colour: str
    shape: str  # shape of the best template
    area: int  # visible pixels
    centroid: tuple[float, float]  # (x, y) of the visible pixels
    size: float  # fitted template size (diameter or side) in pixels
    fit: float  # IoU of the visible pixels with the template (whole sprites), or visible share (hidden ones)
    whole: bool  # True: the whole shape is visible; False: partly hidden behind another sprite
    mean_rgb: tuple[float, float, float]  # mean colour of its pixels
    colour_error: float  # RGB distance of its core's mean colour to the palette colour

    @property
    def faithful_colour(self) -> bool:
        return self.colour_error <= COLOUR_MATCH


@dataclass(frozen=True)
class Detection:
    """What the detector found for one frame."""

    found: tuple[Blob | None, ...]  # per prompted object, the matched sprite or None
    background_rgb: tuple[float, float, float]  # estimated background colour
    background_error: float  # RGB distance of the estimate to the prompted background
    touching: bool  # two prompted objects' pixels touch or merge (see ``objects_touch``)

    @property
    def presence(self) -> float:
        """Share of prompted objects found."""
        return sum(b is not None for b in self.found) / len(self.found)


# --------------------------------------------------------------------------------- segmentation
_PALETTE = np.asarray(list(COLOURS.values()), dtype=np.float32)  # (K, 3)
_NAMES = list(COLOURS)


def segment(frame: np.ndarray) -> np.ndarray:
    """Palette index of every pixel (-1 = background): int (H, W) for an RGB uint8 frame (H, W, 3)."""
    dist = np.linalg.norm(frame.astype(np.float32)[:, :, None, :] - _PALETTE, axis=-1)  # (H, W, K)
    nearest = dist.argmin(axis=-1)
    return np.where(dist.min(axis=-1) <= COLOUR_TOLERANCE, nearest, -1)


def _components(mask: np.ndarray) -> list[np.ndarray]:
    """4-connected components of a boolean (H, W) mask with at least MIN_AREA pixels, as bool masks."""
    import cv2

    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=4)
    out = [labels == i for i in range(1, count)]
    return [m for m in out if m.sum() >= MIN_AREA]


# ------------------------------------------------------------------------------------ templates
FRACTIONS = (0.0, 0.25, 0.5, 0.75)  # sub-pixel placements of a template's centre along each axis
PLACEMENTS = len(FRACTIONS) ** 2  # templates per (shape, size)


@lru_cache(maxsize=8192)
def template(shape: str, size: float, fx: float, fy: float) -> np.ndarray:
    """Pixel mask of a sprite drawn as the renderer draws it: bool (k, k), its centre at
    ``(k/2 + fx, k/2 + fy)`` (x, y) in kernel pixel coordinates, k = ceil(size) + 3."""
    k = int(np.ceil(size)) + 3
    sub = (np.arange(k * SUPERSAMPLE) + 0.5) / SUPERSAMPLE
    gx, gy = np.meshgrid(sub, sub)
    fine = shape_mask(shape, np.array([k / 2 + fx]), np.array([k / 2 + fy]), size, gx, gy)[0]
    return fine.reshape(k, SUPERSAMPLE, k, SUPERSAMPLE).mean(axis=(1, 3)) >= COVERAGE


@lru_cache(maxsize=1024)
def _templates(shape: str, size: float) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Every sub-pixel placement of one template (FRACTIONS x FRACTIONS, fx major): the masks bool
    (n, k, k), the same as float32 for correlation, and their pixel counts."""
    masks = np.stack([template(shape, size, fx, fy) for fx in FRACTIONS for fy in FRACTIONS])
    return masks, masks.astype(np.float32), tuple(int(m.sum()) for m in masks)


class _Bank:
    """Templates of several (shape, size) pairs, correlated together. As convolution weights each
    k x k template sits in the bottom-right corner of a K x K kernel (K the largest k): that puts its
    top-left corner at the same frame position as the k x k template at the same output index, so
    one convolution serves every size (each size then reads its own k-sized part of the output)."""

    def __init__(self, pairs: list[tuple[str, float]]) -> None:
        self.pairs = pairs
        self.masks, self.kernels, self.counts = zip(*(_templates(shape, size) for shape, size in pairs))
        self.k = max(m.shape[1] for m in self.masks)
        self.weights = np.zeros((sum(len(m) for m in self.masks), 1, self.k, self.k), dtype=np.float32)
        at = 0
        for m in self.masks:
            self.weights[at:at + len(m), 0, self.k - m.shape[1]:, self.k - m.shape[2]:] = m
            at += len(m)


def _one_convolution() -> bool:
    """Correlate a bank in one torch convolution (faster than OpenCV template by template) only
    where torch runs one intra-op thread (the benchmark's torchrun ranks): a team of threads for so
    small a convolution thrashes on a busy core. Measured by ``bench/bench_detector.py``."""
    import torch

    return torch.get_num_threads() == 1


class _Frame:
    """A mask (and others of its frame) ready for correlating templates at every position where a
    template overlaps the mask's pixels: the mask's bounding box grown by the largest template, zeros
    outside the frame, so the cost follows the sprite, not the frame."""

    def __init__(self, mask: np.ndarray, *others: np.ndarray) -> None:
        rows, cols = np.nonzero(mask)  # the mask has pixels (components have at least MIN_AREA)
        self.box = (int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1)
        self.pad = int(np.ceil(_size_bounds()[1])) + 3  # the largest template's side (see ``template``)
        r0, r1, c0, c1 = self.box
        images = np.stack([m[max(r0 - self.pad, 0):r1 + self.pad, max(c0 - self.pad, 0):c1 + self.pad]
                           for m in (mask, *others)]).astype(np.float32)
        before = (self.pad - min(r0, self.pad), self.pad - min(c0, self.pad))
        self.padded = np.zeros((len(images), r1 - r0 + 2 * self.pad, c1 - c0 + 2 * self.pad), dtype=np.float32)
        self.padded[:, before[0]:before[0] + images.shape[1], before[1]:before[1] + images.shape[2]] = images

    def correlate(self, bank: _Bank, split: bool = True) -> list[np.ndarray] | np.ndarray:
        """Per (shape, size) of the bank, the pixels of each image under each of its k x k templates
        with the template's top-left corner at (r0 - k + 1 + i, c0 - k + 1 + j) of the frame, (r0, c0)
        the box's top-left: float64 (images, 16, i, j), i < h + k - 1, j < w + k - 1 (``split=False``:
        all of them as one array (images, n, h + K - 1, w + K - 1), zero past each k). Exact counts
        either way (``_one_convolution``): with 0/1 pixels every partial sum is a small integer, so
        rounding removes the transforms' float noise and ties break the same way on any machine."""
        import cv2
        import torch

        h, w = self.box[1] - self.box[0], self.box[3] - self.box[2]
        if _one_convolution():
            cut = self.pad - bank.k + 1  # the box grown by K - 1 on every side
            with torch.no_grad():
                counts = torch.nn.functional.conv2d(torch.from_numpy(self.padded[:, None, cut:-cut, cut:-cut]),
                                                    torch.from_numpy(bank.weights)).numpy()
        else:
            counts = np.zeros((len(self.padded), len(bank.weights), h + bank.k - 1, w + bank.k - 1), np.float32)
            at = 0
            for kernels in bank.kernels:
                k = kernels.shape[1]
                cut = (slice(self.pad - k + 1, self.pad + h + k - 1), slice(self.pad - k + 1, self.pad + w + k - 1))
                for i, image in enumerate(self.padded):
                    counts[i, at:at + len(kernels), :h + k - 1, :w + k - 1] = np.stack(
                        [cv2.matchTemplate(image[cut], kernel, cv2.TM_CCORR) for kernel in kernels])
                at += len(kernels)
        counts = np.rint(counts).astype(np.float64)  # (images, n, h + K - 1, w + K - 1)
        if not split:
            return counts
        out, at = [], 0
        for m in bank.masks:
            k = m.shape[1]
            out.append(counts[:, at:at + len(m), :h + k - 1, :w + k - 1])
            at += len(m)
        return out

    def top_left(self, k: int, i: int, j: int) -> tuple[int, int]:
        """Frame coordinates of a k x k template's top-left corner at correlation position (i, j)."""
        return self.box[0] - k + 1 + i, self.box[2] - k + 1 + j


def _size_bounds() -> tuple[float, float]:
    return SIZE_RANGE[0] * SIZE_TOLERANCE[0], SIZE_RANGE[1] * SIZE_TOLERANCE[1]


def _area_size(shape: str, area: float) -> float:
    """Size of a whole sprite of ``shape`` covering ``area`` pixels."""
    return {"circle": np.sqrt(4 * area / np.pi), "square": np.sqrt(area), "triangle": np.sqrt(2 * area)}[shape]


def _place(mask_shape: tuple[int, int], kernel: np.ndarray, top: int, left: int) -> np.ndarray:
    """The kernel pasted into a frame-sized bool mask with its top-left corner at (top, left) (may lie outside)."""
    k = kernel.shape[0]
    big = np.zeros((mask_shape[0] + 2 * k, mask_shape[1] + 2 * k), dtype=bool)
    big[top + k:top + 2 * k, left + k:left + 2 * k] = kernel
    return big[k:k + mask_shape[0], k:k + mask_shape[1]]


def fit_whole(mask: np.ndarray) -> tuple[str, float, float]:
    """Best (shape, IoU, size) of a whole-sprite template at a world size for a component mask (H, W);
    IoU 0 when no shape has a world size for its area."""
    area = float(mask.sum())
    lo, hi = _size_bounds()
    best = ("circle", 0.0, 0.0)
    if not area:
        return best
    pairs = [(shape, size) for shape in SHAPES for scale in (0.94, 1.0, 1.06, 1.12)
             if lo <= (size := round(_area_size(shape, area) * scale, 1)) <= hi]
    if not pairs:
        return best
    bank = _Bank(pairs)
    # All templates at once: the positions past a smaller template's own output lie off the sprite
    # (intersection 0, IoU 0), so they never change a template's best IoU.
    inters = _Frame(mask).correlate(bank, split=False)[0]  # (n, i, j)
    counts = np.asarray([n for c in bank.counts for n in c], dtype=np.float64)[:, None, None]
    tops = (inters / (counts + area - inters)).reshape(len(inters), -1).max(axis=1).tolist()
    for t, top in enumerate(tops):  # pairs in order, FRACTIONS order within: ties go to the first
        if top > best[1]:
            shape, size = pairs[t // PLACEMENTS]
            best = (shape, top, size)
    return best


@lru_cache(maxsize=len(SHAPES))
def _inside_bank(shape: str) -> _Bank:
    """Templates of ``shape`` at every whole-pixel world size, for ``fit_inside``."""
    lo, hi = _size_bounds()
    return _Bank([(shape, float(size)) for size in np.arange(np.ceil(lo), np.floor(hi) + 1, 1.0)])


def fit_inside(mask: np.ndarray, shape: str, allowed: np.ndarray, *, max_spill: float = SPILL):
    """The template of ``shape`` at a world size that covers most of ``mask`` while lying inside
    ``allowed`` (the component plus what may hide it). Returns (template (H, W) or None, size,
    visible share of the template); at most ``max_spill`` of the mask may lie outside the template."""
    area = float(mask.sum())
    best, best_score = (None, 0.0, 0.0), -1.0
    if not area:
        return best
    canvas = _Frame(mask, allowed)
    bank = _inside_bank(shape)
    for (_, size), masks, counts, (visibles, insides) in zip(bank.pairs, bank.masks, bank.counts,
                                                            canvas.correlate(bank)):
        k = masks.shape[1]
        for kernel, n, visible, inside in zip(masks, counts, visibles, insides):
            inside = inside / n
            spill = 1 - visible / area
            good = (spill <= max_spill) & (inside >= HIDDEN_COVER) & (visible >= MIN_VISIBLE * n)
            if not good.any():
                continue
            score = np.where(good, inside + (1 - spill), -1.0)  # inside what may hold it, holding the mask
            r, c = np.unravel_index(int(score.argmax()), score.shape)
            if score[r, c] > best_score:
                best_score = float(score[r, c])
                best = (_place(mask.shape, kernel, *canvas.top_left(k, r, c)), float(size), float(visible[r, c] / n))
    return best


# -------------------------------------------------------------------------------------- detection
def _blob(frame: np.ndarray, mask: np.ndarray, colour: str, shape: str, size: float, fit: float,
          whole: bool) -> Blob:
    rows, cols = np.nonzero(mask)
    pixels = frame[rows, cols].reshape(-1, 3).astype(np.float32)
    core = mask.copy()  # interior pixels: edges are mixed with whatever lies next to them
    core[1:] &= mask[:-1]
    core[:-1] &= mask[1:]
    core[:, 1:] &= mask[:, :-1]
    core[:, :-1] &= mask[:, 1:]
    core_pixels = frame[core].reshape(-1, 3).astype(np.float32) if core.any() else pixels
    error = float(np.linalg.norm(core_pixels.mean(axis=0) - np.asarray(COLOURS[colour], dtype=np.float32)))
    return Blob(colour, shape, int(len(rows)), (float(cols.mean() + 0.5), float(rows.mean() + 0.5)), size, fit,
                whole, tuple(float(c) for c in pixels.mean(axis=0)), error)


def find_blobs(frame: np.ndarray, colour: str, labels: np.ndarray | None = None) -> list[Blob]:
    """Whole sprites of ``colour`` in an RGB frame (H, W, 3), largest first."""
    labels = segment(frame) if labels is None else labels
    out = []
    for comp in _components(labels == _NAMES.index(colour)):
        shape, iou, size = fit_whole(comp)
        lo, hi = _size_bounds()
        if iou >= WHOLE_IOU and lo <= size <= hi:
            out.append(_blob(frame, comp, colour, shape, size, iou, True))
    return sorted(out, key=lambda b: -b.area)


def _dilate(mask: np.ndarray) -> np.ndarray:
    out = mask.copy()
    out[1:] |= mask[:-1]
    out[:-1] |= mask[1:]
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    return out


def objects_touch(labels: np.ndarray, prompt: Prompt) -> bool:
    """Do two prompted objects touch? Pixels of two prompted colours lie within 2 px, or a colour
    prompted k times has fewer than k components (its sprites merged)."""
    colours = [o.colour for o in prompt.objects]
    masks = {c: labels == _NAMES.index(c) for c in set(colours)}
    distinct = sorted(set(colours))
    for i, a in enumerate(distinct):
        grown = _dilate(_dilate(masks[a]))  # 2 px: the anti-aliased seam between two sprites matches neither
        if any((grown & masks[b]).any() for b in distinct[i + 1:]):
            return True
    return any(colours.count(c) > 1 and len(_components(masks[c])) < colours.count(c) for c in distinct)


def detect(frame: np.ndarray, prompt: Prompt) -> Detection:
    """Match every prompted object in an RGB uint8 frame (H, W, 3)."""
    labels = segment(frame)
    objects = prompt.objects
    found: list[Blob | None] = [None] * len(objects)
    comps = {c: _components(labels == _NAMES.index(c)) for c in {o.colour for o in objects}}
    whole: dict[str, list[tuple[np.ndarray, Blob]]] = {c: [] for c in comps}
    rest: dict[str, list[np.ndarray]] = {c: [] for c in comps}
    lo, hi = _size_bounds()
    for c, masks in comps.items():
        for m in masks:
            shape, iou, size = fit_whole(m)
            if iou >= WHOLE_IOU and lo <= size <= hi:
                whole[c].append((m, _blob(frame, m, c, shape, size, iou, True)))
            else:
                rest[c].append(m)
        whole[c].sort(key=lambda mb: -mb[1].area)
    # 1. Whole sprites of the right colour and shape.
    front = np.zeros(labels.shape, dtype=bool)  # pixels of whole sprites matched so far
    for i, obj in enumerate(objects):
        for j, (m, b) in enumerate(whole[obj.colour]):
            if b.shape == obj.shape:
                found[i] = b
                front |= m
                del whole[obj.colour][j]
                break
    # 2. Partly hidden sprites: the visible part of the prompted shape, the rest under a sprite in front.
    #    Sprites of one colour that overlap form one component: a template may then hold only part of
    #    it, and the next object of that colour fits the rest (inside the same component).
    count = {c: sum(o.colour == c for o in objects) for c in comps}
    pending = {c: [(m, m) for m in rest[c]] for c in comps}  # (pixels still to explain, component)
    for i, obj in enumerate(objects):
        if found[i] is not None:
            continue
        spill = 0.6 if count[obj.colour] > 1 else SPILL
        for k, (m, comp) in enumerate(pending[obj.colour]):
            template, size, visible = fit_inside(m, obj.shape, comp | (front & ~comp), max_spill=spill)
            if template is None:
                continue
            found[i] = _blob(frame, comp & template, obj.colour, obj.shape, size, visible, False)
            left = m & ~_dilate(template)
            if left.sum() >= MIN_AREA:
                pending[obj.colour][k] = (left, comp)
            else:
                pending[obj.colour].pop(k)
            break
    # 3. Background: the median of pixels that match no palette colour.
    pixels = frame.reshape(-1, 3).astype(np.float32)
    free = (labels < 0).reshape(-1)
    bg = np.median(pixels[free] if free.any() else pixels, axis=0)
    error = float(np.linalg.norm(bg - np.asarray(BACKGROUNDS[prompt.background], dtype=np.float32)))
    return Detection(tuple(found), (float(bg[0]), float(bg[1]), float(bg[2])), error,
                     objects_touch(labels, prompt))


RECENT = 256  # detections remembered by ``detect_recent``


@lru_cache(maxsize=RECENT)
def _detect_bytes(data: bytes, shape: tuple[int, ...], prompt: Prompt) -> Detection:
    return detect(np.frombuffer(data, dtype=np.uint8).reshape(shape), prompt)


def detect_recent(frame: np.ndarray, prompt: Prompt) -> Detection:
    """``detect``, remembering the answers for the last ``RECENT`` frames: two evaluators of one stream (the
    world metrics and the prediction's trajectories) detect each frame once. A ``Detection`` is immutable."""
    frame = np.ascontiguousarray(frame, dtype=np.uint8)
    return _detect_bytes(frame.tobytes(), frame.shape, prompt)


__all__ = ["COLOUR_MATCH", "RECENT", "Blob", "Detection", "ObjectSpec", "detect", "detect_recent", "find_blobs",
           "fit_whole", "objects_touch", "segment"]
