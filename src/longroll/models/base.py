"""What the pipelines need from a model, beyond its denoiser: prompts in, frames out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch


@dataclass
class VideoModel:
    """A loaded model: denoiser, decoder and prompt encoder, with the facts a rollout needs."""

    name: str  # registry name, e.g. "tiny"
    denoiser: torch.nn.Module  # chunk-causal denoiser (see pipelines.rollout for its contract)
    encode_prompt: Callable[[str], Any]  # prompt text -> conditioning (validates the prompt)
    decode: Callable[[torch.Tensor], np.ndarray] | None  # clean latents (B=1, f, C, S, S) -> uint8 (f', H, W, 3)
    fps: float  # frames per second of decoded video
    frames_per_latent: int  # video frames per latent frame (1 for the tiny model, 4 for Wan)
    weights_sha256: str  # hash of the weights file ("random-init" for an untrained model)
    weights_path: str | None = None
    autoencoder: torch.nn.Module | None = None  # the latent codec, where the model has its own
    causal_first_frame: bool = False  # latent 0 decodes to 1 frame, later ones to frames_per_latent (Wan VAE)
    new_decoder: Callable[[], Callable[[torch.Tensor], np.ndarray]] | None = None  # per-video stateful decoder
    load_options: dict = field(default_factory=dict)  # what load_model needs besides the weights (for replay)

    def latent_frames(self, seconds: float) -> int:
        """Latent frames needed for ``seconds`` of video."""
        frames = max(1, int(np.ceil(seconds * self.fps - 1e-9)))
        if self.causal_first_frame:
            return 1 + int(np.ceil((frames - 1) / self.frames_per_latent))
        return max(1, int(np.ceil(frames / self.frames_per_latent)))

    def stream_decoder(self) -> Callable[[torch.Tensor], np.ndarray]:
        """A decoder for one video's chunks in order (stateful for causal VAEs, else ``decode``)."""
        return self.new_decoder() if self.new_decoder is not None else self.decode
