"""Loading causal Wan weights from every format in use, on synthetic files; the error paths."""

import json

import pytest
import torch

from longroll.models.causal_wan import CausalWan
from longroll.models.causal_wan.checkpoints import (
    CheckpointError,
    build_causal_wan,
    infer_config,
    load_causal_wan_state,
    merge_lora,
)
from longroll.models.causal_wan.keys import diffusers_name_to_native, to_native

pytest.importorskip("diffusers")
pytest.importorskip("safetensors")


@pytest.fixture(scope="module")
def native(wan_transformer):
    """The tiny transformer's weights under original Wan names, and its reference model."""
    model = CausalWan.from_diffusers(wan_transformer)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, model


def _same_outputs(a, b):
    g = torch.Generator().manual_seed(5)
    x, ctx = torch.randn(1, 16, 3, 4, 4, generator=g), torch.randn(1, 6, 16, generator=g)
    t = torch.tensor([[800.0, 600.0, 400.0]])
    with torch.no_grad():
        torch.testing.assert_close(a(x, t, ctx), b(x, t, ctx))


def _native_config(model) -> dict:
    c = model.config
    return {"_class_name": "WanModel", "model_type": "t2v", "dim": c.dim, "ffn_dim": c.ffn_dim,
            "num_heads": c.num_heads, "num_layers": c.num_layers, "in_dim": c.in_channels, "out_dim": c.out_channels,
            "text_dim": c.text_dim, "freq_dim": c.freq_dim, "patch_size": list(c.patch_size)}


def test_diffusers_directory(wan_transformer, native, tmp_path):
    wan_transformer.save_pretrained(tmp_path / "base" / "transformer")
    config, state = load_causal_wan_state(tmp_path / "base")
    assert config == native[1].config and set(state) == set(native[0])
    _same_outputs(build_causal_wan(config, state, "dir"), native[1])


def test_original_layout_directory(native, tmp_path):
    from safetensors.torch import save_file

    state, model = native
    (tmp_path / "config.json").write_text(json.dumps(_native_config(model)))
    save_file(state, str(tmp_path / "diffusion_pytorch_model.safetensors"))
    config, loaded = load_causal_wan_state(tmp_path)
    _same_outputs(build_causal_wan(config, loaded, "dir"), model)


def test_self_forcing_checkpoint_with_model_prefix_and_ema(native, tmp_path):
    state, model = native
    ema = {f"model.{k}": v + 1.0 for k, v in state.items()}
    path = tmp_path / "self_forcing_dmd.pt"
    torch.save({"generator": {f"model.{k}": v for k, v in state.items()}, "generator_ema": ema,
                "critic": {"model.x": torch.zeros(1)}}, path)
    base = tmp_path / "base"
    base.mkdir()
    (base / "config.json").write_text(json.dumps(_native_config(model)))
    config, loaded = load_causal_wan_state(path, base=base)
    _same_outputs(build_causal_wan(config, loaded, str(path)), model)
    _, loaded_ema = load_causal_wan_state(path, base=base, ema=True)
    torch.testing.assert_close(loaded_ema["head.modulation"], state["head.modulation"] + 1.0)


def test_causvid_checkpoint_and_fsdp_prefixes(native, tmp_path):
    state, model = native
    path = tmp_path / "model.pt"
    torch.save({"model": {f"_fsdp_wrapped_module.model.{k}": v for k, v in state.items()}}, path)
    (tmp_path / "config.json").write_text(json.dumps(_native_config(model)))
    config, loaded = load_causal_wan_state(path, base=tmp_path)
    _same_outputs(build_causal_wan(config, loaded, str(path)), model)


def test_fsdp_segments_inside_names_are_removed(native, tmp_path):
    """FSDP wraps each block, so its segment stands inside the name (LongLive's checkpoints)."""
    state, model = native

    def wrapped(name: str) -> str:
        parts = name.split(".")
        if parts[0] == "blocks":  # blocks.0.x -> blocks.0._fsdp_wrapped_module._checkpoint_wrapped_module.x
            return ".".join(parts[:2] + ["_fsdp_wrapped_module", "_checkpoint_wrapped_module"] + parts[2:])
        return f"_fsdp_wrapped_module.{name}"

    path = tmp_path / "model.pt"
    torch.save({"generator": {f"model.{wrapped(k)}": v for k, v in state.items()}}, path)
    (tmp_path / "config.json").write_text(json.dumps(_native_config(model)))
    config, loaded = load_causal_wan_state(path, base=tmp_path)
    assert set(loaded) == set(state)
    _same_outputs(build_causal_wan(config, loaded, str(path)), model)


