"""Streaming video files: frames go in chunk by chunk and are never held for the whole video.

- ``.mp4``: H.264 through PyAV, written as fragmented MP4, so even a process killed mid-run
  leaves a playable file of everything encoded so far; Ctrl-C finalises the file normally.
- ``.gif``: animated GIF through PyAV.
- a folder (path ending in ``/`` or without a suffix): one PNG per frame.

Everything is written under a temporary name and renamed when complete (or, for a run cut short,
renamed with what was made, so the prefix is kept). Frames are uint8 (N, H, W, 3); ``upscale``
enlarges them with nearest-neighbour pixels (the built-in world is 32x32, too small to watch).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np

from longroll.io.atomic import check_output_path

VIDEO_SUFFIXES = (".mp4", ".gif")  # what longroll writes
READABLE_SUFFIXES = VIDEO_SUFFIXES + (".webm", ".mkv", ".mov", ".avi")  # what it reads (PyAV; .avi: UCF-101)
PARTIAL_MARK = ".partial-"  # in the name of a file still being written (or left by a killed run)


def is_partial(path: str | Path) -> bool:
    """Whether ``path`` is a video still being written, or left behind by a run that was killed."""
    return PARTIAL_MARK in Path(path).name


def partial_writer(path: str | Path) -> int | None:
    """The process id in a partial file's name (``NAME.partial-PID.mp4``, or its sidecar), or None."""
    name = Path(path).name
    if PARTIAL_MARK not in name:
        return None
    digits = name.split(PARTIAL_MARK, 1)[1].split(".", 1)[0]
    return int(digits) if digits.isdigit() else None


def final_name(path: str | Path) -> Path:
    """The name a partial file gets when it is complete (``NAME.partial-PID.mp4`` -> ``NAME.mp4``)."""
    path = Path(path)
    if not is_partial(path):
        return path
    stem, rest = path.name.split(PARTIAL_MARK, 1)
    return path.with_name(stem + rest[len(str(partial_writer(path) or "")):])


def partials_of(final: str | Path) -> list[Path]:
    """The partial videos (or their early sidecars) beside ``final`` left or being written by any process."""
    final = Path(str(final).rstrip("/" + os.sep))
    found = {p for p in final.parent.glob(f"{glob.escape(final.stem)}{PARTIAL_MARK}*")
             if final_name(p.with_name(p.name.removesuffix(".json"))) == final}
    return sorted(found)


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_no_live_writer(final: str | Path, *, allow: int | None = None) -> None:
    """Refuse to write ``final`` while another process is writing it (its ``NAME.partial-PID`` file is beside
    it and that process is alive): the two would race for the final name. ``allow``: a pid to ignore."""
    for partial in partials_of(final):
        pid = partial_writer(partial)
        if pid is not None and pid != os.getpid() and pid != allow and process_alive(pid):
            raise ValueError(f"{str(final)!r} is being written by process {pid} (its partial file "
                             f"{partial.name} is beside it); wait for that run to end, or stop it (kill {pid}), "
                             f"before writing or resuming the same output.")


def read_error(err: Exception) -> str:
    """What went wrong reading a file, in words: FFmpeg's and the system's message without its error number
    and the path it repeats (``[Errno 1094995529] Invalid data found when processing input: '/x'``)."""
    reason = getattr(err, "strerror", None)
    if reason:
        return f"{reason[:1].lower()}{reason[1:]}"
    return f"{type(err).__name__}: {err}"


def _require_av():
    try:
        import av
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise RuntimeError("Writing and reading video needs PyAV: pip install 'longroll[video]'.") from err
    return av


@contextlib.contextmanager
def _signals_held():
    """Hold SIGINT / SIGTERM for the block (delivered right after it), so that a frame is never written
    without being counted; a no-op off the main thread or where the platform cannot block signals."""
    import signal
    import threading

    held = {signal.SIGINT, signal.SIGTERM}
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


def output_kind(path: str | Path) -> str:
    """'mp4', 'gif' or 'png' (a folder of frames, written with a trailing '/') for an output path;
    anything else is an error naming the allowed forms."""
    p = str(path)
    suffix = Path(p).suffix.lower()
    if p.endswith(("/", os.sep)):
        return "png"
    if suffix in VIDEO_SUFFIXES:
        return suffix[1:]
    raise ValueError(f"Unsupported output {p!r}: give a file name ending in .mp4 or .gif (e.g. video.mp4), or a "
                     f"folder name ending in '/' for PNG frames (e.g. frames/).")


