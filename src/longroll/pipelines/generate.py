"""The public generation API: a prompt (schedule) in, frames or a streamed video file out.

``generate_frames`` yields decoded uint8 frames chunk by chunk; ``generate`` writes them to a
file through ``io.video`` (atomic, interruption-safe) with a JSON sidecar that records everything
needed to reproduce the video bit for bit, or returns them as one array when ``out`` is None.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from longroll import __version__
from longroll._validate import check_choice, check_float, check_int
from longroll.models.base import VideoModel
from longroll.pipelines.fifo import SCHEDULES, DiagonalConfig, DiagonalStats, diagonal_rollout, resolve_diagonal
from longroll.pipelines.guidance import with_guidance
from longroll.pipelines.presets import DEFAULT_PRESET, RolloutConfig, resolve_preset
from longroll.pipelines.rollout import Switch, rollout
from longroll.progress import progress_bar

log = logging.getLogger(__name__)

MAX_SECONDS = 24 * 3600.0  # a day of video: beyond this a length is a typo, not a plan


@dataclass(frozen=True)
class PromptSchedule:
    """The prompt at time 0 and later switches: ((seconds, prompt), ...) sorted by time."""

    entries: tuple[tuple[float, str], ...]

    @classmethod
    def build(cls, prompt: str, switches: Sequence[tuple[float, str]] = (), *, seconds: float) -> "PromptSchedule":
        entries = [(0.0, prompt)]
        for at, text in sorted(switches, key=lambda s: s[0]):
            if not (0 < at < seconds):
                raise ValueError(f"A prompt switch at {at:g}s is outside the video (allowed range (0, {seconds:g})s).")
            entries.append((float(at), text))
        return cls(tuple(entries))

    def to_list(self) -> list[dict]:
        return [{"at_seconds": at, "prompt": p} for at, p in self.entries]


_SWITCH = re.compile(r"^\s*(?P<at>\d+(?:\.\d+)?)\s*(?P<unit>s|f)?\s*:\s*(?P<prompt>.+?)\s*$")


def parse_switch(text: str, fps: float) -> tuple[float, str]:
    """``"12s:a red circle on a navy background"`` (or ``"96f:..."`` in frames) -> (seconds, prompt)."""
    m = _SWITCH.match(text)
    if not m:
        raise ValueError(f"Cannot parse the switch {text!r}: write TIME:PROMPT, e.g. '12s:a red circle on a navy "
                         f"background' (TIME in seconds with 's', or in frames with 'f').")
    at = float(m.group("at"))
    if m.group("unit") == "f":
        at /= fps
    return at, m.group("prompt").strip().strip('"')


def check_seconds(seconds: float) -> float:
    return check_float("seconds", seconds, low=0.0, high=MAX_SECONDS, low_open=True)


def generate_frames(
    model: VideoModel,
    schedule: PromptSchedule,
    *,
    seconds: float,
    config: RolloutConfig,
    seed: int = 0,
    diagonal: DiagonalConfig | None = None,
    stats: DiagonalStats | None = None,
) -> Iterator[np.ndarray]:
    """Decoded uint8 frames (n, H, W, 3) of the video, chunk by chunk, exactly ``seconds`` long.

    ``diagonal`` (FIFO / MIGA) replaces the chunk-wise rollout; ``config`` still gives its noise
    sampler, temporal RoPE scaling and bias."""
    check_seconds(seconds)
    check_int("seed", seed, low=0)
    num_latent = model.latent_frames(seconds)
    total_video = int(round(seconds * model.fps))
    conds = [model.encode_prompt(p) for _, p in schedule.entries]  # validates every prompt first
    switches = [Switch(int(round(at * model.fps / model.frames_per_latent)), c)
                for (at, _), c in zip(schedule.entries[1:], conds[1:])]
    if diagonal is not None and switches:
        raise ValueError(f"Prompt switches need the chunk schedule; the {diagonal.kind} schedule takes one prompt.")
    generator = torch.Generator(device="cpu").manual_seed(seed)
    emitted = 0
    decode = model.stream_decoder()
    denoiser = with_guidance(model.denoiser, config.schedule.cfg)
    if diagonal is None:
        chunks = rollout(denoiser, conds[0], num_frames=num_latent, config=config, generator=generator,
                         switches=switches)
    else:
        den = denoiser
        rope = den.rope_freqs.with_temporal(config.rope.temporal(den.rope_freqs.temporal, train_len=den.train_len,
                                                                 length=diagonal.window))
        scale = config.rope.attention_scale(train_len=den.train_len, length=diagonal.window)
        chunks = diagonal_rollout(den, conds[0], num_frames=num_latent, config=diagonal,
                                  noise=config.noise.sampler(generator), stats=stats, rope=rope,
                                  attention_scale=scale, bias=config.bias)
    with torch.no_grad():
        for chunk in chunks:
            frames = decode(chunk.latents)
            frames = frames[: max(0, total_video - emitted)]
            emitted += len(frames)
            if len(frames):
                yield frames
            if emitted >= total_video:
                return


def sidecar(model: VideoModel, schedule: PromptSchedule, *, seconds: float, seed: int, preset: str,
            config: RolloutConfig, frames: int, wall_seconds: float, complete: bool, upscale: int,
            diagonal: DiagonalConfig | None = None) -> dict:
    """Everything needed to reproduce a video bit for bit."""
    return {
        "longroll": __version__,
        "prompt_schedule": schedule.to_list(),
        "seconds": seconds,
        "seed": seed,
        "preset": preset,
        "config": config.to_dict(),
        "schedule": "chunk" if diagonal is None else diagonal.kind,
        "diagonal": None if diagonal is None else diagonal.to_dict(),
        "model": model.name,
        "weights": model.weights_path,
        "weights_sha256": model.weights_sha256,
        "model_options": model.load_options,
        "fps": model.fps,
        "upscale": upscale,
        "frames": frames,
        "complete": complete,
        "wall_seconds": round(wall_seconds, 3),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def sidecar_path(out: str | Path) -> Path:
    out = Path(str(out).rstrip("/"))
    return out.with_name(out.name + ".json")


def generate(
    prompt: str,
    *,
    seconds: float,
    preset: str = DEFAULT_PRESET,
    seed: int = 0,
    out: str | Path | None = None,
    model: VideoModel | str = "tiny",
    switches: Sequence[tuple[float, str]] = (),
    upscale: int = 8,
    progress: bool = False,
    config: RolloutConfig | None = None,
    schedule: str = "chunk",
    schedule_options: dict | None = None,
    diagonal: DiagonalConfig | None = None,
    **overrides,
) -> np.ndarray | Path:
    """Generate a video. With ``out`` the frames stream to that file (returns its path); without,
    they are returned as one uint8 array (n, H, W, 3). ``overrides`` refine the preset field by field;
    ``config`` (a resolved ``RolloutConfig``, e.g. from a sidecar) replaces preset and overrides.
    ``schedule`` is ``chunk`` (chunk-wise autoregressive), ``fifo`` or ``miga`` (diagonal, with
    ``schedule_options`` refining the model's defaults; or a resolved ``diagonal`` config)."""
    from longroll.io.video import VideoWriter, output_kind
    from longroll.models.registry import load_model

    # 1. Validate everything before any model is loaded or file is created.
    seconds = check_seconds(seconds)
    check_int("seed", seed, low=0)
    check_int("upscale", upscale, low=1, high=64)
    check_choice("schedule", schedule, ("chunk", *SCHEDULES))
    if schedule == "chunk" and (schedule_options or diagonal is not None):
        raise ValueError("FIFO / MIGA settings need schedule='fifo' or 'miga'.")
    prompts = PromptSchedule.build(prompt, switches, seconds=seconds)
    if schedule != "chunk" and len(prompts.entries) > 1:
        raise ValueError(f"Prompt switches need the chunk schedule; the {schedule} schedule takes one prompt.")
    if out is not None:
        output_kind(out)
        from longroll.io.atomic import check_output_path

        check_output_path(str(out).rstrip("/"))
    # 2. Load the model (validates every prompt against its vocabulary) and resolve the preset.
    vm = load_model(model) if isinstance(model, str) else model
    for _, text in prompts.entries:
        vm.encode_prompt(text)
    if config is None:
        config = resolve_preset(preset, vm.denoiser, **overrides)
    elif overrides:
        raise ValueError("Give either a resolved config or preset overrides, not both.")
    with_guidance(vm.denoiser, config.schedule.cfg)  # weights without an unconditional mode fail here
    if schedule != "chunk" and diagonal is None:
        diagonal = resolve_diagonal(schedule, vm.denoiser, **(schedule_options or {}))
    total = int(round(seconds * vm.fps))
    frames_iter = generate_frames(vm, prompts, seconds=seconds, config=config, seed=seed, diagonal=diagonal)
    bar = progress_bar(total, desc="generate", unit="frame", enabled=progress)
    t0 = time.time()
    if out is None:
        parts = []
        for frames in frames_iter:
            parts.append(frames)
            bar.update(len(frames))
        bar.close()
        return np.concatenate(parts)
    # 3. Stream to the file; an interruption still leaves a finalised, playable prefix and its sidecar.
    writer = VideoWriter(out, vm.fps, upscale=upscale)
    digest = hashlib.sha256()  # of the raw frames, before the lossy codec: comparable across machines
    complete = False
    try:
        with writer:
            for frames in frames_iter:
                writer.write(frames)
                digest.update(np.ascontiguousarray(frames).tobytes())
                bar.update(len(frames))
            complete = True
    finally:
        bar.close()
        if writer.frames_written:
            meta = sidecar(vm, prompts, seconds=seconds, seed=seed, preset=preset, config=config,
                           frames=writer.frames_written, wall_seconds=time.time() - t0, complete=complete,
                           upscale=upscale, diagonal=diagonal)
            meta["frames_sha256"] = digest.hexdigest()
            _write_json(sidecar_path(out), meta)
    log.info("wrote %d frames to %s in %.1f s", writer.frames_written, out, time.time() - t0)
    return Path(str(out).rstrip("/"))


def replay(sidecar_file: str | Path, *, out: str | Path | None = None, model: VideoModel | str | None = None,
           progress: bool = False) -> np.ndarray | Path:
    """Generate again the video a sidecar describes (same prompts, seed and every resolved setting)."""
    meta = json.loads(Path(sidecar_file).read_text())
    from longroll.models.registry import load_model

    vm = model if isinstance(model, VideoModel) else load_model(model or meta["model"], weights=meta.get("weights"),
                                                                **meta.get("model_options", {}))
    if meta.get("weights_sha256") not in (None, vm.weights_sha256):
        log.warning("The weights differ from the ones that made %s (sha256 %s, now %s); frames will differ.",
                    sidecar_file, meta["weights_sha256"][:12], vm.weights_sha256[:12])
    schedule = meta["prompt_schedule"]
    return generate(schedule[0]["prompt"], seconds=meta["seconds"], seed=meta["seed"], preset=meta["preset"],
                    out=out, model=vm, switches=[(s["at_seconds"], s["prompt"]) for s in schedule[1:]],
                    upscale=meta.get("upscale", 8), progress=progress,
                    config=RolloutConfig.from_dict(meta["config"]), schedule=meta.get("schedule", "chunk"),
                    diagonal=DiagonalConfig(**meta["diagonal"]) if meta.get("diagonal") else None)


def _write_json(path: Path, data: dict) -> None:
    import os

    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


__all__ = ["PromptSchedule", "generate", "generate_frames", "parse_switch", "replay", "sidecar_path"]
