"""Each causal Wan flavour reproduces its family's own released inference (issue 15)."""

import pytest
import torch

from longroll.cache import CacheConfig, KVCache
from longroll.models.causal_wan.flavours import RECORDS, record_for
from longroll.models.causal_wan.model import CausalWan
from longroll.models.causal_wan.rollout_spec import FLAVOURS, CausalWanDenoiser, spec_for
from longroll.pipelines.presets import resolve_preset
from longroll.pipelines.rollout import Switch, rollout
from longroll.sampler import FewStepSchedule


def _warp(ts, shift):
    s = torch.tensor([*ts, 0.0], dtype=torch.float64) / 1000
    return (shift * s / (1 + (shift - 1) * s)).tolist()


def _den(wan_transformer, flavour, **overrides):
    return CausalWanDenoiser(CausalWan.from_diffusers(wan_transformer),
                             spec_for(flavour, height=32, width=48, **overrides))


class _Spy:
    """A denoiser that records every call (start frame, frames, level, conditioning) and the sink's keys
    as they were before the call."""

    def __init__(self, den):
        self.den, self.defaults, self.rope_freqs = den, den.defaults, den.rope_freqs
        self.latent_shape = den.latent_shape
        self.calls, self.cache = [], None

    def new_cache(self, *args, **kwargs):
        self.cache = self.den.new_cache(*args, **kwargs)
        return self.cache

    def parameters(self):
        return self.den.parameters()

    def __call__(self, x, t, cond, **kwargs):
        sink = self.cache.config.sink
        sink_keys = self.cache.k[:, :, :, :sink].clone()
        self.calls.append((kwargs["start_frame"], x.shape[1], float(t[0, 0]), cond, sink_keys))
        return self.den(x, t, cond, **kwargs)


def test_every_flavour_resolves_to_its_record_under_none(wan_transformer):
    assert set(FLAVOURS) == {n for n, r in RECORDS.items() if r.reproduced}
    assert {"self-forcing", "longlive", "causvid", "causal-forcing", "causal-forcing-frame",
            "reward-forcing"} <= set(FLAVOURS)
    for flavour in FLAVOURS:
        r = RECORDS[flavour]
        den = _den(wan_transformer, flavour)
        cfg = resolve_preset("none", den)
        assert den.defaults.chunk_size == r.chunk, flavour
        assert (cfg.cache.window, cfg.cache.sink, cfg.cache.positions, cfg.cache.sink_ema) == (
            r.window, r.sink, r.positions, r.sink_ema), flavour
        assert cfg.scene.switch == (r.switch or "recache"), flavour
        assert cfg.cache.rotated == (r.positions == "absolute" and r.sink_ema is None), flavour
        shift = 1.0 if r.warp_shift is None else r.warp_shift
        assert cfg.schedule.levels(1).tolist() == pytest.approx(_warp(r.timesteps, shift)), flavour
        first = r.first_timesteps or r.timesteps
        assert cfg.schedule.levels(0).tolist() == pytest.approx(_warp(first, shift)), flavour
        assert (cfg.schedule.sampler, den.defaults.context_timestep, den.defaults.train_len) == (
            "renoise", r.context_timestep, r.train_len), flavour
        # The sink presets keep LongLive's 12 / 3 on every flavour.
        flex = resolve_preset("flex", den)
        assert (flex.cache.window, flex.cache.sink, flex.cache.positions) == (12, 3, "absolute"), flavour


def test_self_forcing_and_causvid_attend_their_own_21_frame_window_under_none(wan_transformer):
    for flavour in ("self-forcing", "causvid"):
        cfg = resolve_preset("none", _den(wan_transformer, flavour))
        assert (cfg.cache.window, cfg.cache.sink) == (21, 0)
    ll = resolve_preset("none", _den(wan_transformer, "longlive"))
    assert (ll.cache.window, ll.cache.sink, ll.scene.switch) == (12, 3, "longlive")
    assert resolve_preset("none", _den(wan_transformer, "longlive"), switch="recache").scene.switch == "recache"


