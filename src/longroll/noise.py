"""Initial-noise samplers for a chunk of latent frames ``(B, f, ...)`` (frames on dim 1).

- ``iid_noise``: independent standard normal frames (what Self Forcing and LongLive draw).
- ``antiphase_noise``: FLEX eq. 10-11, an AR(1) chain ``z_u = rho z_(u-1) + sqrt(1 - rho^2) eps_u``
  inside each chunk. Every frame stays N(0, I), ``Cov(z_u, z_v) = rho^|u-v| I`` and the adjacent
  difference energy is ``2 (f-1)(1-rho) d`` (FLEX Prop. 3.1-3.2); rho = -1 flips sign every frame.
- ``FreeNoise``: FreeNoise's noise rescheduling (Qiu et al. 2024) for comparison: after the first
  ``window`` frames, each group of ``stride`` frames reuses the noise of the group ``window`` frames
  earlier in a shuffled order. It is stateful (it remembers one window), so memory stays flat.

All samplers draw from an explicit ``torch.Generator`` and honour device and dtype; the maths
runs in float32 and is cast at the end, so a seed gives the same values in every dtype.

``noise_seed`` gives that generator's seed for a user's seed. A model whose weights were
initialised with ``torch.manual_seed(s)`` for a small ``s`` (the built-in model's recipe: seed 0)
has first-layer weights drawn from the same Mersenne Twister stream as the noise of user seed
``s``; the trained patch embedding keeps that imprint, so the noise lines up with it (correlation
-0.33 with the initial weights against |r| < 0.05 for other seeds) and every one-object prompt came
out empty at seed 0. Such a model names a salt (``ModelDefaults.seed_salt``) and its noise stream
is then seeded by a hash of salt and seed, which meets no training stream; other models keep
``manual_seed(seed)``, as their families' own inference does.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import torch

from longroll._validate import check_choice, check_float, check_int

NOISE_KINDS = ("iid", "antiphase", "freenoise")


def noise_seed(seed: int, salt: str | None = None) -> int:
    """The seed of the noise stream for a user's ``seed``: ``seed`` itself without a salt, else the
    first 63 bits of SHA-256("salt:seed") (stable across machines and versions)."""
    check_int("seed", seed, low=0)
    if salt is None:
        return int(seed)
    return int.from_bytes(hashlib.sha256(f"{salt}:{int(seed)}".encode()).digest()[:8], "little") >> 1


def _check_shape(shape) -> tuple[int, ...]:
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2 or any(s <= 0 for s in shape):
        raise ValueError(f"Noise shape must be (B, f, ...) with positive sizes, got {shape}.")
    return shape


def _randn(shape, generator, device) -> torch.Tensor:
    """Drawn on the generator's device, then moved: the same seed gives the same noise on CPU and GPU."""
    source = generator.device if generator is not None else torch.device("cpu")
    out = torch.randn(shape, generator=generator, device=source, dtype=torch.float32)
    return out if device is None else out.to(device)


def iid_noise(
    shape, *, generator: torch.Generator | None = None, device=None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Independent N(0, I) frames of ``shape``."""
    return _randn(_check_shape(shape), generator, device).to(dtype)


def antiphase_noise(
    shape,
    rho: float,
    *,
    generator: torch.Generator | None = None,
    device=None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """FLEX Antiphase Noise Sampling for one chunk: AR(1) along dim 1 with coefficient ``rho`` in [-1, 1]."""
    rho = check_float("rho", rho, low=-1.0, high=1.0)
    shape = _check_shape(shape)
    eps = _randn(shape, generator, device)  # (B, f, ...)
    innovation = math.sqrt(max(0.0, 1.0 - rho * rho))  # exactly 0 at |rho| = 1
    frames = [eps[:, 0]]
    for u in range(1, shape[1]):
        # FLEX eq. 11: z_u = rho z_(u-1) + sqrt(1 - rho^2) eps_u.
        frames.append(rho * frames[-1] + innovation * eps[:, u])
    return torch.stack(frames, dim=1).to(dtype)


@dataclass(frozen=True)
class NoiseConfig:
    """Which initial noise each chunk starts from."""

    kind: str = "antiphase"  # one of NOISE_KINDS
    rho: float = -1.0  # antiphase: AR(1) coefficient in [-1, 1]; -1 is FLEX's default
    window: int = 16  # freenoise: frames between a group and the group whose noise it reuses
    stride: int = 4  # freenoise: frames per shuffled group
    renoise: bool = False  # also use this sampler for the re-noising between few-step denoising steps

    def __post_init__(self) -> None:
        check_choice("noise kind", self.kind, NOISE_KINDS)
        check_float("rho", self.rho, low=-1.0, high=1.0)
        check_int("freenoise window", self.window, low=1)
        check_int("freenoise stride", self.stride, low=1, high=self.window)

    def sampler(self, generator: torch.Generator | None = None) -> "ChunkNoise":
        """A fresh stateful sampler for one rollout."""
        return ChunkNoise(self, generator)


class ChunkNoise:
    """Draws the noise of successive chunks of one rollout, ``sample(start_frame, shape)``.

    ``iid`` and ``antiphase`` are stateless across chunks; ``freenoise`` keeps at most
    ``window + stride`` frames of history, whatever the video length.
    """

    def __init__(self, config: NoiseConfig, generator: torch.Generator | None = None) -> None:
        self.config = config
        self.generator = generator
        self._frames: list[torch.Tensor] = []  # freenoise history, frames [self._first, self._first + len)
        self._first = 0

    def sample(
        self, start_frame: int, shape, *, device=None, dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        """Noise for frames ``[start_frame, start_frame + shape[1])`` of the rollout, shape ``shape``."""
        shape = _check_shape(shape)
        if self.config.kind == "iid":
            return iid_noise(shape, generator=self.generator, device=device, dtype=dtype)
        if self.config.kind == "antiphase":
            return antiphase_noise(shape, self.config.rho, generator=self.generator, device=device, dtype=dtype)
        return self._freenoise(start_frame, shape, device).to(dtype)

    def _freenoise(self, start: int, shape: tuple[int, ...], device) -> torch.Tensor:
        window, stride = self.config.window, self.config.stride
        frame_shape = (shape[0], *shape[2:])
        if self._frames and self._frames[0].shape != frame_shape:
            raise ValueError(f"FreeNoise frames changed shape from {tuple(self._frames[0].shape)} to {frame_shape}.")
        if start < self._first:
            raise ValueError(f"FreeNoise can only go forward: frame {start} was dropped (history starts at "
                             f"{self._first}).")
        end = start + shape[1]
        while self._first + len(self._frames) < end:
            produced = self._first + len(self._frames)
            if produced < window:
                self._frames.append(_randn(frame_shape, self.generator, device))
                continue
            # FreeNoise: frames [i, i+stride) = shuffle(frames [i-window, i-window+stride)).
            source = produced - window
            perm = torch.randperm(stride, generator=self.generator, device=self.generator.device if self.generator
                                  is not None else "cpu").tolist()
            group = [self._frames[source + p - self._first] for p in perm]
            self._frames.extend(group)
        out = torch.stack(self._frames[start - self._first:end - self._first], dim=1)
        # Keep only what a later group can still reuse: the last `window` frames.
        drop = max(0, len(self._frames) - window - stride)
        drop = min(drop, end - self._first)
        if drop:
            del self._frames[:drop]
            self._first += drop
        return out
