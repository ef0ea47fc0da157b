"""The predict protocol's pieces: where a prompt's true video is found, how many context frames by default."""

import dataclasses

import pytest

from longroll.bench.protocols import default_context, find_video, make_context


def test_a_prompts_true_video_is_found_by_the_names_batch_and_vbench_give(tmp_path):
    (tmp_path / "a fox in snow-0.mp4").write_bytes(b"x")
    assert find_video(tmp_path, "a fox in snow").name == "a fox in snow-0.mp4"
    (tmp_path / "a fox in snow.mp4").write_bytes(b"x")
    assert find_video(tmp_path, "a fox in snow").name == "a fox in snow.mp4"
    with pytest.raises(ValueError, match="No video for the prompt 'a cat' .* looked for PROMPT.mp4 and PROMPT-0.mp4"):
        find_video(tmp_path, "a cat")


def test_the_default_context_is_one_chunk_of_the_model(tiny_model):
    assert default_context(tiny_model) == tiny_model.defaults.chunk_size
    wan_like = dataclasses.replace(tiny_model, causal_first_frame=True)
    # A causal codec takes 1 + 4k frames: one chunk of 3 latents is 9 frames with Wan's 4 frames per latent.
    assert default_context(wan_like) == 1 + (tiny_model.defaults.chunk_size - 1) * tiny_model.frames_per_latent


def test_a_true_video_too_short_to_leave_a_continuation_is_refused(tiny_model, tmp_path):
    from longroll.io.video import VideoWriter
    from longroll.world.render import render
    from longroll.world.scene import scene_from_prompt

    prompt = "a red circle on a black background"
    with VideoWriter(tmp_path / f"{prompt}.mp4", 8) as writer:
        writer.write(render(scene_from_prompt(prompt, 0), 0, 3))
    with pytest.raises(ValueError, match="has 3 frames at 8 fps; the context takes 3, so nothing is left"):
        make_context(tmp_path / "out", tiny_model, prompt, 0, 3, str(tmp_path))
    context = make_context(tmp_path / "out", tiny_model, prompt, 0, 2, str(tmp_path))
    assert context.video is not None and context.seed is None and len(list((tmp_path / "out" / "context").glob(
        "*/*.png"))) == 2
