"""FAR-Long on tiny random weights: the long short-term pattern of FAR's Fig. 3(b), its multi-level cache equal
to recomputing the whole context, its state dict names, actions through the command line, and what its cache
cannot take refused with the reason."""

import json

import pytest
import torch

from longroll.cache import CacheConfig
from longroll.models.far.config import FarConfig
from longroll.models.far.long import FarLong
from tests.models.far_fixtures import far_release_files

SHORT = 3  # short-term window of the tiny models (FAR's: 16)


def _long(seed=0, **kw) -> FarLong:
    torch.manual_seed(seed)
    cfg = dict(num_layers=2, num_heads=2, head_dim=16, axes_dims=(4, 6, 6), in_channels=4, out_channels=4,
               context_patch_size=4, short_window=SHORT, condition="action", num_classes=4)
    model = FarLong(FarConfig(**{**cfg, **kw})).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.1)
    return model


def _clip(f=7, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, f, 4, 8, 8, generator=g), torch.randint(0, 4, (1, f), generator=g)


def test_the_state_dict_has_far_longs_names_and_shapes():
    state = _long().state_dict()
    expected = {"context_embedder.weight": (32, 4 * 16), "context_proj_out.weight": (4 * 16, 32),
                "transformer_blocks.0.attn.add_q_proj.weight": (32, 32),
                "transformer_blocks.0.attn.norm_added_k.weight": (16,),
                "transformer_blocks.0.attn.to_add_out.weight": (32, 32),
                "action_embedder.embedding_table.weight": (5, 32)}
    for name, shape in expected.items():
        assert tuple(state[name].shape) == shape, name
    assert "transformer_blocks.1.attn.to_add_out.weight" not in state  # FAR's last block has none


def test_the_long_short_term_pattern_is_fars_fig_3b():
    """The newest ``short_window`` frames are full-resolution tokens, every earlier frame a few coarse ones;
    attention is frame-causal over both: a frame sees earlier frames (long-term through their coarse
    tokens) and itself, never a later frame."""
    model = _long()
    x, actions = _clip()
    t = torch.tensor([[-1.0] * 6 + [500.0]])
    seen = {}
    model.context_embedder.register_forward_hook(lambda m, i, o: seen.__setitem__("coarse", tuple(i[0].shape)))
    model.x_embedder.register_forward_hook(lambda m, i, o: seen.__setitem__("fine", tuple(i[0].shape)))
    with torch.no_grad():
        out = model(x, t, actions=actions)
    # 7 frames, window 3: 4 long-term frames of (8 / 4)^2 = 4 coarse tokens, 3 frames of 64 tokens.
    assert seen == {"coarse": (1, 16, 4 * 16), "fine": (1, 192, 4)}
    with torch.no_grad():
        later = x.clone()
        later[:, 5:] += 1.0
        changed = model(later, t, actions=actions)
        early = x.clone()
        early[:, 0] += 1.0  # a long-term frame: every frame after it sees its coarse tokens
        moved = model(early, t, actions=actions)
    torch.testing.assert_close(changed[:, :5], out[:, :5], rtol=0, atol=1e-6)
    assert (changed[:, 5:] - out[:, 5:]).abs().amax(dim=(0, 2, 3, 4)).min() > 1e-3
    assert (moved[:, 1:] - out[:, 1:]).abs().amax(dim=(0, 2, 3, 4)).min() > 1e-4
    # The coarse tokens sit at every 4th row and column of the fine grid (FAR's positions).
    coarse, fine = model._rotators(8, 8, None, 1.0)
    frames = torch.tensor([2])
    cos_c, _ = coarse.cos_sin(frames)
    cos_f, _ = fine.cos_sin(frames)
    torch.testing.assert_close(cos_c.view(2, 2, -1), cos_f.view(8, 8, -1)[::4, ::4])


