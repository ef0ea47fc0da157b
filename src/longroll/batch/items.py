"""Work items of a batch: prompt files in, (prompt, seed) items out, with seeds and file names.

- A prompt file is plain text (one prompt per line; blank lines and lines starting with ``#``
  are skipped) or JSONL (``.jsonl``: one object per line with ``prompt`` and optional per-item
  settings, see ``JSONL_KEYS``).
- An item is (prompt index, sample index). Its seed depends only on the base seed, the prompt's
  index and the seed index (``item_seed``): never on the number of workers or the backend.
- Files are named as VBench expects, ``{prompt}-{i}.mp4``. A prompt that appears more than once
  is kept; its later occurrences continue the sample index (``-5``, ``-6``... for 5 seeds), which
  is how VBench names prompts with more samples. A prompt that is not a safe file name (too long
  for one, a path separator, control characters, a leading dot or dash) gets
  ``{first words}~{hash}-{i}.mp4`` instead; the manifest records every name.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from longroll._validate import check_float, check_int

# Longest file stem (UTF-8 bytes) used as is: file systems allow 255 bytes per name, and the
# writers add up to ~25 ("{stem}.partial-PID.mp4.json", "{stem}.mp4.json.tmp").
MAX_STEM_BYTES = 200
JSONL_KEYS = ("prompt", "script", "seeds", "seconds", "preset", "schedule", "switches", "overrides",
              "schedule_options")
_UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]")


@dataclass(frozen=True)
class PromptEntry:
    """One line of the prompt file, with its own settings where the JSONL line gives them."""

    index: int  # position among the prompts of the file (0-based, blank and comment lines not counted)
    prompt: str  # the prompt text (first prompt of its schedule)
    line: int  # 1-based line number in the file (for error messages)
    settings: dict = field(default_factory=dict)  # per-item settings from JSONL (seconds, preset, switches...)


@dataclass(frozen=True)
class WorkItem:
    """One video to make: a prompt and a sample index, with everything that decides its file."""

    prompt_index: int  # index of the prompt in the file
    sample: int  # VBench sample index i of ``{prompt}-{i}.mp4`` (continues over duplicate prompts)
    seed_index: int  # which of the prompt's seeds (0..K-1)
    seed: int  # the generator seed: item_seed(base, prompt_index, seed_index)
    prompt: str
    name: str  # file stem, ``{prompt}-{i}`` or the safe form
    settings: dict = field(default_factory=dict)  # per-item settings (JSONL); empty = the batch's

    @property
    def key(self) -> str:
        """Identity of the item across runs (the manifest's key)."""
        return f"{self.prompt_index}:{self.seed_index}"


def item_seed(base_seed: int, prompt_index: int, seed_index: int) -> int:
    """A 63-bit seed from (base seed, prompt index, seed index) alone, well mixed (NumPy SeedSequence)."""
    state = np.random.SeedSequence([base_seed, prompt_index, seed_index]).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


def read_prompts(path: str | Path) -> list[PromptEntry]:
    """Prompts of a text or JSONL file; an empty, unreadable or malformed file is a clear error."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"The prompt file {str(path)!r} is a folder; give a .txt or .jsonl file.")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"The prompt file {str(path)!r} does not exist.") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"Cannot read the prompt file {str(path)!r}: {err}.") from err
    jsonl = path.suffix.lower() == ".jsonl"
    entries: list[PromptEntry] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or (not jsonl and line.startswith("#")):
            continue
        prompt, settings = _parse_jsonl_line(line, path, number) if jsonl else (line, {})
        entries.append(PromptEntry(len(entries), prompt, number, settings))
    if not entries:
        raise ValueError(f"The prompt file {str(path)!r} has no prompts (only blank or comment lines); "
                         "write one prompt per line.")
    return entries


def _parse_jsonl_line(line: str, path: Path, number: int) -> tuple[str, dict]:
    where = f"{str(path)!r} line {number}"
    try:
        data = json.loads(line)
    except json.JSONDecodeError as err:
        raise ValueError(f"{where} is not valid JSON ({err.msg}).") from None
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a JSON object with a 'prompt', got {type(data).__name__}.")
    unknown = sorted(set(data) - set(JSONL_KEYS))
    if unknown:
        raise ValueError(f"{where} has unknown key(s) {', '.join(unknown)}; allowed: {', '.join(JSONL_KEYS)}.")
    if "script" in data:
        from longroll.pipelines.script import is_script, parse_script

        if "prompt" in data:
            raise ValueError(f"{where} has both a 'prompt' and a 'script'; give one.")
        script = data.pop("script")
        if not isinstance(script, str) or not is_script(script):
            raise ValueError(f"{where}: 'script' must be a timed script, e.g. \"a red circle on a black background "
                             f"[4s] | two blue squares on a navy background [6s#]\".")
        try:
            parse_script(script)
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
        data["prompt"] = script
    prompt = data.pop("prompt", None)
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(f"{where} needs a non-empty 'prompt' (or 'script') string.")
    if "seeds" in data:
        check_int(f"seeds ({where})", data["seeds"], low=1, high=10_000)
    if "seconds" in data:
        check_float(f"seconds ({where})", data["seconds"], low=0.0, low_open=True)
    switches = data.get("switches", [])
    if not isinstance(switches, list) or not all(
            isinstance(s, dict) and set(s) == {"at", "prompt"} for s in switches):
        raise ValueError(f"{where}: 'switches' must be a list of {{\"at\": seconds, \"prompt\": text}} objects.")
    for key in ("overrides", "schedule_options"):
        if not isinstance(data.get(key, {}), dict):
            raise ValueError(f"{where}: '{key}' must be a JSON object.")
    return prompt.strip(), data


def safe_stem(prompt: str, sample: int) -> str:
    """``{prompt}-{sample}`` when the prompt is a safe file name, else ``{first words}~{hash}-{sample}``."""
    plain = f"{prompt}-{sample}"
    if _is_safe(prompt) and len(plain.encode("utf-8")) <= MAX_STEM_BYTES:
        return plain
    digest = hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:12]
    words = unicodedata.normalize("NFKC", prompt)
    words = re.sub(r"[^\w ,'()-]+", " ", _UNSAFE.sub(" ", words)).strip(" .-")
    words = re.sub(r"\s+", " ", words)
    head = words.encode("utf-8")[:80].decode("utf-8", errors="ignore").rstrip(" .") or "prompt"
    return f"{head}~{digest}-{sample}"


def _is_safe(prompt: str) -> bool:
    """A plain prompt that is a safe file name as it is. A timed script never is: its '|', brackets and
    '#' are shell and glob characters ("a [1s] | b [1s#]-0.mp4" is a file nobody can type)."""
    from longroll.pipelines.script import is_script

    return (bool(prompt) and not _UNSAFE.search(prompt) and not prompt.startswith((".", "-", " "))
            and not prompt.endswith((" ", ".")) and prompt == prompt.strip() and not is_script(prompt))


def build_items(entries: list[PromptEntry], *, seeds: int, base_seed: int = 0) -> list[WorkItem]:
    """Every (prompt, seed) item, in prompt order; duplicates continue the sample index."""
    check_int("seeds", seeds, low=1, high=10_000)
    check_int("seed", base_seed, low=0)
    used: dict[str, int] = {}  # prompt -> samples named so far
    items = []
    for entry in entries:
        k = int(entry.settings.get("seeds", seeds))
        first = used.get(entry.prompt, 0)
        used[entry.prompt] = first + k
        for j in range(k):
            sample = first + j
            items.append(WorkItem(entry.index, sample, j, item_seed(base_seed, entry.index, j), entry.prompt,
                                  safe_stem(entry.prompt, sample), dict(entry.settings)))
    names = {}
    for item in items:  # two different prompts could share a safe stem only through a hash collision
        if item.name in names:
            raise ValueError(f"Prompts {names[item.name]!r} and {item.prompt!r} map to the same file name "
                             f"{item.name!r}.")
        names[item.name] = item.prompt
    return items


__all__ = ["JSONL_KEYS", "PromptEntry", "WorkItem", "build_items", "item_seed", "read_prompts", "safe_stem"]
