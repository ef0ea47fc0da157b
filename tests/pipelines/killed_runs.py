"""Helpers of the tests that kill a generation in another process: start one, wait for a state."""

import subprocess
import sys
import time
from pathlib import Path

PROMPT = "a red circle and a blue square on a navy background"


def start_generate(out: Path, weights: Path, seconds: int = 600) -> subprocess.Popen:
    """`longroll generate` of the README's prompt into ``out`` in a child process (preset sink)."""
    args = ["generate", PROMPT, "--seconds", str(seconds), "--out", str(out), "--weights", str(weights),
            "--preset", "sink", "--no-progress"]
    code = f"import sys; from longroll.cli import main; sys.exit(main({args!r}))"
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(predicate, timeout: float = 120.0) -> None:
    t0 = time.time()
    while not predicate():
        if time.time() - t0 > timeout:
            raise AssertionError("the run never got there")
        time.sleep(0.05)
