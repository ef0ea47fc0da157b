"""LPIPS-Alex from local files in torchvision's and LPIPS v0.1's key layouts (random stand-ins, never downloaded)."""

import numpy as np
import pytest
from feature_fixtures import write_lpips_folder

from longroll.eval.lpips import LPIPS


def test_lpips_is_zero_for_identical_frames_symmetric_and_grows_with_distortion(tmp_path):
    lpips = LPIPS.from_folder(write_lpips_folder(tmp_path / "lpips"))
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)  # enlarged to 64 px inside
    assert lpips.distances(frames, frames) == pytest.approx([0.0, 0.0], abs=1e-6)
    noisy = [np.clip(frames + rng.normal(0, s, frames.shape), 0, 255).astype(np.uint8) for s in (8, 32, 96)]
    d = [np.mean(lpips.distances(frames, n)) for n in noisy]
    assert 0 < d[0] < d[1] < d[2]
    assert lpips.distances(frames, noisy[1]) == pytest.approx(lpips.distances(noisy[1], frames), rel=1e-5)


def test_a_folder_missing_either_file_is_refused_naming_it(tmp_path):
    folder = write_lpips_folder(tmp_path / "lpips")
    (folder / "alex.pth").unlink()
    with pytest.raises(ValueError, match="LPIPS v0.1's heads .* is missing .*never downloads"):
        LPIPS.from_folder(folder)
    (folder / "junk.pth").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="junk.pth is not a readable PyTorch weights file"):
        LPIPS.from_folder(folder)
