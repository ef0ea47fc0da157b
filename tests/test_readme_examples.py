"""Every example command of the README and of the --help texts runs as written on the built-in model (short
lengths): a command whose words are placeholders (FILE, PROMPT, VIDEO...) is a form, not an example, and a
real checkpoint's commands need weights no test has; each kind of skip is counted, so none goes silent."""

import re
import shlex
from pathlib import Path

from longroll.cli import build_parser, main

README = Path(__file__).parent.parent / "README.md"
PLACEHOLDER = re.compile(r"(?<![\w-])[A-Z][A-Z_|./]*[A-Z/](?![\w-])|(?<=--seconds )S\b|\.\.\.")
REAL_CHECKPOINT = ("causal-wan", "--checkpoint", "--base", "--model wan")


def _readme_commands() -> list[str]:
    """`longroll generate ...` in code spans and code blocks (continuation lines joined)."""
    text = README.read_text().replace("\\\n", " ")
    spans = re.findall(r"`([^`\n]*longroll generate [^`\n]*)`", text)
    lines = [line for block in re.findall(r"```bash\n(.*?)```", text, re.S) for line in block.splitlines()
             if "longroll generate " in line]
    commands = []
    for raw in spans + lines:
        raw = raw.replace("\\|", "|").split("longroll generate ", 1)[1].split("  #")[0].strip()
        commands.append("generate " + raw)
    return commands


def _help_examples() -> list[str]:
    """The prompts, scripts and switches the --help texts give as examples, as generate commands."""
    parser = build_parser()
    sub = next(a for a in parser._actions if hasattr(a, "choices") and a.choices and "generate" in a.choices)
    texts = " ".join(action.help or "" for name in ("generate", "bench") for action in sub.choices[name]._actions)
    quoted = re.findall(r"'([^']+)'", texts)
    prompts = [q for q in quoted if "background" in q and not q.startswith(("--", "on "))]
    switches = re.findall(r"(\d+s):'([^']+)'", texts)
    return ([f"generate {shlex.quote(p)}{'' if '[' in p else ' --seconds 1'} --out FILE" for p in prompts]
            + [f"generate 'a blue square on a black background' --seconds 13 --switch {shlex.quote(at + ':' + p)} "
               f"--out FILE" for at, p in switches])


def _runnable(command: str, tmp_path: Path) -> list[str] | None:
    if any(word in command for word in REAL_CHECKPOINT):
        return None
    command = re.sub(r"--seconds (\d+(?:\.\d+)?)", lambda m: f"--seconds {min(float(m.group(1)), 13):g}", command)
    command = re.sub(r"--out \S+", f"--out {tmp_path / 'v.mp4'}", command)
    if PLACEHOLDER.search(command.replace("--seconds S ", "--seconds 1 ")):
        return None
    return shlex.split(command.replace("--seconds S ", "--seconds 1 ")) + ["--no-progress", "--overwrite"]


def test_the_readme_and_help_examples_run_as_written(tmp_path, capsys):
    commands = _readme_commands() + _help_examples()
    ran, forms, checkpoints = [], [], []
    for command in commands:
        argv = _runnable(command, tmp_path)
        if argv is None:
            (checkpoints if any(w in command for w in REAL_CHECKPOINT) else forms).append(command)
            continue
        assert main(argv) == 0, f"{command}\n{capsys.readouterr().err}"
        ran.append(command)
    # The main job, the storyboard and the help's script and switch examples are among what ran.
    assert any("a red circle and a blue square on a navy background" in c for c in ran)
    assert sum("[6s#]" in c for c in ran) >= 2 and any("--switch" in c for c in ran)
    assert len(checkpoints) >= 2 and forms  # counted, not silent
