"""Studio benchmark: time to the first frame, frames per second delivered to 1 and 2 concurrent pages
against ``generate`` alone, and the server's memory over a long stream.

Run: python bench/bench_studio.py [--weights PATH] [--seconds 60] [--memory-seconds 3600]
A real server (uvicorn on 127.0.0.1) and real WebSocket clients (``websockets``) in this one
process; ``generate`` alone writes the same video to a file. Ratios are measured side by side in
this one run (machines are noisy); copy the printed table into bench/RESULTS.md with the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import socket
import tempfile
import threading
import time

PROMPT = "a red circle and a blue square on a navy background"


def _rss_mib() -> float:
    """Resident memory of this process now (Linux /proc), MiB."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _serve(model, out: str, workers: int):
    import uvicorn

    from longroll.studio.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(model, out, workers=workers), host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"ws://127.0.0.1:{port}/ws"


async def _client(url: str, seconds: float, seed: int, on_frames=None) -> dict:
    """One page: generate, count frames until done; time to the first frame and frames per second."""
    import websockets

    t0 = time.perf_counter()
    first, frames = None, 0
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "generate", "prompt": PROMPT, "seconds": seconds, "seed": seed}))
        async for message in ws:
            if isinstance(message, bytes):
                n = int.from_bytes(message[4:6], "little")
                frames += n
                if first is None:
                    first = time.perf_counter() - t0
                if on_frames is not None:
                    on_frames(frames)
                continue
            event = json.loads(message)
            if event["type"] in ("done", "stopped", "error"):
                break
    wall = time.perf_counter() - t0
    return {"first_frame_s": round(first or float("nan"), 3), "frames": frames, "wall_s": round(wall, 2),
            "fps_delivered": round(frames / wall, 1)}


def _generate_alone(model, seconds: float, out: str) -> dict:
    from longroll.pipelines.generate import generate

    t0 = time.perf_counter()
    generate(PROMPT, seconds=seconds, seed=0, model=model, out=os.path.join(out, "alone.mp4"), progress=False)
    wall = time.perf_counter() - t0
    frames = round(seconds * model.fps)
    return {"frames": frames, "wall_s": round(wall, 2), "fps": round(seconds * model.fps / wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--weights", default=None, help="built-in weights (default: the shipped ones)")
    parser.add_argument("--seconds", type=float, default=60.0, help="video length of the throughput runs")
    parser.add_argument("--memory-seconds", type=float, default=0.0,
                        help="also stream one video this long and sample the server's memory (0: skip)")
    args = parser.parse_args()
    from longroll.models.registry import load_model

    model = load_model("tiny", weights=args.weights)
    with tempfile.TemporaryDirectory() as tmp:
        alone = _generate_alone(model, args.seconds, tmp)
        server, url = _serve(model, os.path.join(tmp, "studio1"), workers=1)
        one = asyncio.run(_client(url, args.seconds, 0))
        server.should_exit = True
        server2, url2 = _serve(model, os.path.join(tmp, "studio2"), workers=2)

        async def two():
            return await asyncio.gather(_client(url2, args.seconds, 1), _client(url2, args.seconds, 2))

        pair = asyncio.run(two())
        server2.should_exit = True
        result = {
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
            "seconds": args.seconds, "fps_video": model.fps,
            "generate_alone": alone, "one_page": one, "two_pages": pair,
            "one_page_vs_generate": round(one["fps_delivered"] / alone["fps"], 3),
            "two_pages_total_vs_generate": round(sum(p["fps_delivered"] for p in pair) / alone["fps"], 3),
            "one_page_realtime": round(one["fps_delivered"] / model.fps, 2),
        }
        if args.memory_seconds:
            server3, url3 = _serve(model, os.path.join(tmp, "studio3"), workers=1)
            samples, step = [], max(1, int(model.fps * 60))  # one sample per video minute

            def sample(frames: int) -> None:
                if frames // step > len(samples) - 1:
                    samples.append((frames, round(_rss_mib(), 1)))

            long = asyncio.run(_client(url3, args.memory_seconds, 3, on_frames=sample))
            server3.should_exit = True
            later = [m for _, m in samples[len(samples) // 4:]] or [0.0]
            result["memory"] = {"video_seconds": args.memory_seconds, "stream": long,
                                "rss_mib_by_video_minute": [m for _, m in samples],
                                "rss_growth_after_first_quarter_mib": round(max(later) - min(later), 1),
                                "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
