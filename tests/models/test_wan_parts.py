"""Wan parts around the transformer: streaming VAE decode, UMT5 prompts, the causal-wan VideoModel
end to end (generate, sidecar, replay, command line) on tiny random parts."""

import json

import numpy as np
import pytest
import torch

pytest.importorskip("diffusers")
pytest.importorskip("transformers")


def test_streaming_decode_equals_whole_video_decode():
    from wan_fixtures import tiny_vae

    from longroll.models.wan.vae import StreamingWanDecoder

    vae = tiny_vae()
    g = torch.Generator().manual_seed(0)
    z = torch.randn(1, 16, 7, 4, 4, generator=g)  # normalised latents, 7 latent frames
    stream = StreamingWanDecoder(vae)
    with torch.no_grad():
        raw = z * stream.std + stream.mean
        whole = vae.decode(raw).sample  # (1, 3, 25, 32, 32)
        parts = [stream.decode(z[:, :, :3]), stream.decode(z[:, :, 3:6]), stream.decode(z[:, :, 6:])]
    assert [p.shape[2] for p in parts] == [9, 12, 4] and whole.shape[2] == 1 + 4 * 6 == stream.frames_out
    torch.testing.assert_close(torch.cat(parts, dim=2), whole, rtol=1e-5, atol=1e-5)
    # A decoder restarted at the chunk boundary (a cache-clearing chunked decode) changes the frame count.
    with torch.no_grad():
        assert StreamingWanDecoder(vae).decode(z[:, :, 3:6]).shape[2] == 9
    frames = StreamingWanDecoder(vae)(z[:, :, :3].transpose(1, 2))
    assert frames.dtype == np.uint8 and frames.shape == (9, 32, 32, 3)


def test_wan_frame_encoder_and_a_primed_decoder_continue_the_same_causal_state():
    from wan_fixtures import tiny_vae

    from longroll.models.wan.vae import StreamingWanDecoder, WanFrameEncoder

    vae = tiny_vae()
    frames = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    z = WanFrameEncoder(vae)(frames)
    assert z.shape == (1, 2, 16, 4, 4)  # 1 + 4k frames -> 1 + k latents
    with pytest.raises(ValueError, match="1 \\+ 4k frames"):
        WanFrameEncoder(vae)(frames[:4])
    g = torch.Generator().manual_seed(1)
    new = torch.randn(1, 3, 16, 4, 4, generator=g)
    primed = StreamingWanDecoder(vae)
    primed.prime(z)
    continued = primed(new)
    whole = StreamingWanDecoder(vae)(torch.cat([z, new], dim=1))
    assert continued.shape == (12, 32, 32, 3) and whole.shape == (5 + 12, 32, 32, 3)
    assert np.array_equal(continued, whole[5:])


def test_umt5_prompts_are_padded_with_zeros(wan_base_dir):
    from longroll.models.wan.text import UMT5TextEncoder

    enc = UMT5TextEncoder.from_directory(wan_base_dir, max_length=12)
    out = enc("a red cat runs")
    assert out.shape == (1, 12, 16) and enc.text_dim == 16
    assert out[0, :5].abs().sum(dim=-1).gt(0).all()  # 4 words + </s>
    assert out[0, 5:].abs().sum() == 0
    assert not torch.allclose(out, enc("a blue dog runs"))
    with pytest.raises(ValueError, match="non-empty string"):
        enc("  ")
    with pytest.raises(ValueError, match="text_encoder/config.json"):
        UMT5TextEncoder.from_directory(wan_base_dir / "vae")


def test_an_offloaded_text_encoder_visits_the_device_only_to_encode(wan_base_dir, monkeypatch):
    from longroll.models.wan.text import UMT5TextEncoder

    resident = UMT5TextEncoder.from_directory(wan_base_dir, max_length=12)
    assert resident.offload is False  # on the CPU the weights stay where they compute
    enc = UMT5TextEncoder.from_directory(wan_base_dir, max_length=12, offload=True)
    host = {name: t.data_ptr() for name, t in enc._tensors()}
    moves = []
    real_to = type(enc.encoder).to

    def to(module, *args, **kwargs):
        moves.append(str(args[0]) if args else str(kwargs.get("device")))
        return real_to(module, *args, **kwargs)

    monkeypatch.setattr(type(enc.encoder), "to", to)
    out = enc("a red cat runs")
    assert moves == ["cpu"]  # the visit to the encoding device; the way home copies nothing
    assert {name: t.data_ptr() for name, t in enc._tensors()} == host  # back on the host copies kept at load
    assert torch.equal(out, resident("a red cat runs"))


