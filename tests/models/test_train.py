"""The training recipe on a toy size: every stage runs, resumes, and exports loadable weights."""

import json

import numpy as np
import pytest
import torch

from longroll.models.tiny.config import DiTConfig
from longroll.models.tiny.dit import CLEAN_T
from longroll.models.tiny.train import TrainConfig, export_checkpoint, sample_timesteps, train
from longroll.models.tiny.weights import load_tiny


def _cfg(steps):
    return TrainConfig(clips=6, ae_steps=2, ae_batch=4, steps=steps, batch=2, checkpoint_every=1, bf16=False,
                       dit=DiTConfig(width=32, depth=1, heads=2, chunk_size=2, train_len=4,
                                                   temporal_rope_dim=None))


def test_training_resumes_and_exports(tmp_path):
    out = tmp_path / "run"
    train(_cfg(2), out)
    hist = torch.load(out / "dit_ckpt.pt", weights_only=False)["history"]
    assert [h[0] for h in hist] == [1, 2]
    train(_cfg(3), out, tmp_path / "w")  # resumes at step 2, does one more, exports
    hist = torch.load(out / "dit_ckpt.pt", weights_only=False)["history"]
    assert [h[0] for h in hist] == [1, 2, 3]
    model = load_tiny(tmp_path / "w" / "tiny.safetensors")
    assert model.denoiser.config.train_len == 4
    meta = json.loads((tmp_path / "w" / "tiny.json").read_text())
    assert meta["train"]["steps"] == 3
    assert "inference" not in meta and model.defaults.schedule.first_timesteps is None  # no sampler chosen
    again = load_tiny(export_checkpoint(out, tmp_path / "w2"))
    for a, b in zip(again.denoiser.state_dict().values(), model.denoiser.state_dict().values()):
        assert torch.equal(a, b)


def test_the_exported_weights_carry_the_chosen_sampler(tmp_path):
    from dataclasses import replace

    sampler = {"schedule": {"timesteps": [1000, 500], "shift": 3.0, "sampler": "renoise",
                            "first_timesteps": [1000, 750, 500, 250], "cfg": 2.0}}
    cfg = replace(_cfg(1), inference=sampler, prompt_dropout=0.5)
    train(cfg, tmp_path / "run", tmp_path / "w")
    for weights in (tmp_path / "w", export_checkpoint(tmp_path / "run", tmp_path / "w2").parent):
        schedule = load_tiny(weights / "tiny.safetensors").defaults.schedule
        assert schedule.timesteps == (1000.0, 500.0) and schedule.first_timesteps == (1000.0, 750.0, 500.0, 250.0)
        assert (schedule.shift, schedule.cfg, schedule.sampler) == (3.0, 2.0, "renoise")
    with pytest.raises(ValueError, match="inference = .*first_timesteps"):
        replace(_cfg(1), inference={"schedule": {"first_timesteps": [500, 1000]}})
    with pytest.raises(ValueError, match="inference = .*Unknown inference setting"):
        replace(_cfg(1), inference={"windows": 3})


def test_a_paused_run_resumes_as_if_it_had_not_stopped(tmp_path):
    train(_cfg(3), tmp_path / "paused", until=2)
    ckpt = torch.load(tmp_path / "paused" / "dit_ckpt.pt", weights_only=False)
    assert ckpt["step"] == 2
    train(_cfg(3), tmp_path / "paused")
    train(_cfg(3), tmp_path / "straight")
    a = torch.load(tmp_path / "paused" / "dit_ckpt.pt", weights_only=False)
    b = torch.load(tmp_path / "straight" / "dit_ckpt.pt", weights_only=False)
    assert a["step"] == b["step"] == 3
    assert all(torch.equal(a["ema"][k], b["ema"][k]) for k in b["ema"])
    with pytest.raises(ValueError, match="until"):
        train(_cfg(3), tmp_path / "x", until=4)


