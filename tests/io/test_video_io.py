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
