"""The default-preset rule's answers, recorded per weights: what ``--preset auto`` uses.

``longroll bench --model NAME`` judges every preset against ``none`` on the model it measured
(``bench.defaults``) and records the answer here, one JSON file per weights hash, in
``$XDG_DATA_HOME/longroll/rules/`` (``~/.local/share/longroll/rules/`` by default; ``LONGROLL_RULES``
names another folder). A request with ``preset="auto"`` takes the recorded answer for the weights it
runs on, and says so in the log; without a record it takes the model's own default preset and says that.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

log = logging.getLogger(__name__)

AUTO = "auto"  # the preset name that asks for the recorded rule answer


def rules_folder() -> Path:
    """Where the rule answers are kept."""
    if os.environ.get("LONGROLL_RULES"):
        return Path(os.environ["LONGROLL_RULES"])
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "longroll" / "rules"


def record_rule(model, preset: str, *, primary: str, lengths, report: str | Path, reasons=()) -> Path:
    """Record the rule's ``preset`` for ``model``'s weights (atomically); returns the record's path."""
    from longroll.io.atomic import write_json

    folder = rules_folder()
    folder.mkdir(parents=True, exist_ok=True)
    record = {"weights_sha256": model.weights_sha256, "model": model.name, "preset": preset,
              "load_options": {k: v for k, v in model.load_options.items() if v is not None},
              "judged_on": primary, "lengths_seconds": list(lengths), "report": str(Path(report).resolve()),
              "date": time.strftime("%Y-%m-%d"), "reasons": list(reasons)}
    return write_json(folder / f"{model.weights_sha256}.json", record)


def find_rule(weights_sha256: str) -> dict | None:
    """The recorded answer for these weights, or None."""
    path = rules_folder() / f"{weights_sha256}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def auto_preset(model) -> str:
    """``--preset auto``: the rule's recorded answer for ``model``'s weights, else the model's default."""
    from longroll.pipelines.presets import PRESETS

    record = find_rule(model.weights_sha256)
    if record is not None and record.get("preset") in PRESETS:
        log.info("preset auto: %s, chosen by the benchmark of %s for these weights (judged on %s; report %s)",
                 record["preset"], record.get("date", "?"), record.get("judged_on", "?"), record.get("report", "?"))
        return record["preset"]
    log.info("preset auto: no benchmark recorded for these weights (sha256 %s) in %s; the model's default %s",
             model.weights_sha256[:12], rules_folder(), model.defaults.preset)
    return model.defaults.preset


__all__ = ["AUTO", "auto_preset", "find_rule", "record_rule", "rules_folder"]
