"""The model contract and the one generation path: request -> plan -> run, on any Denoiser."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from longroll.cache import KVCache
from longroll.models.base import Denoiser, ModelDefaults, VideoModel
from longroll.pipelines.generate import generate_request
from longroll.pipelines.plan import resolve
from longroll.pipelines.presets import PRESETS
from longroll.pipelines.request import GenerationRequest
from longroll.pipelines.rollouts import SCHEDULES
from longroll.pipelines.run import run
from longroll.rope.freqs import wan_rope_freqs
from longroll.sampler import FewStepSchedule


class ToyDenoiser(torch.nn.Module):
    """Implements only the ``Denoiser`` protocol: a velocity that pulls towards a constant, with a
    little attention to the cached frames' mean so that the cache is exercised."""

    def __init__(self, chunk_size=2) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(0.5))
        self.defaults = ModelDefaults(train_len=8, chunk_size=chunk_size, window=6, sink=2, context_timestep=0.0,
                                      schedule=FewStepSchedule(steps=2, shift=1.0, sampler="renoise"))
        self.rope_freqs = wan_rope_freqs(8)
        self.latent_shape = (1, 2, 2)

    def new_cache(self, config, batch_size=1, *, device=None, dtype=None):
        return KVCache(config, num_layers=1, batch_size=batch_size, num_heads=1, tokens_per_frame=4, head_dim=8,
                       device=device or "cpu", dtype=dtype or torch.float32)

    def forward(self, x, t, cond, *, cache=None, start_frame=0, rope=None, attention_scale=1.0, bias=None,
                jump=None):
        b, f = x.shape[:2]
        if cache is not None:
            cache.begin(start_frame, f)
            k = x.reshape(b, 1, f * 4, 1).expand(-1, -1, -1, 8).contiguous()
            cache.write(0, k, k, lambda v, _: v)
            keys, _ = cache.read(0, lambda v, _: v)
            context = keys.mean()
        else:
            context = x.mean()
        return x - self.w * (cond.view(-1, 1, 1, 1, 1) + 0.1 * context)


def _toy_model() -> VideoModel:
    den = ToyDenoiser()

    def encode(prompt: str) -> torch.Tensor:
        if "dragon" in prompt:
            raise ValueError("unknown word 'dragon'")
        return torch.tensor([float(len(prompt) % 5)])

    def decode(latents: torch.Tensor) -> np.ndarray:
        x = latents[0, :, 0]  # (f, 2, 2)
        frames = ((x.clamp(-2, 2) + 2) * 60).to(torch.uint8)
        return frames[..., None].expand(-1, -1, -1, 3).repeat_interleave(2, 1).repeat_interleave(2, 2).numpy()

    return VideoModel("toy", den, encode, decode, 4.0, "toy-weights")


def test_the_toy_implements_the_protocol():
    assert isinstance(ToyDenoiser(), Denoiser)


@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_a_denoiser_with_only_the_protocol_runs_through_every_schedule(schedule, tmp_path: Path):
    model = _toy_model()
    options = {"chunk": {}, "rolling": {}, "fifo": dict(window=4, partitions=1),
               "miga": dict(window=6, steps=6, stage2_steps=2, k=2, guidance=1)}[schedule]
    request = GenerationRequest(prompt="a toy", seconds=3, seed=1, schedule=schedule, schedule_options=options,
                                out=str(tmp_path / "v.mp4"), upscale=1)
    plan = resolve(request, model)
    seen = []
    result = run(plan, model, on_chunk=lambda e: seen.append((e.start, len(e.frames), e.total)))
    assert result.complete and result.frames == 12 and result.path == tmp_path / "v.mp4"
    assert [s for s, _, _ in seen] == list(np.cumsum([0] + [n for _, n, _ in seen[:-1]]))  # in order, no gaps
    assert sum(n for _, n, _ in seen) == 12 and {t for _, _, t in seen} == {12}
    meta = json.loads((tmp_path / "v.mp4.json").read_text())
    assert meta["schedule"] == schedule and meta["frames_sha256"] == result.frames_sha256
    if schedule in ("chunk", "rolling"):
        assert set(meta["config"]) == {"rope", "noise", "cache", "bias", "schedule", "scene"}
    else:  # a diagonal run records its own settings, no cache or few-step sampler it never used
        assert set(meta["config"]) == {"diagonal", "method"} and meta["config"]["diagonal"]["kind"] == schedule
    again = run(resolve(GenerationRequest(prompt="a toy", seconds=3, seed=1, schedule=schedule,
                                          schedule_options=options), model), model)
    assert again.frames_sha256 == result.frames_sha256  # same request, same raw frames


def test_a_bidirectional_model_is_refused_by_the_chunk_schedule_only():
    model = _toy_model()
    model.denoiser.defaults = ModelDefaults(train_len=8, chunk_size=None, window=8, sink=0, context_timestep=0.0,
                                            schedule=FewStepSchedule(steps=4))
    with pytest.raises(ValueError, match="bidirectional"):
        resolve(GenerationRequest(prompt="a toy", seconds=2), model)
    plan = resolve(GenerationRequest(prompt="a toy", seconds=2, schedule="miga",
                                     schedule_options=dict(steps=6, stage2_steps=2, k=2)), model)
    assert plan.config.diagonal.window == 8


