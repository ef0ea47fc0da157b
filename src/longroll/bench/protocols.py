"""The benchmark's protocols: text to video (the default), and prediction from real context frames.

``predict`` (``--protocol predict --context N``), as FAR evaluates long-context models: each video
starts from N real frames (the init, not part of the output) and what the model makes next is
compared with the true continuation (``eval.prediction``: PSNR, SSIM, LPIPS per segment). Where the
frames come from:

- the built-in world: the scene the prompt and the seed draw (``world.scene``) rendered exactly; its
  first N frames are the context, every later frame is known, so the prediction is scored for as long
  as it runs, and each object's centre against its exact path as well (``eval.trajectory``);
- another model: a folder of videos, one per prompt, named as ``longroll batch`` and VBench name them
  (``{prompt}.mp4`` or ``{prompt}-0.mp4``) or by the prompt file's ``video``, or every video of the folder
  with the prompt the model reads from its file (FAR's test sets: UCF-101 names, DMLab's ``.npz`` with
  the actions); the first N frames (at the model's size and rate) are the context, the rest the truth,
  compared where it lasts.

The context frames are written once as PNG frames under ``out/context/<hash>/`` (lossless, what the
run's init reads); their hash is part of every run's key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

PROTOCOLS = ("t2v", "predict")  # text to video; prediction from context frames
VIDEO_NAMES = ("{prompt}.mp4", "{prompt}-0.mp4")  # how a prompt's true video may be named


@dataclass(frozen=True)
class Context:
    """The context of one predicted video and where its truth comes from (picklable, for every backend)."""

    folder: str  # PNG frames of the context: the run's init
    frames: int  # N, context frames
    sha256: str  # of the context frames' pixels
    prompt: str
    seed: int | None = None  # the world's scene seed (None: the truth is ``video``)
    video: str | None = None  # the video whose frames after the first N are the truth

    def scorers(self, model, segment_seconds: float, *, lpips=None) -> dict:
        """{"prediction": PredictionScore, and on the world "trajectory": TrajectoryError} for one run
        (``lpips``: an ``eval.lpips.LPIPS`` the prediction is also scored with)."""
        from longroll.eval.prediction import PredictionScore

        seg = max(1, int(round(segment_seconds * model.fps)))
        if self.video is None:
            from longroll.eval.trajectory import TrajectoryError
            from longroll.world.render import render

            scene = _scene(self.prompt, self.seed, model)
            return {"prediction": PredictionScore(lambda s, n: render(scene, self.frames + s, n), segment_frames=seg,
                                                  fps=model.fps, lpips=lpips),
                    "trajectory": TrajectoryError(scene, self.frames, segment_frames=seg, fps=model.fps)}
        truth = _video_frames(self.video, model)[self.frames:]
        return {"prediction": PredictionScore(lambda s, n: truth[s:s + n], segment_frames=seg, fps=model.fps,
                                              lpips=lpips)}


def _scene(prompt: str, seed: int, model):
    from longroll.world.scene import scene_from_prompt

    height, width = model.frame_size
    if height != width:
        raise ValueError(f"The built-in world renders square frames; the model's are {width}x{height}.")
    return scene_from_prompt(prompt, seed, resolution=height)


def _video_frames(path: str, model) -> np.ndarray:
    """A true video's frames at the model's size and rate, decoded once for the runs in a row that share it
    (the items are ordered so that every preset of a prompt runs in turn)."""
    return _decoded(path, tuple(model.frame_size), float(model.fps))


@lru_cache(maxsize=2)
def _decoded(path: str, size: tuple[int, int], fps: float) -> np.ndarray:
    from longroll.io.init_frames import read_init

    frames = read_init(path, size=size, fps=fps)
    frames.flags.writeable = False  # shared by the runs that read it
    return frames


def default_context(model) -> int:
    """Context frames by default: one chunk of the model (a causal codec's 1 + 4k frames)."""
    latents = model.defaults.chunk_size or 1
    if model.causal_first_frame:
        return 1 + (latents - 1) * model.frames_per_latent
    return latents * model.frames_per_latent


def find_video(folder: str | Path, prompt: str) -> Path:
    """The true video of ``prompt`` in ``folder`` (``VIDEO_NAMES``); an error naming what was looked for."""
    for name in VIDEO_NAMES:
        path = Path(folder) / name.format(prompt=prompt)
        if path.is_file():
            return path
    from longroll._validate import excerpt

    names = " and ".join(n.format(prompt="PROMPT") for n in VIDEO_NAMES)
    raise ValueError(f"No video for the prompt {excerpt(prompt)} in {str(folder)!r}: looked for {names} (the names "
                     "longroll batch and VBench give).")


def make_context(out: str | Path, model, prompt: str, seed: int, frames: int, videos: str | None, *,
                 video: str | None = None) -> Context:
    """Write (once) and describe the context of one (prompt, seed): the world's frames, or the video's first ones
    (``video``: the item's own true video, inside ``videos`` or absolute; None: found by the prompt's name)."""
    from longroll.io.video import VideoWriter

    if videos is None:
        from longroll.world.render import render

        pixels = render(_scene(prompt, seed, model), 0, frames)
        video = None
    else:
        video = str(Path(videos) / video) if video is not None else str(find_video(videos, prompt))
        if not Path(video).is_file():
            raise ValueError(f"The true video {video!r} of {prompt!r} does not exist.")
        every = _video_frames(video, model)
        if len(every) <= frames:
            raise ValueError(f"{video!r} has {len(every)} frames at {model.fps:g} fps; the context takes {frames}, so "
                             "nothing is left to compare a prediction with.")
        pixels = every[:frames]
    sha = hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest()
    folder = Path(out) / "context" / sha[:16]
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        with VideoWriter(str(folder) + "/", model.fps) as writer:  # written whole, then renamed into place
            writer.write(pixels)
    return Context(str(folder), frames, sha, prompt, None if video is not None else seed, video)


__all__ = ["PROTOCOLS", "Context", "default_context", "find_video", "make_context"]
