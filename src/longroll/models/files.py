"""Reading a weights file from a local path (never a download): safetensors, or a torch pickle opened
with ``weights_only=True`` (a file that needs arbitrary unpickling is refused unless the caller passes
``trust_pickle=True``). Shared by the families' checkpoint readers.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Mapping
from pathlib import Path

import torch

log = logging.getLogger(__name__)


class CheckpointError(ValueError):
    """A file that is not a usable checkpoint (the message names the file and, where it applies, the key)."""


def read_tensors(path: str | Path, *, trust_pickle: bool = False) -> dict:
    """The raw mapping stored in one weights file (safetensors or a torch pickle)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} is not a file.")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as err:  # noqa: BLE001 - SafetensorsError's home moved between releases
            raise CheckpointError(f"{path} is not a readable safetensors file ({err}).") from err
    if not _looks_like_torch_file(path):
        raise CheckpointError(f"{path} is not a torch checkpoint (neither a zip archive nor a pickle).")
    try:
        return _torch_load(path, weights_only=True)
    except pickle.UnpicklingError as err:
        if "Weights only load failed" not in str(err):
            raise CheckpointError(f"{path} is not a torch checkpoint ({err}).") from err
        if not trust_pickle:
            raise CheckpointError(
                f"{path} holds Python objects beyond tensors, so loading it could run arbitrary code. If you "
                "trust the file, pass trust_pickle=True (--trust-pickle on the command line).") from err
    except Exception as err:  # noqa: BLE001 - a broken file raises many types
        raise CheckpointError(f"{path} is not a torch checkpoint ({type(err).__name__}: {err}).") from err
    log.warning("Loading %s with full unpickling (trust_pickle).", path)
    try:
        return _torch_load(path, weights_only=False)
    except Exception as err:  # noqa: BLE001
        raise CheckpointError(f"{path} is not a torch checkpoint ({type(err).__name__}: {err}).") from err


def _looks_like_torch_file(path: Path) -> bool:
    """``torch.save`` writes a zip archive (PK header), or, in the legacy format, a pickle (protocol >= 2)."""
    with open(path, "rb") as fh:
        head = fh.read(2)
    return head == b"PK" or (len(head) == 2 and head[0] == 0x80 and head[1] >= 2)


def _torch_load(path: Path, *, weights_only: bool):
    """``torch.load`` memory-mapped where the file allows it (zip format), else read whole."""
    try:
        return torch.load(path, map_location="cpu", weights_only=weights_only, mmap=True)
    except RuntimeError as err:
        if "mmap" not in str(err):
            raise
        return torch.load(path, map_location="cpu", weights_only=weights_only)


def check_tensors(state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], source: str, *,
                  kind: str) -> None:
    """Every expected tensor present with its shape and nothing unknown; errors name the key (``kind``: what
    the file should be, for the question an unknown tensor raises)."""
    missing = [k for k in expected if k not in state]
    if missing:
        raise CheckpointError(f"{source} is missing {len(missing)} tensor(s), e.g. '{missing[0]}'"
                              f"{' and ' + repr(missing[1]) if len(missing) > 1 else ''}.")
    unknown = [k for k in state if k not in expected]
    if unknown:
        raise CheckpointError(f"{source} has {len(unknown)} tensor(s) this model does not know, e.g. "
                              f"'{unknown[0]}' (is it {kind}?).")
    for k, v in expected.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise CheckpointError(f"{source}: tensor '{k}' has shape {tuple(state[k].shape)}, the model expects "
                                  f"{tuple(v.shape)} (does the config match the checkpoint?).")


__all__ = ["CheckpointError", "check_tensors", "read_tensors"]