def test_timestep_sampling_has_clean_chunks_and_shared_levels():
    cfg = TrainConfig(clean_p=0.5, chunk_level_p=1.0)
    t = sample_timesteps(cfg, 4000, torch.Generator().manual_seed(0))  # (B, F)
    clean = (t == CLEAN_T)
    assert abs(float(clean.float().mean()) - 0.5) < 0.03
    chunks = t.reshape(4000, -1, cfg.dit.chunk_size)
    assert torch.all(chunks == chunks[..., :1])  # one level per chunk
    noisy = t[t >= 0]
    assert 0 < float(noisy.min()) and float(noisy.max()) < 1
    assert np.isclose(float(noisy.median()), 0.5, atol=0.03)  # logit-normal around 0.5


def test_train_shift_warps_the_levels_towards_noise():
    """s t / (1 + (s - 1) t) of the same logit-normal draws: median 0.5 -> s / (1 + s) ... = 0.75 for s = 3."""
    plain = sample_timesteps(TrainConfig(clean_p=0.0), 4000, torch.Generator().manual_seed(0))
    shifted = sample_timesteps(TrainConfig(clean_p=0.0, train_shift=3.0), 4000, torch.Generator().manual_seed(0))
    torch.testing.assert_close(shifted, 3 * plain / (1 + 2 * plain))
    assert np.isclose(float(shifted.median()), 0.75, atol=0.03)
    assert float((shifted > 0.9).float().mean()) > 5 * float((plain > 0.9).float().mean())
    with pytest.raises(ValueError, match="train_shift"):
        TrainConfig(train_shift=0.0)


def test_lr_warms_up_holds_then_decays_to_zero():
    from longroll.models.tiny.train import TrainConfig, denoiser_lr

    cfg = TrainConfig(steps=10_000, warmup=300, decay_steps=3000, lr=5e-4)
    assert denoiser_lr(cfg, 0) == pytest.approx(5e-4 / 300)
    assert denoiser_lr(cfg, 299) == denoiser_lr(cfg, 6999) == pytest.approx(5e-4)
    assert denoiser_lr(cfg, 8499) == pytest.approx(2.5e-4)
    assert denoiser_lr(cfg, 9999) == pytest.approx(0.0, abs=1e-12)
    short = TrainConfig(steps=4, warmup=0, decay_steps=3000)  # fewer steps than the decay: decay them all
    assert denoiser_lr(short, 0) < short.lr and denoiser_lr(short, 3) == pytest.approx(0.0, abs=1e-12)


def test_jumps_stay_inside_their_chunk_and_never_pass_zero():
    from longroll.models.tiny.train import sample_jumps

    cfg = TrainConfig(clean_p=0.3, chunk_level_p=1.0, full_jump_p=0.5)
    gen = torch.Generator().manual_seed(0)
    t = sample_timesteps(cfg, 2000, gen)
    idx, d = sample_jumps(cfg, t, gen)
    level = t[torch.arange(2000), idx * cfg.dit.chunk_size]
    has_noisy = (t >= 0).any(dim=1)
    assert torch.all(level[has_noisy] >= 0)  # the jumping chunk is never clean context when one is noisy
    assert torch.all(d <= level.clamp(min=0) + 1e-7) and torch.all(d >= 0)
    whole = torch.isclose(d, level.clamp(min=0))
    assert abs(float(whole[has_noisy].float().mean()) - 0.5) < 0.05


def test_self_consistency_target_is_the_mean_of_two_half_jumps():
    """On a model whose velocity is known in closed form, the bootstrapped target is exact."""
    from longroll.models.tiny.train import self_consistency_target

    class Linear(torch.nn.Module):  # v(x, t, d) = x (any jump): x - d/2 x, then again
        def forward(self, x, t, cond, *, jump=None):
            return x * (1 + 0 * t[..., None, None, None])

    x = torch.randn(2, 4, 1, 2, 2)
    t = torch.full((2, 4), 0.8)
    jump = torch.tensor([[0.0, 0.0, 0.8, 0.8], [0.4, 0.4, 0.0, 0.0]])
    target = self_consistency_target(Linear(), x, t, None, jump, min_jump=1 / 64)
    half = (jump / 2)[..., None, None, None]
    expected = (x + x * (1 - half)) / 2  # v1 = x, v2 = x - half * x
    torch.testing.assert_close(target, expected)