def test_longlive_lora_is_merged_at_load(native, tmp_path):
    state, model = native
    torch.save({"generator": {f"model.{k}": v for k, v in state.items()}}, tmp_path / "longlive_base.pt")
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4, 24, generator=g)  # rank 4 on blocks.0.self_attn.q (24 -> 24)
    b = torch.randn(24, 4, generator=g)
    lora = {"base_model.model.blocks.0.self_attn.q.lora_A.weight": a,
            "base_model.model.blocks.0.self_attn.q.lora_B.weight": b}
    torch.save({"generator_lora": lora}, tmp_path / "lora.pt")
    (tmp_path / "config.json").write_text(json.dumps(_native_config(model)))
    _, merged = load_causal_wan_state(tmp_path / "longlive_base.pt", base=tmp_path, lora=tmp_path / "lora.pt")
    torch.testing.assert_close(merged["blocks.0.self_attn.q.weight"], state["blocks.0.self_attn.q.weight"] + b @ a)
    _, half = load_causal_wan_state(tmp_path / "longlive_base.pt", base=tmp_path, lora=tmp_path / "lora.pt",
                                    lora_alpha=2.0)  # alpha / r = 0.5
    torch.testing.assert_close(half["blocks.0.self_attn.q.weight"],
                               state["blocks.0.self_attn.q.weight"] + 0.5 * b @ a)
    torch.testing.assert_close(merged["blocks.0.self_attn.k.weight"], state["blocks.0.self_attn.k.weight"])


def test_lora_errors_name_the_key(native):
    state = dict(native[0])
    with pytest.raises(CheckpointError, match="no 'blocks.0.ffn.0.lora_B.weight'"):
        merge_lora(state, {"blocks.0.ffn.0.lora_A.weight": torch.zeros(2, 24)})
    with pytest.raises(CheckpointError, match="'blocks.9.ffn.0', which the base weights do not have"):
        merge_lora(state, {"blocks.9.ffn.0.lora_A.weight": torch.zeros(2, 24),
                           "blocks.9.ffn.0.lora_B.weight": torch.zeros(32, 2)})
    with pytest.raises(CheckpointError, match="do not fit"):
        merge_lora(state, {"blocks.0.ffn.0.lora_A.weight": torch.zeros(2, 5),
                           "blocks.0.ffn.0.lora_B.weight": torch.zeros(32, 2)})
    with pytest.raises(CheckpointError, match="no LoRA pairs"):
        merge_lora(state, {"something": torch.zeros(1)})


def test_missing_unknown_and_misshapen_tensors_are_named(native):
    state, model = native
    config = model.config
    missing = {k: v for k, v in state.items() if k != "blocks.1.cross_attn.norm_k.weight"}
    with pytest.raises(CheckpointError, match="missing 1 tensor.*'blocks.1.cross_attn.norm_k.weight'"):
        build_causal_wan(config, missing, "ckpt")
    with pytest.raises(CheckpointError, match="'img_emb.proj.0.weight'"):
        build_causal_wan(config, {**state, "img_emb.proj.0.weight": torch.zeros(2)}, "ckpt")
    bad = {**state, "blocks.0.ffn.2.weight": torch.zeros(24, 31)}
    with pytest.raises(CheckpointError, match="'blocks.0.ffn.2.weight' has shape \\(24, 31\\).*\\(24, 32\\)"):
        build_causal_wan(config, bad, "ckpt")


def test_files_that_are_not_checkpoints(native, tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"definitely not a checkpoint" * 20)
    with pytest.raises(CheckpointError, match="junk.pt is not a torch checkpoint"):
        load_causal_wan_state(junk)
    with pytest.raises(CheckpointError, match="does not exist.*never downloads"):
        load_causal_wan_state(tmp_path / "nowhere.pt")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(CheckpointError, match="not a weights file"):
        load_causal_wan_state(tmp_path / "notes.txt")
    with pytest.raises(CheckpointError, match="not a Wan model directory"):
        load_causal_wan_state(tmp_path)


class _Opaque:  # a pickled object that weights_only loading refuses
    pass


def test_pickles_with_objects_need_trust_pickle(native, tmp_path):
    state, model = native
    path = tmp_path / "odd.pt"
    torch.save({"generator": dict(state), "extra": _Opaque()}, path)
    (tmp_path / "config.json").write_text(json.dumps(_native_config(model)))
    with pytest.raises(CheckpointError, match="trust_pickle=True \\(--trust-pickle"):
        load_causal_wan_state(path, base=tmp_path)
    config, loaded = load_causal_wan_state(path, base=tmp_path, trust_pickle=True)
    _same_outputs(build_causal_wan(config, loaded, str(path)), model)


def test_config_inferred_from_tensors_when_none_is_given():
    from longroll.models.causal_wan import CausalWanConfig

    cfg = CausalWanConfig(dim=256, ffn_dim=64, num_heads=2, num_layers=3, in_channels=16, out_channels=16,
                          text_dim=16, freq_dim=32)
    model = CausalWan(cfg)
    assert infer_config(model.state_dict(), "x") == cfg
    with pytest.raises(CheckpointError, match="does not look like a Wan transformer"):
        infer_config({"a": torch.zeros(1)}, "x")


def test_key_names_map_exactly_or_fail():
    assert diffusers_name_to_native("blocks.3.attn1.to_out.0.weight") == "blocks.3.self_attn.o.weight"
    assert diffusers_name_to_native("blocks.3.norm2.bias") == "blocks.3.norm3.bias"
    assert diffusers_name_to_native("scale_shift_table") == "head.modulation"
    assert diffusers_name_to_native("blocks.0.scale_shift_table") == "blocks.0.modulation"
    assert to_native({"model.blocks.0.self_attn.q.weight": 1}) == {"blocks.0.self_attn.q.weight": 1}
    with pytest.raises(ValueError, match="Unknown diffusers Wan parameter 'blocks.0.attn2.add_k_proj.weight'"):
        to_native({"condition_embedder.time_proj.weight": 1, "blocks.0.attn2.add_k_proj.weight": 2})
