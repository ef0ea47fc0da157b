"""Shared fixtures: a tiny random built-in model (never real weights)."""

import sys
from pathlib import Path

import pytest
import torch

# The tests are a package (tests/<package>/test_<module>.py mirror the source, and names such as
# tests/io/ must not shadow the standard library); the shared helpers beside this file stay importable.
sys.path.insert(0, str(Path(__file__).parent))

from longroll.models.tiny.config import DiTConfig
from longroll.models.tiny.weights import random_tiny


def _randomise(model, seed=0):
    """AdaLN-zero and zero heads make an untrained model output zeros; give every weight a value."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.denoiser.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return model


@pytest.fixture(scope="session")
def tiny_model():
    """A small random built-in model: 2 layers, width 48, chunk 2, L_train 8."""
    return _randomise(random_tiny(0, dit=DiTConfig(width=48, depth=2, heads=2, chunk_size=2, train_len=8,
                                                                temporal_rope_dim=None)))


@pytest.fixture(scope="session")
def tiny_weights(tiny_model, tmp_path_factory):
    """The random tiny model written as a weights file, for the command line."""
    from longroll.models.tiny.weights import save_tiny

    return save_tiny(tiny_model.autoencoder, tiny_model.denoiser, tmp_path_factory.mktemp("weights"))


@pytest.fixture(scope="session")
def wan_transformer():
    """A tiny random diffusers WanTransformer3DModel (needs the wan extra: diffusers)."""
    pytest.importorskip("diffusers")
    from wan_fixtures import tiny_transformer

    return tiny_transformer()


@pytest.fixture(scope="session")
def wan_base_dir(tmp_path_factory):
    """A tiny Wan2.1 directory in diffusers layout (transformer, UMT5, tokenizer, VAE), random weights."""
    pytest.importorskip("diffusers")
    pytest.importorskip("transformers")
    from wan_fixtures import write_base_dir

    return write_base_dir(tmp_path_factory.mktemp("wan_base"))