def test_one_file_checkpoint_resumes_the_run(tmp_path):
    from longroll.models.tiny.resume import pack, unpack

    out = tmp_path / "run"
    cfg = _cfg(2)
    train(cfg, out)
    f = pack(out, tmp_path / "resume.pt")
    again = tmp_path / "again"
    assert TrainConfig.from_dict(unpack(f, again)) == cfg
    a = torch.load(out / "dit_ckpt.pt", weights_only=False)
    b = torch.load(again / "dit_ckpt.pt", weights_only=False)
    assert b["step"] == a["step"] == 2 and [h[0] for h in b["history"]] == [1, 2]
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k])
        torch.testing.assert_close(b["ema"][k], a["ema"][k], atol=1e-5, rtol=0)
    train(_cfg(3), again)  # regenerates data and latents, then goes on from step 2
    assert [h[0] for h in torch.load(again / "dit_ckpt.pt", weights_only=False)["history"]] == [1, 2, 3]
    with pytest.raises(ValueError, match="not a longroll train-tiny resume file"):
        torch.save({"x": 1}, tmp_path / "junk.pt")
        unpack(tmp_path / "junk.pt", tmp_path / "x")


def test_warm_start_grows_cross_attention_and_refuses_another_shape(tmp_path):
    import dataclasses

    from longroll.models.tiny.dit import TinyDiT
    from longroll.models.tiny.train import warm_start

    first = _cfg(1)
    train(first, tmp_path / "a")
    ema = torch.load(tmp_path / "a" / "dit_ckpt.pt", weights_only=False)["ema"]
    grown = TinyDiT(dataclasses.replace(first.dit, cross_attention=True))
    warm_start(grown, tmp_path / "a")
    assert all(torch.equal(grown.state_dict()[k], v) for k, v in ema.items())
    # A second stage from the first: trains, and its config records where it started.
    second = dataclasses.replace(first, dit=grown.config, steps=1, prompt_dropout=0.5, init_from=str(tmp_path / "a"))
    train(second, tmp_path / "b")
    assert json.loads((tmp_path / "b" / "config.json").read_text())["init_from"] == str(tmp_path / "a")
    with pytest.raises(ValueError, match="init_from = .* does not fit this denoiser"):
        warm_start(TinyDiT(dataclasses.replace(first.dit, width=64)), tmp_path / "a")
    with pytest.raises(FileNotFoundError, match="neither a training run folder"):
        warm_start(grown, tmp_path / "nowhere")


def test_the_command_resumes_a_run_with_its_own_config(tmp_path):
    """``train-tiny --out RUN`` on an existing run keeps that run's settings instead of the defaults."""
    from longroll.cli import main

    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text(json.dumps(_cfg(2).to_dict()))
    assert main(["train-tiny", "--out", str(out), "--stop-after", "data"]) == 0
    assert json.loads((out / "config.json").read_text())["clips"] == 6


def test_loss_chain_follows_warm_starts_oldest_first(tmp_path):
    import json

    import torch

    from longroll.models.tiny.losses import loss_chain, plot_losses, write_losses

    a, b, c = (tmp_path / n for n in "abc")
    for run in (a, b, c):
        run.mkdir()
    write_losses(a / "dit_losses.csv", [1.0, 0.9, 0.8])
    (a / "config.json").write_text(json.dumps({"init_from": None}))
    write_losses(b / "dit_losses.csv", [0.7, 0.6])
    (b / "config.json").write_text(json.dumps({"init_from": str(a / "dit_ckpt.pt")}))
    torch.save({"history": [(1, 0.5), (2, 0.4)]}, c / "dit_ckpt.pt")  # no CSV: the checkpoint's history
    (c / "config.json").write_text(json.dumps({"init_from": str(b)}))
    chain = loss_chain(c)
    assert [run for run, _ in chain] == [a, b, c]
    assert [losses for _, losses in chain] == [[1.0, 0.9, 0.8], [0.7, 0.6], [0.5, 0.4]]
    (a / "config.json").unlink()  # a copied checkpoint without its run's config ends the chain there
    assert [run for run, _ in loss_chain(c)] == [a, b, c]
    (b / "config.json").write_text(json.dumps({"init_from": str(c)}))  # a cycle stops instead of looping
    assert len(loss_chain(c)) <= 3
    pytest.importorskip("matplotlib")
    plot_losses(c, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 0
