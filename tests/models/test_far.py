"""FAR's transformer on tiny random weights: its key layout, frame causality, cached == uncached,
conditioning, and configurations refused with the allowed values."""

import pytest
import torch

from longroll.cache import CacheConfig
from longroll.models.far.checkpoints import build_far
from longroll.models.far.config import ZOO, FarConfig
from longroll.models.far.model import timestep_features

TINY = dict(num_layers=2, num_heads=2, head_dim=16, axes_dims=(4, 6, 6), in_channels=4, out_channels=4)


def _model(seed=0, **kw):
    torch.manual_seed(seed)
    model = build_far(FarConfig(**{**TINY, **kw})).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.1)  # FAR zero-initialises its adaLN and head: random weights exercise every path
    return model


def _inputs(f=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, f, 4, 4, 6, generator=g)
    t = torch.tensor([[-1.0] * (f - 2) + [300.0, 700.0]])  # clean context frames at -1, then noisy ones
    return x, t


def test_the_state_dict_has_fars_names_and_shapes():
    """FAR's released files load by name: the module names are FAR's (diffusers' Attention, FeedForward,
    LabelEmbedding with its extra row for the dropped label)."""
    state = _model(condition="label", num_classes=101).state_dict()
    block = "transformer_blocks.1."
    expected = {"x_embedder.weight": (32, 4), "timestep_embedder.linear_1.weight": (32, 256),
                "timestep_embedder.linear_2.weight": (32, 32), "label_embedder.embedding_table.weight": (102, 32),
                block + "norm1.linear.weight": (96, 32), block + "attn.to_q.weight": (32, 32),
                block + "attn.norm_q.weight": (16,), block + "attn.norm_k.weight": (16,),
                block + "attn.to_out.0.weight": (32, 32), block + "norm2.linear.bias": (96,),
                block + "mlp.net.0.proj.weight": (128, 32), block + "mlp.net.2.weight": (32, 128),
                "norm_out.linear.weight": (64, 32), "proj_out.weight": (4, 32)}
    for name, shape in expected.items():
        assert tuple(state[name].shape) == shape, name
    assert not any("action" in k for k in state)
    assert "action_embedder.embedding_table.weight" in _model(condition="action", num_classes=4).state_dict()


def test_a_frame_sees_only_itself_and_earlier_frames():
    model = _model()
    x, t = _inputs()
    with torch.no_grad():
        out = model(x, t)
        later = x.clone()
        later[:, 3:] += 1.0
        changed = model(later, t)
    torch.testing.assert_close(changed[:, :3], out[:, :3], rtol=0, atol=1e-6)
    assert (changed[:, 3:] - out[:, 3:]).abs().max() > 1e-2


@pytest.mark.parametrize("condition", [None, "action"])
def test_frame_by_frame_with_the_cache_equals_the_uncached_pass(condition):
    """FAR's inference: each frame attends to the cached frames before it; written one frame at a time
    into a window that holds them all, the same as one frame-causal pass over every frame."""
    model = _model(condition=condition, num_classes=4 if condition else 0)
    x, t = _inputs(f=6)
    actions = torch.tensor([[1, 0, 3, 2, 2, 1]]) if condition else None
    with torch.no_grad():
        whole = model(x, t, actions=actions)
        cache = model.new_cache(CacheConfig(window=6, sink=0), 1, height=4, width=6)
        frames = [model(x[:, i:i + 1], t[:, i:i + 1], start_frame=i, cache=cache,
                        actions=None if actions is None else actions[:, i:i + 1]) for i in range(6)]
    torch.testing.assert_close(torch.cat(frames, dim=1), whole, rtol=1e-5, atol=1e-5)


def test_labels_and_actions_change_the_output_and_wrong_shapes_are_refused():
    x, t = _inputs()
    labelled = _model(condition="label", num_classes=5)
    with torch.no_grad():
        a = labelled(x, t, labels=torch.tensor([1]))
        b = labelled(x, t, labels=torch.tensor([4]))
    assert (a - b).abs().max() > 1e-3
    with pytest.raises(ValueError, match="class-conditioned: give labels of shape"):
        labelled(x, t)
    acting = _model(condition="action", num_classes=4)
    with pytest.raises(ValueError, match=r"one action per frame, shape \(1, 5\)"):
        acting(x, t, actions=torch.tensor([[1, 2]]))
    with pytest.raises(ValueError, match="one timestep per frame"):
        acting(x, t[:, :2], actions=torch.zeros(1, 5, dtype=torch.long))


