"""Parameter names: original Wan (what longroll's ``CausalWan`` and the Self Forcing, LongLive and
CausVid checkpoints use) and diffusers' ``WanTransformer3DModel``; wrapper prefixes stripped.

Every rename is one row of ``_DIFFUSERS_TO_NATIVE`` applied to whole dotted name parts, never a
substring replacement, so a name either maps exactly or is reported as unknown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

# diffusers module path (regex over the dotted name without the final .weight/.bias) -> native path
_DIFFUSERS_TO_NATIVE: list[tuple[str, str]] = [
    (r"condition_embedder\.text_embedder\.linear_1", "text_embedding.0"),
    (r"condition_embedder\.text_embedder\.linear_2", "text_embedding.2"),
    (r"condition_embedder\.time_embedder\.linear_1", "time_embedding.0"),
    (r"condition_embedder\.time_embedder\.linear_2", "time_embedding.2"),
    (r"condition_embedder\.time_proj", "time_projection.1"),
    (r"patch_embedding", "patch_embedding"),
    (r"proj_out", "head.head"),
    (r"scale_shift_table", "head.modulation"),
    (r"blocks\.(\d+)\.scale_shift_table", r"blocks.\1.modulation"),
    (r"blocks\.(\d+)\.attn1\.to_(q|k|v)", r"blocks.\1.self_attn.\2"),
    (r"blocks\.(\d+)\.attn1\.to_out\.0", r"blocks.\1.self_attn.o"),
    (r"blocks\.(\d+)\.attn1\.norm_(q|k)", r"blocks.\1.self_attn.norm_\2"),
    (r"blocks\.(\d+)\.attn2\.to_(q|k|v)", r"blocks.\1.cross_attn.\2"),
    (r"blocks\.(\d+)\.attn2\.to_out\.0", r"blocks.\1.cross_attn.o"),
    (r"blocks\.(\d+)\.attn2\.norm_(q|k)", r"blocks.\1.cross_attn.norm_\2"),
    (r"blocks\.(\d+)\.norm2", r"blocks.\1.norm3"),  # diffusers' norm2 is Wan's cross-attention norm3
    (r"blocks\.(\d+)\.ffn\.net\.0\.proj", r"blocks.\1.ffn.0"),
    (r"blocks\.(\d+)\.ffn\.net\.2", r"blocks.\1.ffn.2"),
]
_COMPILED = [(re.compile(rf"^{src}(\.(?:weight|bias))?$"), dst) for src, dst in _DIFFUSERS_TO_NATIVE]

# Wrapper prefixes seen in the wild: Self Forcing's WanDiffusionWrapper (``model.``), FSDP, DDP,
# torch.compile, PEFT, ComfyUI-style single files.
PREFIXES = ("_fsdp_wrapped_module.", "_orig_mod.", "module.", "base_model.model.", "model.diffusion_model.",
            "model.")
# Wrapper segments that FSDP, activation checkpointing and torch.compile insert anywhere in a name
# (per wrapped block, e.g. ``blocks.0._fsdp_wrapped_module.self_attn.q.weight``; LongLive's loader
# removes them wherever they stand).
INFIXES = ("_fsdp_wrapped_module.", "_checkpoint_wrapped_module.", "_orig_mod.")


def is_diffusers_layout(names) -> bool:
    """Whether parameter names follow diffusers' layout (``condition_embedder``, ``attn1``, ...)."""
    return any(n.startswith("condition_embedder.") or ".attn1." in n for n in names)


def diffusers_name_to_native(name: str) -> str:
    """One diffusers parameter name -> the original Wan name (ValueError when unknown)."""
    for pattern, dst in _COMPILED:
        m = pattern.match(name)
        if m:
            return m.expand(dst) + (m.group(m.re.groups) or "")
    raise ValueError(f"Unknown diffusers Wan parameter {name!r}: not part of a text-to-video Wan2.1 transformer.")


def diffusers_to_native(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A diffusers-layout state dict under original Wan names (tensors shared, not copied)."""
    return {diffusers_name_to_native(k): v for k, v in state.items()}


def strip_prefixes(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove wrapper segments anywhere in a name and wrapper prefixes (``model.``, DDP, PEFT)
    repeatedly from its start."""
    out = {}
    for name, tensor in state.items():
        for segment in INFIXES:
            name = name.replace(segment, "")
        changed = True
        while changed:
            changed = False
            for p in PREFIXES:
                if name.startswith(p):
                    name, changed = name[len(p):], True
        out[name] = tensor
    return out


def to_native(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Any supported layout (native or diffusers, with or without wrapper prefixes) -> native names."""
    state = strip_prefixes(state)
    return diffusers_to_native(state) if is_diffusers_layout(state) else dict(state)


__all__ = ["INFIXES", "PREFIXES", "diffusers_name_to_native", "diffusers_to_native", "is_diffusers_layout",
           "strip_prefixes", "to_native"]
