"""Diagonal schedules (FIFO-Diffusion, MIGA): queue invariants, windows, self-reflection, guidance,
flat memory, determinism, bad input, and an end-to-end run on the shipped weights."""

import json

import numpy as np
import pytest
import torch

from longroll.noise import NoiseConfig
from longroll.pipelines.fifo import DiagonalStats, consistency_score, diagonal_rollout
from longroll.pipelines.fifo.config import resolve_diagonal
from longroll.pipelines.fifo.engine import WindowRunner, levels
from longroll.pipelines.fifo.fifo import fifo_windows
from longroll.pipelines.fifo.miga import guidance_indices, miga_windows
from longroll.pipelines.fifo.reflection import Reflector

PROMPT = "a red circle and a blue square on a navy background"


class Spy(torch.nn.Module):
    """Wraps a denoiser and records the noise levels of every pass."""

    def __init__(self, den):
        super().__init__()
        self.den, self.calls = den, []

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.den, name)

    def forward(self, x, t, cond, **kw):
        self.calls.append(t[0].tolist())
        return self.den(x, t, cond, **kw)


def _run(model, kind, frames, seed=0, **options):
    den = model.denoiser
    cfg = resolve_diagonal(kind, den, **options)
    stats = DiagonalStats()
    cond = model.encode_prompt(PROMPT)
    with torch.no_grad():
        chunks = list(diagonal_rollout(den, cond, num_frames=frames, config=cfg, stats=stats,
                                       noise=NoiseConfig().sampler(torch.Generator().manual_seed(seed))))
    return torch.cat([c.latents for c in chunks], dim=1), stats, cfg


@pytest.mark.parametrize("queue, window, lookahead", [(16, 8, True), (16, 8, False), (24, 4, True), (8, 8, False)])
def test_fifo_windows_update_every_slot_exactly_once(queue, window, lookahead):
    updated = []
    for start, end, u0, u1 in fifo_windows(queue, window, lookahead):
        assert end - start == window and start <= u0 < u1 <= end
        updated += range(u0, u1)
    assert sorted(updated) == list(range(queue))


@pytest.mark.parametrize("offset", [0, 1, 3, 5])
@pytest.mark.parametrize("source", ["window", "head"])
def test_miga_windows_partition_the_queue_and_guidance_precedes_them(offset, source):
    updated = []
    for start, end, u0, u1 in miga_windows(40, span=12, stride=8, offset=offset):
        assert start == u0 and end - start <= 12 and u1 <= end
        updated += range(u0, u1)
        g = guidance_indices(start, 4, 4, source)
        assert g == sorted(set(g)) and all(0 <= i < start for i in g)  # distinct, oldest first, before it
        assert len(g) == ((0 if start == 0 else min(4, start)) if source == "head" else 4 * (start >= 4))
    assert sorted(updated) == list(range(40))


