"""``--model far``: FAR's releases by name, the class name as the prompt, actions from a file, the loader
from FAR's download layout, and whole videos through the command line on tiny random weights."""

import json

import numpy as np
import pytest
import torch

from longroll.models.far.labels import (
    UCF101_CLASSES,
    check_actions,
    class_label,
    parse_actions_prompt,
    read_actions,
    read_class_names,
    video_prompt,
)
from longroll.models.far.zoo import RELEASES, release_for, release_from_name
from tests.models.far_fixtures import far_release_files

pytest.importorskip("diffusers")


def test_a_release_is_read_from_fars_file_names_or_named_by_flavour():
    assert release_from_name("FAR_L_UCF101_Cond128-c6f798bf.pth").name == "ucf101-cond128"
    assert release_from_name("/x/FAR_XL_UCF101_Uncond256-adea51e9.pth").name == "ucf101-uncond256"
    assert release_from_name("FAR_B_Long_DMLab_Action64-c09441dc.pth").long
    assert release_from_name("FAR_B_BAIR_Uncond64-1983191b.pth").train_len == 30
    assert release_from_name("model.pth") is None
    assert release_for("bair-uncond64", "model.pth").fps == 10.0
    cond = RELEASES["ucf101-cond128"]
    assert (cond.condition, cond.classes, cond.guidance, cond.dcae_prefix) == ("label", 101, 2.0, "DCAE_UCF101_Res128")
    assert cond.fps == pytest.approx(25 / 3)  # UCF-101's 25 fps, every third frame
    with pytest.raises(ValueError, match="give --flavour, one of ucf101-uncond64, bair-uncond64"):
        release_for(None, "model.pth")
    with pytest.raises(ValueError, match="flavour must be one of .*got 'ucf-101'"):
        release_for("ucf-101", "FAR_L_UCF101_Cond128-c6f798bf.pth")


def test_the_class_name_is_the_prompt_in_ucf101s_own_order(tmp_path):
    assert len(UCF101_CLASSES) == 101 and len(set(UCF101_CLASSES)) == 101
    assert class_label("ApplyEyeMakeup", UCF101_CLASSES) == 0 and class_label("YoYo", UCF101_CLASSES) == 100
    assert class_label("playing guitar", UCF101_CLASSES) == class_label("Playing_Guitar", UCF101_CLASSES) == 62
    # classInd.txt's order, not Python's sorted() of the folder names.
    assert class_label("Hammering", UCF101_CLASSES) == 34 and class_label("HammerThrow", UCF101_CLASSES) == 35
    assert sorted(UCF101_CLASSES).index("HammerThrow") == 34
    with pytest.raises(ValueError, match=r"'Guitar' is not one of this model's 101 classes"):
        class_label("Guitar", UCF101_CLASSES)
    with pytest.raises(ValueError, match="close: PlayingCello, PlayingDaf"):
        class_label("Playing", UCF101_CLASSES)
    listed = tmp_path / "classInd.txt"
    listed.write_text("1 Zebra\n2 Apple\n\n")
    assert read_class_names(listed) == ("Zebra", "Apple")
    listed.write_text("Apple\napple\n")
    with pytest.raises(ValueError, match="names a class twice"):
        read_class_names(listed)


def test_actions_are_read_from_a_file_and_checked_against_the_action_space(tmp_path):
    f = tmp_path / "actions.txt"
    f.write_text("0 1 2\n3,3, 0\n")
    assert read_actions(f) == (0, 1, 2, 3, 3, 0)
    f.write_text("[1, 2, 0]")
    assert read_actions(f) == (1, 2, 0)
    for text, message in (("0 x 1", "must hold integers"), ("", "holds no action"), ("[1.5]", "list of integers"),
                          ("0 -1", "Action -1 of frame 1 .* is negative")):
        f.write_text(text)
        with pytest.raises(ValueError, match=message):
            read_actions(f)
    with pytest.raises(ValueError, match="No actions file"):
        read_actions(tmp_path / "missing.txt")
    check_actions((0, 3, 1), 4, 3)
    with pytest.raises(ValueError, match=r"Action 4 of frame 1 is not in this model's action space \(allowed range "
                                         r"\[0, 3\]\)"):
        check_actions((0, 4), 4, 2)
    with pytest.raises(ValueError, match="video has 5 frames but the actions cover 3"):
        check_actions((0, 1, 2), 4, 5)