@pytest.mark.parametrize("kwargs,message", [
    (dict(seconds=0), "seconds = 0.0 is out of range"),
    (dict(seed=-1), "seed = -1 is out of range"),
    (dict(preset="longlive"), "preset must be one of"),
    (dict(overrides={"colour": 1}), "Unknown override"),
    (dict(schedule="zigzag"), "schedule must be one of"),
    (dict(schedule_options={"k": 2}), "takes no settings of its own"),
    (dict(schedule="miga", schedule_options={"flavour": 1}), "Unknown miga setting"),
    (dict(schedule="fifo", overrides={"window": 8}), "chunk-wise rollout's window"),
    (dict(switches=((9.0, "x"),)), "outside the video"),
    (dict(schedule="fifo", switches=((1.0, "x"),)), "Prompt switches need the chunk schedule"),
    (dict(upscale=0), "upscale = 0 is out of range"),
    (dict(out="v.avi"), "Unsupported output"),
    (dict(out="/nonexistent/dir/v.mp4"), "does not exist"),
])
def test_a_request_is_checked_when_it_is_built(kwargs, message):
    base = dict(prompt="a toy", seconds=4)
    with pytest.raises(ValueError, match=message):
        GenerationRequest(**{**base, **kwargs})


def test_model_dependent_checks_happen_in_resolve_before_any_file(tmp_path):
    model = _toy_model()
    with pytest.raises(ValueError, match="dragon"):
        resolve(GenerationRequest(prompt="a dragon", seconds=2, out=str(tmp_path / "v.mp4")), model)
    with pytest.raises(ValueError, match="window - sink"):
        resolve(GenerationRequest(prompt="a toy", seconds=2, overrides={"window": 3, "sink": 2}), model)
    assert not any(tmp_path.iterdir())


def test_every_family_resolves_every_preset(tiny_model, wan_transformer):
    from longroll.models.causal_wan.model import CausalWan
    from longroll.models.causal_wan.rollout_spec import FLAVOURS, CausalWanDenoiser, spec_for
    from longroll.models.wan.bidirectional import DiffusersWanDenoiser

    causal = CausalWan.from_diffusers(wan_transformer)
    denoisers = [tiny_model.denoiser, DiffusersWanDenoiser(wan_transformer, height=32, width=48)]
    denoisers += [CausalWanDenoiser(causal, spec_for(f, height=32, width=48)) for f in FLAVOURS]
    for den in denoisers:
        for schedule, spec in SCHEDULES.items():
            for preset in PRESETS:
                if schedule == "chunk" and not den.defaults.chunkwise:
                    with pytest.raises(ValueError, match="bidirectional"):
                        spec.resolve(preset, den, {}, {})
                    continue
                if schedule == "rolling":  # needs a window that holds its anchor and all its levels' chunks
                    if not den.defaults.chunkwise:
                        with pytest.raises(ValueError, match="bidirectional"):
                            spec.resolve(preset, den, {}, {})
                        continue
                    try:
                        config = spec.resolve(preset, den, {}, {})
                    except ValueError as err:
                        assert any(m in str(err) for m in ("cannot hold the anchor", "needs an anchor",
                                                           "builds its own caches", "several levels")), err
                    else:
                        assert config.to_dict()
                    continue
                if schedule != "chunk" and PRESETS[preset].bias == "recency":  # one noise level per forward
                    with pytest.raises(ValueError, match="denoises frames at several"):
                        spec.resolve(preset, den, {}, {})
                    continue
                if schedule != "chunk" and (PRESETS[preset].cache_only or not spec.acts(preset)):
                    with pytest.raises(ValueError, match="has no cache"):
                        spec.resolve(preset, den, {}, {})
                    continue
                config = spec.resolve(preset, den, {}, {})
                assert config.to_dict()


def test_causal_wan_flavours_get_sensible_diagonal_windows(wan_transformer):
    from longroll.models.causal_wan.model import CausalWan
    from longroll.models.causal_wan.rollout_spec import FLAVOURS, CausalWanDenoiser, spec_for
    from longroll.pipelines.fifo import resolve_diagonal

    causal = CausalWan.from_diffusers(wan_transformer)
    for flavour in FLAVOURS:
        den = CausalWanDenoiser(causal, spec_for(flavour, height=32, width=48))
        fifo, miga = resolve_diagonal("fifo", den), resolve_diagonal("miga", den)
        assert fifo.window == 20 and fifo.queue_frames == 40  # the 21-frame clip, even for lookahead
        assert miga.window == 21 and (miga.k, miga.steps, miga.stage2_steps, miga.delta) == (7, 54, 10, 0.001)


def test_dependent_values_follow_what_they_depend_on(tiny_model):
    from longroll.pipelines.fifo import resolve_diagonal

    short = resolve_diagonal("miga", tiny_model.denoiser, steps=12, stage2_steps=2, reflection=False)
    assert short.judge <= short.chunks - short.guide_chunks - 1
    assert resolve_diagonal("miga", tiny_model.denoiser, steps=12, stage2_steps=2, judge=3).judge == 3


def test_generate_request_returns_the_result_with_its_hash(tiny_model):
    result = generate_request(GenerationRequest(prompt="a red circle on a black background", seconds=1), tiny_model)
    assert result.video.shape == (8, 32, 32, 3)
    assert result.frames_sha256 == hashlib.sha256(np.ascontiguousarray(result.video).tobytes()).hexdigest()
