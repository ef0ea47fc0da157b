"""The studio's web app (FastAPI): one page, a JSON API and one WebSocket per page.

- ``GET /``: the page (``static/``); ``GET /api/info``: model, fps, presets, overrides, limits and,
  for the built-in world, its vocabulary; ``POST /api/check``: validate a request without running
  it (the same messages as the CLI).
- ``WS /ws``: the page's session. Client messages (JSON): ``generate`` {prompt, seconds, seed,
  preset, overrides, schedule, lead_seconds}, ``switch`` {prompt, cut}, ``pause``, ``resume``,
  ``stop``, ``watching`` {frame}, ``replay`` {name}. With ``lead_seconds`` (the page sends 3) the
  run stays at most that far ahead of the frame the page reports showing, so a switch lands near
  what is being watched; without it (an API client) the run goes as fast as it can. Server messages:
  JSON events (``queued``, ``started``, ``progress``, ``segments``, ``timeline``, ``paused``,
  ``resumed``, ``done``, ``stopped``, ``error``) and binary frame messages
  (``session.frames_message``). Closing the page cancels its job.
- ``GET /api/videos``: the gallery (this server's outputs with their sidecars and replay commands);
  ``GET /files/{name}``: a video or sidecar of the gallery, or the file of a job still running (what
  exists so far: fragmented MP4 plays as far as it got).

No endpoint reads or writes a path the client sends: outputs go to the server's folder under
generated names, and ``/files`` serves only names it lists there.
"""


import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from longroll._validate import excerpt
from longroll.pipelines.request import MAX_PROMPT_CHARS, check_prompt_text

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
MAX_STUDIO_SECONDS = 3600.0  # the longest video a page may ask for (one hour)
MAX_MESSAGE_BYTES = 16_384  # a client message larger than this is refused unread
NAME = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{8}\.mp4(\.json)?$")  # the names the studio generates


def parse_generate(message: dict, model, out_dir: Path, name: str):
    """A page's ``generate`` message -> a resolved ``GenerationPlan`` (ValueError with the CLI's message)."""
    from longroll._validate import check_float
    from longroll.pipelines.plan import resolve
    from longroll.pipelines.request import GenerationRequest

    prompt = message.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("Type a prompt.")
    from longroll.pipelines.script import is_script

    # A timed script ("shot [4s] | shot [6s#]") brings its own length; the page's seconds are ignored.
    seconds = None if is_script(prompt) else check_float(
        "seconds", _number(message.get("seconds", 8), "seconds"), low=0.0, high=MAX_STUDIO_SECONDS, low_open=True)
    seed = _number(message.get("seed", 0), "seed", integer=True)  # its range is the request's to check
    overrides = message.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise ValueError("overrides must be an object of preset fields.")
    preset = message.get("preset") or None
    schedule = message.get("schedule") or "chunk"
    request = GenerationRequest(prompt=prompt, seconds=seconds, seed=seed, preset=preset, schedule=schedule,
                                overrides={k: v for k, v in overrides.items() if v not in (None, "")},
                                out=str(out_dir / name))
    if request.seconds > MAX_STUDIO_SECONDS:
        raise ValueError(f"The script lasts {request.seconds:g} s (allowed: at most {MAX_STUDIO_SECONDS:g} s).")
    return resolve(request, model)


def _lead(message: dict, fps: float) -> int | None:
    """``lead_seconds`` of a generate message -> frames the run may be ahead of playback (None: unpaced)."""
    from longroll._validate import check_float

    lead = message.get("lead_seconds")
    if lead is None:
        return None
    return round(check_float("lead_seconds", _number(lead, "lead_seconds"), low=0.5, high=600.0) * fps)