def test_a_release_loads_from_fars_layout_with_its_condition_and_codec(tmp_path):
    from longroll.models.registry import load_model, model_fps, weights_identity

    checkpoint, dcae = far_release_files(tmp_path)
    model = load_model("far", weights=str(checkpoint), dcae=str(dcae), device="cpu")
    assert model.fps == pytest.approx(25 / 3) == model_fps("far", str(checkpoint), {})
    assert model.frame_size == (128, 128) and model.denoiser.latent_shape == (32, 8, 8)
    d = model.defaults
    assert (d.train_len, d.chunk_size, d.window, d.schedule.cfg, d.schedule.steps) == (16, 1, 16, 2.0, 50)
    assert model.encode_prompt("PlayingGuitar").tolist() == [62]
    with pytest.raises(ValueError, match="not one of this model's 101 classes"):
        model.encode_prompt("a cat")
    latents = model.encode_frames(np.zeros((2, 128, 128, 3), np.uint8))
    assert latents.shape == (1, 2, 32, 8, 8) and model.decode(latents).shape == (2, 128, 128, 3)
    assert model.load_options == {"flavour": "ucf101-cond128", "dcae": str(dcae), "classes": None}
    assert weights_identity("far", str(checkpoint), dcae=str(dcae)) == model.weights_sha256
    # The DC-AE is found where FAR's download puts it, when none is given.
    from longroll.models.far.loader import find_dcae

    (tmp_path / "FAR_Models" / "dcae").mkdir()
    placed = tmp_path / "FAR_Models" / "dcae" / "DCAE_UCF101_Res128-bb9d1258.pth"
    placed.write_bytes(b"")
    assert find_dcae(checkpoint, RELEASES["ucf101-cond128"]) == placed
    with pytest.raises(ValueError, match=r"none named DCAE_UCF101_Res64-\*.pth .* give --dcae PATH"):
        find_dcae(checkpoint, RELEASES["ucf101-uncond64"])


def test_a_release_that_does_not_match_the_file_or_codec_is_refused(tmp_path):
    from longroll.models.registry import load_model

    checkpoint, dcae = far_release_files(tmp_path)
    with pytest.raises(ValueError, match="holds a model with label conditioning over 101; the ucf101-uncond128 "
                                         "release is uncond"):
        load_model("far", weights=str(checkpoint), dcae=str(dcae), flavour="ucf101-uncond128", device="cpu")
    small = far_release_files(tmp_path / "small", "FAR_B_UCF101_Uncond64-381d295f.pth", condition=None)[0]
    with pytest.raises(ValueError, match="compresses by 16: 64-pixel frames would make 4 x 4 latents"):
        load_model("far", weights=str(small), dcae=str(dcae), device="cpu")  # the 128-pixel release's codec
    with pytest.raises(ValueError, match="the dmlab-action64 release is action over 4"):
        load_model("far", weights=str(checkpoint), dcae=str(dcae), flavour="dmlab-action64", device="cpu")
    with pytest.raises(ValueError, match="takes no option base"):
        load_model("far", weights=str(checkpoint), base="x")


def test_an_unconditional_release_takes_only_the_word_unconditional(tmp_path):
    from longroll.models.registry import load_model

    checkpoint, dcae = far_release_files(tmp_path, "FAR_B_UCF101_Uncond64-381d295f.pth", stages=4, condition=None)
    model = load_model("far", weights=str(checkpoint), dcae=str(dcae), device="cpu")
    assert model.frame_size == (64, 64) and model.fps == 25.0 and model.defaults.schedule.cfg == 1.0
    assert model.encode_prompt("unconditional").shape == (1, 0)
    with pytest.raises(ValueError, match="is unconditional, so the prompt 'a dog' would be ignored"):
        model.encode_prompt("a dog")