@pytest.mark.parametrize("guided", [False, True])
def test_the_multilevel_cache_equals_recomputing_the_whole_context(guided):
    """Frame by frame through the multi-level cache (frames leaving the short-term window written to the coarse
    level once, the window computed again) == one uncached pass over every frame so far, at every frame."""
    model = _long()
    x, actions = _clip(f=8)
    batch = 2 if guided else 1
    x, actions = x.expand(batch, -1, -1, -1, -1), torch.cat([actions, torch.full_like(actions, 4)])[:batch]
    with torch.no_grad():
        cache = model.new_cache(CacheConfig(window=16, sink=0), batch, height=8, width=8)
        for s in range(8):
            t = torch.tensor([[-1.0] * s + [600.0]]).expand(batch, -1)
            whole = model(x[:, :s + 1], t, actions=actions[:, :s + 1])[:, -1:]
            cached = model(x[:, s:s + 1], t[:, -1:], start_frame=s, cache=cache, actions=actions[:, :s + 1])
            torch.testing.assert_close(cached, whole, rtol=1e-5, atol=2e-6)
            assert torch.equal(model(x[:, s:s + 1], torch.full((batch, 1), -1.0), start_frame=s, cache=cache,
                                     actions=actions[:, :s + 1]), torch.zeros_like(x[:, :1]))
            assert cache.coarse.held_frames() == list(range(max(0, s + 2 - SHORT)))
            assert cache.fine_frames == list(range(max(0, s + 2 - SHORT), s + 1))
    with pytest.raises(ValueError, match="makes frame 8 next; got frame 3"):
        model(x[:, 3:4], torch.full((batch, 1), 0.5), start_frame=3, cache=cache, actions=actions)
    with pytest.raises(ValueError, match="one frame per call; got 2"):
        model(x[:, :2], torch.full((batch, 2), 0.5), start_frame=8, cache=cache, actions=actions)


def test_the_coarse_level_stays_bounded_by_the_window():
    """Past the window the coarse level evicts as any cache does: the cache's size is flat over a long video."""
    model = _long(condition=None, num_classes=0)
    cache = model.new_cache(CacheConfig(window=6, sink=1), 1, height=8, width=8)
    sizes = []
    with torch.no_grad():
        for s in range(30):
            x = torch.randn(1, 1, 4, 8, 8)
            model(x, torch.full((1, 1), 0.3), start_frame=s, cache=cache)
            model(x, torch.full((1, 1), -1.0), start_frame=s, cache=cache)
            sizes.append(cache.nbytes)
    assert cache.coarse.held_frames() == [0, *range(s - 6, s - 1)]  # the sink and the newest long-term frames
    assert len(set(sizes[12:])) == 1  # flat once both levels are full


def test_a_far_long_release_runs_from_its_actions_and_refuses_what_its_cache_cannot_take(tmp_path):
    from longroll.cli import main
    from longroll.models.registry import load_model
    from longroll.pipelines.generate import generate

    checkpoint, dcae = far_release_files(tmp_path, "FAR_B_Long_DMLab_Action64-test.pth", stages=4,
                                         context_patch_size=4, condition="action", num_classes=4)
    actions = tmp_path / "walk.txt"
    actions.write_text(" ".join(str(i % 4) for i in range(30)))
    out = tmp_path / "walk.mp4"
    common = ["--model", "far", "--checkpoint", str(checkpoint), "--dcae", str(dcae), "--steps", "2", "--no-progress"]
    assert main(["generate", "--actions", str(actions), "--seconds", "2.5", "--out", str(out), *common]) == 0
    side = json.loads(out.with_name("walk.mp4.json").read_text())
    assert side["prompt_schedule"][0]["prompt"].startswith("actions: 0 1 2 3 0 1")
    assert side["frames"] == 25 and side["config"]["schedule"]["cfg"] == 1.5
    again = tmp_path / "again.mp4"
    assert main(["generate", "--replay", str(out.with_name("walk.mp4.json")), "--out", str(again),
                 "--no-progress"]) == 0
    assert json.loads(again.with_name("again.mp4.json").read_text())["frames_sha256"] == side["frames_sha256"]
    # Bad actions are refused before any frame is made, naming the frame, the value or the length.
    for text, seconds in (("0 1 7 2", "0.3"), (" ".join(["1"] * 10), "2")):
        actions.write_text(text)
        bad = tmp_path / "bad.mp4"
        assert main(["generate", "--actions", str(actions), "--seconds", seconds, "--out", str(bad), *common]) == 2
        assert not list(tmp_path.glob("bad*"))
    model = load_model("far", weights=str(checkpoint), dcae=str(dcae), device="cpu")
    with pytest.raises(ValueError, match=r"Action 7 of frame 2 is not in this model's action space .*\[0, 3\]"):
        model.encode_prompt("actions: 0 1 7")
    with pytest.raises(ValueError, match="video has 20 frames .* actions cover 3"):
        generate("actions: 0*3", seconds=2.0, model=model, progress=False)
    with pytest.raises(ValueError, match="give its actions with --actions FILE"):
        model.encode_prompt("a walk")
    with pytest.raises(ValueError, match="cannot take the fifo schedule: FAR-Long sees its long-term frames only"):
        generate("actions: 0*20", seconds=1.0, model=model, schedule="fifo", progress=False)
    with pytest.raises(ValueError, match="cannot take relative RoPE positions in the cache: its two levels keep"):
        generate("actions: 0*20", seconds=1.0, model=model, preset="infinity-rope", progress=False)
