"""The studio's test fixtures: an app on the tiny random model, with the framework's test client."""

import json

import pytest


@pytest.fixture()
def studio(tiny_model, tmp_path):
    """(client, app, output folder) of a studio with one worker and a queue of two."""
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from longroll.studio.app import create_app

    app = create_app(tiny_model, tmp_path / "out", workers=1, max_queue=2)
    with TestClient(app) as client:
        yield client, app, tmp_path / "out"


def receive_until(ws, until=("done", "stopped"), limit=100_000):
    """Receive until an event of type ``until``: (JSON events, (start, frames) messages)."""
    from longroll.studio.session import parse_frames_message

    events, frames = [], []
    for _ in range(limit):
        message = ws.receive()
        if message.get("bytes") is not None:
            frames.append(parse_frames_message(message["bytes"]))
            continue
        event = json.loads(message["text"])
        events.append(event)
        if event["type"] in until:
            return events, frames
    raise AssertionError("the stream did not end")
