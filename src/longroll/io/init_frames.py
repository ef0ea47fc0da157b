"""Frames to continue from (``--init``): a video, an image, a folder of PNG frames, or an array file, brought
to the model's frame size and rate.

- **Size.** Every frame is resized by PyAV's scaler (libswscale) with area averaging (``AREA``) to
  the model's frame size; a clip made by longroll (nearest-neighbour enlarged for viewing) comes back
  to its own pixels this way. A clip whose aspect ratio differs from the model's by more than 1% is
  refused with the allowed size (we do not crop or pad silently).
- **Rate.** A clip at another frame rate is resampled to the model's by taking, for every output
  instant ``k / fps``, the last source frame shown at that instant (sample and hold on the source
  timestamps, PyAV's ``frame.time``): frames are dropped or repeated, never blended.
- **Length.** ``max_frames`` keeps the last frames (the clip's end is where the video continues).
- **Arrays.** A ``.npz`` with a ``video`` array (n, H, W, 3) uint8 (as the DMLab and Minecraft test sets of
  TECO and FAR are stored, with their ``actions`` beside it): its frames, resized as above, taken to be at
  the model's rate (the file has no timestamps).

Legend: n frames, H x W the model's frame size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from longroll.io.video import READABLE_SUFFIXES, _require_av

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
ARRAY_SUFFIXES = (".npz",)  # a ``video`` array (n, H, W, 3) uint8
INIT_SUFFIXES = READABLE_SUFFIXES + IMAGE_SUFFIXES + ARRAY_SUFFIXES


def check_init_path(path: str | Path) -> Path:
    """Model-free check of an ``--init`` path: it exists and is a readable kind (or a folder of PNGs)."""
    p = Path(path)
    if not p.exists():
        raise ValueError(f"The init {str(p)!r} does not exist; give a video ({', '.join(READABLE_SUFFIXES)}), an "
                         f"image ({', '.join(IMAGE_SUFFIXES)}) or a folder of PNG frames.")
    if p.is_dir():
        if not any(p.glob("*.png")):
            raise ValueError(f"The init folder {str(p)!r} has no PNG frames.")
    elif p.suffix.lower() not in INIT_SUFFIXES:
        raise ValueError(f"The init {str(p)!r} is a {p.suffix or 'file without extension'}; allowed: "
                         f"{', '.join(INIT_SUFFIXES)} or a folder of PNG frames.")
    return p


def read_init(path: str | Path, *, size: tuple[int, int], fps: float, max_frames: int | None = None) -> np.ndarray:
    """uint8 (n, H, W, 3) frames of ``path`` at the model's ``size`` (H, W) and ``fps``."""
    av = _require_av()
    p = check_init_path(path)
    if p.suffix.lower() in ARRAY_SUFFIXES:
        out = _array_frames(p, size, av)
        return out if max_frames is None else out[-max_frames:]
    files = sorted(p.glob("*.png")) if p.is_dir() else [p]
    frames, times = [], []
    try:
        for i, f in enumerate(files):
            with av.open(str(f)) as container:
                stream = container.streams.video[0]
                for frame in container.decode(stream):
                    _check_aspect(frame.width, frame.height, size, f)
                    small = frame.reformat(width=size[1], height=size[0], format="rgb24", interpolation="AREA")
                    frames.append(small.to_ndarray())
                    stamp = frame.time if frame.time is not None else len(times) / fps
                    times.append(i / fps if p.is_dir() else stamp)
    except (OSError, av.error.FFmpegError) as err:
        from longroll.io.video import read_error

        raise ValueError(f"Cannot read the init {str(p)!r} as a video, an image or PNG frames: "
                         f"{read_error(err)}.") from err
    if not frames:
        raise ValueError(f"The init {str(p)!r} has no frames.")
    if len(frames) > 1 and not p.is_dir():
        frames = _resample(frames, times, fps)
    out = np.stack(frames)
    if max_frames is not None:
        out = out[-max_frames:]
    return out


def _array_frames(path: Path, size: tuple[int, int], av) -> np.ndarray:
    """The ``video`` array of a ``.npz`` (n, H, W, 3) uint8, each frame resized to ``size`` by the same scaler."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if "video" not in data.files:
                raise ValueError(f"The init {str(path)!r} has no 'video' array (it has: {', '.join(data.files)}).")
            video = data["video"]
    except (OSError, ValueError) as err:
        if "video" in str(err):
            raise
        raise ValueError(f"Cannot read the init {str(path)!r} as a .npz array file: {err}.") from err
    if video.ndim != 4 or video.shape[-1] != 3 or video.dtype != np.uint8 or not len(video):
        raise ValueError(f"The 'video' array of {str(path)!r} is {video.dtype} {tuple(video.shape)}; it must be uint8 "
                         "(n, H, W, 3) with n >= 1.")
    _check_aspect(video.shape[2], video.shape[1], size, path)
    if video.shape[1:3] == tuple(size):
        return np.ascontiguousarray(video)
    return np.stack([av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
                     .reformat(width=size[1], height=size[0], format="rgb24", interpolation="AREA").to_ndarray()
                     for f in video])


def _check_aspect(width: int, height: int, size: tuple[int, int], path: Path) -> None:
    want = size[1] / size[0]
    if abs(width / height - want) > 0.01 * want:
        raise ValueError(f"The init {str(path)!r} is {width}x{height}; the model makes {size[1]}x{size[0]} frames, "
                         f"so its width / height must be {want:g} (any multiple of {size[1]}x{size[0]} is resized).")


def _resample(frames: list[np.ndarray], times: list[float], fps: float) -> list[np.ndarray]:
    """Sample and hold: for every instant k / fps from the first frame to the last, the last frame shown."""
    t = np.asarray(times, dtype=np.float64) - times[0]
    span = t[-1] + (t[-1] - t[-2] if len(t) > 1 else 0.0)  # the last frame is shown for one source interval
    count = max(1, int(round(span * fps)))
    picks = np.searchsorted(t, np.arange(count) / fps + 1e-9, side="right") - 1
    return [frames[int(i)] for i in np.clip(picks, 0, len(frames) - 1)]


__all__ = ["ARRAY_SUFFIXES", "IMAGE_SUFFIXES", "INIT_SUFFIXES", "check_init_path", "read_init"]
