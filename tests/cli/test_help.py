"""Help that is true: every default printed once and equal to what runs for the built-in model."""

import re

import pytest

from longroll.cli import COMMANDS, build_parser, main
from longroll.models.tiny.weights import shipped_defaults


def _helps() -> dict[str, list[tuple[str, str]]]:
    """Per command, (option, its formatted help) pairs."""
    parser = build_parser()
    sub = next(a for a in parser._actions if getattr(a, "choices", None) and "generate" in a.choices)
    out = {}
    for name, command in sub.choices.items():
        formatter = command._get_formatter()
        out[name] = [(", ".join(a.option_strings) or a.dest, formatter._expand_help(a) if a.help else "")
                     for a in command._actions]
    return out


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_default_is_printed_once(command):
    for option, text in _helps()[command]:
        assert len(re.findall(r"\(default\b|; default\b|\bdefault:", text, re.I)) <= 1, f"{command} {option}: {text}"
        assert "(default: None)" not in text and "(default: True)" not in text, f"{command} {option}: {text}"


def test_generate_states_the_built_in_models_defaults(capsys):
    d = shipped_defaults()
    if d is None:
        pytest.skip("no shipped weights in this checkout")
    helps = dict(_helps()["generate"])
    assert f"{d.preset} for the built-in model" in helps["--preset"]
    assert f"{d.schedule.cfg:g} for the built-in model" in helps["--cfg"]
    assert f"{d.native_window} (its own), {d.window} with the sink presets" in helps["--window"]
    assert "FLEX by default" not in build_parser().format_help()
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    assert "rolling-forcing" in capsys.readouterr().out  # every flavour is offered


def test_rope_report_uses_the_built_in_models_windows(capsys):
    if shipped_defaults() is None:
        pytest.skip("no shipped weights in this checkout")
    assert main(["rope-report", "--preset", "riflex,sink", "--frame", "1000"]) == 0
    out = capsys.readouterr().out
    # riflex keeps the model's own 21-frame window; the sink presets use 12 (was 12 for both)
    assert "preset riflex: the query at frame 1000 attends to 21 keys" in out
    assert "preset sink: the query at frame 1000 attends to 12 keys" in out


def test_every_command_registers_and_says_what_it_does(capsys):
    from longroll.cli import batch, bench, extend, generate, rope_report, studio, train_tiny, world
    from longroll.cli import eval as eval_cmd

    modules = {"batch": batch, "bench": bench, "eval": eval_cmd, "extend": extend, "generate": generate,
               "rope-report": rope_report, "studio": studio, "train-tiny": train_tiny, "world": world}
    assert modules == COMMANDS
    with pytest.raises(SystemExit):
        main(["--help"])
    top = " ".join(capsys.readouterr().out.split())
    for name, module in modules.items():
        assert callable(module.register) and callable(module.run)
        assert name in top and " ".join(module.HELP.split())[:30] in top