def test_causvid_samples_at_its_unwarped_timesteps_on_its_scheduler_grid(wan_transformer):
    sched = _den(wan_transformer, "causvid").defaults.schedule
    assert sched.levels().tolist() == pytest.approx([1.0, 0.757, 0.522, 0.0])
    # FlowMatchScheduler(shift=8, sigma_min=0, extra_one_step=True) with 1000 training timesteps:
    # re-noising and x0 use the grid point nearest each timestep.
    grid = torch.linspace(1.0, 0.0, 1001, dtype=torch.float64)[:-1]
    grid = 8 * grid / (1 + 7 * grid)
    nearest = [float(grid[(grid - v).abs().argmin()]) for v in (1.0, 0.757, 0.522)]
    assert sched.sigmas().tolist() == pytest.approx([*nearest, 0.0], abs=1e-12)
    assert sched.sigmas()[1] != sched.levels()[1]
    assert (sched.sigmas() - sched.levels()).abs().max() < 5e-4
    # The old 3-step uniform grid at shift 5 is gone.
    assert sched.levels().tolist() != pytest.approx(FewStepSchedule(steps=3, shift=5.0).sigmas().tolist())
    # The model is asked at the listed levels.
    den = _Spy(_den(wan_transformer, "causvid"))
    cond = den.den.model.encode_context(torch.randn(1, 5, 16))
    with torch.no_grad():
        list(rollout(den, cond, num_frames=3, config=resolve_preset("none", den.den),
                     generator=torch.Generator().manual_seed(0)))
    assert [c[2] for c in den.calls] == pytest.approx([1.0, 0.757, 0.522, 0.0])


def test_causal_forcing_plus_plus_denoises_the_first_frame_in_four_steps_then_two(wan_transformer):
    den = _Spy(_den(wan_transformer, "causal-forcing-frame-2step"))
    assert den.defaults.chunk_size == 1
    cond = den.den.model.encode_context(torch.randn(1, 5, 16))
    with torch.no_grad():
        chunks = list(rollout(den, cond, num_frames=3, config=resolve_preset("none", den.den),
                              generator=torch.Generator().manual_seed(0)))
    assert [c.start for c in chunks] == [0, 1, 2]
    per_frame = {f: [c[2] for c in den.calls if c[0] == f] for f in range(3)}
    assert per_frame[0] == pytest.approx(_warp((1000, 750, 500, 250), 5.0))  # 4 steps, then the context pass
    assert per_frame[1] == per_frame[2] == pytest.approx(_warp((1000, 500), 5.0))


def _switch_calls(wan_transformer, switch_at, **overrides):
    den = _Spy(_den(wan_transformer, "longlive"))
    model = den.den.model
    old = model.encode_context(torch.randn(1, 5, 16, generator=torch.Generator().manual_seed(1)))
    new = model.encode_context(torch.randn(1, 5, 16, generator=torch.Generator().manual_seed(2)))
    config = resolve_preset("none", den.den, **overrides)
    with torch.no_grad():
        list(rollout(den, old, num_frames=switch_at + 3, config=config, generator=torch.Generator().manual_seed(0),
                     switches=[Switch(switch_at, new)]))
    recache = [i for i, c in enumerate(den.calls) if c[3] is new and c[0] < switch_at]
    first_step = next(i for i, c in enumerate(den.calls) if c[0] == switch_at)
    return den.calls, recache, first_step


@pytest.mark.parametrize("t", [6, 18])
def test_longlive_switch_recaches_the_recent_frames_once_and_keeps_the_sink(wan_transformer, t):
    calls, recache, first_step = _switch_calls(wan_transformer, t)
    # One forward at the context level over the frames LongLive's window still reads after the
    # switch: the last min(12, t) frames less the 3-frame sink.
    assert len(recache) == 1
    start, frames, level, _, sink_before = calls[recache[0]]
    assert (start, frames, level) == (max(3, t - 9), min(9, t - 3), 0.0)
    torch.testing.assert_close(calls[first_step][4], sink_before, rtol=0, atol=0)  # the sink untouched


def test_the_chunkwise_recache_policy_stays_available_and_rewrites_the_sink(wan_transformer):
    calls, recache, first_step = _switch_calls(wan_transformer, 18, switch="recache")
    assert [(calls[i][0], calls[i][1]) for i in recache] == [(0, 3), (9, 3), (12, 3), (15, 3)]
    assert not torch.equal(calls[first_step][4], calls[recache[0]][4])