def _load(wan_base_dir, **kw):
    from longroll.models.registry import load_model

    return load_model("causal-wan", weights=str(wan_base_dir), base=str(wan_base_dir), height=32, width=32,
                      device="cpu", **kw)


@pytest.mark.slow
def test_causal_wan_generates_a_video_with_sidecar_and_replays_it(wan_base_dir, tmp_path):
    from longroll.io.video import read_video
    from longroll.pipelines.generate import generate, replay, sidecar_path

    vm = _load(wan_base_dir)
    assert vm.latent_frames(2.0) == 1 + 8 and vm.fps == 16.0  # 32 frames need 1 + ceil(31 / 4) latents
    out = generate("a red cat runs on the beach", seconds=2.0, seed=3, out=tmp_path / "v.mp4", model=vm,
                   upscale=1, steps=2)
    fps, frames = read_video(out)
    frames = np.stack(list(frames))
    assert frames.shape == (32, 32, 32, 3) and fps == 16
    meta = json.loads(sidecar_path(out).read_text())
    assert meta["model"] == "causal-wan" and meta["model_options"]["flavour"] == "self-forcing"
    assert meta["config"]["schedule"]["sampler"] == "renoise" and meta["config"]["noise"]["rho"] == -1.0
    again = replay(sidecar_path(out), model=vm)
    direct = generate("a red cat runs on the beach", seconds=2.0, seed=3, model=vm, upscale=1, steps=2)
    assert np.array_equal(again, direct)


@pytest.mark.slow
def test_causal_wan_continues_from_an_init_clip(wan_base_dir, tmp_path):
    from longroll.io.init_frames import read_init
    from longroll.io.video import VideoWriter
    from longroll.pipelines.generate import generate

    vm = _load(wan_base_dir)
    clip = tmp_path / "clip.mp4"
    with VideoWriter(clip, 16.0) as w:
        w.write(np.random.default_rng(0).integers(0, 256, (7, 32, 32, 3), dtype=np.uint8))
    assert vm.latent_frames(1.0, continuing=True) == 4 and vm.latent_frames(1.0) == 1 + 4
    frames = generate("a red cat runs on the beach", seconds=1.0, seed=3, model=vm, init=str(clip), steps=1,
                      progress=False)
    init = read_init(clip, size=(32, 32), fps=16.0)[2:]  # the last 1 + 4k = 5 of 7 frames
    assert frames.shape == (5 + 16, 32, 32, 3) and np.array_equal(frames[:5], init)


def test_compile_is_a_loading_option_of_causal_wan_only_and_is_recorded(wan_base_dir, tmp_path):
    """``--compile`` reaches the loader, which compiles every block (compiled lazily, at the first
    forward) and records it for the sidecar; the built-in model refuses it by name."""
    from longroll.cli import build_parser, main
    from longroll.cli.generate import model_options

    args = build_parser().parse_args(["generate", "x", "--model", "causal-wan", "--compile", "--checkpoint",
                                      str(wan_base_dir), "--out", "x.mp4"])
    assert model_options(args)["compile"] is True
    vm = _load(wan_base_dir, compile=True)
    blocks = vm.denoiser.model.blocks
    assert all(b._compiled_call_impl is not None for b in blocks) and vm.load_options["compile"] is True
    assert "compile" not in _load(wan_base_dir).load_options  # uncompiled sidecars stay as they were
    assert main(["generate", "a red circle on a black background", "--compile",
                 "--out", str(tmp_path / "y.mp4")]) == 2  # tiny: "takes no option compile"
    assert not any(tmp_path.iterdir())


def test_causal_wan_load_errors_come_before_any_weights(wan_base_dir, tmp_path):
    from longroll.cli import main
    from longroll.models.registry import load_model

    with pytest.raises(ValueError, match="needs a checkpoint"):
        load_model("causal-wan")
    with pytest.raises(ValueError, match="lora .* does not exist"):
        _load(wan_base_dir, lora=str(tmp_path / "missing.pt"))
    with pytest.raises(ValueError, match="No text encoder and VAE found"):
        load_model("causal-wan", weights=str(wan_base_dir / "transformer"), device="cpu")
    with pytest.raises(ValueError, match="flavour must be one of"):
        _load(wan_base_dir, flavour="wan2.2")
    assert main(["generate", "a cat", "--model", "causal-wan", "--out", str(tmp_path / "x.mp4")]) == 2
    assert main(["generate", "a red circle on a black background", "--lora", "x.pt",
                 "--out", str(tmp_path / "y.mp4")]) == 2
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_cli_generates_with_causal_wan(wan_base_dir, tmp_path, capsys):
    from longroll.cli import main

    out = tmp_path / "cli.gif"
    assert main(["generate", "a dog in snow", "--model", "causal-wan", "--checkpoint", str(wan_base_dir),
                 "--base", str(wan_base_dir), "--height", "32", "--width", "32", "--seconds", "1",
                 "--steps", "1", "--upscale", "1", "--no-progress", "--device", "cpu", "--out", str(out)]) == 0
    assert out.exists() and (tmp_path / "cli.gif.json").exists()


