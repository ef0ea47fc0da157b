"""LPIPS (Zhang et al. 2018, "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric"),
AlexNet variant, from weights the user has locally.

The ``lpips`` package builds its AlexNet through torchvision with ``pretrained=True``, which downloads
the backbone; longroll never downloads, and torchvision is not among its dependencies. So the network
is written here from the paper's definition and read from two local files:

- the backbone: torchvision's AlexNet state dict (``alexnet-owt-7be5be79.pth``; keys
  ``features.{0,3,6,8,10}.{weight,bias}``, the five convolutions);
- the heads: LPIPS v0.1's linear layers (``alex.pth``; keys ``lin{0..4}.model.1.weight``, one 1 x 1
  convolution without bias per tap).

Distance of two frames: both scaled to [-1, 1], shifted and scaled per channel (the paper's input
normalisation, ``SHIFT`` / ``SCALE``), through AlexNet; at each of the five ReLU taps the features are
unit-normalised over channels, their squared difference weighted by the head, averaged over space;
the five are summed. 0 for identical frames, larger when they differ perceptually. Frames smaller
than ``MIN_SIDE`` are enlarged (nearest) to it first: LPIPS was calibrated on 64 x 64 patches, and
AlexNet's later taps vanish below that.

Legend: n frames, C channels, h x w a tap's spatial size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

SHIFT = (-0.030, -0.088, -0.188)  # LPIPS's per-channel input shift (of [-1, 1] RGB)
SCALE = (0.458, 0.448, 0.450)  # and scale
MIN_SIDE = 64  # smaller frames are enlarged to this side first
# AlexNet's convolutions as torchvision numbers them: (index in ``features``, in, out, kernel, stride, padding)
CONVS = ((0, 3, 64, 11, 4, 2), (3, 64, 192, 5, 1, 2), (6, 192, 384, 3, 1, 1), (8, 384, 256, 3, 1, 1),
         (10, 256, 256, 3, 1, 1))


class LPIPS(nn.Module):
    """LPIPS-Alex (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(i, o, k, s, p) for _, i, o, k, s, p in CONVS)
        self.heads = nn.ModuleList(nn.Conv2d(o, 1, 1, bias=False) for _, _, o, _, _, _ in CONVS)
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))

    @classmethod
    def from_folder(cls, folder: str | Path, *, device: str | torch.device = "cpu") -> "LPIPS":
        """Read the backbone and the heads from the ``.pth`` files of ``folder`` (told apart by their keys)."""
        folder = Path(folder)
        files = sorted(folder.glob("*.pth")) if folder.is_dir() else []
        backbone = heads = None
        for path in files:
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as err:  # noqa: BLE001 - any unreadable file is named
                raise ValueError(f"{path} is not a readable PyTorch weights file: {err}.") from None
            if isinstance(state, dict) and "features.0.weight" in state:
                backbone = state
            elif isinstance(state, dict) and "lin0.model.1.weight" in state:
                heads = state
        if backbone is None or heads is None:
            wanted = (("AlexNet's torchvision state dict (features.0.weight ...)", backbone),
                      ("LPIPS v0.1's heads (lin0.model.1.weight ...)", heads))
            missing = " and ".join(what for what, found in wanted if found is None)
            raise ValueError(f"--lpips {str(folder)!r} must hold two .pth files: {missing} is missing (longroll never "
                             "downloads weights).")
        model = cls()
        state = {}
        for n, (index, *_) in enumerate(CONVS):
            state[f"convs.{n}.weight"] = backbone[f"features.{index}.weight"]
            state[f"convs.{n}.bias"] = backbone[f"features.{index}.bias"]
            state[f"heads.{n}.weight"] = heads[f"lin{n}.model.1.weight"]
        try:
            model.load_state_dict(state, strict=False)
        except RuntimeError as err:
            raise ValueError(f"The weights in {str(folder)!r} do not fit LPIPS-Alex: {err}".strip()) from None
        return model.to(device).eval()

    def _taps(self, x: torch.Tensor) -> list[torch.Tensor]:
        taps = []
        for n, conv in enumerate(self.convs):
            if n in (1, 2):  # a 3 x 3 max pool of stride 2 after each of the first two taps
                x = nn.functional.max_pool2d(x, 3, 2)
            x = torch.relu(conv(x))
            taps.append(x)
        return taps

    @torch.no_grad()
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(n, 3, H, W) in [-1, 1] twice -> (n,) distances."""
        fa, fb = self._taps((a - self.shift) / self.scale), self._taps((b - self.shift) / self.scale)
        total = 0
        for x, y, head in zip(fa, fb, self.heads):
            x = x / (x.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)  # unit norm over channels
            y = y / (y.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)
            total = total + head((x - y) ** 2).mean(dim=(1, 2, 3))
        return total

    def distances(self, a: np.ndarray, b: np.ndarray) -> list[float]:
        """LPIPS of uint8 frame pairs (n, H, W, 3) x 2 -> n floats."""
        device = self.shift.device

        def tensor(frames: np.ndarray) -> torch.Tensor:
            t = torch.from_numpy(np.ascontiguousarray(frames)).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1
            side = min(t.shape[-2:])
            if side < MIN_SIDE:
                factor = -(-MIN_SIDE // side)
                t = nn.functional.interpolate(t, scale_factor=factor, mode="nearest")
            return t

        return [float(v) for v in self(tensor(a), tensor(b))]


__all__ = ["LPIPS"]
