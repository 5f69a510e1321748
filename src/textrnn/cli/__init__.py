"""The ``textrnn`` command: a thin layer over the Python API.

    textrnn train [--config FILE.yaml] [--preset NAME] [--cell gru --epochs 3 ...]
    textrnn evaluate RUN_DIR [--test-data FILE]
    textrnn predict MODEL "some text" ... | --input FILE --out FILE | < lines.txt
    textrnn explain | report | compare | export | serve | presets | tune | pretrain | generate | embeddings
    textrnn suspects DATA | uncertain MODEL DATA    (which labels to fix, which texts to label next)

``textrnn COMMAND --help`` lists a command's flags, grouped, with examples. An error a user can cause is one
line; anything else is one line too, and ``--debug`` (or ``TEXTRNN_DEBUG=1``) shows its traceback. Precedence for training
parameters, lowest first: built-in defaults, the preset, the config file, the flags.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
import warnings
from pathlib import Path
from typing import Sequence

from ..errors import USER_ERRORS, TrainingInterrupted
from ..extras import missing_extra
from . import commands, data_quality
from .specs import build_parser

HANDLERS = {
    "evaluate": commands.evaluate_command, "predict": commands.predict_command, "report": commands.report_command,
    "explain": commands.explain_command, "compare": commands.compare_command, "export": commands.export_command,
    "serve": commands.serve_command, "presets": commands.presets_command, "embeddings": commands.embeddings_command,
    "tune": commands.tune_command, "pretrain": commands.pretrain_command, "generate": commands.generate_command,
    "suspects": data_quality.suspects_command, "uncertain": data_quality.uncertain_command,
}


DEBUG_VARIABLE = "TEXTRNN_DEBUG"


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as the command's own lines (``textrnn: warning: ...``), not Python's file:line and source."""
    print(f"textrnn: warning: {message}", file=file or sys.stderr)


class Terminated(KeyboardInterrupt):
    """SIGTERM outside the training loop (which checkpoints on it): stop as Ctrl-C does, and say so."""


def _terminate(number, frame) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")
    argv = [arg for arg in argv if arg != "--debug"]
    parser = build_parser()
    if not argv:  # bare ``textrnn``: what it can do, not an error
        parser.print_help()
        return 0
    args = parser.parse_args(argv)
    del args.debug  # read above; the commands' namespaces hold their own flags only
    if not debug:
        warnings.showwarning = _one_line_warning
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if on_main_thread else None
    if previous == signal.SIG_DFL:  # the default would end the process without a word
        signal.signal(signal.SIGTERM, _terminate)
    try:
        return _run(args, argv, debug)
    finally:
        if previous == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, previous)


def _run(args, argv: list[str], debug: bool) -> int:
    """The command, with every way it can end turned into one line and an exit code."""
    try:
        commands.check_paths(args)
        if args.command == "train":
            return commands.train_command(args, argv)
        return HANDLERS[args.command](args)
    except TrainingInterrupted as stop:
        return 128 + signal.Signals[stop.signal_name].value
    except USER_ERRORS as error:
        print(f"textrnn: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # the machine's answer (disk full, read-only, no such directory): not a bug
        if debug:
            raise
        where = f"{error.filename}: " if error.filename else ""
        print(f"textrnn: error: {where}{error.strerror or error}", file=sys.stderr)
        return 1
    except Terminated:
        print("textrnn: stopped (SIGTERM)", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("textrnn: stopped (Ctrl-C)", file=sys.stderr)
        return 130
    except Exception as error:  # a bug, or a failure nobody anticipated: one message, the traceback on request
        if debug:
            raise
        if isinstance(error, ModuleNotFoundError) and (message := missing_extra(error)):  # an extra not installed
            print(f"textrnn: error: {args.command}: {message}", file=sys.stderr)
            return 2
        where = traceback.extract_tb(error.__traceback__)[-1]
        print(f"textrnn: unexpected error: {type(error).__name__}: {error}\n  (in {Path(where.filename).name}, "
              f"line {where.lineno}; run again with --debug or {DEBUG_VARIABLE}=1 for the traceback, and please "
              "report it with that traceback)", file=sys.stderr)
        return 1
