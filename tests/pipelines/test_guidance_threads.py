"""A guided video has the same bits whatever thread count its process has (guidance's batch of two runs
on one intra-op thread on the CPU), and the thread count is given back after the run."""

import hashlib
import threading

import numpy as np
import pytest
import torch

from longroll.pipelines.guidance import GuidedDenoiser, one_thread

PROMPT = "a red circle and a blue square on a navy background"


def test_one_thread_pins_guided_cpu_runs_and_gives_the_count_back(tiny_model):
    den = tiny_model.denoiser
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with one_thread(den):  # unguided: one row rounds alike on any thread count, so every thread is kept
            assert torch.get_num_threads() == 2
        guided = GuidedDenoiser(den, 2.0)
        inside, other = [], threading.Event()

        def second_run():  # a second run on another thread (a studio worker) pins and gives back its own
            torch.set_num_threads(2)
            with one_thread(guided):
                other.wait(10)
                inside.append(torch.get_num_threads())
            inside.append(torch.get_num_threads())

        with one_thread(guided):
            t = threading.Thread(target=second_run)
            t.start()
            inside.append(torch.get_num_threads())
        assert torch.get_num_threads() == 2  # given back while the other run is still going
        other.set()
        t.join()
        assert inside == [1, 1, 2] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["none", "deep-forcing"])
def test_a_guided_video_has_the_same_bits_on_one_and_two_threads(preset):
    """On the shipped model's shapes (the random fixture's happen to round alike on any thread count)."""
    from longroll.models.registry import load_model
    from longroll.models.tiny.weights import shipped_weights
    from longroll.pipelines.generate import generate

    if not shipped_weights().is_file():
        pytest.skip("no shipped weights in this checkout")
    model = load_model("tiny")
    hashes = []
    threads = torch.get_num_threads()
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            video = generate(PROMPT, seconds=3, seed=1, model=model, preset=preset, cfg=2.0, progress=False)
            hashes.append(hashlib.sha256(np.ascontiguousarray(video).tobytes()).hexdigest())
            assert torch.get_num_threads() == n
    finally:
        torch.set_num_threads(threads)
    assert hashes[0] == hashes[1]
