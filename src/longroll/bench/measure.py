"""What a benchmark run costs: generation time per chunk, frames per second made, and peak memory.

``RunMeter`` wraps a video's chunk stream (``pipelines.run.stream``): the time spent *inside* the
stream (the rollout and the decoder) is generation; the time outside it (the evaluator consuming
the frames) is the benchmark's own overhead, recorded apart. Per chunk it records the seconds the
stream took to yield it; the steady state is the chunks after the schedule's window has filled
(``Schedule.fill`` latent frames), where every forward attends as many frames and a chunk's time
stops growing (a method that makes later chunks dearer shows it there).

Peak memory is the run's own: on a CUDA device ``torch.cuda.max_memory_allocated`` after
``reset_peak_memory_stats``; on the CPU the process's peak resident set (``VmHWM``), reset at the
start of the run through ``/proc/self/clear_refs`` (Linux 4.0 or later; elsewhere the peak since the
process started, said in ``memory_kind``). Both are reported with the memory held when the run
started (the model's weights, mostly), so that what the method adds can be read apart.
"""

from __future__ import annotations

import functools
import os
import statistics
import time
from collections.abc import Iterable, Iterator

import numpy as np

PROC_STATUS = "/proc/self/status"
CLEAR_REFS = "/proc/self/clear_refs"


def _status_kib(field: str) -> int | None:
    try:
        with open(PROC_STATUS) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_rss_peak() -> bool:
    """Reset the process's peak RSS to its current RSS (Linux >= 4.0); False where that is not possible."""
    try:
        with open(CLEAR_REFS, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class PeakMemory:
    """The peak memory of a block of work (see the module docstring for what is measured where):
    ``with PeakMemory(device) as m: ...`` then ``m.peak``, ``m.start`` (bytes; None where unknown)
    and ``m.kind``."""

    def __init__(self, device=None) -> None:
        import torch

        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.start = self.peak = self.kind = None

    def __enter__(self) -> PeakMemory:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.start, self.kind = torch.cuda.memory_allocated(self.device), "cuda max_memory_allocated"
            return self
        exact = _reset_rss_peak()
        rss = _status_kib("VmRSS")
        self.start = None if rss is None else rss * 1024
        self.kind = None if rss is None else "peak RSS of the run" if exact else "peak RSS since the process started"
        return self

    def __exit__(self, *exc) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device)
        else:
            peak = _status_kib("VmHWM")
            self.peak = None if peak is None else peak * 1024


class RunMeter:
    """Times a chunk stream and measures its peak memory (see the module docstring).

    Use: ``meter = RunMeter(device, fill_frames=...)``, ``for frames in meter.wrap(stream(...)): ...``,
    then ``meter.result()``."""

    def __init__(self, device=None, *, fill_frames: int = 0) -> None:
        import torch

        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.fill_frames = fill_frames  # video frames made before the steady state
        self.chunks: list[tuple[int, int, float]] = []  # (first video frame, frames, seconds to make)
        self.memory = PeakMemory(self.device)  # the run's peak and the memory held when it started
        self.wall = 0.0

    def wrap(self, chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Yield ``chunks`` unchanged, timing how long each took to come."""
        made, t_start = 0, time.perf_counter()
        it = iter(chunks)
        with self.memory:
            try:
                while True:
                    t0 = time.perf_counter()
                    try:
                        frames = next(it)
                    except StopIteration:
                        break
                    self.chunks.append((made, len(frames), time.perf_counter() - t0))
                    made += len(frames)
                    yield frames
            finally:
                self.wall = time.perf_counter() - t_start

    def result(self) -> dict:
        """The run's speed and memory (JSON-ready)."""
        seconds = [s for _, _, s in self.chunks]
        frames = sum(n for _, n, _ in self.chunks)
        steady = [(n, s) for first, n, s in self.chunks if first >= self.fill_frames]
        generation = float(sum(seconds))
        return {
            "generation_seconds": generation,  # inside the stream: rollout and decoder
            "overhead_seconds": max(0.0, self.wall - generation),  # outside it: time the stream's reader took
            "chunks": len(seconds),
            "frames": frames,
            "fill_frames": self.fill_frames,
            # Steady state: median seconds per chunk after the window filled, and frames made per second there.
            "steady_chunks": len(steady),
            "steady_chunk_seconds": statistics.median(s for _, s in steady) if steady else None,
            "steady_fps": (sum(n for n, _ in steady) / sum(s for _, s in steady)) if steady and
            sum(s for _, s in steady) > 0 else None,
            "fps": frames / generation if generation > 0 else None,  # frames of video made per second, overall
            "first_chunk_seconds": seconds[0] if seconds else None,
            "peak_memory_bytes": self.memory.peak,
            "start_memory_bytes": self.memory.start,
            "memory_kind": self.memory.kind,
            "device": str(self.device),
            "device_name": device_name(self.device),
            "threads": _threads(),
        }


def model_device(model):
    """The device the model's denoiser runs on."""
    return next(iter(model.denoiser.parameters())).device


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def device_name(device=None) -> str:
    """The device in words, for the report: the GPU's name, or the CPU's model and core count."""
    import torch

    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{_cpu_name()} ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"


@functools.lru_cache(maxsize=1)
def _cpu_name() -> str:
    import platform

    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return name


__all__ = ["PeakMemory", "RunMeter", "device_name", "model_device"]
