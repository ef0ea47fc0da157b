"""The public generation API: a prompt (schedule) in, frames or a streamed video file out.

``generate`` builds a ``GenerationRequest`` (checked before any model is loaded), loads the model
when given by name, resolves the request into a plan once and runs it. ``replay`` makes a video
again from its sidecar. Front ends that want chunks as they come (a server, a live page) call
``resolve`` and ``run`` with ``on_chunk`` themselves.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from longroll.models.base import VideoModel
from longroll.pipelines.plan import GenerationPlan, resolve
from longroll.pipelines.request import GenerationRequest, PromptTimeline, check_seconds, parse_switch
from longroll.pipelines.run import ChunkEvent, GenerationResult, run
from longroll.pipelines.sidecar import Sidecar, sidecar_path

log = logging.getLogger(__name__)


def generate(
    prompt: str,
    *,
    seconds: float | None = None,
    preset: str | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    model: VideoModel | str = "tiny",
    switches: Sequence[tuple[float, str]] = (),
    upscale: int | None = None,
    progress: bool | None = None,
    schedule: str = "chunk",
    schedule_options: dict | None = None,
    on_chunk: Callable[[ChunkEvent], None] | None = None,
    overwrite: bool = False,
    init: str | Path | None = None,
    init_frames: int | None = None,
    init_in_output: bool = True,
    **overrides,
) -> np.ndarray | Path:
    """Generate a video. With ``out`` the frames stream to that file (returns its path); without,
    they are returned as one uint8 array (n, H, W, 3). ``prompt`` may be a timed script of shots
    (``pipelines.script``; then ``seconds`` may be left out). ``preset`` None is the model's default;
    ``overrides`` refine it field by field. ``schedule`` is ``chunk`` (chunk-wise autoregressive),
    ``fifo`` or ``miga`` (diagonal, ``schedule_options`` refining the model's defaults).
    ``progress`` None shows a bar when standard error is a terminal. ``init`` (a video, an image or a
    folder of PNG frames) is continued from: ``seconds`` then counts the new part, and the output
    starts with the init frames unless ``init_in_output`` is False."""
    request = GenerationRequest(prompt=prompt, seconds=seconds, seed=seed, switches=tuple(switches), preset=preset,
                                overrides={k: v for k, v in overrides.items() if v is not None}, schedule=schedule,
                                schedule_options=dict(schedule_options or {}),
                                out=None if out is None else str(out), upscale=upscale, overwrite=overwrite,
                                init=None if init is None else str(init), init_frames=init_frames,
                                init_in_output=init_in_output)
    result = generate_request(request, model, progress=progress, on_chunk=on_chunk)
    return result.video if out is None else result.path


def generate_request(request: GenerationRequest, model: VideoModel | str = "tiny", *, progress: bool | None = None,
                     on_chunk: Callable[[ChunkEvent], None] | None = None, config=None) -> GenerationResult:
    """Load the model if named, resolve the request once, run it."""
    from longroll.models.registry import load_model

    vm = load_model(model) if isinstance(model, str) else model
    plan = resolve(request, vm, config=config)
    return run(plan, vm, on_chunk=on_chunk, progress=_show_progress(progress))


def _show_progress(progress: bool | None) -> bool:
    return sys.stderr.isatty() if progress is None else progress


def replay(sidecar_file: str | Path, *, out: str | Path | None = None, model: VideoModel | str | None = None,
           progress: bool | None = None, overwrite: bool = False) -> np.ndarray | Path:
    """Generate again the video a sidecar describes (same prompts, seed and every resolved setting)."""
    side = Sidecar.read(sidecar_file)
    vm = _model_of(side, model)
    if side.weights_sha256 not in (None, vm.weights_sha256):
        log.warning("The weights differ from the ones that made %s (sha256 %s, now %s); frames will differ.",
                    sidecar_file, side.weights_sha256[:12], vm.weights_sha256[:12])
    _warn_unsalted(side, vm, sidecar_file)
    _warn_changed_init(side)
    result = generate_request(side.request(out=out, overwrite=overwrite), vm, progress=progress,
                              config=side.config_object())
    return result.video if out is None else result.path


def _warn_unsalted(side: Sidecar, vm: VideoModel, what) -> None:
    """A sidecar written before the model's seeds were salted (no ``noise_seed``) drew other noise."""
    if side.noise_seed is None and vm.defaults.seed_salt is not None:
        log.warning("%s was made before %s's seeds were salted (longroll.noise.noise_seed): the noise, and so "
                    "the frames, will differ.", what, vm.name)


def _warn_changed_init(side: Sidecar) -> None:
    """The init a sidecar's video continued from must still be there, unchanged."""
    if side.init is None:
        return
    from longroll.io.hashing import file_sha256

    path = Path(side.init.path)
    if path.is_file() and file_sha256(path) != side.init.sha256:
        log.warning("The init %s changed since the video was made; frames will differ.", path)


def _model_of(side: Sidecar, model: VideoModel | str | None) -> VideoModel:
    """The given model, or the one the sidecar names, loaded with its options."""
    from longroll.models.registry import load_model

    if isinstance(model, VideoModel):
        return model
    return load_model(model or side.model, weights=side.weights, **side.model_options)


def extend(video: str | Path, *, seconds: float, out: str | Path, model: VideoModel | str | None = None,
           progress: bool | None = None, overwrite: bool = False) -> Path:
    """Continue a longroll video by ``seconds``: the same request (prompts, seed, every resolved setting
    from its sidecar) made ``seconds`` longer, written to ``out``. The frames of a rollout do not depend
    on its planned length unless its temporal RoPE scale does (a static S = L / L_train: pi, ntk, flex,
    yarn, riflex); then the whole video is re-planned for the new length and says so."""
    from longroll.pipelines.rollouts import method_of

    check_seconds(seconds)
    side = Sidecar.of_video(video)
    if not side.complete:
        raise ValueError(f"{str(video)!r} was cut short ({side.frames} frames); finish it first "
                         f"(longroll generate --resume {video}), then extend it.")
    config = side.config_object()
    rope = method_of(config).rope
    if rope.method != "none" and not rope.dynamic:
        log.warning("Preset %s scales temporal RoPE by the planned length (%s, S = L / L_train): the video is "
                    "re-planned for %.4g s, so its first %.4g s differ from %s.", side.preset, rope.method,
                    side.seconds + seconds, side.seconds, video)
    request = side.request(seconds=side.seconds + seconds, out=out, overwrite=overwrite)
    vm = _model_of(side, model)
    if side.weights_sha256 not in (None, vm.weights_sha256):
        raise ValueError(f"The weights differ from the ones that made {str(video)!r} (sha256 "
                         f"{side.weights_sha256[:12]}, loaded {vm.weights_sha256[:12]}); load those to extend it.")
    _warn_changed_init(side)
    return generate_request(request, vm, progress=progress, config=config).path


def resume(video: str | Path, *, model: VideoModel | str | None = None, progress: bool | None = None) -> Path:
    """Finish a video that was cut short: a file kept by Ctrl-C / SIGTERM (its sidecar says incomplete) or
    the ``NAME.partial-PID.mp4`` a killed run left. The rollout is deterministic, so the video is made
    again from its sidecar to its final name, and the frames the cut run had made are checked against
    the recorded ``frames_sha256``; the partial files are removed once the video is complete."""
    import hashlib

    from longroll.io.video import check_no_live_writer, final_name, is_partial

    video = _resumable(Path(video))
    final = final_name(video)
    check_no_live_writer(final)  # a writer still alive (its partial beside the output): the two would race
    side = Sidecar.of_video(video)
    if side.complete:
        raise ValueError(f"{str(video)!r} is complete; nothing to resume.")
    vm = _model_of(side, model)
    _warn_unsalted(side, vm, video)
    _warn_changed_init(side)
    made, want = side.frames, side.frames_sha256
    digest, seen = hashlib.sha256(), [0]

    def prefix(event: ChunkEvent) -> None:  # hash exactly the frames the cut run had made
        take = max(0, min(len(event.frames), made - seen[0]))
        digest.update(np.ascontiguousarray(event.frames[:take]).tobytes())
        seen[0] += len(event.frames)

    result = generate_request(side.request(out=final, overwrite=True), vm, progress=progress,
                              config=side.config_object(), on_chunk=prefix if made and want else None)
    if made and want and digest.hexdigest() != want:
        log.warning("The first %d frames differ from the ones the cut run made (other weights or another CPU "
                    "instruction set); the video is complete but not the same.", made)
    if result.complete and is_partial(video):
        video.unlink(missing_ok=True)
        sidecar_path(video).unlink(missing_ok=True)
    return result.path


def _resumable(video: Path) -> Path:
    """The file to resume: ``video`` itself, or, where it was never finished (a killed run leaves only
    ``NAME.partial-PID.mp4``), the one partial beside it."""
    from longroll.io.video import is_partial, partials_of

    if is_partial(video) or sidecar_path(video).is_file():
        return video
    partials = [p for p in partials_of(video) if not p.name.endswith(".json")]
    if len(partials) == 1:
        log.info("%s was never finished; resuming %s, the partial a killed run left beside it", video,
                 partials[0].name)
        return partials[0]
    if partials:
        raise ValueError(f"{str(video)!r} was never finished and {len(partials)} partial files are beside it "
                         f"({', '.join(p.name for p in partials)}); resume one of them by name.")
    return video


__all__ = ["GenerationPlan", "GenerationRequest", "PromptTimeline", "check_seconds", "extend", "generate",
           "generate_request", "resume",
           "parse_switch", "replay", "resolve", "run", "sidecar_path"]
