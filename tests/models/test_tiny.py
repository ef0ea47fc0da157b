"""The built-in denoiser: causality, per-frame timesteps, cached == uncached, conditioning."""

import pytest
import torch

from longroll.cache import CacheConfig
from longroll.models.tiny.autoencoder import Autoencoder, frames_to_tensor, tensor_to_frames
from longroll.models.tiny.config import AutoencoderConfig, DiTConfig
from longroll.models.tiny.dit import CLEAN_T, encode_prompt
from longroll.rope import TemporalBias, scale_temporal_freqs
from longroll.world import parse_prompt

# Shapes of the conftest tiny_model.
CFG = DiTConfig(width=48, depth=2, heads=2, chunk_size=2, train_len=8, temporal_rope_dim=None)


def _inputs(frames=8, batch=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, frames, CFG.latent_channels, CFG.latent_size, CFG.latent_size, generator=g)
    t = torch.rand(batch, frames, generator=g)
    cond = torch.stack([encode_prompt(parse_prompt("a red circle and two blue squares on a navy background")),
                        encode_prompt(parse_prompt("a white triangle on a gray background"))])[:batch]
    return x, t, cond


def test_later_chunks_never_change_earlier_outputs(tiny_model):
    model = tiny_model.denoiser
    x, t, cond = _inputs()
    with torch.no_grad():
        base = model(x, t, cond)
        x2, t2 = x.clone(), t.clone()
        x2[:, 4:] += torch.randn_like(x2[:, 4:])
        t2[:, 6:] = 0.9
        moved = model(x2, t2, cond)
    assert torch.equal(base[:, :4], moved[:, :4])
    assert not torch.allclose(base[:, 4:], moved[:, 4:])


def test_frames_inside_a_chunk_see_each_other(tiny_model):
    model = tiny_model.denoiser
    x, t, cond = _inputs()
    with torch.no_grad():
        base = model(x, t, cond)
        x2 = x.clone()
        x2[:, 5] += 1.0  # second frame of chunk 2
        moved = model(x2, t, cond)
    assert not torch.allclose(base[:, 4], moved[:, 4])


def test_per_frame_timesteps_and_the_clean_marker_act_per_frame(tiny_model):
    model = tiny_model.denoiser
    x, t, cond = _inputs()
    with torch.no_grad():
        base = model(x, t, cond)
        t2 = t.clone()
        t2[:, 3] = CLEAN_T
        moved = model(x, t2, cond)
    assert torch.equal(base[:, :2], moved[:, :2])  # chunk 0 is before the changed frame
    assert not torch.allclose(base[:, 3], moved[:, 3])


def test_prompt_conditioning_changes_the_output(tiny_model):
    model = tiny_model.denoiser
    x, t, cond = _inputs()
    with torch.no_grad():
        a = model(x, t, cond)
        b = model(x, t, cond.flip(0))
    assert not torch.allclose(a, b)


@pytest.mark.parametrize("rotated", [True, False])
@pytest.mark.parametrize("bias", [None, TemporalBias("flexrope", 0.2), TemporalBias("recency", 0.3, level=0.7)])
def test_cached_chunk_forward_equals_the_uncached_causal_pass(tiny_model, rotated, bias):
    """Also for Recency Forcing's bias: uncached, each chunk's queries weigh the keys before their own chunk."""
    model = tiny_model.denoiser
    x, t, cond = _inputs(frames=8)
    rope = model.rope_freqs.with_temporal(
        scale_temporal_freqs(model.rope_freqs.temporal, "flex", train_len=4, target_len=8))
    with torch.no_grad():
        full = model(x, t, cond, rope=rope, bias=bias)
        cache = model.new_cache(CacheConfig(window=8, sink=0, rotated=rotated), batch_size=2)
        parts = []
        for s in range(0, 8, 2):
            parts.append(model(x[:, s:s + 2], t[:, s:s + 2], cond, cache=cache, start_frame=s, rope=rope, bias=bias))
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=2e-5, rtol=1e-4)


def test_repeated_chunk_forwards_overwrite_the_cache(tiny_model):
    """Few-step denoising runs the same chunk several times; only the last write stays."""
    model = tiny_model.denoiser
    x, t, cond = _inputs(frames=4)
    with torch.no_grad():
        cache = model.new_cache(CacheConfig(window=4, sink=0), batch_size=2)
        model(x[:, :2] * 5, t[:, :2], cond, cache=cache, start_frame=0)
        model(x[:, :2], t[:, :2], cond, cache=cache, start_frame=0)  # rewrite of the same chunk
        cached = model(x[:, 2:], t[:, 2:], cond, cache=cache, start_frame=2)
        full = model(x, t, cond)
    torch.testing.assert_close(cached, full[:, 2:], atol=2e-5, rtol=1e-4)


def test_model_config_validation():
    with pytest.raises(ValueError, match="train_len = 10 must be a multiple of chunk_size = 4"):
        DiTConfig(train_len=10, chunk_size=4)
    with pytest.raises(ValueError, match="head_dim"):
        DiTConfig(width=8, heads=4, temporal_rope_dim=None)
    with pytest.raises(ValueError, match="multiple of 4"):
        AutoencoderConfig(resolution=30)


def test_autoencoder_shapes_and_frame_conversion():
    ae = Autoencoder(AutoencoderConfig())
    frames = torch.randint(0, 256, (3, 32, 32, 3), dtype=torch.uint8)
    x = frames_to_tensor(frames)
    assert x.shape == (3, 3, 32, 32) and x.min() >= -1 and x.max() <= 1
    assert torch.equal(tensor_to_frames(x), frames)
    z = ae.encode(x)
    assert z.shape == (3, AutoencoderConfig().latent_channels, 8, 8)
    assert ae.decode(z).shape == (3, 3, 32, 32)


