"""The video writer's timing and frame counts as a player sees them."""

import av
import numpy as np
import pytest

from longroll.io.video import VideoWriter


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_a_video_plays_at_its_frame_rate_and_holds_every_frame(tmp_path, suffix):
    path = tmp_path / f"v{suffix}"
    frames = np.stack([np.full((16, 16, 3), 8 * i, np.uint8) for i in range(24)])
    with VideoWriter(path, 8.0) as writer:
        writer.write(frames[:10])
        writer.write(frames[10:])
    with av.open(str(path)) as c:
        times = [f.time for f in c.decode(video=0)]
    assert len(times) == 24
    # GIF delays are whole centiseconds: 12.5 cs per frame alternates 12 and 13, so the rate is 8 fps on average.
    assert (times[-1] - times[0]) / 23 == pytest.approx(1 / 8, abs=0.002)


def test_an_init_npz_gives_its_video_array_resized_and_refuses_other_arrays(tmp_path):
    """DMLab's and Minecraft's test files (TECO's and FAR's .npz: video and actions) as init frames."""
    import numpy as np
    import pytest

    from longroll.io.init_frames import read_init

    video = np.zeros((4, 8, 8, 3), np.uint8)
    video[:, :4] = 200  # the top half bright
    np.savez(tmp_path / "ep.npz", video=video, actions=np.arange(4))
    assert read_init(tmp_path / "ep.npz", size=(8, 8), fps=10).tobytes() == video.tobytes()
    small = read_init(tmp_path / "ep.npz", size=(4, 4), fps=10, max_frames=3)
    assert small.shape == (3, 4, 4, 3) and (small[:, :2] > 150).all() and (small[:, 2:] < 50).all()
    np.savez(tmp_path / "bad.npz", frames=video)
    with pytest.raises(ValueError, match="has no 'video' array \\(it has: frames\\)"):
        read_init(tmp_path / "bad.npz", size=(8, 8), fps=10)
    np.savez(tmp_path / "float.npz", video=video.astype(np.float32))
    with pytest.raises(ValueError, match="must be uint8 \\(n, H, W, 3\\)"):
        read_init(tmp_path / "float.npz", size=(8, 8), fps=10)
    with pytest.raises(ValueError, match="width / height must be 2"):
        read_init(tmp_path / "ep.npz", size=(4, 8), fps=10)
