"""``resolve(request, model) -> GenerationPlan``: the one place a request meets a model.

Everything that depends on the model is checked here, once: every prompt against its vocabulary,
the preset and overrides against its defaults, the schedule against what it can run (a
bidirectional model has no chunk-wise rollout), guidance against its training. The plan is frozen
and complete: ``longroll.pipelines.run`` executes it without checking anything again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from longroll._validate import excerpt
from longroll.models.base import VideoModel
from longroll.noise import noise_seed
from longroll.pipelines.preset_rules import AUTO
from longroll.pipelines.request import GenerationRequest, PromptTimeline, check_length
from longroll.pipelines.rollouts import SCHEDULES, method_of

log = logging.getLogger(__name__)

# Frames returned in memory (a request without ``out``) are held whole; beyond this a video streams to a file.
MAX_RETURNED_BYTES = 8 * 2**30


@dataclass(frozen=True)
class InitFrames:
    """Frames a video continues from, read at the model's size and rate and encoded by its codec."""

    path: str  # where they came from
    sha256: str  # of that file (or of the PNG frames, in order)
    frames: np.ndarray  # uint8 (n, H, W, 3)
    latents: torch.Tensor  # (1, n_latent, C, S, S) clean latents
    in_output: bool  # the output starts with them

    @property
    def output_frames(self) -> int:
        return len(self.frames) if self.in_output else 0


@dataclass(frozen=True)
class GenerationPlan:
    """A request resolved against a model: what ``run`` executes."""

    request: GenerationRequest  # what was asked
    prompts: PromptTimeline  # the prompt at 0 and its switches
    conds: tuple  # the model's conditioning of each prompt entry
    switch_frames: tuple[int, ...]  # latent frame at which each switch takes effect
    num_latent: int  # latent frames to make
    total_frames: int  # video frames to write
    preset: str  # the preset used (the request's, or the model's default)
    schedule: str  # key of SCHEDULES
    config: object  # the schedule's own resolved config (RolloutConfig or DiagonalRollout)
    upscale: int  # enlargement of written frames
    out: Path | None  # output path (None: frames are returned)
    noise_seed: int  # seed of the noise generator: the request's, salted where the model says (longroll.noise)
    init: InitFrames | None = None  # frames the video continues from

    @property
    def new_frames(self) -> int:
        """Video frames the model makes (the output less the init frames it starts with)."""
        return self.total_frames - (self.init.output_frames if self.init is not None else 0)

    def config_dict(self) -> dict:
        return SCHEDULES[self.schedule].config_dict(self.config)


def resolve(request: GenerationRequest, model: VideoModel, *, config=None) -> GenerationPlan:
    """Resolve ``request`` against ``model``; ``config`` (a schedule config read back from a sidecar)
    replaces the preset and overrides."""
    from longroll.pipelines.guidance import check_guidance

    # 1. Length and prompts: each prompt against the model's vocabulary; the frames to continue from.
    total_frames = check_length(request.seconds, model.fps)
    _check_returned_size(request, model, total_frames)
    init = _init(request, model)
    prompts = request.prompts
    conds = tuple(_encode(model, text, i, request.script is not None) for i, (_, text) in enumerate(prompts.entries))
    fps_latent = model.fps / model.frames_per_latent
    shift = 0 if init is None or init.in_output else init.latents.shape[1]  # switch times count from the output
    switch_frames = tuple(shift + int(round(at * fps_latent)) for at, _ in prompts.entries[1:])
    # 2. Method and schedule against the model's defaults.
    defaults = model.defaults
    spec = SCHEDULES[request.schedule]
    preset = request.preset or defaults.preset
    if request.preset == AUTO:  # the benchmark's rule answer for these weights, where one was recorded
        from longroll.pipelines.preset_rules import auto_preset

        preset = auto_preset(model)
    if request.preset in (None, AUTO) and not spec.acts(preset):  # e.g. a cache preset under FIFO / MIGA
        log.info("The model's default preset %s does not act under the %s schedule; it uses `none`.", preset,
                 request.schedule)
        preset = "none"
    if config is None:
        config = spec.resolve(preset, model.denoiser, dict(request.overrides), dict(request.schedule_options))
        dropped = spec.dropped(preset)
        if dropped:  # e.g. FLEX under FIFO: its RoPE and noise act, its sink window cannot
            log.info("Under the %s schedule preset %s acts through its other parts; %s do not apply.",
                     request.schedule, preset, ", ".join(dropped))
    elif request.overrides or request.schedule_options:
        raise ValueError("Give either a resolved config or preset overrides and schedule settings, not both.")
    check_guidance(model.denoiser, method_of(config).cfg)  # weights without an unconditional mode fail here
    defaults.check_parts(_parts(request.schedule, config, len(conds) > 1), model.name)
    # 3. Lengths and output; a conditioning that must cover every frame (a world model's actions) is checked.
    num_latent = model.latent_frames(request.seconds, continuing=init is not None)
    if model.check_cond is not None:
        context = 0 if init is None else init.latents.shape[1]
        for cond in conds:
            model.check_cond(cond, context + num_latent)
    return GenerationPlan(
        request=request, prompts=prompts, conds=conds, switch_frames=switch_frames,
        num_latent=num_latent,
        total_frames=total_frames + (init.output_frames if init is not None else 0),
        preset=preset, schedule=request.schedule, config=config,
        upscale=request.upscale if request.upscale is not None else defaults.upscale, out=request.out_path,
        noise_seed=noise_seed(request.seed, defaults.seed_salt), init=init)


