"""The consumer thread behind a bounded queue (``pipelines.behind``) and the video writer built on it."""

import hashlib
import threading
import time

import numpy as np
import pytest
import torch

from longroll.pipelines.behind import Behind


def test_items_arrive_in_order_on_another_thread_without_grad_and_the_result_comes_back():
    seen = {}

    def target(items):
        seen["thread"] = threading.current_thread().name
        seen["grad"] = torch.is_grad_enabled()
        return list(items)

    with Behind(target, depth=2, name="test-consumer") as behind:
        for i in range(20):
            behind.put(i)
    assert behind.result == list(range(20))
    assert seen == {"thread": "test-consumer", "grad": False}


def test_the_producer_waits_only_when_the_consumer_is_depth_items_behind():
    release, put = threading.Event(), []

    def target(items):
        for _ in items:
            release.wait()

    behind = Behind(target, depth=3).start()

    def produce():
        for i in range(10):
            behind.put(i)
            put.append(i)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    deadline = time.time() + 5
    while len(put) < 4 and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)
    assert len(put) == 4  # one in the consumer's hand, three queued: the fifth put waits
    release.set()
    producer.join(5)
    behind.finish()
    assert len(put) == 10


def test_a_consumer_error_reaches_the_producer_which_never_waits_forever():
    def target(items):
        for item in items:
            if item == 1:
                raise RuntimeError("disk full at item 1")

    behind = Behind(target, depth=1).start()
    with pytest.raises(RuntimeError, match="disk full at item 1"):
        for i in range(50):  # the consumer keeps draining after it failed: no put blocks for good
            behind.put(i)
        behind.finish()
    assert behind.failed


def test_a_failed_producer_lets_the_queued_items_finish_unless_told_to_skip():
    for skip, expected in ((False, [0, 1, 2]), (True, [0])):
        started, release, done = threading.Event(), threading.Event(), []

        def target(items):
            for item in items:
                started.set()
                release.wait()
                done.append(item)

        behind = Behind(target, depth=2).start()
        for i in range(3):
            behind.put(i)
        started.wait(5)
        threading.Timer(0.1, release.set).start()
        behind.cancel(skip=skip)  # item 0 is in hand; 1 and 2 are queued
        assert done == expected


def test_depth_below_one_is_refused():
    with pytest.raises(ValueError, match="depth = 0"):
        Behind(list, depth=0)


def _digest(video: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(video).tobytes()).hexdigest()


@pytest.mark.parametrize("schedule,preset", [("chunk", "sink"), ("fifo", "none")])
def test_the_writer_thread_writes_the_same_frames_as_the_rollouts_own_thread(tiny_model, tmp_path, schedule, preset):
    from longroll.io.video import read_video
    from longroll.pipelines.plan import resolve
    from longroll.pipelines.request import GenerationRequest
    from longroll.pipelines.run import run

    def plan(out=None):
        request = GenerationRequest("a red circle on a navy background", seconds=3, seed=4, preset=preset,
                                    schedule=schedule, out=None if out is None else str(out))
        return resolve(request, tiny_model)

    results, files = [], []
    for threaded in (True, False):
        out = tmp_path / f"{threaded}.mp4"
        results.append(run(plan(out), tiny_model, writer_thread=threaded))
        files.append(np.stack(list(read_video(out)[1])))
    video = run(plan(), tiny_model).video
    assert results[0].frames_sha256 == results[1].frames_sha256 == _digest(video)
    assert results[0].frames == results[1].frames == len(video) and results[0].complete
    assert np.array_equal(files[0], files[1])


@pytest.mark.parametrize("to_file", [True, False])
def test_the_rollout_runs_without_grad_with_the_writer_thread_and_without(tiny_model, tmp_path, monkeypatch, to_file):
    """A generator runs in the grad mode of whoever resumes it: the loop that drives the rollout must
    hold no_grad itself (a rollout that recorded its graph grew by gigabytes)."""
    from longroll.pipelines.generate import generate

    modes, forward = [], tiny_model.denoiser.forward
    monkeypatch.setattr(tiny_model.denoiser, "forward",
                        lambda *a, **k: modes.append(torch.is_grad_enabled()) or forward(*a, **k))
    generate("a red circle on a navy background", seconds=2, model=tiny_model, progress=False,
             out=str(tmp_path / "v.mp4") if to_file else None)
    assert modes and not any(modes)
