"""The ``textrnn`` command's parsers: one vocabulary of flag names across every command.

Parameter flags are generated from the groups of :mod:`textrnn.params` (``--hidden-size`` is
``hidden_size`` in YAML and Python); flags that several commands share (``--out``, ``--text-column``,
``--top-k``, ``--seed`` ...) are declared once in :data:`SHARED` and reused, so a name means the same
thing, with the same default, wherever it appears. A test walks every parser to keep it so.
"""

from __future__ import annotations

import argparse
import types
import typing
from typing import Any, Iterable

from ..deploy.serve import ServeSettings
from ..params import PARAM_GROUPS, RunConfig

# Where the command line's defaults differ from the Python API's: a terminal user wants progress.
CLI_DEFAULTS = {"verbose": True}

# Flags shared by several commands that are not model parameters: name -> argparse options.
SHARED: dict[str, dict[str, Any]] = {
    "--top-k": {"type": int, "default": 1, "help": "how many of the most likely labels to show (default: 1)"},
    "--format": {"choices": ("table", "csv", "jsonl"), "default": "table",
                 "help": "output format: table (aligned text), csv or jsonl (one JSON object a line) (default: table); "
                         "predict --input: the --out file's extension decides"},
}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' line breaks; wide enough for the flag names."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=110)


def command(commands, name: str, summary: str, examples: Iterable[str]) -> argparse.ArgumentParser:
    """A subcommand with a one-line summary and its examples at the end of its help."""
    epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples)
    return commands.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".",
                               epilog=epilog, formatter_class=HelpFormatter)


def add_shared(parser: argparse.ArgumentParser, *flags: str) -> None:
    for flag in flags:
        parser.add_argument(flag, **SHARED[flag])


def add_out(parser: argparse.ArgumentParser, what: str, required: bool = False, aliases: tuple[str, ...] = (),
            default: str | None = None) -> None:
    """``--out``: where the command writes its result (each command says what that is; unset, it is absent
    from the namespace, so a config file's ``out`` still counts)."""
    shown = f" (default: {default})" if default else ""
    parser.add_argument("--out", *aliases, dest="out", required=required, default=argparse.SUPPRESS,
                        help=f"where to write {what}{shown}".replace("%", "%%"))


def add_param_flags(parser: argparse.ArgumentParser, names: Iterable[str] | None = None,
                    defaults: dict[str, str] | None = None) -> None:
    """One flag per parameter, typed from its annotation, in one help section per group.

    Unset flags stay absent from the namespace (no override of the preset, the config file or the run's
    own value). ``defaults`` replaces the shown default of some flags (evaluate: "the run's").
    """
    wanted = set(names) if names is not None else None
    for group, cls in PARAM_GROUPS.items():
        fields = {n: f for n, f in cls.model_fields.items() if wanted is None or n in wanted}
        if not fields:
            continue
        section = parser.add_argument_group(f"{group} parameters", cls.__doc__)
        for name, field in fields.items():
            shown = (defaults or {}).get(name) or _shown_default(name, field)
            section.add_argument("--" + name.replace("_", "-"), **_flag_options(name, field, shown))
            if name == "header":  # the flag earlier versions had, kept: the same as --header no
                section.add_argument("--no-header", dest="header", action="store_const", const=False,
                                     default=argparse.SUPPRESS, help="the same as --header no")


def _shown_default(name: str, field) -> str:
    if name in CLI_DEFAULTS:
        return "on" if CLI_DEFAULTS[name] is True else str(CLI_DEFAULTS[name])
    return shown_default(field)


def _flag_options(name: str, field, shown: str) -> dict[str, Any]:
    annotation = field.annotation
    args = typing.get_args(annotation)
    options: dict[str, Any] = {"dest": name, "default": argparse.SUPPRESS}
    nullable = typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args
    base = next((a for a in args if a is not type(None)), annotation) if nullable else annotation
    if base is bool:
        options["action"] = argparse.BooleanOptionalAction
    elif (field.json_schema_extra or {}).get("parse") == "json_or_text":
        options["type"] = json_or_text
    elif (field.json_schema_extra or {}).get("parse") == "int_or_auto":
        options["type"] = int_or_auto
    elif (field.json_schema_extra or {}).get("parse") == "float_or_text":
        options["type"] = float_or_text
    elif (field.json_schema_extra or {}).get("parse") == "auto_or_int":
        options["type"] = auto_or_int
    elif (field.json_schema_extra or {}).get("parse") == "auto_or_bool":
        options["type"], options["metavar"] = auto_or_bool, "{auto,yes,no}"
    elif typing.get_origin(base) is typing.Literal:
        options["choices"] = typing.get_args(base)
    elif typing.get_origin(base) is list:
        options["nargs"] = "+"
    else:
        options["type"] = optional(base) if nullable else base
    options["help"] = f"{field.description} (default: {shown})".replace("%", "%%")
    return options


def auto_or_bool(text: str):
    """``auto``, or yes/no (true/false) for a parameter that is decided unless the user says."""
    answer = {"auto": "auto", "yes": True, "true": True, "no": False, "false": False}.get(text.strip().lower())
    if answer is None:
        raise argparse.ArgumentTypeError(f"expected auto, yes or no, got {text!r}")
    return answer


def json_or_text(text: str):
    """A word (``balanced``), or a JSON object (``{"spam": 5}``) for a parameter that takes a mapping."""
    import json

    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"not a JSON object ({error})") from None
    return text


def int_or_auto(text: str):
    """``auto``, or a whole number of at least 1."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto or a number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def auto_or_int(text: str):
    """``auto``, ``none``, or a whole number."""
    if text in ("auto", "none"):
        return None if text == "none" else text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto, none or a number, got {text!r}") from None


def float_or_text(text: str):
    """A number (``0.3``), or a word (``per_label``) for a parameter that takes either."""
    try:
        return float(text)
    except ValueError:
        return text


def optional(kind: type):
    """An argparse type that also accepts 'none' for a parameter that may be switched off."""

    def parse(text: str):
        return None if text.lower() == "none" else kind(text)

    parse.__name__ = kind.__name__
    return parse


RUN_FLAGS = tuple(RunConfig.model_fields)
DATA_INPUT_FLAGS = ("dataset", "data_dir", "text_column")
PRETRAIN_FLAGS = ("cell", "embed_dim", "hidden_size", "num_layers", "bidirectional", "max_tokens", "punctuation",
                  "strip_html", "epochs", "batch_size", "lr", "seed")


def serve_setting_flags(parser: argparse.ArgumentParser) -> None:
    for name, field in ServeSettings.model_fields.items():
        if name in ("model_path", "threads"):
            continue
        parser.add_argument("--" + name.replace("_", "-"), type=type(field.default), default=field.default,
                            help=f"{field.description} (default: {field.default})")


def shown_default(field) -> str:
    """A default as the help and the docs show it."""
    if field.default is None:
        return "none"
    if isinstance(field.default, bool):
        return "on" if field.default else "off"
    if isinstance(field.default, list):
        return " ".join(map(str, field.default))
    return str(field.default)


def markdown_table() -> str:
    """The parameter table of the docs, generated from the groups."""
    lines = ["| group | parameter (YAML / Python) | flag | default | what it does |", "|---|---|---|---|---|"]
    for group, cls in PARAM_GROUPS.items():
        for name, field in cls.model_fields.items():
            flag = "--" + name.replace("_", "-")
            lines.append(f"| {group} | `{name}` | `{flag}` | {shown_default(field)} | {field.description} |")
    return "\n".join(lines) + "\n"
