"""The studio's API and WebSocket, with the framework's test client and a tiny random model."""

import hashlib
import itertools
import json
import time

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient

from longroll.studio.app import create_app
from tests.studio.conftest import receive_until

PROMPT = "a red circle and a blue square on a navy background"
OTHER = "two yellow triangles on a black background"


def _events(ws, until=("done", "stopped"), limit=100_000):
    return receive_until(ws, until, limit)


def _until_frames(ws) -> None:
    """Receive until the first frames message (the video is being made)."""
    while ws.receive().get("bytes") is None:
        pass


def _sha(frames):
    return hashlib.sha256(b"".join(np.ascontiguousarray(f).tobytes() for _, f in frames)).hexdigest()


def _generate_frames(model, **kwargs):
    from longroll.pipelines.generate import generate

    video = generate(PROMPT, model=model, progress=False, **kwargs)
    return hashlib.sha256(np.ascontiguousarray(video).tobytes()).hexdigest(), video


def test_a_stream_delivers_every_frame_in_order_and_equals_generate(studio, tiny_model):
    client, _, out = studio
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "generate", "prompt": PROMPT, "seconds": 3, "seed": 4, "preset": "flex"})
        events, frames = _events(ws)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "queued" and "started" in kinds and kinds[-1] == "done"
    starts = [s for s, _ in frames]
    assert starts == sorted(starts) and starts[0] == 0
    assert all(a + len(f) == b for (a, f), (b, _) in itertools.pairwise(frames))  # contiguous, nothing lost
    assert sum(len(f) for _, f in frames) == 24 and frames[0][1].shape[1:] == (32, 32, 3)
    done = events[-1]
    want, _ = _generate_frames(tiny_model, seconds=3, seed=4, preset="flex")
    assert done["frames_sha256"] == _sha(frames) == want
    progress = [e for e in events if e["type"] == "progress"]
    assert progress[-1]["done"] == 24 and progress[-1]["realtime"] > 0
    side = json.loads((out / f"{done['video']}.json").read_text())
    assert side["complete"] and side["frames_sha256"] == want
    # The gallery lists it with its replay command, and the file is served by its generated name.
    listed = client.get("/api/videos").json()
    assert listed[0]["name"] == done["video"] and "--replay" in listed[0]["replay"]
    assert client.get(f"/files/{done['video']}").status_code == 200


def test_a_live_switch_takes_effect_at_the_next_chunk_and_equals_generate_switch(studio, tiny_model):
    client, _, out = studio
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "generate", "prompt": PROMPT, "seconds": 40, "seed": 2, "preset": "flex"})
        _until_frames(ws)
        ws.send_json({"type": "pause"})
        ws.send_json({"type": "switch", "prompt": OTHER})
        ws.send_json({"type": "resume"})
        events, _ = _events(ws)
    timeline = [e for e in events if e["type"] == "timeline"]
    assert len(timeline) == 1 and events[-1]["type"] == "done"
    switch = timeline[0]["switches"][0]
    chunk = tiny_model.defaults.chunk_size
    frame = round(switch["at_seconds"] * tiny_model.fps)
    assert 0 < frame < 320 and frame % chunk == 0  # at a chunk boundary
    want, _ = _generate_frames(tiny_model, seconds=40, seed=2, preset="flex",
                               switches=[(switch["at_seconds"], OTHER)])
    assert events[-1]["frames_sha256"] == want
    side = json.loads((out / f"{events[-1]['video']}.json").read_text())
    assert [e["prompt"] for e in side["prompt_schedule"]] == [PROMPT, OTHER]  # --replay makes the same video


def test_stop_frees_the_worker_and_keeps_a_playable_prefix(studio):
    from longroll.io.video import read_video

    client, app, out = studio
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "generate", "prompt": PROMPT, "seconds": 600, "seed": 0})
        _until_frames(ws)
        ws.send_json({"type": "stop"})
        events, _ = _events(ws)
    assert events[-1]["type"] == "stopped"
    _wait_idle(app)
    side = json.loads((out / f"{events[-1]['video']}.json").read_text())
    assert not side["complete"] and 0 < side["frames"] < 4800
    _, decoded = read_video(out / events[-1]["video"])
    assert sum(1 for _ in decoded) == side["frames"]


def _wait_idle(app, seconds=20.0):
    t0 = time.time()
    while app.state.pool.busy() and time.time() - t0 < seconds:
        time.sleep(0.05)
    assert app.state.pool.busy() == 0, "the worker was not freed"


def test_a_page_closed_mid_stream_frees_its_worker_and_the_server_goes_on(studio):
    client, app, _ = studio
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "generate", "prompt": PROMPT, "seconds": 600, "seed": 0})
        _until_frames(ws)
    _wait_idle(app)
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "generate", "prompt": PROMPT, "seconds": 1, "seed": 0})
        events, frames = _events(ws)
    assert events[-1]["type"] == "done" and sum(len(f) for _, f in frames) == 8


@pytest.mark.parametrize("message, error", [
    ({"prompt": "a red elephant"}, "Cannot parse prompt"),
    ({"prompt": PROMPT, "seconds": 4000}, "seconds = 4000"),
    ({"prompt": PROMPT, "seconds": "ten"}, "seconds must be a number"),
    ({"prompt": PROMPT, "seed": -1}, "seed = -1"),
    ({"prompt": PROMPT, "preset": "fast"}, "preset must be one of"),
    ({"prompt": PROMPT, "overrides": {"windw": 3}}, "Unknown override"),
    ({"prompt": PROMPT, "overrides": {"sink": 40}}, "sink = 40"),
    ({"prompt": ""}, "Type a prompt"),
])
def test_bad_requests_are_refused_before_any_work(studio, message, error):
    client, app, out = studio
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "generate", **message})
        event = json.loads(ws.receive()["text"])
        assert event["type"] == "error" and error in event["message"]
        ws.send_text("x" * 20_000)
        assert "refused" in json.loads(ws.receive()["text"])["message"]
        ws.send_text("not json")
        assert json.loads(ws.receive()["text"])["type"] == "error"
        ws.send_json({"type": "watching", "frame": 3})  # a page still playing a finished video: ignored
        ws.send_json({"type": "switch", "prompt": OTHER})
        assert "Nothing is being made" in json.loads(ws.receive()["text"])["message"]
    assert list(out.iterdir()) == [] and app.state.pool.busy() == 0
    r = client.post("/api/check", json={"type": "generate", **message})
    assert r.status_code == 422 and error in r.json()["message"]


