"""One vocabulary of flags: walk every command's parser and check that a name means one thing everywhere."""

import argparse
import json

import pytest

from textrnn import __version__
from textrnn.cli import main
from textrnn.cli.specs import build_parser
from textrnn.cli.parser import markdown_table
from textrnn.params import PARAM_GROUPS, RunConfig

# The one flag whose target differs by command: --out is "where this command writes its result".
PER_COMMAND_MEANING = {"--out"}


def command_parsers() -> dict[str, argparse.ArgumentParser]:
    """Every command's parser by its full name ("train", "embeddings train", ...)."""
    found = {}

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found[f"{prefix}{name}".strip()] = sub
                    walk(sub, f"{prefix}{name} ")

    walk(build_parser(), "")
    return found


def flags(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        yield action


def description(action: argparse.Action) -> str:
    return (action.help or "").split(" (default")[0]


def test_every_argument_has_help_and_every_command_an_example():
    for name, parser in command_parsers().items():
        assert parser.epilog and "examples:" in parser.epilog and "textrnn" in parser.epilog, name
        for action in flags(parser):
            assert action.help and len(action.help) > 8, f"{name}: {action.option_strings or action.dest} has no help"


def test_a_flag_name_means_the_same_everywhere():
    seen: dict[str, tuple[str, argparse.Action]] = {}
    for name, parser in command_parsers().items():
        for action in flags(parser):
            for option in action.option_strings:
                if option not in seen:
                    seen[option] = (name, action)
                    continue
                first_command, first = seen[option]
                where = f"{option} in {first_command} and {name}"
                assert (action.dest, type(action), action.nargs, action.choices) == \
                       (first.dest, type(first), first.nargs, first.choices), where
                assert getattr(action.type, "__name__", action.type) == getattr(first.type, "__name__", first.type), where
                assert action.default == first.default, f"{where}: defaults {first.default!r} and {action.default!r}"
                per_command = PER_COMMAND_MEANING & set(action.option_strings)
                if not per_command and "the old name" not in (action.help or ""):
                    assert description(action) == description(first), where


def test_shared_model_flags_take_their_defaults_from_the_parameters():
    """pretrain and embeddings train once had their own defaults (--cell lstm, --lr 3e-3, --dim)."""
    parsers = command_parsers()
    for command in ("train", "pretrain", "embeddings train"):
        options = {o: a for a in flags(parsers[command]) for o in a.option_strings}
        for flag in ("--cell", "--lr", "--embed-dim", "--epochs", "--seed"):
            if flag in options:
                assert options[flag].default is argparse.SUPPRESS  # unset: the parameter's own default applies
                field = PARAM_GROUPS_FIELDS[flag[2:].replace("-", "_")]
                assert f"(default: {field})" in options[flag].help, (command, flag)


PARAM_GROUPS_FIELDS = {name: (str(f.default) if f.default is not None else "none")
                       for cls in PARAM_GROUPS.values() for name, f in cls.model_fields.items()}


def test_train_help_is_grouped_and_verbose_shows_the_command_line_default(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for group in PARAM_GROUPS:
        assert f"{group} parameters:" in text
    verbose = next(line for line in text.splitlines() if line.strip().startswith("--verbose, --no-verbose"))
    assert verbose.endswith("(default: on)")  # the command line prints progress unless --no-verbose


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"textrnn {__version__}"


def test_the_parameter_tables_in_the_docs_are_generated_from_the_parameters():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    assert markdown_table() in (root / "docs" / "parameters.md").read_text(encoding="utf-8")
    assert "docs/parameters.md" in (root / "README.md").read_text(encoding="utf-8")  # the README links the table
    schema = json.loads((root / "docs" / "config.schema.json").read_text(encoding="utf-8"))
    assert schema == RunConfig.model_json_schema(), "run python docs/make_parameters.py"


def test_an_unexpected_error_is_one_message_and_debug_shows_the_traceback(monkeypatch, capsys):
    from textrnn.cli import commands

    def broken(args):
        raise RuntimeError("something nobody anticipated")

    monkeypatch.setitem(__import__("textrnn.cli", fromlist=["HANDLERS"]).HANDLERS, "presets", broken)
    assert main(["presets"]) == 1
    err = capsys.readouterr().err
    assert "textrnn: unexpected error: RuntimeError: something nobody anticipated" in err
    assert "--debug" in err and "Traceback" not in err
    with pytest.raises(RuntimeError):
        main(["presets", "--debug"])
    monkeypatch.setenv("TEXTRNN_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main(["presets"])
    assert commands  # the handlers module is the one the CLI uses


def test_bare_textrnn_lists_the_commands(capsys):
    from textrnn.cli import main

    assert main([]) == 0
    out = capsys.readouterr().out
    assert all(command in out for command in ("train", "predict", "evaluate", "serve", "compare"))


def test_top_k_counts_labels_and_explain_counts_words():
    """One vocabulary of flags: --top-k is the labels predict shows; explain lists --top-words."""
    from textrnn.cli.specs import build_parser

    parser = build_parser()
    assert parser.parse_args(["explain", "run", "x", "--top-words", "3"]).top_words == 3
    assert parser.parse_args(["explain", "run", "x"]).top_words == 10
    assert parser.parse_args(["predict", "run", "x", "--top-k", "2"]).top_k == 2
    assert parser.parse_args(["explain", "run", "x", "--top-k", "2"]).top_k == 2  # the two likeliest labels
