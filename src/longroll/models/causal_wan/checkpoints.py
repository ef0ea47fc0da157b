"""Reading causal Wan weights from local paths (never a download), in every format in use.

- Wan2.1 base, original layout: ``DIR/diffusion_pytorch_model.safetensors`` + ``config.json``,
  original Wan names.
- Wan2.1 base, diffusers layout: ``DIR/transformer/diffusion_pytorch_model*.safetensors`` (sharded
  or not) + ``config.json``, diffusers names.
- Self Forcing: ``self_forcing_dmd.pt``, a dict with ``generator`` / ``generator_ema`` whose names
  carry the ``model.`` prefix of its wrapper.
- LongLive: ``longlive_base.pt`` (``generator``) + ``lora.pt`` (PEFT LoRA, ``generator_lora``).
- CausVid: ``model.pt`` (``model``: the generator's state dict).

Pickle files are opened with ``torch.load(weights_only=True)``; a file that needs arbitrary
unpickling is refused unless the caller passes ``trust_pickle=True`` (``--trust-pickle``). A LoRA
is merged into the weights at load (``W += alpha / r * B A``), so inference pays nothing for it.
Every failure names the file and, where it applies, the key.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

import torch

from longroll.models.causal_wan.config import CausalWanConfig
from longroll.models.causal_wan.keys import strip_prefixes, to_native
from longroll.models.files import CheckpointError, check_tensors, read_tensors

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")
# Top-level keys of training checkpoints that hold the generator's state dict, in order of preference.
GENERATOR_KEYS = ("generator", "model", "state_dict", "module")


def select_generator(data: Mapping, path: Path, *, ema: bool | None = False) -> dict[str, torch.Tensor]:
    """The generator's state dict inside a training checkpoint (or the mapping itself).

    ``ema``: True takes ``generator_ema`` (an error when there is none), False the plain generator,
    None ``generator_ema`` where the file has one (a flavour whose own inference uses the EMA weights).
    """
    if not isinstance(data, Mapping):
        raise CheckpointError(f"{path} holds a {type(data).__name__}, not a state dict.")
    keys = (("generator_ema",) if ema or ema is None else ()) + GENERATOR_KEYS
    if ema and "generator_ema" not in data:
        raise CheckpointError(f"{path} has no 'generator_ema' entry (it has {sorted(data)[:8]}); drop --ema.")
    for key in keys:
        value = data.get(key)
        if isinstance(value, Mapping):
            return select_generator(value, path) if any(k in value for k in GENERATOR_KEYS) else dict(value)
    tensors = {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(f"{path} has no tensors (top-level entries: {sorted(data)[:8]}).")
    return tensors


def _diffusers_dir(path: Path) -> Path | None:
    for candidate in (path / "transformer", path):
        if (candidate / "config.json").is_file() and any(candidate.glob("diffusion_pytorch_model*.safetensors")):
            return candidate
    return None


def read_directory(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """A model directory (original Wan or diffusers layout): its tensors and its config."""
    folder = _diffusers_dir(path)
    if folder is None:
        raise CheckpointError(f"{path} is not a Wan model directory: expected config.json next to "
                              "diffusion_pytorch_model*.safetensors (in it or in transformer/).")
    config = json.loads((folder / "config.json").read_text())
    state: dict[str, torch.Tensor] = {}
    for shard in sorted(folder.glob("diffusion_pytorch_model*.safetensors")):
        state.update(read_tensors(shard))
    return state, config


# ---------------------------------------------------------------------------------------- LoRA
def merge_lora(state: dict[str, torch.Tensor], lora: Mapping[str, torch.Tensor], *, alpha: float | None = None,
               source: str = "LoRA") -> int:
    """Merge PEFT LoRA pairs ``X.lora_A.weight (r, in)``, ``X.lora_B.weight (out, r)`` into
    ``state['X.weight']`` in place: ``W += alpha / r * B @ A`` (alpha defaults to r: LongLive's
    r = alpha = 256). Returns the number of merged layers."""
    lora = strip_prefixes({k.replace(".default.", "."): v for k, v in lora.items()})
    pairs = sorted(k[: -len(".lora_A.weight")] for k in lora if k.endswith(".lora_A.weight"))
    if not pairs:
        raise CheckpointError(f"{source} has no LoRA pairs (no '*.lora_A.weight' key; keys like "
                              f"{sorted(lora)[:4]}).")
    for module in pairs:
        b_key = f"{module}.lora_B.weight"
        if b_key not in lora:
            raise CheckpointError(f"{source} has '{module}.lora_A.weight' but no '{b_key}'.")
        target = f"{module}.weight"
        if target not in state:
            raise CheckpointError(f"{source} adapts '{module}', which the base weights do not have "
                                  f"(no '{target}').")
        a, b = lora[f"{module}.lora_A.weight"].float(), lora[b_key].float()
        w = state[target]
        if a.shape[0] != b.shape[1] or (b.shape[0], a.shape[1]) != tuple(w.shape):
            raise CheckpointError(f"{source}: LoRA '{module}' has A {tuple(a.shape)} and B {tuple(b.shape)}, which "
                                  f"do not fit the base weight {tuple(w.shape)}.")
        scale = (alpha if alpha is not None else a.shape[0]) / a.shape[0]
        state[target] = (w.float() + scale * (b @ a)).to(w.dtype)
    return len(pairs)


# ---------------------------------------------------------------------------------------- checks
def check_state(state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], source: str) -> None:
    """Every expected tensor present with its shape; nothing unknown (errors name the key)."""
    check_tensors(state, expected, source, kind="a causal Wan2.1 text-to-video checkpoint")


def infer_config(state: Mapping[str, torch.Tensor], source: str) -> CausalWanConfig:
    """Architecture from native-named tensors alone (for checkpoints that ship without a config)."""
    try:
        patch = state["patch_embedding.weight"]  # (D, C_in, pt, ph, pw)
        dim = patch.shape[0]
        layers = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("blocks."))
        ffn_dim = state["blocks.0.ffn.0.weight"].shape[0]
        text_dim = state["text_embedding.0.weight"].shape[1]
        freq_dim = state["time_embedding.0.weight"].shape[1]
        out = state["head.head.weight"].shape[0]
    except (KeyError, ValueError) as err:
        raise CheckpointError(f"{source} does not look like a Wan transformer (missing {err}).") from err
    pt, ph, pw = patch.shape[2:]
    heads = dim // 128 if dim % 128 == 0 else None  # every released Wan2.1 uses a head dim of 128
    if heads is None:
        raise CheckpointError(f"{source}: width {dim} is not a multiple of 128; give the config explicitly.")
    return CausalWanConfig(dim=dim, ffn_dim=ffn_dim, num_heads=heads, num_layers=layers, in_channels=patch.shape[1],
                           out_channels=out // (pt * ph * pw), text_dim=text_dim, freq_dim=freq_dim,
                           patch_size=(pt, ph, pw), cross_attn_norm="blocks.0.norm3.weight" in state)


# ---------------------------------------------------------------------------------------- entry
def load_causal_wan_state(
    checkpoint: str | Path,
    *,
    base: str | Path | None = None,
    lora: str | Path | None = None,
    lora_alpha: float | None = None,
    ema: bool | None = False,
    trust_pickle: bool = False,
    config: CausalWanConfig | None = None,
) -> tuple[CausalWanConfig, dict[str, torch.Tensor]]:
    """Config and native-named state dict of a causal Wan checkpoint.

    ``checkpoint``: a model directory or a weights file. ``base``: a Wan2.1 directory whose
    ``config.json`` gives the architecture when the checkpoint has none (else it is inferred from
    the tensors). ``lora``: a PEFT LoRA file (LongLive) merged into the weights.
    """
    path = Path(checkpoint)
    if not path.exists():
        raise CheckpointError(f"Checkpoint {path} does not exist (longroll never downloads weights: give a "
                              "local file or directory).")
    cfg_data = None
    if path.is_dir():
        raw, cfg_data = read_directory(path)
    else:
        if path.suffix not in WEIGHT_SUFFIXES:
            raise CheckpointError(f"{path} is not a weights file (allowed: {', '.join(WEIGHT_SUFFIXES)}, or a "
                                  "model directory).")
        raw = select_generator(read_tensors(path, trust_pickle=trust_pickle), path, ema=ema)
    state = to_native(raw)
    if lora is not None:
        data = read_tensors(lora, trust_pickle=trust_pickle)
        adapters = data.get("generator_lora", data) if isinstance(data, Mapping) else data
        if not isinstance(adapters, Mapping):
            raise CheckpointError(f"{lora} holds a {type(adapters).__name__}, not a LoRA state dict.")
        n = merge_lora(state, adapters, alpha=lora_alpha, source=str(lora))
        log.info("merged %d LoRA layers from %s", n, lora)
    if config is None:
        if cfg_data is None and base is not None and (Path(base) / "config.json").is_file():
            cfg_data = json.loads((Path(base) / "config.json").read_text())
        config = CausalWanConfig.from_any(cfg_data) if cfg_data else infer_config(state, str(path))
    return config, state


def build_causal_wan(config: CausalWanConfig, state: dict[str, torch.Tensor], source: str, *,
                     chunk_size: int = 3):
    """A ``CausalWan`` holding ``state`` (checked key by key and shape by shape first)."""
    from longroll.models.causal_wan.model import CausalWan

    with torch.device("meta"):
        model = CausalWan(config, chunk_size=chunk_size)
    check_state(state, model.state_dict(), source)
    model.load_state_dict({k: v.float() if v.dtype == torch.float64 else v for k, v in state.items()},
                          strict=True, assign=True)
    return model


__all__ = ["CheckpointError", "build_causal_wan", "check_state", "infer_config", "load_causal_wan_state",
           "merge_lora", "read_directory", "read_tensors", "select_generator"]