def test_timestep_features_are_diffusers_timesteps_with_cos_first():
    """``Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=1)``: w_i = 10000^(-i / (half - 1))."""
    t = torch.tensor([0.0, -1.0, 500.0])
    feats = timestep_features(t, 8)
    w = 10000.0 ** (-torch.arange(4) / 3)
    torch.testing.assert_close(feats, torch.cat([torch.cos(t[:, None] * w), torch.sin(t[:, None] * w)], dim=1))


def test_configurations_name_the_bad_value():
    with pytest.raises(ValueError, match=r"axes_dims = \(4, 6, 8\) must be three even dims summing to head_dim = 16"):
        FarConfig(**{**TINY, "axes_dims": (4, 6, 8)})
    with pytest.raises(ValueError, match="condition must be one of"):
        FarConfig(condition="text")
    with pytest.raises(ValueError, match="num_classes"):
        FarConfig(condition="label", num_classes=0)
    assert ZOO["FAR_XL"].dim == 1152 and ZOO["FAR_B"].dim == 768 and ZOO["FAR_L"].num_layers == 24


def _reference_rollout(model, frames: int, steps: int, *, labels=None, scale: float = 1.0, seed: int = 0):
    """FAR's ``generate`` written out plainly: frame by frame, every finished frame as context at
    timestep -1 (no cache: the whole prefix each time), Euler steps over FAR's timesteps, guidance
    against the dropped label."""
    from longroll.models.far.denoiser import far_schedule

    levels = far_schedule(steps).levels().tolist()
    g = torch.Generator().manual_seed(seed)
    done = []
    for k in range(frames):
        x = torch.randn(1, 1, 4, 4, 6, generator=g)
        for level, nxt in zip(levels[:-1], levels[1:]):
            clip = torch.cat([*done, x], dim=1)
            t = torch.tensor([[-1.0] * k + [level * 1000.0]])
            v = model(clip, t, labels=labels)[:, -1:]
            if scale != 1.0:
                null = torch.full_like(labels, model.config.num_classes)
                v_null = model(clip, t, labels=null)[:, -1:]
                v = v_null + scale * (v - v_null)
            x = x + (nxt - level) * v
        done.append(x)
    return torch.cat(done, dim=1)


@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_the_chunk_rollout_reproduces_fars_own_sampling(scale):
    """longroll's chunk rollout on ``FarDenoiser`` (chunks of one frame, FAR's timesteps, a clean-context
    pass at -1, the window's cache; guidance through ``GuidedDenoiser``) makes FAR's frames."""
    from longroll.models.far.denoiser import FarDenoiser, far_defaults
    from longroll.pipelines.guidance import with_guidance
    from longroll.pipelines.presets import resolve_preset
    from longroll.pipelines.rollout import rollout

    model = _model(condition="label", num_classes=5)
    den = FarDenoiser(model, far_defaults(8, steps=3), (4, 6))
    labels = torch.tensor([2])
    config = resolve_preset("none", den)
    with torch.no_grad():
        guided = with_guidance(den, scale)
        ours = torch.cat([c.latents for c in rollout(guided, labels, num_frames=5, config=config,
                                                     generator=torch.Generator().manual_seed(0))], dim=1)
        theirs = _reference_rollout(model, 5, 3, labels=labels, scale=scale)
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)


def test_actions_are_taken_per_frame_and_must_cover_the_video():
    from longroll.models.far.denoiser import FarDenoiser, far_defaults

    model = _model(condition="action", num_classes=4)
    den = FarDenoiser(model, far_defaults(8, steps=2), (4, 6))
    x, t = _inputs(f=2)
    actions = torch.tensor([[0, 1, 2, 3, 1]])
    with torch.no_grad():
        torch.testing.assert_close(den(x, t / 1000, actions, start_frame=3),
                                   model(x, t, actions=actions[:, 3:5], start_frame=3))
    with pytest.raises(ValueError, match=r"Frames \[4, 6\) need their actions; the video's actions cover 5 frames"):
        den(x, t / 1000, actions, start_frame=4)
    assert torch.equal(den.null_condition(actions), torch.full_like(actions, 4))