def test_the_built_in_model_has_wan21s_temporal_rope_and_self_forcings_horizon():
    from longroll.models.causal_wan.config import CausalWanConfig
    from longroll.models.causal_wan.model import CausalWan
    from longroll.models.tiny.dit import TinyDiT

    with torch.device("meta"):
        wan = CausalWan(CausalWanConfig())  # Wan2.1-T2V-1.3B's shapes, no memory
    cfg = DiTConfig()
    tiny = TinyDiT(cfg)
    assert tiny.rope_freqs.temporal.numel() == 22
    assert torch.equal(tiny.rope_freqs.temporal, wan.rope_freqs.temporal)
    assert (cfg.train_len, cfg.chunk_size) == (21, 3)
    assert cfg.head_dim == 2 * (tiny.rope_freqs.temporal.numel() + tiny.rope_freqs.height.numel()
                                + tiny.rope_freqs.width.numel())


def test_temporal_rope_dim_is_validated():
    with pytest.raises(ValueError, match="cannot hold 44 temporal RoPE dims"):
        DiTConfig(width=92, heads=2)  # head 46: 2 dims left for two spatial axes
    with pytest.raises(ValueError, match="modulation must be one of"):
        DiTConfig(modulation="film")


def test_no_jump_is_the_instantaneous_velocity_and_a_jump_changes_it(tiny_model):
    model = tiny_model.denoiser
    x, t, cond = _inputs()
    with torch.no_grad():
        base = model(x, t, cond)
        zero = model(x, t, cond, jump=torch.zeros_like(t))
        jumped = model(x, t, cond, jump=t)
    assert torch.equal(base, zero)
    assert not torch.allclose(base, jumped)


def test_damaged_weights_and_configs_are_one_clear_sentence(tiny_model, tmp_path):
    import json

    from longroll.models.tiny.weights import load_tiny, save_tiny

    path = save_tiny(tiny_model.autoencoder, tiny_model.denoiser, tmp_path)
    assert load_tiny(path).weights_sha256 == json.loads(path.with_suffix(".json").read_text())["sha256"]
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF  # a flipped byte inside the tensors: the file still parses
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="damaged or were replaced"):
        load_tiny(path)
    path.write_bytes(bytes(data[:50]))  # truncated
    meta = json.loads(path.with_suffix(".json").read_text())
    meta.pop("sha256")
    path.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="truncated or not a safetensors file"):
        load_tiny(path)
    path.with_suffix(".json").write_text("{\n")
    with pytest.raises(ValueError, match="tiny.json' is not a valid built-in model config"):
        load_tiny(path)


def _cross_model(seed=0):
    from longroll.models.tiny.dit import TinyDiT

    model = TinyDiT(DiTConfig(width=48, depth=2, heads=2, chunk_size=2, train_len=8, temporal_rope_dim=None,
                              cross_attention=True))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return model.eval()


def test_cross_attention_reads_the_prompt_as_a_set_of_objects():
    """Each object is its own token: the order of the objects in the prompt does not matter, which
    object has which colour does, and padding slots are not attended."""
    model = _cross_model()
    x, t, _ = _inputs(batch=1)
    def ids(text):
        return encode_prompt(parse_prompt(text))[None]

    with torch.no_grad():
        a = model(x, t, ids("a red circle and a blue square on a navy background"))
        b = model(x, t, ids("a blue square and a red circle on a navy background"))
        swapped = model(x, t, ids("a blue circle and a red square on a navy background"))
        tokens, mask = model.prompt_tokens(ids("a red circle on a navy background"))
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    assert (a - swapped).abs().max() > 1e-3
    assert tokens.shape == (1, 4, 48) and mask.tolist() == [[True, False, False, True]]


def test_cached_chunk_forward_equals_the_uncached_pass_with_cross_attention():
    model = _cross_model()
    x, t, cond = _inputs(frames=8)
    with torch.no_grad():
        full = model(x, t, cond)
        cache = model.new_cache(CacheConfig(window=8, sink=0), batch_size=2)
        parts = [model(x[:, s:s + 2], t[:, s:s + 2], cond, cache=cache, start_frame=s) for s in range(0, 8, 2)]
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=2e-5, rtol=1e-4)


def test_a_model_given_cross_attention_starts_as_the_model_without_it(tiny_model):
    """Zero-initialised outputs: the warm start of a second training stage begins from the same function."""
    import dataclasses

    from longroll.models.tiny.dit import TinyDiT

    base = tiny_model.denoiser
    grown = TinyDiT(dataclasses.replace(base.config, cross_attention=True))
    missing, unexpected = grown.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and missing and all("cross" in k or "text_mlp" in k or "norm3" in k or k == "null_token"
                                              for k in missing)
    x, t, cond = _inputs()
    with torch.no_grad():
        torch.testing.assert_close(grown(x, t, cond), base(x, t, cond), atol=0, rtol=0)


def test_prompt_ids_decode_back_to_the_prompt():
    import numpy as np

    from longroll.models.tiny.dit import decode_prompt, encode_prompt
    from longroll.world import random_prompt

    rng = np.random.default_rng(7)
    for _ in range(50):
        p = random_prompt(rng)
        assert decode_prompt(encode_prompt(p)) == p
