"""One file that resumes the built-in model's training anywhere: small enough to commit.

A training run lasts longer than a working session, so its state travels as one file (at most
~30 MB) beside the code: the recipe, the finished autoencoder, the denoiser and its optimiser.
The data and the latents are not in it: both are deterministic functions of the recipe's seed
and the autoencoder, and are made again on resume.

What is stored, per denoiser parameter (10 bytes instead of 16):
- the weights in float32 (exact);
- the EMA weights as the float16 difference to the weights (the EMA trails the weights by a few
  learning-rate steps, so the difference is small and float16 keeps it to ~1e-3 of itself);
- AdamW's two moments in bfloat16 (float32's exponent range; 8 bits of mantissa is plenty for a
  running average that the next steps overwrite).
So a resumed run is not bit-identical to an uninterrupted one; the loss curve continues.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from longroll.io.atomic import atomic_output

log = logging.getLogger(__name__)

FORMAT = "longroll-tiny-resume"


def pack(out: str | Path, target: str | Path) -> Path:
    """Write the resume file for the run in ``out`` (autoencoder done, denoiser checkpoint present)."""
    out, target = Path(out), Path(target)
    for name in ("config.json", "ae.pt", "dit_ckpt.pt"):
        if not (out / name).exists():
            raise FileNotFoundError(f"{str(out / name)!r} does not exist: the run has no finished autoencoder and "
                                    f"denoiser checkpoint to pack yet.")
    config = json.loads((out / "config.json").read_text())
    ckpt = torch.load(out / "dit_ckpt.pt", map_location="cpu", weights_only=False)
    model, ema = ckpt["model"], ckpt["ema"]
    opt = ckpt["opt"]
    packed_opt = {"param_groups": opt["param_groups"],
                  "state": {k: {name: (v.to(torch.bfloat16) if torch.is_tensor(v) and v.is_floating_point()
                                       and v.numel() > 1 else v) for name, v in st.items()}
                            for k, st in opt["state"].items()}}
    history = torch.tensor(ckpt["history"], dtype=torch.float32)  # (steps, 3): step, loss, seconds
    data = {
        "format": FORMAT,
        "version": 1,
        "config": config,
        # A run whose autoencoder is exported weights' (``ae_from``) takes it from there again: not packed.
        "ae": None if config.get("ae_from") else torch.load(out / "ae.pt", map_location="cpu"),
        "model": model,
        "ema_delta": {k: (ema[k].float() - v.float()).half() for k, v in model.items()},
        "opt": packed_opt,
        "gen": ckpt["gen"],
        "step": ckpt["step"],
        "history": history,
        "elapsed": ckpt.get("elapsed", 0.0),
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(target) as tmp:
        torch.save(data, tmp)
    log.info("packed step %d into %s (%.1f MB)", ckpt["step"], target, target.stat().st_size / 2**20)
    return target


def unpack(source: str | Path, out: str | Path) -> dict:
    """Restore ``config.json``, ``ae.pt`` and ``dit_ckpt.pt`` of a packed run into ``out``; returns the config.

    A run folder that is already further along than the file is left as it is."""
    source, out = Path(source), Path(out)
    if not source.is_file():
        raise FileNotFoundError(f"The resume file {str(source)!r} does not exist.")
    try:
        data = torch.load(source, map_location="cpu", weights_only=False)
    except Exception as err:  # a truncated or foreign file: say which
        raise ValueError(f"{str(source)!r} is not a readable training checkpoint "
                         f"({type(err).__name__}: {err}).") from err
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{str(source)!r} is not a longroll train-tiny resume file.")
    out.mkdir(parents=True, exist_ok=True)
    existing = out / "dit_ckpt.pt"
    if existing.exists():
        step = torch.load(existing, map_location="cpu", weights_only=False)["step"]
        if step >= data["step"]:
            log.info("%s is at step %d, not behind the file's %d: kept", out, step, data["step"])
            return data["config"]
    model = data["model"]
    ema = {k: (v.float() + data["ema_delta"][k].float()).to(v.dtype) for k, v in model.items()}
    opt = {"param_groups": data["opt"]["param_groups"],
           "state": {k: {name: (v.float() if torch.is_tensor(v) and v.dtype == torch.bfloat16 else v)
                         for name, v in st.items()} for k, st in data["opt"]["state"].items()}}
    history = [(int(s), float(loss), float(sec)) for s, loss, sec in data["history"].tolist()]
    ckpt = {"model": model, "ema": ema, "opt": opt, "gen": data["gen"], "step": data["step"],
            "history": history, "elapsed": data["elapsed"]}
    for name, obj in (("ae.pt", data["ae"]), ("dit_ckpt.pt", ckpt)):
        if obj is None:  # the autoencoder of exported weights (ae_from): the run loads it from there
            continue
        with atomic_output(out / name) as tmp:
            torch.save(obj, tmp)
    (out / "config.json").write_text(json.dumps(data["config"], indent=2) + "\n")
    log.info("unpacked step %d into %s", data["step"], out)
    return data["config"]
