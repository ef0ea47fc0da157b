"""The studio end to end in a real browser: Debian's Chromium, headless, driven by Playwright.

Open the page, generate 8 s, see frames drawn (pixels change), switch the prompt, see the switch on
the timeline, download the MP4 and decode it with PyAV. ``.ci/run`` installs Chromium.
"""

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("playwright")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-quic", "--disable-sync"]
PROMPT = "a red circle and a blue square on a navy background"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed "
                                 "(.ci/run installs it: apt-get install chromium)")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def server(tiny_model, tmp_path):
    import uvicorn

    from longroll.studio.app import create_app

    port = _free_port()
    app = create_app(tiny_model, tmp_path / "out")
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws_max_size=65536))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    t0 = time.time()
    while not srv.started and time.time() - t0 < 20:
        time.sleep(0.05)
    assert srv.started, "the studio did not start"
    yield f"http://127.0.0.1:{port}", tmp_path
    srv.should_exit = True
    thread.join(timeout=20)


def _canvas_sum(page) -> int:
    return page.evaluate("""() => { const c = document.getElementById('screen');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let s = 0; for (let i = 0; i < d.length; i += 7) s += d[i]; return s; }""")


def test_generate_watch_switch_and_download_in_chromium(server):
    from playwright.sync_api import sync_playwright

    from longroll.io.video import read_video

    url, tmp = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(accept_downloads=True, viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.wait_for_function("document.querySelectorAll('#preset option').length > 5")
        # A prompt outside the world is refused in the page, before anything starts.
        page.fill("#prompt", "a red elephant")
        page.wait_for_function("document.getElementById('message').textContent.includes('Cannot parse prompt')")
        page.fill("#prompt", "a red ci")
        page.wait_for_selector("#suggestions span:text('circle')")  # the vocabulary, offered as one types
        page.fill("#prompt", PROMPT)
        page.fill("#seconds", "8")
        blank = _canvas_sum(page)
        page.click("#generate")
        # Frames are drawn as they come, at the video's fps: pixels change and the shown frame advances.
        page.wait_for_function("state.shown > 0", timeout=20_000)
        assert _canvas_sum(page) != blank
        shown = page.evaluate("state.shown")
        page.wait_for_timeout(600)
        assert page.evaluate("state.shown") > shown
        page.fill("#switch-prompt", "two yellow triangles on a black background")
        page.click("#switch")
        page.wait_for_function("document.getElementById('state').textContent === 'done'", timeout=60_000)
        marks = page.locator("#timeline .mark").count()
        with page.expect_download() as info:
            page.click("#download-video")
        path = tmp / "downloaded.mp4"
        info.value.save_as(path)
        page.screenshot(path=str(tmp / "studio.png"))
        browser.close()
    fps, frames = read_video(path)
    assert fps == pytest.approx(8.0) and sum(1 for _ in frames) == 64
    assert marks in (0, 1)  # the switch lands if the 8 s video was not finished when it arrived


def test_a_fifo_video_runs_to_the_end_in_chromium_with_only_what_fifo_can_do(server):
    """The page offers per schedule what it can do: FIFO lists only the presets that act without a cache,
    hides the cache's fields and the live-switch row, and its video runs to the end."""
    from playwright.sync_api import sync_playwright

    url, tmp = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.wait_for_function("document.querySelectorAll('#preset option').length > 5")
        chunk_presets = page.locator("#preset option").count()
        page.select_option("#schedule", "fifo")
        presets = page.eval_on_selector_all("#preset option", "els => els.map(e => e.value)")
        assert "sink" not in presets and "deep-forcing" not in presets and len(presets) < chunk_presets
        assert page.locator("#live-prompt").is_hidden()
        assert page.locator("[data-override='window']").is_hidden()
        page.fill("#prompt", PROMPT)
        page.fill("#seconds", "2")
        page.click("#generate")
        page.wait_for_function("document.getElementById('state').textContent === 'done'", timeout=120_000)
        assert page.evaluate("state.made") == 16
        page.screenshot(path=str(tmp / "studio_fifo.png"))
        browser.close()