def test_a_flavour_not_reproduced_would_be_refused_and_unknown_ones_are():
    from dataclasses import replace

    import longroll.models.causal_wan.flavours as fl

    assert RECORDS["rolling-forcing"].reproduced and RECORDS["rolling-forcing"].schedule == "rolling"
    fake = replace(RECORDS["self-forcing"], name="x", reproduced=False, differences="Its own sampler.")
    old = dict(fl.RECORDS)
    fl.RECORDS["x"] = fake
    try:
        with pytest.raises(ValueError, match="recorded but not reproduced: Its own sampler"):
            record_for("x")
    finally:
        fl.RECORDS.clear()
        fl.RECORDS.update(old)
    with pytest.raises(ValueError, match="flavour must be one of"):
        record_for("wan2.2")


def test_every_record_names_its_sources_and_what_longroll_does_differently():
    for name, r in RECORDS.items():
        assert r.name == name and "/" in r.repository and r.commit and r.sources and r.checkpoint
        assert r.differences, name


# ------------------------------------------------------------------------------------- EMA-Sink
def _write(cache, start, frames, value):
    cache.begin(start, frames)
    k = torch.stack([value(start + i) for i in range(frames)], dim=2)  # (B, H, f, T, D)
    cache.write(0, k.reshape(1, 1, frames * 2, 4), -k.reshape(1, 1, frames * 2, 4))


def test_ema_sink_folds_the_leaving_frames_into_the_sink_frame_by_frame():
    config = CacheConfig(window=6, sink=2, rotated=False, positions="relative", sink_ema=0.9)
    cache = KVCache(config, num_layers=1, batch_size=1, num_heads=1, tokens_per_frame=2, head_dim=4)
    g = torch.Generator().manual_seed(0)
    frames = {f: torch.randn(1, 1, 2, 4, generator=g, dtype=torch.float64).float() for f in range(9)}
    for start in (0, 2, 4):
        _write(cache, start, 2, lambda f: frames[f])
    torch.testing.assert_close(cache.k[0, :, :, :2], torch.stack([frames[0], frames[1]], dim=2))
    _write(cache, 6, 2, lambda f: frames[f])  # frames 2 and 3 leave: as many as the sink holds
    expected = torch.stack([0.9 * frames[j] + 0.1 * frames[2 + j] for j in range(2)], dim=2)
    torch.testing.assert_close(cache.k[0, :, :, :2], expected)
    torch.testing.assert_close(cache.v[0, :, :, :2], -expected)
    _write(cache, 8, 1, lambda f: frames[f])  # one frame leaves (frame 4): its mean goes into both sink frames
    expected = torch.stack([0.9 * expected[:, :, j] + 0.1 * frames[4] for j in range(2)], dim=2)
    torch.testing.assert_close(cache.k[0, :, :, :2], expected)
    assert cache.held_frames() == [0, 1, 5, 6, 7, 8]


def test_ema_sink_needs_a_sink_and_unrotated_keys():
    with pytest.raises(ValueError, match="sink = 0"):
        CacheConfig(window=6, sink=0, rotated=False, sink_ema=0.9)
    with pytest.raises(ValueError, match="un-rotated"):
        CacheConfig(window=6, sink=2, sink_ema=0.9)
    with pytest.raises(ValueError, match="sink_ema = 1.5"):
        CacheConfig(window=6, sink=2, rotated=False, sink_ema=1.5)


def test_reward_forcing_rollout_moves_its_sink_and_stays_in_its_9_frame_window(wan_transformer):
    den = _Spy(_den(wan_transformer, "reward-forcing"))
    cond = den.den.model.encode_context(torch.randn(1, 5, 16))
    config = resolve_preset("none", den.den, steps=1)
    with torch.no_grad():
        out = torch.cat([c.latents for c in rollout(den, cond, num_frames=18, config=config,
                                                    generator=torch.Generator().manual_seed(0))], dim=1)
    assert torch.isfinite(out).all() and den.cache.num_frames == 9
    sink_at = {}  # the sink's keys before the first call of each chunk
    for c in den.calls:
        sink_at.setdefault(c[0], c[4])
    torch.testing.assert_close(sink_at[3], sink_at[9], rtol=0, atol=0)  # nothing left the window before frame 9
    assert not torch.equal(sink_at[9], sink_at[12])  # frames 3-5 left at frame 9 and moved the sink


# ------------------------------------------------------------------------------------- Rolling Forcing
class _CtxSpy(_Spy):
    """Also records, for each call, the frames its cache holds before the call."""

    def __call__(self, x, t, cond, **kwargs):
        cache = kwargs["cache"]
        self.calls.append((kwargs["start_frame"], x.shape[1], t[0].tolist(), cache.held_frames(),
                           cache.config.window))
        return self.den(x, t, cond, **kwargs)

    def new_cache(self, *args, **kwargs):
        return self.den.new_cache(*args, **kwargs)


