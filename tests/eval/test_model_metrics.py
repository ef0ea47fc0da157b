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


def test_aesthetic_quality_is_laions_linear_head_on_normalised_clip_embeddings_over_ten(tmp_path):
    import torch
    from feature_fixtures import write_aesthetic_folder

    from longroll.eval.model_metrics import AestheticQuality, load_feature_models

    folder = write_aesthetic_folder(tmp_path)
    (model,) = load_feature_models(aesthetic=folder)
    frames = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    head = torch.load(folder / "aesthetic_head.pth")
    expected = float((model.clip.features(frames) @ head["weight"].T + head["bias"]).mean() / 10)
    assert model.key == "aesthetic_quality" and model.segment(frames) == pytest.approx(expected, rel=1e-5)
    torch.save({"weight": torch.zeros(1, 7), "bias": torch.zeros(1)}, folder / "aesthetic_head.pth")
    with pytest.raises(ValueError, match=r"not a linear aesthetic head for this CLIP \(expected weight \(1, 16\)"):
        AestheticQuality(folder)
    (folder / "aesthetic_head.pth").unlink()
    with pytest.raises(ValueError, match="exactly one .pth file beside it.*found 0"):
        AestheticQuality(folder)
