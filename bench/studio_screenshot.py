"""Screenshot of the studio for the README (docs/studio.png): the shipped model, a prompt, a live
switch, the curves, in headless Chromium (as the browser test drives it).

Run: python bench/studio_screenshot.py [--out docs/studio.png] [--seconds 20]
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-quic", "--disable-sync"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="docs/studio.png")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--prompt", default="a red circle and a blue square on a navy background")
    parser.add_argument("--switch", default="three yellow triangles on a dark green background")
    args = parser.parse_args()
    import uvicorn
    from playwright.sync_api import sync_playwright

    from longroll.models.registry import load_model
    from longroll.studio.app import create_app

    with tempfile.TemporaryDirectory() as tmp, socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        server = uvicorn.Server(uvicorn.Config(create_app(load_model("tiny"), tmp), host="127.0.0.1", port=port,
                                               log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("document.querySelectorAll('#preset option').length > 5")
            page.fill("#prompt", args.prompt)
            page.fill("#seconds", str(args.seconds))
            page.click("#generate")
            page.wait_for_function(f"state.shown > {int(args.seconds * 8 * 0.4)}", timeout=120_000)
            page.fill("#switch-prompt", args.switch)
            page.click("#switch")
            page.wait_for_function("document.getElementById('state').textContent === 'done'", timeout=300_000)
            page.wait_for_function(f"state.shown >= {int(args.seconds * 8 * 0.85)}", timeout=120_000)
            page.click("#refresh")
            page.wait_for_timeout(500)
            page.screenshot(path=args.out, full_page=True)
            browser.close()
        server.should_exit = True
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