def test_rolling_forcing_moves_a_window_of_chunks_through_its_levels(wan_transformer):
    den = _CtxSpy(_den(wan_transformer, "rolling-forcing"))
    cfg = resolve_preset("none", den.den)
    assert (cfg.cache.window, cfg.cache.sink, cfg.schedule.steps) == (21, 3, 5)
    levels = cfg.schedule.levels().tolist()
    cond = den.den.model.encode_context(torch.randn(1, 5, 16))
    from longroll.pipelines.rolling_forcing import rolling_rollout

    with torch.no_grad():
        gen = torch.Generator().manual_seed(0)
        chunks = list(rolling_rollout(den, cond, num_frames=27, config=cfg, generator=gen))
    assert [c.start for c in chunks] == [0, 3, 6, 9, 12, 15, 18, 21, 24]
    windows = [c for c in den.calls if c[4] != 21 or c[1] != 3 or c[2][0] > 0]  # the window forwards
    assert len(windows) == 9 + 5 - 1
    start, n, t, held, _ = windows[2]  # growing: chunks 0-2 at levels 2, 1, 0
    assert (start, n) == (0, 9) and t == pytest.approx([levels[2]] * 3 + [levels[1]] * 3 + [levels[0]] * 3)
    start, n, t, held, _ = windows[5]  # full: chunks 1-5; context = the anchor only
    assert (start, n, held) == (3, 15, [0, 1, 2]) and t[0] == pytest.approx(levels[4])
    assert windows[6][3] == [0, 1, 2, 3, 4, 5] and windows[7][3] == [0, 1, 2, 6, 7, 8]  # anchor + 3 recent clean
    assert windows[-1][:2] == (24, 3) and windows[-1][2] == pytest.approx([levels[4]] * 3)  # shrinking at the end
    assert windows[-1][3] == [0, 1, 2, *range(9, 24)]  # a shrinking window reads more clean frames (21 in all)
    again = list(rolling_rollout(den.den, cond, num_frames=27, config=cfg, generator=torch.Generator().manual_seed(0)))
    assert all(torch.equal(a.latents, b.latents) for a, b in zip(chunks, again))


def test_rolling_with_one_level_and_no_eviction_equals_the_chunkwise_rollout(wan_transformer):
    from longroll.pipelines.rolling_forcing import rolling_rollout

    den = _den(wan_transformer, "rolling-forcing")
    cond = den.model.encode_context(torch.randn(1, 5, 16, generator=torch.Generator().manual_seed(4)))
    cfg = resolve_preset("none", den, steps=1, window=15)  # one level; 12 frames never leave 15
    with torch.no_grad():
        rolled = torch.cat([c.latents for c in rolling_rollout(den, cond, num_frames=12, config=cfg,
                                                               generator=torch.Generator().manual_seed(0))], dim=1)
        chunked = torch.cat([c.latents for c in rollout(den, cond, num_frames=12, config=cfg,
                                                        generator=torch.Generator().manual_seed(0))], dim=1)
    torch.testing.assert_close(rolled, chunked, rtol=1e-4, atol=1e-4)


def test_the_rolling_schedule_refuses_what_it_cannot_do(wan_transformer):
    from longroll.pipelines.rollouts import SCHEDULES

    den = _den(wan_transformer, "rolling-forcing")
    with pytest.raises(ValueError, match="window = 12 cannot hold the anchor .*allowed: window >= 18"):
        SCHEDULES["rolling"].resolve("flex", den, {}, {})
    with pytest.raises(ValueError, match="Participative Compression"):
        SCHEDULES["rolling"].resolve("deep-forcing", den, {"window": 30}, {})


def test_the_command_line_takes_the_flavours_own_schedule():
    from longroll.cli import build_parser
    from longroll.cli.generate import schedule_of

    parse = build_parser().parse_args
    assert schedule_of(parse(["generate", "x", "--model", "causal-wan", "--flavour", "rolling-forcing"])) == "rolling"
    assert schedule_of(parse(["generate", "x", "--model", "causal-wan", "--flavour", "rolling-forcing",
                              "--schedule", "chunk"])) == "chunk"
    assert schedule_of(parse(["generate", "x", "--model", "causal-wan", "--flavour", "longlive"])) == "chunk"
    assert schedule_of(parse(["generate", "x"])) == "chunk"