def test_guidance_frames_are_placed_as_migas_code_places_them():
    # Windows at s >= m k: one frame of each of the m chunks before the window, k // 2 into it from its
    # end (MIGA's Wan code: s - (3 + j 7) for k = 7; VideoCrafter2: s - (2 + j 4) for k = 4).
    assert guidance_indices(40, 4, 7) == [16, 23, 30, 37]
    assert guidance_indices(40, 4, 4) == [26, 30, 34, 38]
    for s in (12, 13, 40, 41):
        g = guidance_indices(s, 4, 3)
        assert sorted((s - 1 - i) // 3 for i in g) == [0, 1, 2, 3]  # one per chunk before the window
    assert guidance_indices(10, 4, 1) == [6, 7, 8, 9]  # k = 1: never the window's own first frame
    # m <= s < m k: spaced s // m back from s; s < m: none (the window reaches m frames further instead).
    assert guidance_indices(6, 4, 4) == [2, 3, 4, 5] and guidance_indices(9, 4, 4) == [1, 3, 5, 7]
    assert guidance_indices(3, 4, 4) == [] and guidance_indices(0, 4, 4) == []
    # The queue's head instead (the paper's words; this project's MIGA before session 17).
    assert guidance_indices(40, 4, 4, "head") == [0, 4, 8, 12] and guidance_indices(6, 4, 4, "head") == [0, 1, 2, 3]


def test_miga_guidance_source_matters_only_with_guidance_and_passes_stay_in_the_window(tiny_model):
    spy = Spy(tiny_model.denoiser)
    model = type(tiny_model)(**{**tiny_model.__dict__, "denoiser": spy})
    opts = dict(steps=10, stage2_steps=2, k=2, guidance=2, judge=2, reflection=False)
    window, _, cfg = _run(model, "miga", 40, guidance_from="window", **opts)
    assert max(len(t) for t in spy.calls) == cfg.window  # no pass past the window (the first take m more frames)
    head, _, _ = _run(tiny_model, "miga", 40, guidance_from="head", **opts)
    assert not torch.equal(window, head)
    opts["guidance"] = 0
    assert torch.equal(_run(tiny_model, "miga", 40, guidance_from="window", **opts)[0],
                       _run(tiny_model, "miga", 40, guidance_from="head", **opts)[0])


def test_fifo_queue_levels_are_monotone_and_every_frame_takes_t_steps(tiny_model):
    spy = Spy(tiny_model.denoiser)
    model = type(tiny_model)(**{**tiny_model.__dict__, "denoiser": spy})
    out, stats, cfg = _run(model, "fifo", 20, partitions=2)
    assert out.shape[1] == 20 and cfg.steps == 16
    queue_calls = [t for t in spy.calls if len(set(t)) > 1]
    assert queue_calls and all(t == sorted(t) for t in queue_calls)  # clean context first, then rising noise
    window = cfg.window
    assert stats.steps_per_frame[window:] == [cfg.steps] * (20 - window)
    assert stats.steps_per_frame[:window] == list(range(cfg.steps - window + 1, cfg.steps + 1))


def test_miga_every_new_frame_takes_t_steps_and_memory_is_flat(tiny_model):
    short, s_stats, cfg = _run(tiny_model, "miga", 12, steps=10, stage2_steps=2, k=2, guidance=2, judge=2)
    long, l_stats, _ = _run(tiny_model, "miga", 60, steps=10, stage2_steps=2, k=2, guidance=2, judge=2)
    seeds = cfg.window // cfg.k * cfg.k
    assert set(l_stats.steps_per_frame[seeds:]) == {cfg.steps}
    assert l_stats.peak_queue_frames == s_stats.peak_queue_frames <= cfg.queue_frames + cfg.window + cfg.k
    torch.testing.assert_close(long[:, :12], short[:, :12])  # streaming: the prefix does not depend on length


def test_context_frames_are_inputs_never_outputs(tiny_model):
    den = tiny_model.denoiser
    runner = WindowRunner(den, tiny_model.encode_prompt(PROMPT), levels(10, 2.0), DiagonalStats())
    x = torch.randn(1, 3, *den.latent_shape)
    ctx = torch.randn(1, 2, *den.latent_shape)
    with torch.no_grad():
        v = runner.velocity(x, [3, 4, 5], ctx, [1, 2])
        alone = runner.velocity(x, [3, 4, 5])
    assert v.shape == x.shape and not torch.allclose(v, alone)  # guidance informs, is not returned


def test_consistency_score_and_the_trigger_rule():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(1, 4, 4, 8, 8, generator=g)
    assert consistency_score(base[:, :1].expand(1, 3, 4, 8, 8), base[:, :1]).item() == pytest.approx(1.0)
    ref = base[:, 2:3]
    same = consistency_score(ref.expand(1, 2, 4, 8, 8) + 0.05 * torch.randn(1, 2, 4, 8, 8, generator=g), ref)
    other = consistency_score(torch.randn(1, 2, 4, 8, 8, generator=g), ref)
    assert same > 0.9 > other
    r = Reflector(delta=0.1)
    assert [r.judge(s) for s in (0.90, 0.88, 0.86, 0.60, 0.61, 0.55)] == [False, False, False, True, False, False]
    assert r.judge(0.50) is False  # compared with 0.55, the last judged score, whatever was adopted since


def test_reflection_triggers_follow_delta(tiny_model):
    opts = dict(steps=10, stage2_steps=2, k=2, guidance=2, judge=2, candidates=2)
    _, never, _ = _run(tiny_model, "miga", 40, delta=2.0, **opts)
    _, eager, _ = _run(tiny_model, "miga", 40, delta=0.0, **opts)
    assert never.judgements > 0 and never.triggers == 0
    assert eager.triggers > 0 and eager.adopted <= eager.triggers <= eager.judgements
    # Every judged score is kept (the drops are what delta is calibrated on): a trigger at delta 0 is
    # exactly a positive drop from the previous judged score.
    assert len(eager.scores) == eager.judgements and len(eager.drops) == eager.judgements - 1
    assert eager.triggers == sum(d > 0 for d in eager.drops)
    assert eager.to_dict()["scores"] == eager.scores
    _, off, _ = _run(tiny_model, "miga", 40, reflection=False, **opts)
    assert off.judgements == 0


@pytest.mark.parametrize("kind", ["fifo", "miga"])
def test_same_seed_same_bits(tiny_model, kind):
    opts = dict(partitions=1) if kind == "fifo" else dict(steps=8, stage2_steps=2, k=2, guidance=2, judge=1)
    a, _, _ = _run(tiny_model, kind, 16, seed=4, **opts)
    b, _, _ = _run(tiny_model, kind, 16, seed=4, **opts)
    c, _, _ = _run(tiny_model, kind, 16, seed=5, **opts)
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("options, match", [
    (dict(queue=10, k=4), "k = 4 does not divide the queue of 10"),
    (dict(guidance=9), "guidance"),
    (dict(guidance_from="tail"), "guidance_from must be one of 'window', 'head'; got 'tail'"),
    (dict(candidates=0), "candidates"),
    (dict(delta=2.5), "delta"),
    (dict(delta=-0.1), "delta"),
    (dict(k=0), "k = 0 is out of range \\(allowed range \\[1, 7\\]\\)"),
    (dict(flavour=1), "Unknown miga setting"),
])
def test_bad_settings_are_clear_errors(tiny_model, options, match):
    with pytest.raises(ValueError, match=match):
        resolve_diagonal("miga", tiny_model.denoiser, **options)


def test_a_model_without_per_frame_timesteps_is_refused_before_any_work(tiny_model, tmp_path):
    from longroll.models.base import ModelDefaults
    from longroll.pipelines.generate import generate
    from longroll.sampler import FewStepSchedule

    plain = ModelDefaults(train_len=16, chunk_size=4, window=16, sink=0, schedule=FewStepSchedule(),
                          context_timestep=0.0, per_frame_timesteps=False)
    with pytest.raises(ValueError, match="cannot take per-frame timesteps"):
        resolve_diagonal("fifo", plain)
    with pytest.raises(ValueError, match="k = 3 does not divide"):
        generate(PROMPT, seconds=2, model=tiny_model, out=tmp_path / "v.mp4", schedule="miga",
                 schedule_options=dict(queue=16, k=3))
    with pytest.raises(ValueError, match="Prompt switches need the chunk schedule"):
        generate(PROMPT, seconds=2, model=tiny_model, out=tmp_path / "v.mp4", schedule="fifo",
                 switches=[(1.0, "a white square on a gray background")])
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["fifo", "miga"])
def test_end_to_end_on_the_shipped_weights(kind, tmp_path):
    from longroll.models.registry import load_model
    from longroll.pipelines.generate import generate, replay, sidecar_path
    from longroll.world import detect, parse_prompt

    model = load_model("tiny")
    opts = dict(partitions=1) if kind == "fifo" else dict(steps=16, stage2_steps=4, judge=4)
    out = generate(PROMPT, seconds=3, seed=1, model=model, out=tmp_path / "v.mp4", upscale=1, schedule=kind,
                   schedule_options=opts)
    meta = json.loads(sidecar_path(out).read_text())
    assert meta["schedule"] == kind and meta["config"]["diagonal"]["kind"] == kind and meta["frames"] == 24
    frames = replay(sidecar_path(out))
    direct = generate(PROMPT, seconds=3, seed=1, model=model, upscale=1, schedule=kind, schedule_options=opts)
    assert np.array_equal(frames, direct) and frames.shape == (24, 32, 32, 3)
    presence = np.mean([detect(f, parse_prompt(PROMPT)).presence for f in frames])
    assert presence > 0.3  # the trained model draws the prompted objects under this schedule too


@pytest.mark.parametrize("kind", ["fifo", "miga"])
def test_a_default_preset_that_acts_on_the_cache_gives_way_to_none_on_a_diagonal_schedule(tiny_model, kind):
    """A default that acts on the cache (`rolling-sink`, the built-in model's in session 9) has no
    meaning for FIFO / MIGA: an unnamed preset falls back to `none` there, while naming it is still
    refused."""
    from dataclasses import replace

    from longroll.pipelines.plan import resolve
    from longroll.pipelines.request import GenerationRequest

    saved = tiny_model.denoiser.defaults
    tiny_model.denoiser.defaults = replace(saved, preset="rolling-sink")
    try:
        plan = resolve(GenerationRequest(prompt=PROMPT, seconds=2, seed=0, schedule=kind), tiny_model)
        assert plan.preset == "none"
        assert resolve(GenerationRequest(prompt=PROMPT, seconds=2, seed=0), tiny_model).preset == "rolling-sink"
        with pytest.raises(ValueError, match="rolling-sink"):
            resolve(GenerationRequest(prompt=PROMPT, seconds=2, seed=0, schedule=kind, preset="rolling-sink"),
                    tiny_model)
    finally:
        tiny_model.denoiser.defaults = saved