def _parts(schedule: str, config, switches: bool) -> list[str]:
    """The parts of a resolved rollout a model may refuse (``models.base.REFUSABLE``)."""
    parts = [schedule] if schedule != "chunk" else []
    cache = getattr(config, "cache", None)
    if cache is not None:
        parts += [name for name, used in (("relative", cache.positions == "relative"),
                                          ("compression", cache.budget is not None), ("memory", cache.memory),
                                          ("rolling-sink", cache.rolling), ("ema-sink", cache.sink_ema is not None))
                  if used]
    if method_of(config).rope.dynamic:
        parts.append("dynamic")
    return parts + (["switch"] if switches else [])


def _check_returned_size(request: GenerationRequest, model: VideoModel, frames: int) -> None:
    """A video returned in memory (no ``out``) is held whole: refuse one larger than ``MAX_RETURNED_BYTES``
    before any work, naming ``out`` (which streams to disk in constant memory) as the way."""
    if request.out is not None or model.frame_size is None:
        return
    h, w = model.frame_size
    size = frames * h * w * 3  # uint8 RGB, before any upscale (returned frames are not upscaled)
    if size > MAX_RETURNED_BYTES:
        raise ValueError(f"Returned in memory, the {request.seconds:g} s video ({frames} frames of {w}x{h}) would "
                         f"take {size / 2**30:.1f} GiB (allowed: at most {MAX_RETURNED_BYTES / 2**30:g} GiB); give "
                         f"out= (--out) a file or a folder/ to stream it to disk in constant memory.")


def _init(request: GenerationRequest, model: VideoModel) -> InitFrames | None:
    """Read the init at the model's frame size and rate and encode it with the model's own codec."""
    if request.init is None:
        return None
    if model.encode_frames is None or model.frame_size is None:
        raise ValueError(f"The {model.name} model has no frame encoder wired in yet, so it cannot continue from "
                         f"--init; the built-in model can.")
    from longroll.io.hashing import file_sha256
    from longroll.io.init_frames import read_init

    frames = read_init(request.init, size=model.frame_size, fps=model.fps, max_frames=request.init_frames)
    usable = model.usable_init_frames(len(frames))
    if usable < len(frames):  # a causal codec (Wan's VAE) takes 1 + 4k frames: the clip's end is kept
        log.info("continuing from the last %d of the %d init frames (the %s codec takes 1 + %dk frames)", usable,
                 len(frames), model.name, model.frames_per_latent)
        frames = frames[len(frames) - usable:]
    path = Path(request.init)
    sha = file_sha256(path) if path.is_file() else _folder_sha256(path)
    return InitFrames(str(path), sha, frames, model.encode_frames(frames), request.init_in_output)


def _folder_sha256(folder: Path) -> str:
    import hashlib

    from longroll.io.hashing import file_sha256

    digest = hashlib.sha256()
    for f in sorted(folder.glob("*.png")):
        digest.update(file_sha256(f).encode())
    return digest.hexdigest()


def _encode(model: VideoModel, text: str, index: int, scripted: bool):
    """The model's conditioning of one prompt; in a script an unknown word names its shot."""
    try:
        return model.encode_prompt(text)
    except ValueError as err:
        if not scripted:
            raise
        raise ValueError(f"Shot {index + 1} of the script ({excerpt(text)}): {err}") from err


__all__ = ["MAX_RETURNED_BYTES", "GenerationPlan", "InitFrames", "resolve"]
