"""FAR's released checkpoints read from local paths (never a download).

FAR's model zoo ships plain ``.pth`` state dicts under its own module names (``transformer_blocks.N
.attn.to_q.weight``, ...), which ``longroll.models.far.model.Far`` uses too; a ``.safetensors`` file with
the same names, or a training checkpoint's dict holding one, reads as well. The architecture is read
from the tensors (blocks, width, head size, channels, class or action table, and for FAR-Long its
coarse patch size from ``context_embedder``); the RoPE axis split is FAR's (16, 24, 24) for its head size
of 64, scaled for another. FAR-Long's short-term window is not in its tensors: FAR's default of 16
frames, which both released FAR-Long models use.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from longroll.models.far.config import FarConfig
from longroll.models.far.long import FarLong
from longroll.models.far.model import Far
from longroll.models.files import CheckpointError, check_tensors, read_tensors

STATE_KEYS = ("state_dict", "model", "module", "params_ema", "params")  # where a wrapped state dict may sit
SHORT_WINDOW = 16  # FAR-Long's short_term_ctx_winsize: its default, not overridden by a released config


def axes_for(head_dim: int) -> tuple[int, int, int]:
    """FAR's RoPE split: (16, 24, 24) at head size 64; the spatial share scaled for another head size."""
    spatial = 2 * (3 * head_dim // 16)
    return head_dim - 2 * spatial, spatial, spatial


def unwrap(data: Mapping, source: str) -> dict[str, torch.Tensor]:
    """The state dict in a file's mapping (itself, or under one of ``STATE_KEYS``), ``module.`` prefixes dropped."""
    if "x_embedder.weight" not in data and not any(k.startswith("module.x_embedder") for k in data):
        for key in STATE_KEYS:
            if isinstance(data.get(key), Mapping):
                return unwrap(data[key], source)
        raise CheckpointError(f"{source} holds no FAR transformer (no 'x_embedder.weight'; top-level keys: "
                              f"{', '.join(sorted(map(str, data))[:6])}).")
    return {k.removeprefix("module."): v for k, v in data.items() if isinstance(v, torch.Tensor)}


def infer_far_config(state: Mapping[str, torch.Tensor], source: str) -> FarConfig:
    """The architecture from the tensors alone."""
    try:
        dim, patch_in = state["x_embedder.weight"].shape
        head_dim = state["transformer_blocks.0.attn.norm_q.weight"].shape[0]
        layers = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("transformer_blocks."))
        out = state["proj_out.weight"].shape[0]
        hidden = state["transformer_blocks.0.mlp.net.0.proj.weight"].shape[0]
    except (KeyError, ValueError) as err:
        raise CheckpointError(f"{source} does not look like a FAR transformer (missing {err}).") from err
    condition, classes = None, 0
    for kind in ("label", "action"):
        table = state.get(f"{kind}_embedder.embedding_table.weight")
        if table is not None:
            condition, classes = kind, table.shape[0] - 1  # the last row is the dropped label
    # Every released FAR model patchifies by 1 (FAR_B / M / L / XL and the Long ones register patch_size=1),
    # so the embedder's input width is the latent channels.
    context_patch = None
    if "context_embedder.weight" in state:
        context_patch = round((state["context_embedder.weight"].shape[1] / patch_in) ** 0.5)
    return FarConfig(in_channels=patch_in, out_channels=out, num_layers=layers, num_heads=dim // head_dim,
                     head_dim=head_dim, patch_size=1, axes_dims=axes_for(head_dim), condition=condition,
                     num_classes=classes, mlp_ratio=hidden / dim, context_patch_size=context_patch,
                     short_window=SHORT_WINDOW)


def build_far(config: FarConfig) -> Far | FarLong:
    """FAR's transformer of ``config``: ``FarLong`` with long short-term context, else ``Far``."""
    return FarLong(config) if config.long else Far(config)


def load_far(path: str | Path, *, trust_pickle: bool = False) -> Far | FarLong:
    """FAR's transformer with a checkpoint's weights (checked key by key and shape by shape), in eval mode."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path} does not exist (longroll never downloads weights: give a local path).")
    state = unwrap(read_tensors(path, trust_pickle=trust_pickle), str(path))
    model = build_far(infer_far_config(state, str(path)))
    check_tensors(state, model.state_dict(), str(path), kind="a FAR transformer of its configuration")
    model.load_state_dict(state, strict=True)
    return model.eval().requires_grad_(False)


__all__ = ["axes_for", "build_far", "infer_far_config", "load_far", "unwrap"]
