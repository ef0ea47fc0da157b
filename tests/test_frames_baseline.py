"""Same seed, same raw frames: the shipped built-in model's videos for a fixed list of requests
(presets, schedules, a prompt switch) hash to what the code made before the generation path was
redesigned (``tests/data/frames_baseline.json``, recorded with that code on these weights).

Floating-point kernels differ between CPU instruction sets (MKL's AVX2 and AVX-512 paths round
differently) and between CPU vendors with the same instruction set (MKL takes other paths on Intel
than on AMD: an Intel Xeon's AVX-512 frames differ from an AMD EPYC's), so each case records one hash
per machine kind it was recorded on (vendor and ``torch.backends.cpu.get_cpu_capability()``; the
first entries, keyed by the instruction set alone, come from earlier machines, AMD EPYC); the frames
must match one of them; a case with no entry for this machine's kind that matches none is reported as
a warning, not a failure (a change of the code cannot be told from this machine's rounding there).
Running this file adds (or replaces) the entry of this machine's kind. New
weights make new frames: re-record the file with them (``python tests/test_frames_baseline.py
--fresh``) in the commit that ships them.
Session 22 made guided rollouts run on one intra-op thread on the CPU (the same bits on every backend:
``pipelines.guidance``); the guided cases were re-recorded then (AMD's AVX-512 and AVX2 entries; they
equal what the earlier code made on one thread), and the Intel entries of the cases that changed were
dropped until an Intel machine records them again.
Session 24 made a temporal bias (FlexRoPE) mask-free (``attention.frame_biased_attention``: the bias
folded into extra key channels, so the fused kernels apply); its three cases were re-recorded then on
an AMD EPYC (AVX-512, and AVX2 as below): their frames differ from the dense bias's by at most 1 of
255 in 0.04% of the pixel values (rounding), and the older entries of those cases were dropped.
Session 25 made the uncached chunk-causal forward (FIFO's and MIGA's windows) mask-free
(``attention.chunk_causal_attention``: one attention per chunk over the keys up to its end); the
latents moved by rounding (at most 6e-5), which left the frames of four of the six FIFO and MIGA
cases bit for bit; ``flex / fifo`` and ``flex / miga`` with guidance from the head were re-recorded
(AMD AVX-512 and AVX2; they differ from the dense path's frames by at most 1 of 255 in 0.001-0.004%
of the pixel values), their older entries (Intel's included) dropped.
An AVX-512 machine also records the AVX2 entry when run again (without ``--fresh``) under
``ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2``: that reproduces the
hashes an AVX2-only machine recorded (checked in session 7 on the shipped weights).
"""

import hashlib
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

BASELINE = Path(__file__).with_name("data") / "frames_baseline.json"


def _frames_sha256(model, case: dict, seconds: float, seed: int) -> str:
    from longroll.pipelines.generate import generate

    frames = generate(case["prompt"], seconds=seconds, seed=seed, model=model, preset=case["preset"],
                      schedule=case["schedule"], schedule_options=case.get("schedule_options"),
                      switches=[tuple(s) for s in case.get("switches", [])], progress=False)
    return hashlib.sha256(np.ascontiguousarray(frames).tobytes()).hexdigest()


@pytest.mark.slow
def test_shipped_model_makes_the_recorded_frames():
    from longroll.models.registry import load_model
    from longroll.models.tiny.weights import shipped_weights

    if not shipped_weights().is_file():
        pytest.skip("no shipped weights in this checkout")
    data = json.loads(BASELINE.read_text())
    model = load_model("tiny")
    assert model.weights_sha256 == data["weights_sha256"], (
        "The shipped weights changed: re-record tests/data/frames_baseline.json with them.")
    isa = _isa()
    unrecorded = []
    for case in data["cases"]:
        got = _frames_sha256(model, case, data["seconds"], data["seed"])
        if got in case["frames_sha256"].values():
            continue
        name = f"{case['preset']} / {case['schedule']} {case.get('schedule_options', '')}".strip()
        # A case recorded on other machine kinds only cannot tell a change from this machine's rounding.
        mine = _recorded(case, isa)
        assert mine is None, f"{name} on {isa}: {got} is not the recorded {mine}."
        unrecorded.append(name)
    assert len(unrecorded) < len(data["cases"]), (
        f"No case matches on {isa}, a machine kind not recorded: record it with python tests/test_frames_baseline.py")
    if unrecorded:
        warnings.warn(f"Not checked on {isa} (recorded on other machine kinds only, and not matching them): "
                      f"{'; '.join(unrecorded)}. Record them with python tests/test_frames_baseline.py.")


def _recorded(case: dict, isa: str) -> str | None:
    """The hash recorded for this machine's kind, if any (keys of the instruction set alone are AMD EPYC's)."""
    hashes = case["frames_sha256"]
    vendor, _, capability = isa.rpartition(" ")
    return hashes.get(isa, hashes.get(capability) if vendor == "AuthenticAMD" else None)


def _isa() -> str:
    """This machine's kind: CPU vendor and the instruction set torch's kernels use."""
    import platform

    import torch

    vendor = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        vendor = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                       if line.startswith("vendor_id")), vendor)
    return f"{vendor} {torch.backends.cpu.get_cpu_capability()}"


if __name__ == "__main__":  # re-record with the code and weights of this checkout
    from longroll.models.registry import load_model

    data = json.loads(BASELINE.read_text())
    model = load_model("tiny")
    for case in data["cases"]:
        recorded = {} if "--fresh" in sys.argv else case["frames_sha256"]
        case["frames_sha256"] = {**recorded, _isa(): _frames_sha256(model, case, data["seconds"], data["seed"])}
    data["weights_sha256"] = model.weights_sha256
    BASELINE.write_text(json.dumps(data, indent=1) + "\n")
    sys.exit(0)