def _number(value, name: str, integer: bool = False):
    """A JSON number (or numeric string) as a float, or as an int where ``integer``: a fraction is refused,
    never truncated."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{name} must be a number, got {excerpt(value)}.")
    try:
        number = float(value)
    except ValueError as err:
        raise ValueError(f"{name} must be a number, got {excerpt(value)}.") from err
    if not integer:
        return number
    if not number.is_integer():
        raise ValueError(f"{name} must be a whole number, got {excerpt(value)}.")
    return int(value) if isinstance(value, int) else int(number)


def new_name() -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(4)}.mp4"


def gallery(out_dir: Path) -> list[dict]:
    """Finished (or stopped) videos of the folder with their sidecars (``Sidecar.public``: file names and
    hashes, no local paths), newest first."""
    from longroll.pipelines.sidecar import Sidecar

    rows = []
    for side in sorted(out_dir.glob("*.mp4.json"), key=lambda p: p.stat().st_mtime, reverse=True):
        video = side.with_name(side.name[: -len(".json")])
        if not NAME.match(side.name) or not video.is_file():
            continue
        try:
            record = Sidecar.read(side)
        except ValueError:
            continue
        prompts = " | ".join(f"{e.at_seconds:g}s {e.prompt}" for e in record.prompt_schedule)
        rows.append({"name": video.name, "sidecar": record.public(), "size": video.stat().st_size,
                     "seconds": record.seconds, "preset": record.preset, "schedule": record.schedule,
                     "complete": record.complete, "prompts": prompts,
                     "replay": f"longroll generate --replay {video.name} --out {video.stem}-replay.mp4"})
    return rows


def create_app(model, out_dir: str | Path, *, workers: int = 1, max_queue: int = 8):
    """The studio app for a loaded ``VideoModel``, writing into ``out_dir``."""
    from fastapi import FastAPI, HTTPException, WebSocket, WebSocketDisconnect
    from fastapi.responses import FileResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles
    from starlette.background import BackgroundTask

    from longroll.pipelines.presets import OVERRIDES, PRESETS
    from longroll.pipelines.rollouts import SCHEDULES
    from longroll.studio.jobs import QueueFull, StudioJob, WorkerPool
    from longroll.studio.session import execute

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pool = WorkerPool(lambda job: execute(job, model), workers=workers, max_queue=max_queue)
    jobs: dict[str, StudioJob] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        for job in list(jobs.values()):  # the server stops: every run ends at its next chunk, files kept
            pool.cancel(job)
        pool.close()

    app = FastAPI(title="longroll studio", lifespan=lifespan)
    app.state.pool, app.state.jobs, app.state.out_dir = pool, jobs, out_dir

    @app.get("/")
    def page():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/info")
    def info():
        # Per schedule, what it can do (the page offers nothing else): its presets, the overrides it acts
        # on, and whether it takes live switches.
        schedules = {s.name: {"description": s.description, "presets": s.presets(), "live": s.live,
                              "overrides": [o for o in OVERRIDES if o in s.takes]} for s in SCHEDULES.values()}
        return {"model": model.name, "fps": model.fps, "frame_size": model.frame_size,
                "default_preset": model.defaults.preset, "presets": list(PRESETS), "schedules": schedules,
                "overrides": list(OVERRIDES), "max_seconds": MAX_STUDIO_SECONDS, "max_prompt": MAX_PROMPT_CHARS,
                "vocabulary": model.vocabulary, "workers": len(pool.threads)}

    @app.post("/api/check")
    async def check(body: dict):
        try:  # resolving encodes the prompts (UMT5 on a real model): off the event loop
            plan = await asyncio.to_thread(parse_generate, body, model, out_dir, new_name())
        except ValueError as err:
            return JSONResponse({"ok": False, "message": str(err)}, status_code=422)
        return {"ok": True, "frames": plan.total_frames, "preset": plan.preset}

    @app.get("/api/videos")
    def videos():
        return gallery(out_dir)

    @app.get("/files/{name}")
    def files(name: str):
        if not NAME.match(name):
            raise HTTPException(404, "No such file.")
        path = out_dir / name
        if path.is_file() and name.endswith(".json"):  # a sidecar leaves as its public record: no local paths
            from longroll.pipelines.sidecar import Sidecar

            try:
                record = Sidecar.read(path).public()
            except ValueError:
                raise HTTPException(404, "No such file.") from None
            return JSONResponse(record, headers={"Content-Disposition": f'attachment; filename="{name}"'})
        if path.is_file():
            return FileResponse(path, filename=name)
        # A job still running: a snapshot of what its writer has flushed so far.
        stem = name[: -len(".mp4")] if name.endswith(".mp4") else None
        partial = sorted(out_dir.glob(f"{stem}.partial-*.mp4")) if stem else []
        if not partial:
            raise HTTPException(404, "No such file.")
        fd, tmp = tempfile.mkstemp(suffix=".mp4")
        os.close(fd)  # one snapshot per download: its descriptor must not stay open
        tmp = Path(tmp)
        shutil.copyfile(partial[0], tmp)
        return FileResponse(tmp, filename=name, background=BackgroundTask(tmp.unlink, missing_ok=True))

    @app.websocket("/ws")
    async def session(ws: WebSocket):
        await ws.accept()
        loop = asyncio.get_running_loop()
        outbox: asyncio.Queue = asyncio.Queue()

        def send(message) -> None:  # from any thread
            loop.call_soon_threadsafe(outbox.put_nowait, message)

        async def pump() -> None:
            while True:
                message = await outbox.get()
                if isinstance(message, bytes):
                    await ws.send_bytes(message)
                else:
                    await ws.send_text(json.dumps(message, allow_nan=False, default=_plain))

        pumper = asyncio.create_task(pump())
        job: StudioJob | None = None
        try:
            while True:
                received = await ws.receive()
                if received["type"] == "websocket.disconnect":
                    raise WebSocketDisconnect(received.get("code", 1000))
                raw = received.get("text")
                if raw is None:  # a binary frame: the page sends JSON text only
                    send({"type": "error", "message": "Binary messages are not understood here; send JSON text "
                                                      "(an object with a 'type')."})
                    continue
                if len(raw) > MAX_MESSAGE_BYTES:
                    send({"type": "error", "message": f"Message of {len(raw)} bytes refused (at most "
                                                      f"{MAX_MESSAGE_BYTES})."})
                    continue
                try:
                    message = json.loads(raw)
                    if not isinstance(message, dict):
                        raise ValueError("A message is a JSON object with a 'type'.")
                    job = await _handle(message, job, send)
                except (ValueError, QueueFull) as err:
                    send({"type": "error", "message": str(err)})
        except WebSocketDisconnect:
            pass
        finally:
            if job is not None:
                pool.cancel(job)  # the page closed: its worker is freed at the next chunk
                jobs.pop(job.id, None)
            pumper.cancel()

    async def _handle(message: dict, job, send):
        kind = message.get("type")
        active = job is not None and job.state in ("queued", "running", "paused")
        if kind == "generate":
            if active:
                raise ValueError("A video is being made on this page: stop it first.")
            name = new_name()
            plan = await asyncio.to_thread(parse_generate, message, model, out_dir, name)  # off the event loop
            job = StudioJob(id=name[: -len(".mp4")], plan=plan, send=send, lead=_lead(message, model.fps))
            position = pool.submit(job)
            jobs[job.id] = job
            send({"type": "queued", "job": job.id, "position": position, "video": name})
            return job
        if kind == "replay":
            await _replay(str(message.get("name", "")), send)
            return job
        if kind == "watching":  # the page's playback position (paces a run that asked for it)
            if active:
                job.watching(_number(message.get("frame", 0), "frame", integer=True))
            return job
        if not active:
            raise ValueError(f"Nothing is being made on this page to {kind}." if kind in
                             ("switch", "pause", "resume", "stop") else f"Unknown message type {kind!r}.")
        if kind == "switch":
            prompt = message.get("prompt")
            if not isinstance(prompt, str) or not prompt.strip():
                raise ValueError("Type the prompt to switch to.")
            check_prompt_text(prompt, "The prompt to switch to")
            if not SCHEDULES[job.plan.schedule].live:
                able = " or ".join(s.name for s in SCHEDULES.values() if s.live)
                raise ValueError(f"The {job.plan.schedule} schedule takes no live prompt switches: use schedule "
                                 f"{able}.")
            # The parser's message if it is not a prompt of this model; encoding runs off the event loop.
            cond = await asyncio.to_thread(model.encode_prompt, prompt)
            job.live.ask(prompt, cond, bool(message.get("cut", False)))
            send({"type": "switch-asked", "prompt": prompt, "cut": bool(message.get("cut", False))})
        elif kind == "pause":
            job.pause()
            send({"type": "paused"})
        elif kind == "resume":
            job.resume()
            send({"type": "resumed"})
        elif kind == "stop":
            pool.cancel(job)
            if job.state == "stopped":  # it had not started
                send({"type": "stopped", "job": job.id, "video": None, "complete": False})
        else:
            raise ValueError(f"Unknown message type {kind!r}.")
        return job

    async def _replay(name: str, send) -> None:
        import numpy as np

        from longroll.io.video import read_video
        from longroll.studio.session import frames_message

        if not NAME.match(name) or not name.endswith(".mp4") or not (out_dir / name).is_file():
            raise ValueError(f"No video {name!r} in this studio's gallery.")

        def stream() -> None:
            fps, frames = read_video(out_dir / name)
            send({"type": "replaying", "video": name, "fps": fps})
            batch, start = [], 0
            for frame in frames:
                batch.append(frame)
                if len(batch) == 16:
                    send(frames_message(start, np.stack(batch)))
                    start, batch = start + len(batch), []
            if batch:
                send(frames_message(start, np.stack(batch)))
            send({"type": "replayed", "video": name, "frames": start + len(batch)})

        await asyncio.to_thread(stream)

    return app


def _plain(value):
    """JSON for numpy scalars in evaluation rows."""
    try:
        return value.item()
    except AttributeError:
        raise TypeError(f"{type(value).__name__} is not JSON serialisable") from None


__all__ = ["MAX_STUDIO_SECONDS", "create_app", "gallery", "parse_generate"]
