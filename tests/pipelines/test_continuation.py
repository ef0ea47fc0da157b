"""Continuing from given frames (--init): the init enters the cache as clean context exactly as generated
frames do, files are read at the model's size and rate, and bad inits are refused before any output."""

import json

import numpy as np
import pytest
import torch

from longroll.pipelines.generate import generate, replay
from longroll.pipelines.presets import resolve_preset
from longroll.pipelines.rollout import rollout

PROMPT = "a red circle and a blue square on a navy background"


def test_continuing_from_generated_latents_reproduces_the_rollout_exactly(tiny_model):
    """Frames written as clean context from an init are the frames the rollout itself wrote: with the
    noise stream where the original was, the continuation equals the original's later chunks bit for bit."""
    den, cond = tiny_model.denoiser, tiny_model.encode_prompt(PROMPT)
    config = resolve_preset("sink", den, steps=2)
    f, n0, total = den.defaults.chunk_size, 6, 16
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        it = rollout(den, cond, num_frames=total, config=config, generator=g)
        first = [next(it) for _ in range(n0 // f)]
        state = g.get_state()
        rest = torch.cat([c.latents for c in it], dim=1)
        g2 = torch.Generator()
        g2.set_state(state)
        init = torch.cat([c.latents for c in first], dim=1)
        cont = list(rollout(den, cond, num_frames=total - n0, config=config, generator=g2, init=init))
    assert cont[0].start == n0
    assert torch.equal(torch.cat([c.latents for c in cont], dim=1), rest)


def test_an_init_video_is_read_at_the_models_size_and_starts_the_output(tiny_model, tmp_path):
    from longroll.io.init_frames import read_init

    clip = tmp_path / "clip.mp4"
    generate(PROMPT, seconds=2, seed=1, model=tiny_model, out=str(clip), preset="sink", progress=False)  # 8x upscaled
    frames = generate(PROMPT, seconds=1, seed=2, model=tiny_model, preset="sink", init=str(clip), progress=False)
    init = read_init(clip, size=tiny_model.frame_size, fps=tiny_model.fps)
    assert init.shape == (16, 32, 32, 3) and frames.shape == (24, 32, 32, 3)
    assert (frames[:16] == init).all()
    last4 = generate(PROMPT, seconds=1, seed=2, model=tiny_model, preset="sink", init=str(clip), init_frames=4,
                     init_in_output=False, progress=False)
    assert last4.shape == (8, 32, 32, 3)
    half_rate = read_init(clip, size=(32, 32), fps=tiny_model.fps / 2)  # sample and hold: every other frame
    assert half_rate.shape[0] == 8 and (half_rate == init[::2]).all()


def test_a_still_image_init_and_replay_of_a_continued_video(tiny_model, tmp_path):
    frames_dir = tmp_path / "frames"
    generate(PROMPT, seconds=0.5, seed=3, model=tiny_model, out=str(frames_dir) + "/", preset="sink", progress=False)
    still = sorted(frames_dir.glob("*.png"))[-1]
    out = tmp_path / "cont.mp4"
    generate(PROMPT, seconds=1, seed=4, model=tiny_model, preset="sink", init=str(still), out=str(out), progress=False)
    meta = json.loads((tmp_path / "cont.mp4.json").read_text())
    assert meta["init"]["frames"] == 1 and meta["frames"] == 9
    again = replay(tmp_path / "cont.mp4.json", model=tiny_model, progress=False)
    import hashlib

    assert hashlib.sha256(np.ascontiguousarray(again).tobytes()).hexdigest() == meta["frames_sha256"]


def test_bad_inits_are_refused_before_any_output(tiny_model, tmp_path):
    out = tmp_path / "v.mp4"
    with pytest.raises(ValueError, match="does not exist"):
        generate(PROMPT, seconds=1, model=tiny_model, init=str(tmp_path / "missing.mp4"), out=str(out))
    bad = tmp_path / "notes.txt"
    bad.write_text("not a video")
    with pytest.raises(ValueError, match=r"allowed: .*\.mp4"):
        generate(PROMPT, seconds=1, model=tiny_model, init=str(bad), out=str(out))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="Cannot read the init"):
        generate(PROMPT, seconds=1, model=tiny_model, init=str(broken), out=str(out))
    wide = tmp_path / "wide"
    wide.mkdir()
    import av

    frame = av.VideoFrame.from_ndarray(np.zeros((32, 64, 3), np.uint8), format="rgb24")
    with av.open(str(wide / "0000.png"), "w", format="image2") as c:
        s = c.add_stream("png")
        s.width, s.height, s.pix_fmt = 64, 32, "rgb24"
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode():
            c.mux(p)
    with pytest.raises(ValueError, match=r"64x32; the model makes 32x32"):
        generate(PROMPT, seconds=1, model=tiny_model, init=str(wide), out=str(out))
    with pytest.raises(ValueError, match="chunk schedule"):
        generate(PROMPT, seconds=1, model=tiny_model, init=str(wide), schedule="fifo", out=str(out))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp4", "notes.txt", "wide"]


@pytest.mark.parametrize("preset", ["sink", "cache-relative", "memrope"])
def test_extending_a_video_equals_making_it_longer_in_one_go(tiny_model, tmp_path, preset):
    from longroll.pipelines.generate import extend

    short, longer = tmp_path / "short.mp4", tmp_path / "longer.mp4"
    generate(PROMPT, seconds=2, seed=5, model=tiny_model, out=str(short), preset=preset, progress=False)
    extend(short, seconds=2, out=longer, model=tiny_model, progress=False)
    direct = generate(PROMPT, seconds=4, seed=5, model=tiny_model, preset=preset, progress=False)
    import hashlib

    meta = json.loads((tmp_path / "longer.mp4.json").read_text())
    assert meta["seconds"] == 4 and meta["frames"] == 32
    assert meta["frames_sha256"] == hashlib.sha256(np.ascontiguousarray(direct).tobytes()).hexdigest()
    assert json.loads((tmp_path / "short.mp4.json").read_text())["frames_sha256"] == \
        hashlib.sha256(np.ascontiguousarray(direct[:16]).tobytes()).hexdigest()  # the first 2 s are the short video


def test_extend_says_when_a_static_rope_scale_replans(tiny_model, tmp_path, caplog):
    from longroll.pipelines.generate import extend

    short = tmp_path / "short.mp4"
    generate(PROMPT, seconds=2, seed=5, model=tiny_model, out=str(short), preset="flex", progress=False)
    with caplog.at_level("WARNING"):
        extend(short, seconds=2, out=tmp_path / "longer.mp4", model=tiny_model, progress=False)
    assert "re-planned for 4 s" in caplog.text
    with pytest.raises(ValueError, match="no readable longroll sidecar"):
        extend(tmp_path / "nothing.mp4", seconds=1, out=tmp_path / "x.mp4", model=tiny_model)


def test_resume_finishes_a_cut_video_with_the_frames_it_would_have_had(tiny_model, tmp_path, monkeypatch):
    import hashlib

    from longroll.io import video
    from longroll.pipelines.generate import resume

    out = tmp_path / "v.mp4"
    real_write = video.VideoWriter.write

    def cut_after_two_chunks(self, frames):
        real_write(self, frames)
        if self.frames_written >= 8:
            raise KeyboardInterrupt

    monkeypatch.setattr(video.VideoWriter, "write", cut_after_two_chunks)
    with pytest.raises(KeyboardInterrupt):
        generate(PROMPT, seconds=3, seed=9, model=tiny_model, out=str(out), preset="sink", progress=False)
    cut = json.loads((tmp_path / "v.mp4.json").read_text())
    assert cut["complete"] is False and 8 <= cut["frames"] < 24
    monkeypatch.setattr(video.VideoWriter, "write", real_write)
    resume(out, model=tiny_model, progress=False)
    done = json.loads((tmp_path / "v.mp4.json").read_text())
    direct = generate(PROMPT, seconds=3, seed=9, model=tiny_model, preset="sink", progress=False)
    direct_sha = hashlib.sha256(np.ascontiguousarray(direct).tobytes()).hexdigest()
    assert done["complete"] and done["frames_sha256"] == direct_sha
    assert not list(tmp_path.glob("*partial*"))
    with pytest.raises(ValueError, match="complete; nothing to resume"):
        resume(out, model=tiny_model)