def test_a_far_video_through_the_command_line_replays_and_continues(tmp_path):
    from longroll.cli import main
    from longroll.io.video import read_video

    checkpoint, dcae = far_release_files(tmp_path)
    out = tmp_path / "guitar.mp4"
    common = ["--model", "far", "--checkpoint", str(checkpoint), "--dcae", str(dcae), "--steps", "3",
              "--no-progress"]
    assert main(["generate", "PlayingGuitar", "--seconds", "2", "--out", str(out), *common]) == 0
    side = json.loads(out.with_name("guitar.mp4.json").read_text())
    assert side["model"] == "far" and side["model_options"]["flavour"] == "ucf101-cond128"
    assert side["config"]["schedule"]["cfg"] == 2.0 and side["fps"] == pytest.approx(25 / 3)
    fps, frames = read_video(out)
    frames = list(frames)
    assert len(frames) == side["frames"] and frames[0].shape == (256, 256, 3)  # 128 pixels, upscaled 2x
    again = tmp_path / "again.mp4"
    assert main(["generate", "--replay", str(out.with_name("guitar.mp4.json")), "--out", str(again),
                 "--no-progress"]) == 0
    assert json.loads(again.with_name("again.mp4.json").read_text())["frames_sha256"] == side["frames_sha256"]
    # Continuation: the video's frames enter the cache through the DC-AE, then FAR goes on.
    more = tmp_path / "more.mp4"
    assert main(["generate", "PlayingGuitar", "--seconds", "1", "--init", str(out), "--init-frames", "4",
                 "--out", str(more), *common]) == 0
    assert json.loads(more.with_name("more.mp4.json").read_text())["init"]["frames"] == 4
    # A bad class name is refused before any frame is made, and nothing is written.
    bad = tmp_path / "bad.mp4"
    assert main(["generate", "Guitar", "--seconds", "1", "--out", str(bad), *common]) == 2
    assert not bad.exists() and not list(tmp_path.glob("bad*"))


def test_the_horizon_methods_run_on_far(tmp_path):
    """FAR takes per-frame timesteps: the diagonal schedules apply, and the cache presets act on its window."""
    from longroll.models.registry import load_model
    from longroll.pipelines.generate import generate

    checkpoint, dcae = far_release_files(tmp_path)
    model = load_model("far", weights=str(checkpoint), dcae=str(dcae), device="cpu")
    torch.manual_seed(0)
    for kwargs in (dict(preset="sink", steps=2), dict(preset="flex", steps=2), dict(preset="none", bias="flexrope",
                   steps=2), dict(schedule="fifo", preset="none", schedule_options={"window": 4, "partitions": 1})):
        frames = generate("Surfing", seconds=1.0, model=model, progress=False, **kwargs)
        assert frames.shape[1:] == (128, 128, 3) and frames.dtype == np.uint8, kwargs


def test_the_prompt_of_a_test_video_is_read_as_fars_data_lays_it_out(tmp_path):
    """UCF-101's file names carry the class; DMLab's and Minecraft's .npz carry the actions (or a sidecar file)."""
    ucf = tmp_path / "v_ApplyEyeMakeup_g01_c01.avi"
    assert video_prompt(ucf, "label", UCF101_CLASSES, 101) == "ApplyEyeMakeup"
    assert video_prompt(tmp_path / "v_YoYo_g25_c05.avi", "label", UCF101_CLASSES, 101) == "YoYo"
    with pytest.raises(ValueError, match="Cannot tell the class of 'clip.mp4'"):
        video_prompt(tmp_path / "clip.mp4", "label", UCF101_CLASSES, 101)
    with pytest.raises(ValueError, match="'Dancing' is not one of this model's 101 classes"):
        video_prompt(tmp_path / "v_Dancing_g01_c01.avi", "label", UCF101_CLASSES, 101)
    np.savez(tmp_path / "0.npz", video=np.zeros((5, 8, 8, 3), np.uint8), actions=np.array([0, 0, 3, 1, 1]))
    prompt = video_prompt(tmp_path / "0.npz", "action", (), 4)
    assert parse_actions_prompt(prompt) == (0, 0, 3, 1, 1)
    with pytest.raises(ValueError, match=r"Action 3 of frame 2 is not in this model's action space \(allowed range"):
        video_prompt(tmp_path / "0.npz", "action", (), 3)
    (tmp_path / "run.actions.txt").write_text("2 2 1")
    assert parse_actions_prompt(video_prompt(tmp_path / "run.mp4", "action", (), 4)) == (2, 2, 1)
    with pytest.raises(ValueError, match="No actions for 'other.mp4'"):
        video_prompt(tmp_path / "other.mp4", "action", (), 4)
    assert video_prompt(tmp_path / "any.mp4", None, (), 0) == "unconditional"
