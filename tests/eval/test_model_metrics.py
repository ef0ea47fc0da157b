"""VBench's DINO / CLIP consistency from local model directories, on tiny random stand-ins of the same
architectures (never downloaded)."""

import json

import numpy as np
import pytest

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def feature_dirs(tmp_path_factory):
    from feature_fixtures import write_feature_dirs

    return write_feature_dirs(tmp_path_factory.mktemp("feature_models"))


def test_consistency_is_one_for_a_still_video_and_lower_when_frames_change(feature_dirs):
    from longroll.eval.model_metrics import load_feature_models

    dino, clip = load_feature_models(*feature_dirs)
    rng = np.random.default_rng(0)
    still = np.repeat(rng.integers(0, 256, (1, 32, 32, 3), dtype=np.uint8), 6, axis=0)
    noisy = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    for fm in (dino, clip):
        assert fm.segment(still) == pytest.approx(1.0, abs=1e-5)
        assert fm.segment(noisy) < 0.999
        assert fm.segment(still[:1]) is None
    assert (dino.key, clip.key) == ("subject_consistency", "background_consistency")


def test_eval_adds_the_model_dimensions_per_segment(feature_dirs, tiny_model, tmp_path):
    from longroll.cli import main
    from longroll.pipelines.generate import generate

    video = tmp_path / "v.mp4"
    generate("a red circle on a black background", seconds=4, model=tiny_model, out=str(video), progress=False)
    out = tmp_path / "v.json"
    assert main(["eval", str(video), "--json", str(out), "--dino", str(feature_dirs[0]), "--clip",
                 str(feature_dirs[1])]) == 0
    result = json.loads(out.read_text())
    assert all(0 <= s["subject_consistency"] <= 1 and 0 <= s["background_consistency"] <= 1
               for s in result["segments"])
    assert "subject_consistency" in result["metrics"] and "subject_consistency" in result["framepack_drift"]


def test_a_missing_model_directory_is_refused_before_any_work(tmp_path):
    from longroll.eval.model_metrics import FeatureConsistency

    with pytest.raises(ValueError, match="not a local DINO model directory .* never downloads"):
        FeatureConsistency("dino", tmp_path)
    with pytest.raises(ValueError, match="kind = 'musiq'"):
        FeatureConsistency("musiq", tmp_path)
