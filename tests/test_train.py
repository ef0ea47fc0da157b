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
                       dit=DiTConfig(width=32, depth=1, heads=2, chunk_size=2, train_len=4))


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
    again = load_tiny(export_checkpoint(out, tmp_path / "w2"))
    for a, b in zip(again.denoiser.state_dict().values(), model.denoiser.state_dict().values()):
        assert torch.equal(a, b)


def test_timestep_sampling_has_clean_chunks_and_shared_levels():
    cfg = TrainConfig(clean_p=0.5, chunk_level_p=1.0)
    t = sample_timesteps(cfg, 4000, torch.Generator().manual_seed(0))  # (B, 16)
    clean = (t == CLEAN_T)
    assert abs(float(clean.float().mean()) - 0.5) < 0.03
    chunks = t.reshape(4000, 4, 4)
    assert torch.all(chunks == chunks[..., :1])  # one level per chunk
    noisy = t[t >= 0]
    assert 0 < float(noisy.min()) and float(noisy.max()) < 1
    assert np.isclose(float(noisy.median()), 0.5, atol=0.03)  # logit-normal around 0.5


def test_lr_warms_up_holds_then_decays_to_zero():
    from longroll.models.tiny.train import TrainConfig, denoiser_lr

    cfg = TrainConfig(steps=10_000, warmup=300, decay_steps=3000, lr=5e-4)
    assert denoiser_lr(cfg, 0) == pytest.approx(5e-4 / 300)
    assert denoiser_lr(cfg, 299) == denoiser_lr(cfg, 6999) == pytest.approx(5e-4)
    assert denoiser_lr(cfg, 8499) == pytest.approx(2.5e-4)
    assert denoiser_lr(cfg, 9999) == pytest.approx(0.0, abs=1e-12)
    short = TrainConfig(steps=4, warmup=0, decay_steps=3000)  # fewer steps than the decay: decay them all
    assert denoiser_lr(short, 0) < short.lr and denoiser_lr(short, 3) == pytest.approx(0.0, abs=1e-12)