@pytest.mark.parametrize("long", [False, True])
@pytest.mark.parametrize("suffix,wrap", [(".pth", None), (".safetensors", None), (".pth", "state_dict")])
def test_a_checkpoint_loads_with_its_architecture_read_from_the_tensors(tmp_path, suffix, wrap, long):
    """Every layout FAR's weights come in: its plain ``.pth`` state dict, safetensors, a wrapped dict; short
    models and FAR-Long (its coarse patch size read from ``context_embedder``)."""
    from safetensors.torch import save_file

    from longroll.models.far.checkpoints import load_far

    model = _model(condition="action", num_classes=4, head_dim=64, axes_dims=(16, 24, 24), num_heads=1,
                   **({"context_patch_size": 2} if long else {}))
    state = model.state_dict()
    path = tmp_path / f"FAR_test{suffix}"
    if suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state if wrap is None else {wrap: state, "step": 7}, path)
    loaded = load_far(path)
    assert loaded.config == model.config
    x, t = _inputs()
    actions = torch.tensor([[0, 1, 2, 3, 0]])
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, t, actions=actions), model(x, t, actions=actions))


def test_bad_checkpoints_are_refused_naming_what_is_wrong(tmp_path):
    from longroll.models.far.checkpoints import load_far
    from longroll.models.files import CheckpointError

    state = _model().state_dict()
    torch.save({**state, "context_embedder.weight": torch.zeros(32, 64)}, tmp_path / "long.pth")
    with pytest.raises(CheckpointError, match=r"missing .* tensor\(s\), e.g. 'context_embedder.bias'"):
        load_far(tmp_path / "long.pth")  # read as FAR-Long (coarse patches of 4) without its other tensors
    torch.save({k: v for k, v in state.items() if k != "proj_out.bias"}, tmp_path / "cut.pth")
    with pytest.raises(CheckpointError, match=r"missing 1 tensor\(s\), e.g. 'proj_out.bias'"):
        load_far(tmp_path / "cut.pth")
    torch.save({"optimizer": {}}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="holds no FAR transformer"):
        load_far(tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="never downloads"):
        load_far(tmp_path / "missing.pth")


def _tiny_dcae_options():
    blocks = ["ResBlock", "EfficientViTBlock"]
    return dict(in_channels=3, latent_channels=32, attention_head_dim=16, encoder_block_types=blocks,
                decoder_block_types=blocks, encoder_block_out_channels=[16, 32],
                decoder_block_out_channels=[16, 32], encoder_layers_per_block=[0, 1], decoder_layers_per_block=[0, 1],
                encoder_qkv_multiscales=[[], []], decoder_qkv_multiscales=[[], []],
                upsample_block_type="pixel_shuffle", downsample_block_type="pixel_unshuffle",
                decoder_norm_types=["batch_norm", "rms_norm"], decoder_act_fns=["relu", "silu"], scaling_factor=0.2889)


def test_the_dcae_codec_loads_a_state_dict_and_maps_frames_to_scaled_latents(tmp_path):
    pytest.importorskip("diffusers")
    import numpy as np
    from diffusers import AutoencoderDC

    from longroll.models.far.dcae import FarCodec, dcae_options, factor_for, load_far_dcae
    from longroll.models.files import CheckpointError

    torch.manual_seed(0)
    options = _tiny_dcae_options()
    reference = AutoencoderDC(**options).eval()
    torch.save(reference.state_dict(), tmp_path / "DCAE_test.pth")
    codec = FarCodec(load_far_dcae(tmp_path / "DCAE_test.pth", 16, options=options))
    frames = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    latents = codec.encode(frames)
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        torch.testing.assert_close(latents[0], reference.encode(x).latent * 0.2889)
    out = codec.decode(latents)
    assert latents.shape == (1, 3, 32, 8, 8) and out.shape == (3, 16, 16, 3) and out.dtype == np.uint8
    # FAR's three codecs: one stage per halving plus the first, the scale of all three.
    assert [len(dcae_options(f)["encoder_block_out_channels"]) for f in (8, 16, 32)] == [4, 5, 6]
    assert factor_for(64) == 8 and factor_for(256) == 32
    with pytest.raises(ValueError, match="frames of 64, 128, 256 pixels; got 96"):
        factor_for(96)
    torch.save({"encoder.conv_in.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="missing .* tensor"):
        load_far_dcae(tmp_path / "bad.pth", 16, options=options)
