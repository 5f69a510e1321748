"""The commands that help with the data rather than the model: which labels to check (``suspects``) and which
texts to label next (``uncertain``). Like :mod:`textrnn.cli.commands`, they only map arguments to the API."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ConfigError
from .commands import param, print_notes
from .specs import NETWORK_FLAGS


def suspects_command(args: argparse.Namespace) -> int:
    from ..data.sources import load_dataset
    from ..data.tables import TableOptions
    from ..deploy.batch_predict import write_table
    from ..evaluation.label_issues import COLUMNS, find_label_issues

    options = TableOptions(header=getattr(args, "header", "auto"), quoting=getattr(args, "quoting", "csv"),
                           label_separator=param(args, "label_separator") if param(args, "multi_label") else None)
    data = load_dataset(args.dataset, "train", param(args, "text_column"), param(args, "label_column"),
                        on_bad_rows=getattr(args, "on_bad_rows", "error"), options=options)
    print_notes(data.notes)
    issues = find_label_issues(data.texts, data.labels, folds=args.folds, seed=getattr(args, "seed", 0),
                               method=args.method, places=data.places, classifier=_network(args),
                               progress=lambda line: print(line, file=sys.stderr))
    rows = issues.rows[: args.rows] if args.rows else issues.rows
    out = Path(getattr(args, "out", "suspects.csv"))
    write_table(out, rows, list(COLUMNS))
    print(f"{issues.summary(len(data))}; {len(rows):,} written to {out}, the most suspect first", file=sys.stderr)
    for row in rows[:5]:
        print(f"  row {row['row']}: {row['label']} -> {row['suggested']} ({row['score']:.2f})  "
              f"{row['text'][:70]}", file=sys.stderr)
    return 0


def _network(args: argparse.Namespace):
    """The classifier for ``suspects --network`` (None: the bag of words), with the network flags given."""
    given = {name: getattr(args, name) for name in NETWORK_FLAGS if hasattr(args, name)}
    if not args.network:
        if given:
            raise ConfigError(f"--{next(iter(given)).replace('_', '-')} sets the network: add --network")
        return None
    from ..estimator import TextRNNClassifier

    return TextRNNClassifier(multi_label=param(args, "multi_label"), seed=getattr(args, "seed", 0), **given)


def uncertain_command(args: argparse.Namespace) -> int:
    from ..data.tables import TableOptions
    from ..deploy.batch_predict import read_texts, write_table
    from ..deploy.runtime import load_predictor
    from ..evaluation.label_next import COLUMNS, rows_to_label

    if args.top < 1:
        raise ConfigError(f"top: must be at least 1 (got {args.top})")
    notes: list[str] = []
    options = TableOptions(header=getattr(args, "header", "auto"), quoting=getattr(args, "quoting", "csv"))
    texts = read_texts(args.input, param(args, "text_column"), options, notes)
    print_notes(notes)
    model = load_predictor(args.run_dir, threads=param(args, "threads"))
    print(f"scoring {len(texts):,} texts", file=sys.stderr)
    rows = rows_to_label(model, texts, args.top, method=args.uncertainty)
    out = Path(getattr(args, "out", "to_label.csv"))
    write_table(out, rows, COLUMNS)
    print(f"{len(rows):,} of {len(texts):,} texts to label next written to {out}, the most useful first: fill in "
          f"their label column, add them to the training data and train again", file=sys.stderr)
    return 0
