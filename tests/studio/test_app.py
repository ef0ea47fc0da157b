"""The studio offers per schedule only what it can do and runs every schedule to the end; it never blocks
its event loop on model work; bad frames and values are answered, not crashed on or truncated; sidecars
leave it without local paths."""

import dataclasses
import json
import threading
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient

from longroll.studio.app import create_app
from tests.studio.conftest import receive_until

PROMPT = "a red circle and a blue square on a navy background"


def _events(ws, until=("done", "stopped")):
    """(JSON events, frames received) until an event of type ``until``."""
    events, frames = receive_until(ws, until)
    return events, sum(len(f) for _, f in frames)


def test_info_says_what_each_schedule_can_do(studio):
    client, _, _ = studio
    info = client.get("/api/info").json()
    assert set(info["schedules"]) == {"chunk", "rolling", "fifo", "miga"}
    assert info["schedules"]["chunk"]["live"] and not info["schedules"]["fifo"]["live"]
    assert "sink" in info["schedules"]["chunk"]["presets"] and "sink" not in info["schedules"]["miga"]["presets"]
    schedules = info["schedules"]
    assert "window" in schedules["chunk"]["overrides"] and "window" not in schedules["fifo"]["overrides"]
    assert info["max_prompt"] == 2000


@pytest.mark.parametrize("schedule", ["fifo", "miga"])
def test_a_fifo_or_miga_video_runs_to_the_end_and_refuses_live_switches(studio, schedule):
    client, _, out = studio
    assert client.post("/api/check", json={"prompt": PROMPT, "seconds": 1, "schedule": schedule}).json()["ok"]
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "generate", "prompt": PROMPT, "seconds": 1, "seed": 3, "schedule": schedule,
                      "preset": "none"})
        ws.send_json({"type": "switch", "prompt": PROMPT})
        events, frames = _events(ws)
    errors = [e["message"] for e in events if e["type"] == "error"]
    assert errors == [f"The {schedule} schedule takes no live prompt switches: use schedule chunk."]
    assert events[-1]["type"] == "done" and events[-1]["complete"] and frames == 8
    side = json.loads((out / f"{events[-1]['video']}.json").read_text())
    assert side["schedule"] == schedule and side["complete"]


def test_a_preset_that_would_not_act_is_refused_before_work(studio):
    client, _, out = studio
    r = client.post("/api/check", json={"prompt": PROMPT, "seconds": 1, "schedule": "fifo", "preset": "sink"})
    assert r.status_code == 422 and "Presets for fifo: none, pi" in r.json()["message"]


@pytest.mark.parametrize("seed, message", [(1.5, "seed must be a whole number, got 1.5."),
                                           ("2.5", "seed must be a whole number, got '2.5'."),
                                           (True, "seed must be a number, got True.")])
def test_a_seed_that_would_be_truncated_is_refused(studio, seed, message):
    client, _, out = studio
    r = client.post("/api/check", json={"prompt": PROMPT, "seconds": 1, "seed": seed})
    assert r.status_code == 422 and r.json()["message"] == message
    assert client.post("/api/check", json={"prompt": PROMPT, "seconds": 1, "seed": 3.0}).json()["ok"]


def test_a_binary_frame_is_answered_and_the_session_goes_on(studio, caplog):
    client, _, _ = studio
    with client.websocket_connect("/ws") as ws:
        ws.send_bytes(b"\x00\x01binary")
        event = json.loads(ws.receive()["text"])
        assert event["type"] == "error" and "Binary messages are not understood" in event["message"]
        ws.send_json({"type": "generate", "prompt": PROMPT, "seconds": 0.5})
        events, frames = _events(ws)
    assert events[-1]["type"] == "done" and frames == 4
    assert not [r for r in caplog.records if r.exc_info]  # no traceback in the server's log


def test_the_gallery_serves_sidecars_without_local_paths(tiny_weights, tmp_path):
    from longroll.models.registry import load_model

    model = load_model("tiny", weights=str(tiny_weights))  # its sidecars name an absolute weights path
    app = create_app(model, tmp_path / "out", workers=1, max_queue=2)
    with TestClient(app) as client:
        with client.websocket_connect("/ws") as ws:
            ws.send_json({"type": "generate", "prompt": PROMPT, "seconds": 0.5})
            _events(ws)
        rows = client.get("/api/videos").json()
    on_disk = json.loads((tmp_path / "out" / f"{rows[0]['name']}.json").read_text())
    assert on_disk["weights"] == str(tiny_weights)  # the file keeps it: --replay needs it
    assert str(tiny_weights.parent) not in json.dumps(rows) and str(tmp_path) not in json.dumps(rows)
    assert rows[0]["sidecar"]["weights"] == tiny_weights.name
    assert rows[0]["sidecar"]["weights_sha256"] == on_disk["weights_sha256"]  # the hash identifies the weights
    assert rows[0]["replay"].startswith(f"longroll generate --replay {rows[0]['name']} ")
    with TestClient(app) as client:
        served = client.get(f"/files/{rows[0]['name']}.json").json()
    assert served["weights"] == tiny_weights.name and str(tiny_weights.parent) not in json.dumps(served)


def test_prompt_encoding_never_blocks_another_pages_socket(tiny_model, tmp_path):
    started, release = threading.Event(), threading.Event()

    def slow_encode(prompt):  # a stand-in for UMT5 on a real model
        started.set()
        release.wait(10)
        return tiny_model.encode_prompt(prompt)

    slow = dataclasses.replace(tiny_model, encode_prompt=slow_encode)
    app = create_app(slow, tmp_path / "out", workers=1, max_queue=2)
    with TestClient(app) as client, client.websocket_connect("/ws") as a, client.websocket_connect("/ws") as b:
        a.send_json({"type": "generate", "prompt": PROMPT, "seconds": 0.5})
        assert started.wait(10)
        t0 = time.perf_counter()
        b.send_json({"type": "stop"})  # page b asks something while page a's prompt is being encoded
        answer = json.loads(b.receive()["text"])
        waited = time.perf_counter() - t0
        assert answer["type"] == "error" and "Nothing is being made" in answer["message"] and waited < 5
        assert not release.is_set()  # answered while the encoder was still busy
        release.set()
        events, _ = _events(a)
        assert events[-1]["type"] == "done"