@pytest.mark.slow
def test_batch_with_causal_wan_and_eval_of_free_text_prompts(wan_base_dir, tmp_path, capsys):
    """Batch generation passes every loading option through; eval skips world metrics for free text."""
    import json

    from longroll.batch.manifest import Manifest
    from longroll.cli import main

    prompts = tmp_path / "p.txt"
    prompts.write_text("a dog in snow\na cat/with a slash\n")
    args = ["batch", str(prompts), "--seeds", "1", "--model", "causal-wan", "--checkpoint", str(wan_base_dir),
            "--base", str(wan_base_dir), "--height", "32", "--width", "32", "--seconds", "1", "--steps", "1",
            "--upscale", "1", "--no-progress", "--device", "cpu", "--out", str(tmp_path / "out")]
    assert main(args) == 0
    records = Manifest(tmp_path / "out").records()
    assert [r["name_scheme"] for r in records] == ["vbench", "hashed"]
    batch = json.loads((tmp_path / "out" / "batch.json").read_text())["settings"]
    assert batch["model"] == "causal-wan" and batch["model_options"]["height"] == 32
    meta = json.loads((tmp_path / "out" / (records[0]["path"] + ".json")).read_text())
    assert meta["model_options"]["base"] == str(wan_base_dir)
    assert main(args) == 0 and "0 done, 2 skipped" in capsys.readouterr().out
    assert main(["eval", str(tmp_path / "out"), "--segment", "0.25s", "--no-progress"]) == 0
    result = json.loads(next((tmp_path / "out" / "eval").glob("a dog in snow-0.json")).read_text())
    assert result["prompt"] is None and result["video_prompt"] == "a dog in snow"
    assert "object_presence" not in result["metrics"]


@pytest.mark.slow
def test_bidirectional_wan_joins_the_registry_for_the_diagonal_schedules(wan_base_dir, tmp_path):
    """``--model wan``: Wan2.1 through diffusers from one local directory; FIFO / MIGA run, the
    chunk-wise rollout is refused with the reason, before any file."""
    from longroll.cli import main
    from longroll.models.registry import load_model
    from longroll.pipelines.generate import generate, replay, sidecar_path

    vm = load_model("wan", weights=str(wan_base_dir), height=32, width=32, device="cpu")
    assert vm.defaults.chunk_size is None and vm.fps == 16.0
    opts = dict(window=4, partitions=1)
    out = generate("a red cat runs on the beach", seconds=1.0, seed=2, model=vm, out=tmp_path / "v.mp4", upscale=1,
                   schedule="fifo", schedule_options=opts)
    meta = json.loads(sidecar_path(out).read_text())
    assert meta["model"] == "wan" and meta["schedule"] == "fifo" and meta["frames"] == 16
    assert np.array_equal(replay(sidecar_path(out), model=vm),
                          generate("a red cat runs on the beach", seconds=1.0, seed=2, model=vm, upscale=1,
                                   schedule="fifo", schedule_options=opts))
    with pytest.raises(ValueError, match="bidirectional"):
        generate("a red cat", seconds=1.0, model=vm, out=tmp_path / "c.mp4")
    assert main(["generate", "a cat", "--model", "wan", "--weights", str(wan_base_dir), "--lora", "x.pt",
                 "--out", str(tmp_path / "x.mp4")]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4", "v.mp4.json"]


def test_the_loaders_refuse_paths_that_do_not_exist_before_any_work(tmp_path):
    """Local paths only: a missing checkpoint or base is named, and nothing is downloaded."""
    from longroll.models.causal_wan.loader import load_causal_wan
    from longroll.models.wan.loader import load_wan

    with pytest.raises(ValueError, match=r"checkpoint .*missing.pt does not exist \(longroll never downloads"):
        load_causal_wan(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match=r"path .*nowhere does not exist \(longroll never downloads"):
        load_wan(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No text encoder and VAE in"):
        load_wan(tmp_path / "empty")