class VideoWriter:
    """Append frames to a video file; ``close()`` finalises and renames it into place."""

    def __init__(self, path: str | Path, fps: float, *, upscale: int = 1, crf: int = 12) -> None:
        self.kind = output_kind(path)
        self.path = Path(str(path).rstrip("/" + os.sep))
        check_output_path(self.path, folder_output=self.kind == "png")
        if upscale < 1:
            raise ValueError(f"upscale = {upscale} must be at least 1.")
        self.fps, self.upscale, self.crf = fps, upscale, crf
        # Visible, so that a run killed outright (SIGKILL, out of memory) leaves a file a user finds.
        self.tmp = self.path.with_name(f"{self.path.stem}{PARTIAL_MARK}{os.getpid()}{self.path.suffix}")
        self.frames_written = 0
        self._container = self._stream = None
        self._closed = False

    @property
    def durable_frames(self) -> int:
        """Frames a reader of the partial file finds if the run is killed now: fragmented MP4 is flushed one
        frame behind (the encoder's packet of the newest frame is still in memory), a PNG folder holds every
        frame written, and a GIF is unreadable until it is closed."""
        if self.kind == "png":
            return self.frames_written
        return max(0, self.frames_written - 1) if self.kind == "mp4" else 0

    # ------------------------------------------------------------------ writing
    def write(self, frames: np.ndarray) -> None:
        """Append uint8 frames (N, H, W, 3)."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"Frames must be uint8 (N, H, W, 3), got {frames.dtype} {frames.shape}.")
        if self.upscale > 1:
            frames = frames.repeat(self.upscale, axis=1).repeat(self.upscale, axis=2)
        for frame in frames:  # one by one, each written and counted with signals held: count == file
            with _signals_held():
                if self.kind == "png":
                    self._write_png(frame[None])
                else:
                    self._write_av(frame[None])
                self.frames_written += 1

    def _open_av(self, height: int, width: int) -> None:
        av = _require_av()
        if self.kind == "mp4":
            if height % 2 or width % 2:
                raise ValueError(f"H.264 needs even frame sizes, got {width}x{height}; use an even upscale.")
            # Fragmented MP4 flushed after every packet, a keyframe (so a fragment) every second, and no
            # encoder look-ahead: whatever is on disk is a playable prefix, even after SIGKILL.
            self._container = av.open(str(self.tmp), "w", format="mp4",
                                      options={"movflags": "frag_keyframe+empty_moov+default_base_moof",
                                               "flush_packets": "1"})
            stream = self._container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1000))
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": str(self.crf), "preset": "veryfast", "tune": "zerolatency",
                              "g": str(max(1, int(round(self.fps))))}
        else:
            self._container = av.open(str(self.tmp), "w", format="gif")
            stream = self._container.add_stream("gif", rate=Fraction(self.fps).limit_denominator(1000))
            stream.pix_fmt = "rgb8"
        stream.width, stream.height = width, height
        self._stream = stream

    def _write_av(self, frames: np.ndarray) -> None:
        av = _require_av()
        if self._container is None:
            self._open_av(frames.shape[1], frames.shape[2])
        for frame in frames:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            for packet in self._stream.encode(vf):
                self._container.mux(packet)

    def _write_png(self, frames: np.ndarray) -> None:
        av = _require_av()
        self.tmp.mkdir(exist_ok=True)
        for i, frame in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            name = self.tmp / f"frame_{self.frames_written + i:06d}.png"
            _save_png_av(vf, name)

    # ------------------------------------------------------------------ finishing
    def close(self) -> Path:
        """Flush the encoder, close the container and rename the file into place."""
        if self._closed:
            return self.path
        self._closed = True
        if self._container is not None:
            for packet in self._stream.encode():
                self._container.mux(packet)
            self._container.close()
        if self.frames_written == 0:
            self.discard()
            raise ValueError("No frames were written; nothing to save.")
        if self.kind == "png" and self.path.exists():
            shutil.rmtree(self.path) if self.path.is_dir() else self.path.unlink()
        os.replace(self.tmp, self.path)
        return self.path

    def discard(self) -> None:
        """Remove the temporary output (nothing under the final name is touched)."""
        self._closed = True
        with contextlib.suppress(Exception):
            if self._container is not None:
                self._container.close()
        if self.tmp.is_dir():
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                self.tmp.unlink()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None or self.frames_written > 0:
            # A run cut short (Ctrl-C, a crash in the model) keeps what was made, finalised.
            self.close()
        else:
            self.discard()


def _save_png_av(frame, path: Path) -> None:
    av = _require_av()
    with av.open(str(path), "w", format="image2") as container:
        stream = container.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = frame.width, frame.height, "rgb24"
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def read_video(path: str | Path) -> tuple[float, Iterator[np.ndarray]]:
    """Frames rate and an iterator of uint8 (H, W, 3) frames of a video file or PNG folder."""
    av = _require_av()
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.png"))

        def frames_png():
            for f in files:
                with av.open(str(f)) as c:
                    for frame in c.decode(video=0):
                        yield frame.to_ndarray(format="rgb24")

        return 8.0, frames_png()
    container = av.open(str(path))
    stream = container.streams.video[0]
    # FFmpeg's guess of the nominal rate first: a GIF's average rate is skewed by its whole-centisecond delays.
    fps = float(stream.guessed_rate or stream.base_rate or stream.average_rate or 8)

    def frames_av():
        try:
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24")
        finally:
            container.close()

    return fps, frames_av()