def test_a_bad_live_prompt_is_refused_and_the_run_goes_on(studio):
    client, _, _ = studio
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "generate", "prompt": PROMPT, "seconds": 20, "seed": 0})
        ws.send_json({"type": "switch", "prompt": "a red elephant"})
        events, _ = _events(ws)
    errors = [e for e in events if e["type"] == "error"]
    assert errors and "Cannot parse prompt" in errors[0]["message"] and events[-1]["type"] == "done"


def test_files_serves_only_the_studios_own_names(studio):
    client, _, _ = studio
    for name in ("../../etc/passwd", "%2e%2e%2fsecret", "x.mp4", "20260101-000000-deadbeef.mp4"):
        assert client.get(f"/files/{name}").status_code == 404
    assert client.get("/api/info").json()["vocabulary"]  # the built-in world's words, offered as one types
    assert "<canvas" in client.get("/").text


def test_a_full_queue_says_so_and_a_queued_job_knows_its_place(tiny_model, tmp_path):
    app = create_app(tiny_model, tmp_path / "out", workers=1, max_queue=1)
    with TestClient(app) as client:
        with client.websocket_connect("/ws") as a, client.websocket_connect("/ws") as b, \
                client.websocket_connect("/ws") as c:  # noqa: SIM117
            a.send_json({"type": "generate", "prompt": PROMPT, "seconds": 600})
            _until_frames(a)
            b.send_json({"type": "generate", "prompt": PROMPT, "seconds": 1})
            assert json.loads(b.receive()["text"]) | {"job": None, "video": None} == {
                "type": "queued", "job": None, "position": 1, "video": None}
            c.send_json({"type": "generate", "prompt": PROMPT, "seconds": 1})
            event = json.loads(c.receive()["text"])
            assert event["type"] == "error" and "queue is full (1 videos waiting" in event["message"]
            a.send_json({"type": "stop"})
            events, _ = _events(b)  # b runs once a stops
            assert events[-1]["type"] == "done"


def test_live_evaluation_rows_equal_the_end_of_video_evaluation(tiny_model):
    from longroll.eval.evaluate import WEIGHT_FREE, evaluate_frames
    from longroll.eval.live import LiveEvaluator

    _, video = _generate_frames(tiny_model, seconds=6, seed=1)
    live = LiveEvaluator(tiny_model.fps, prompt=PROMPT)
    rows = [r for i in range(0, len(video), 4) for r in live.add(video[i:i + 4])]
    ref = evaluate_frames(list(video), tiny_model.fps, prompt=PROMPT)["segments"]
    assert len(rows) == len(ref) == 3
    for row, want in zip(rows, ref):
        for key in WEIGHT_FREE:
            assert row[key] == pytest.approx(want[key], nan_ok=True), key
        assert set(row) >= {"object_presence", "colour_fidelity", "separation"}


def test_a_timed_script_plays_as_a_storyboard_and_its_cut_is_in_the_sidecar(studio, tiny_model):
    from longroll.pipelines.generate import generate

    client, _, out = studio
    script = f"{PROMPT} [1s] | {OTHER} [1s#]"
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "generate", "prompt": script, "seconds": 8, "seed": 5})  # the script's 2 s win
        events, frames = _events(ws)
    assert events[-1]["type"] == "done" and sum(len(f) for _, f in frames) == 16
    side = json.loads((out / f"{events[-1]['video']}.json").read_text())
    assert side["script"] and [e["cut"] for e in side["prompt_schedule"]] == [False, True]
    video = generate(script, seed=5, model=tiny_model, progress=False)
    assert events[-1]["frames_sha256"] == hashlib.sha256(np.ascontiguousarray(video).tobytes()).hexdigest()


def test_a_paced_run_stays_within_its_lead_of_what_the_page_shows(studio):
    client, app, _ = studio
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "generate", "prompt": PROMPT, "seconds": 600, "seed": 0, "lead_seconds": 1})
        made, t0 = 0, time.time()
        while time.time() - t0 < 2.0:  # nobody watches: the run stops one chunk past its 8-frame lead
            message = ws.receive()
            if message.get("text") and json.loads(message["text"])["type"] == "progress":
                made = json.loads(message["text"])["done"]
                if made > 8:
                    break
        time.sleep(0.5)
        job = next(iter(app.state.jobs.values()))
        assert 8 <= made <= 8 + 2 and job.state == "running"
        ws.send_json({"type": "watching", "frame": 40})  # the page caught up: the run goes on to 48 + a chunk
        while made < 48:
            message = ws.receive()
            if message.get("text") and json.loads(message["text"])["type"] == "progress":
                made = json.loads(message["text"])["done"]
        ws.send_json({"type": "stop"})
        events, _ = _events(ws)
    assert events[-1]["type"] == "stopped" and made <= 48 + 2
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "generate", "prompt": PROMPT, "seconds": 1, "lead_seconds": 0.1})
        assert "lead_seconds = 0.1" in json.loads(ws.receive()["text"])["message"]
