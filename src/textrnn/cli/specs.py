"""Each command's arguments, summary and examples (the handlers are in :mod:`textrnn.cli.commands`)."""

from __future__ import annotations

import argparse
from argparse import SUPPRESS

from .. import __version__
from .parser import (
    DATA_INPUT_FLAGS,
    HelpFormatter,
    PRETRAIN_FLAGS,
    RUN_FLAGS,
    add_out,
    add_param_flags,
    add_shared,
    command,
    serve_setting_flags,
)

THE_RUNS = "the run's"
NETWORK_FLAGS = ("cell", "epochs", "threads")  # suspects --network: the network's settings it takes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="textrnn", formatter_class=HelpFormatter,
        description="Recurrent-network (RNN, LSTM, GRU) text classifiers: train, evaluate, explain, export, serve.",
        epilog="examples:\n  textrnn train --dataset reviews.csv --text-column review --label-column stars\n"
               "  textrnn predict runs/bigru64-reviews-20261124-101500 \"great value, works well\"\n"
               "  textrnn COMMAND --help    (every command's flags and examples)")
    parser.add_argument("--version", action="version", version=f"textrnn {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an unexpected error (or set TEXTRNN_DEBUG=1)")
    add_commands(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    return parser


def add_commands(commands) -> None:
    for add in (_train, _evaluate, _predict, _report, _explain, _compare, _export, _serve, _presets, _tune,
                _pretrain, _generate, _embeddings, _suspects, _uncertain):
        add(commands)


def _train(commands) -> None:
    parser = command(commands, "train", "train a classifier and write a run directory", [
        "textrnn train                                   # AG News, the default model",
        "textrnn train --dataset reviews.csv --text-column review --label-column stars --test-data test.csv",
        "textrnn train --preset lesson-bilstm --epochs 3",
        "textrnn train --config my.yaml --seed 1         # YAML keys are the flag names with underscores",
        "textrnn train --resume runs/bigru64-ag_news-20261124-101500",
    ])
    parser.add_argument("--config", help="YAML file of parameters (the flag names, with underscores)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue the interrupted run in RUN_DIR from its checkpoint")
    add_param_flags(parser, [n for n in RUN_FLAGS if n != "out"])
    add_out(parser, "the run directory (default: runs/<model>-<data>-<time>)")


def _tune(commands) -> None:
    parser = command(commands, "tune", "search hyperparameters (Optuna) on the validation split within a time budget", [
        "textrnn tune --budget-minutes 30 --dataset reviews.csv --text-column review",
        "textrnn tune --budget-minutes 10 --cell lstm    # flags you give are fixed; the search varies the rest",
        "textrnn train --config tuned.yaml               # then train the best configuration",
    ])
    parser.add_argument("--budget-minutes", type=float, required=True, help="wall time for the whole search")
    parser.add_argument("--trials", type=int, help="stop after this many trials (default: only the budget)")
    add_out(parser, "the best configuration (YAML; the trials go beside it as .trials.json)",
            aliases=("--tuned",), default="tuned.yaml")
    parser.add_argument("--config", help="YAML file of parameters (the flag names, with underscores)")
    add_param_flags(parser, [n for n in RUN_FLAGS if n not in ("out", "tensorboard", "stream")])


def _evaluate(commands) -> None:
    parser = command(commands, "evaluate", "metrics of a trained model on labeled data", [
        "textrnn evaluate runs/my-run                    # on the run's own test data",
        "textrnn evaluate runs/my-run --test-data other.csv --out metrics.json",
        "textrnn evaluate runs/my-run --test-data plain.tsv --text-column 0 --label-column 1   # by position",
    ])
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run directory (or saved model directory)")
    add_param_flags(parser, ("test_data", "data_dir", "text_column", "label_column", "on_bad_rows", "header",
                             "quoting"),
                    defaults={"test_data": "the run's test data", "data_dir": THE_RUNS, "text_column": THE_RUNS,
                              "label_column": THE_RUNS, "header": "the run's for its own test data, else auto",
                              "quoting": THE_RUNS})
    parser.add_argument("--data", dest="test_data", default=SUPPRESS, help="the old name of --test-data")
    add_out(parser, "the metrics as JSON (they are always printed)", aliases=("--output",))


def _predict(commands) -> None:
    parser = command(commands, "predict", "label texts with a trained model or an ONNX export", [
        "textrnn predict runs/my-run \"Stocks rally as oil falls\" \"Red Sox win\"",
        "cat texts.txt | textrnn predict runs/my-run/onnx --format jsonl",
        "textrnn predict runs/my-run --input new.csv --text-column review --out labeled.csv --top-k 2",
        "textrnn predict runs/my-run --input lines.tsv --text-column 0 --out labeled.tsv   # by position",
    ])
    parser.add_argument("run_dir", metavar="MODEL", help="run directory, saved model directory or ONNX export")
    parser.add_argument("texts", nargs="*", help="texts to label; none: read --input, or lines from stdin")
    parser.add_argument("--input", help="CSV/TSV/JSONL/Parquet file of any size, read in chunks (needs --out)")
    add_param_flags(parser, ("text_column", "header", "quoting", "threads"))
    add_shared(parser, "--top-k", "--format")
    add_out(parser, "the predictions (with --input: its format follows the extension) instead of stdout",
            aliases=("--output",))


def _report(commands) -> None:
    parser = command(commands, "report", "write the HTML report (and PNG figures) of a run", [
        "textrnn report runs/my-run --open",
    ])
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run directory")
    parser.add_argument("--mistakes", type=int, default=10, help="how many confident mistakes to explain (default: 10)")
    parser.add_argument("--open", action="store_true", help="open the report in a web browser")


def _explain(commands) -> None:
    parser = command(commands, "explain", "show which words pushed a prediction (occlusion)", [
        "textrnn explain runs/my-run \"Stocks rally as oil falls\" --top-words 3",
        "textrnn explain runs/my-run \"Stocks rally as oil falls\" --label Business",
        "textrnn explain runs/my-run \"Stocks rally as oil falls\" --top-k 2       # the two likeliest labels",
    ])
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run directory (or saved model directory)")
    parser.add_argument("texts", nargs="+", help="texts to explain")
    parser.add_argument("--label", help="explain this class (multi-label: this label) instead of the most probable one")
    parser.add_argument("--top-words", dest="top_words", type=int, default=10,
                        help="how many of the words that pushed hardest to list (default: 10)")
    add_shared(parser, "--top-k")  # labels, as everywhere: explain the k most probable ones


def _compare(commands) -> None:
    parser = command(commands, "compare", "compare finished runs side by side", [
        "textrnn compare runs/*/ --plot comparison.png   # unfinished runs are listed and left out",
        "textrnn compare runs/*/ --format csv > runs.csv",
    ])
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories")
    parser.add_argument("--plot", help="also write a bar chart of accuracy and time to this PNG file")
    add_shared(parser, "--format")


def _export(commands) -> None:
    parser = command(commands, "export", "export a trained model to ONNX, checked against PyTorch", [
        "textrnn export runs/my-run                      # runs/my-run/onnx",
        "textrnn export runs/my-run --quantize int8 --out model-int8",
    ])
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run directory (or saved model directory)")
    parser.add_argument("--quantize", choices=("int8",), help="int8 dynamic quantization of the weights")
    add_out(parser, "the export directory (default: RUN_DIR/onnx or RUN_DIR/onnx-int8)")


def _serve(commands) -> None:
    parser = command(commands, "serve", "serve a run directory or an ONNX export over HTTP", [
        "textrnn serve runs/my-run/onnx --port 8000",
        "curl -s localhost:8000/v1/predict -H 'content-type: application/json' -d '{\"texts\": [\"Stocks rally\"]}'",
    ])
    parser.add_argument("model_path", metavar="MODEL", help="run directory, saved model directory or ONNX export")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (default: 1)")
    add_param_flags(parser, ("threads",), defaults={"threads": "1: the event loop needs a core too"})
    serve_setting_flags(parser)


def _presets(commands) -> None:
    command(commands, "presets", "list the named presets", ["textrnn presets", "textrnn train --preset lesson-lstm"])


def _pretrain(commands) -> None:
    parser = command(commands, "pretrain", "train a language model on unlabeled texts, to fine-tune with train --init-from", [
        "textrnn pretrain --out lm/ --epochs 2",
        "textrnn train --init-from lm/                   # the same cell, sizes and layers",
    ])
    add_out(parser, "the language model directory", required=True)
    add_param_flags(parser, (*DATA_INPUT_FLAGS, *PRETRAIN_FLAGS))


def _generate(commands) -> None:
    parser = command(commands, "generate", "continue a prompt with a pretrained language model", [
        "textrnn generate lm/ \"oil prices\" --words 30",
    ])
    parser.add_argument("lm_dir", metavar="LM_DIR", help="language model directory (textrnn pretrain --out)")
    parser.add_argument("prompt", help="the text to continue")
    parser.add_argument("--words", type=int, default=20, help="words to generate (default: 20)")
    parser.add_argument("--temperature", type=float, default=0.8, help="below 1: safer words (default: 0.8)")
    add_param_flags(parser, ("seed",))


def _embeddings(commands) -> None:
    parser = command(commands, "embeddings", "word vectors for --embeddings", ["textrnn embeddings train --out vectors.bin"])
    actions = parser.add_subparsers(dest="embeddings_command", required=True, metavar="ACTION")
    vectors = command(actions, "train", "train word2vec or fastText vectors (gensim) on training texts", [
        "textrnn embeddings train --out vectors.bin --embed-dim 128",
        "textrnn train --embeddings vectors.bin --embed-dim 128",
    ])
    add_out(vectors, "the vectors (word2vec binary format)", required=True)
    add_param_flags(vectors, (*DATA_INPUT_FLAGS, "punctuation", "strip_html", "embed_dim", "epochs", "seed", "threads"),
                    defaults={"threads": "1: only 1 gives the same vectors for the same seed"})
    vectors.add_argument("--dim", dest="embed_dim", type=int, default=SUPPRESS, help="the old name of --embed-dim")
    vectors.add_argument("--algorithm", choices=("word2vec", "fasttext"), default="word2vec",
                         help="word2vec (skip-gram) or fasttext (skip-gram with character n-grams) (default: word2vec)")
    vectors.add_argument("--window", type=int, default=5, help="context words on each side (default: 5)")
    vectors.add_argument("--min-count", type=int, default=2, help="ignore rarer words (default: 2)")


def _suspects(commands) -> None:
    parser = command(commands, "suspects", "rank the rows of a labelled file by how likely their label is wrong", [
        "textrnn suspects reviews.csv --out suspects.csv          # the most suspect rows first",
        "textrnn suspects data.tsv --text-column 1 --label-column 0 --rows 200 --out check.csv",
        "textrnn suspects emotions.tsv --text-column 0 --label-column 1 --multi-label   # each label judged alone",
        "textrnn suspects reviews.csv --network --epochs 5 --threads 2   # judged by the network (k trainings)",
    ])
    parser.add_argument("dataset", metavar="DATA", help="a labelled CSV/TSV/JSONL/Parquet file (or a directory of them)")
    parser.add_argument("--folds", type=int, default=5, help="cross-fitting folds: each row is judged by a model "
                        "trained on the other folds (default: 5)")
    parser.add_argument("--method", choices=("confident_learning", "self_confidence"), default="confident_learning",
                        help="which rows are flagged: as many as confident learning estimates are wrong, those "
                             "whose label has the lowest probability; or every row whose label is not the likeliest "
                             "class (default: confident_learning)")
    parser.add_argument("--rows", type=int, default=None, help="keep only this many of the most suspect rows")
    parser.add_argument("--network", action="store_true",
                        help="judge each row by the default network trained on the other folds, averaged with the "
                             "bag of words (k full trainings: minutes to hours; --cell, --epochs and --threads apply)")
    add_param_flags(parser, ("text_column", "label_column", "header", "quoting", "multi_label", "label_separator",
                             "on_bad_rows", "seed", *NETWORK_FLAGS))
    add_out(parser, "the flagged rows, most suspect first (CSV, TSV, JSONL or Parquet by extension)",
            default="suspects.csv")


def _uncertain(commands) -> None:
    parser = command(commands, "uncertain", "choose the unlabelled texts whose labels would teach the model most", [
        "textrnn uncertain runs/my-run pool.csv --top 200 --out to_label.csv   # then fill in the label column",
        "textrnn uncertain runs/my-run tickets.jsonl --text-column body --uncertainty entropy",
    ])
    parser.add_argument("run_dir", metavar="MODEL", help="run directory, saved model directory or ONNX export")
    parser.add_argument("input", metavar="DATA", help="a CSV/TSV/JSONL/Parquet file of unlabelled texts")
    parser.add_argument("--top", type=int, default=100, help="how many texts to choose (default: 100)")
    parser.add_argument("--uncertainty", choices=("margin", "entropy"), default="margin",
                        help="margin: the two likeliest classes are close; entropy: the probabilities are spread "
                             "(default: margin)")
    add_param_flags(parser, ("text_column", "header", "quoting", "threads"))
    add_out(parser, "the chosen texts with an empty label column, most useful first (CSV, TSV, JSONL or Parquet)",
            default="to_label.csv")
