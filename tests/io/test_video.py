"""Messages about files name them as they are and say what is wrong in words (no raw FFmpeg error numbers);
partial files name their writer."""

import os

import pytest

from longroll.io.video import final_name, output_kind, partial_writer, partials_of


@pytest.mark.parametrize("path", ["/dev/null", "video.avi", "clip"])
def test_an_unsupported_output_suggests_forms_that_work(path):
    with pytest.raises(ValueError) as err:
        output_kind(path)
    text = str(err.value)
    assert "e.g. video.mp4" in text and "e.g. frames/" in text and "null/" not in text


def test_a_file_that_is_no_video_is_described_in_words(tmp_path):
    from longroll.io.init_frames import read_init

    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"not a video at all" * 10)
    with pytest.raises(ValueError) as err:
        read_init(bad, size=(32, 32), fps=8.0)
    assert "invalid data found when processing input" in str(err.value) and "Errno" not in str(err.value)


def test_eval_of_a_file_that_is_no_video_is_described_in_words(tmp_path):
    from longroll.eval.evaluate import evaluate_video

    bad = tmp_path / "x.gif"
    bad.write_bytes(b"GIF89a garbage" * 10)
    with pytest.raises(ValueError) as err:
        evaluate_video(bad)
    assert "is not a readable video" in str(err.value) and "Errno" not in str(err.value)


def test_partial_names_give_their_writer_and_final_name(tmp_path):
    video = tmp_path / "v.mp4"
    partial = tmp_path / f"v.partial-{os.getpid()}.mp4"
    partial.write_bytes(b"")
    (tmp_path / f"v.partial-{os.getpid()}.mp4.json").write_text("{}")
    (tmp_path / "w.partial-1.mp4").write_bytes(b"")
    assert partial_writer(partial) == os.getpid() and final_name(partial) == video
    assert final_name(tmp_path / "frames.partial-12") == tmp_path / "frames"
    assert [p.name for p in partials_of(video)] == [partial.name, partial.name + ".json"]
