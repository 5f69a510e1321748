"""The ``textrnn`` command: a thin layer over the Python API.

    textrnn train [--config FILE.yaml] [--preset NAME] [--cell gru --epochs 3 ...]
    textrnn evaluate RUN_DIR [--test-data FILE]
    textrnn predict MODEL "some text" ... | --input FILE --out FILE | < lines.txt
    textrnn explain | report | compare | export | serve | presets | tune | pretrain | generate | embeddings

``textrnn COMMAND --help`` lists a command's flags, grouped, with examples. Precedence for training
parameters, lowest first: built-in defaults, the preset, the config file, the flags.
"""

from __future__ import annotations

import signal
import sys
from typing import Sequence

from ..errors import USER_ERRORS, TrainingInterrupted
from . import commands
from .specs import build_parser

HANDLERS = {
    "evaluate": commands.evaluate_command, "predict": commands.predict_command, "report": commands.report_command,
    "explain": commands.explain_command, "compare": commands.compare_command, "export": commands.export_command,
    "serve": commands.serve_command, "presets": commands.presets_command, "embeddings": commands.embeddings_command,
    "tune": commands.tune_command, "pretrain": commands.pretrain_command, "generate": commands.generate_command,
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return commands.train_command(args, argv)
        return HANDLERS[args.command](args)
    except TrainingInterrupted as stop:
        return 128 + signal.Signals[stop.signal_name].value
    except USER_ERRORS as error:
        print(f"textrnn: error: {error}", file=sys.stderr)
        return 2
