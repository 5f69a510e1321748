"""The ``textrnn`` command: a thin layer over the Python API.

    textrnn train [--config FILE.yaml] [--preset NAME] [--cell gru --epochs 3 ...]
    textrnn evaluate RUN_DIR [--data FILE]
    textrnn predict RUN_DIR "some text" ... | --input FILE | < lines.txt
    textrnn presets
    textrnn tune --budget-minutes 30 [training flags]
    textrnn embeddings train --out vectors.bin
    textrnn pretrain --out lm/ ; textrnn train --init-from lm/ ; textrnn generate lm/ "oil prices"

Training flags are made from :class:`textrnn.config.RunConfig`, so every parameter has the same name
here (``--hidden-size``), in a YAML config (``hidden_size:``) and in Python (``hidden_size=``).
Precedence, lowest first: built-in defaults, the preset, the config file, the flags.
"""

from __future__ import annotations

import argparse
import csv
import json
import signal
import sys
import types
import typing
from pathlib import Path
from typing import Any, Sequence

# Only light modules here: `textrnn predict`/`serve` with an ONNX export must run without importing torch.
from .config import RESUME_MAY_CHANGE, ConfigError, RunConfig, validate
from .data import DataError
from .errors import CheckpointError, ExportError, MemoryBudgetError, ModelFileError, RunDirError, TrainingInterrupted
from .presets import DESCRIPTIONS, preset
from .serve import ServeSettings


def optional(kind: type):
    """An argparse type that also accepts 'none' for a parameter that may be switched off."""

    def parse(text: str):
        return None if text.lower() == "none" else kind(text)

    parse.__name__ = kind.__name__
    return parse


def add_param_flags(parser: argparse.ArgumentParser, fields: dict) -> None:
    """One flag per config field, typed from its annotation; unset flags stay absent (no override)."""
    for name, field in fields.items():
        annotation = field.annotation
        args = typing.get_args(annotation)
        options: dict[str, Any] = {"dest": name, "default": argparse.SUPPRESS}
        nullable = typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args
        base = next((a for a in args if a is not type(None)), annotation) if nullable else annotation
        if base is bool:
            options["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(base) is typing.Literal:
            options["choices"] = typing.get_args(base)
        elif typing.get_origin(base) is list:
            options["nargs"] = "+"
        else:
            options["type"] = optional(base) if nullable else base
        default = field.default if field.default is not None else "none"
        options["help"] = f"{field.description} (default: {default})".replace("%", "%%")
        parser.add_argument("--" + name.replace("_", "-"), **options)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="textrnn", description="Recurrent-network text classifiers.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a classifier and write a run directory")
    train.add_argument("--config", help="YAML file of parameters (same names as the flags, with underscores)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue the interrupted run in RUN_DIR from its checkpoint")
    add_param_flags(train, RunConfig.model_fields)

    evaluate = commands.add_parser("evaluate", help="metrics of a trained model on labeled data")
    evaluate.add_argument("run_dir", help="run directory (or saved model directory)")
    evaluate.add_argument("--data", help="'ag_news' (test split) or a labeled file; default: the run's test data")
    evaluate.add_argument("--data-dir", help="AG News directory (default: the run's, or TEXTRNN_DATA_DIR)")
    evaluate.add_argument("--text-column", nargs="+", help="text column(s) (default: the run's)")
    evaluate.add_argument("--label-column", help="label column (default: the run's)")
    evaluate.add_argument("--on-bad-rows", choices=("error", "skip"), default="error",
                          help="stop at the first bad row, or skip bad rows and report them (default: error)")
    evaluate.add_argument("--output", help="also write the metrics to this JSON file")

    predict = commands.add_parser("predict", help="label texts with a trained model")
    predict.add_argument("run_dir", help="run directory, saved model directory or ONNX export")
    predict.add_argument("texts", nargs="*", help="texts to label; none: read --input, or lines from stdin")
    predict.add_argument("--input", help="CSV/TSV/JSONL/Parquet file of any size, read in chunks (needs --output)")
    predict.add_argument("--text-column", nargs="+", default=None, help="text column(s) of --input (default: text)")
    predict.add_argument("--top-k", type=int, default=1, help="how many labels to show per text (default: 1)")
    predict.add_argument("--format", choices=("table", "csv", "jsonl"), default="table",
                         help="output format for texts given as arguments or on stdin")
    predict.add_argument("--output", help="write here instead of stdout")

    report = commands.add_parser("report", help="write the HTML report (and PNG figures) of a run")
    report.add_argument("run_dir")
    report.add_argument("--mistakes", type=int, default=10, help="how many confident mistakes to explain")
    report.add_argument("--open", action="store_true", help="open the report in a web browser")

    explain_parser = commands.add_parser("explain", help="show which words pushed a prediction")
    explain_parser.add_argument("run_dir")
    explain_parser.add_argument("texts", nargs="+", help="texts to explain")
    explain_parser.add_argument("--label", help="explain this class instead of the predicted one")
    explain_parser.add_argument("--top", type=int, default=5, help="list this many most decisive words")

    compare = commands.add_parser("compare", help="compare finished runs side by side")
    compare.add_argument("run_dirs", nargs="+")
    compare.add_argument("--plot", help="also write a bar chart of accuracy and time to this PNG file")

    export = commands.add_parser("export", help="export a trained model to ONNX, checked against PyTorch")
    export.add_argument("run_dir")
    export.add_argument("--format", choices=("onnx",), default="onnx", help="export format (default: onnx)")
    export.add_argument("--quantize", choices=("int8",), help="int8 dynamic quantization of the weights")
    export.add_argument("--out", help="export directory (default: RUN_DIR/onnx or RUN_DIR/onnx-int8)")

    serve = commands.add_parser("serve", help="serve a run directory or an ONNX export over HTTP")
    serve.add_argument("model_path", metavar="RUN_DIR_OR_EXPORT")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="server processes (default: 1)")
    for name, field in ServeSettings.model_fields.items():
        if name != "model_path":
            serve.add_argument("--" + name.replace("_", "-"), type=type(field.default), default=field.default,
                               help=f"{field.description} (default: {field.default})")

    commands.add_parser("presets", help="list the named presets")

    tune_parser = commands.add_parser(
        "tune", help="search hyperparameters (Optuna) on the validation split within a time budget")
    tune_parser.add_argument("--budget-minutes", type=float, required=True, help="wall time for the whole search")
    tune_parser.add_argument("--trials", type=int, help="stop after this many trials (default: only the budget)")
    tune_parser.add_argument("--tuned", default="tuned.yaml",
                             help="YAML file for the best configuration (default: tuned.yaml); trials go to "
                                  "the same name with .trials.json")
    tune_parser.add_argument("--config", help="YAML file of fixed parameters (the search varies the others)")
    add_param_flags(tune_parser, RunConfig.model_fields)

    pretrain_parser = commands.add_parser(
        "pretrain", help="train a language model on unlabeled texts, to fine-tune with train --init-from")
    pretrain_parser.add_argument("--out", required=True, help="directory to write the language model to")
    pretrain_parser.add_argument("--dataset", default="ag_news",
                                 help="'ag_news' (its training texts, labels unused) or a file of texts")
    pretrain_parser.add_argument("--data-dir", help="AG News directory (default: TEXTRNN_DATA_DIR or the cache)")
    pretrain_parser.add_argument("--text-column", nargs="+", default=["text"], help="text column(s) (default: text)")
    pretrain_parser.add_argument("--cell", choices=("rnn", "lstm", "gru"), default="lstm")
    pretrain_parser.add_argument("--embed-dim", type=int, default=64)
    pretrain_parser.add_argument("--hidden-size", type=int, default=64)
    pretrain_parser.add_argument("--num-layers", type=int, default=1)
    pretrain_parser.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=True,
                                 help="also train a backward model, for a bidirectional classifier (default: yes)")
    pretrain_parser.add_argument("--max-tokens", type=int, default=20_000, help="vocabulary size (default: 20000)")
    pretrain_parser.add_argument("--epochs", type=int, default=2)
    pretrain_parser.add_argument("--batch-size", type=int, default=64)
    pretrain_parser.add_argument("--lr", type=float, default=3e-3)
    pretrain_parser.add_argument("--seed", type=int, default=0)

    generate_parser = commands.add_parser("generate", help="continue a prompt with a pretrained language model")
    generate_parser.add_argument("lm_dir")
    generate_parser.add_argument("prompt")
    generate_parser.add_argument("--words", type=int, default=20, help="words to generate (default: 20)")
    generate_parser.add_argument("--temperature", type=float, default=0.8, help="below 1: safer words (default: 0.8)")
    generate_parser.add_argument("--seed", type=int, default=0)

    embeddings = commands.add_parser("embeddings", help="pretrained word embeddings")
    embeddings_commands = embeddings.add_subparsers(dest="embeddings_command", required=True)
    vectors = embeddings_commands.add_parser(
        "train", help="train word2vec or fastText vectors (gensim) on training texts, for --embeddings")
    vectors.add_argument("--out", required=True, help="file to write (word2vec binary format)")
    vectors.add_argument("--dataset", default="ag_news", help="'ag_news' (its training split) or a file of texts")
    vectors.add_argument("--data-dir", help="AG News directory (default: TEXTRNN_DATA_DIR or the download cache)")
    vectors.add_argument("--text-column", nargs="+", default=["text"], help="text column(s) (default: text)")
    vectors.add_argument("--algorithm", choices=("word2vec", "fasttext"), default="word2vec",
                         help="word2vec (skip-gram) or fasttext (skip-gram with character n-grams)")
    vectors.add_argument("--dim", type=int, default=64, help="vector size; the classifier's embed_dim (default: 64)")
    vectors.add_argument("--epochs", type=int, default=5, help="passes over the texts (default: 5)")
    vectors.add_argument("--window", type=int, default=5, help="context words on each side (default: 5)")
    vectors.add_argument("--min-count", type=int, default=2, help="ignore rarer words (default: 2)")
    vectors.add_argument("--seed", type=int, default=0)
    vectors.add_argument("--workers", type=int, default=1,
                         help="training threads; only 1 gives the same vectors for the same seed (default: 1)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return train_command(args, argv)
        commands = {"evaluate": evaluate_command, "predict": predict_command, "report": report_command,
                    "explain": explain_command, "compare": compare_command, "export": export_command,
                    "serve": serve_command, "presets": presets_command, "embeddings": embeddings_command,
                    "tune": tune_command, "pretrain": pretrain_command, "generate": generate_command}
        return commands[args.command](args)
    except TrainingInterrupted as stop:
        return 128 + signal.Signals[stop.signal_name].value
    except (ConfigError, DataError, ModelFileError, CheckpointError, MemoryBudgetError, RunDirError,
            ExportError) as error:
        print(f"textrnn: error: {error}", file=sys.stderr)
        return 2


def unlabeled_texts(dataset: str, data_dir: str | None, text_column: list[str]):
    from .data import load_ag_news, read_table

    if dataset == "ag_news":
        return load_ag_news("train", data_dir, text_column)
    return read_table(dataset, text_column, label_column=None)


def pretrain_command(args: argparse.Namespace) -> int:
    from .lm import pretrain

    data = unlabeled_texts(args.dataset, args.data_dir, args.text_column)
    print(f"pretraining a language model on {data.describe()} (texts only, no labels)", file=sys.stderr)
    record = pretrain(data.texts, args.out, args.cell, args.embed_dim, args.hidden_size, args.num_layers,
                      args.bidirectional, args.max_tokens, args.epochs, args.batch_size, args.lr, seed=args.seed)
    print(f"language model written to {args.out}; fine-tune it with: textrnn train --init-from {args.out} "
          f"--cell {record['cell']} --embed-dim {record['embed_dim']} --hidden-size {record['hidden_size']} "
          f"--num-layers {record['num_layers']}" + ("" if args.bidirectional else " --no-bidirectional"),
          file=sys.stderr)
    return 0


def generate_command(args: argparse.Namespace) -> int:
    from .lm import generate

    print(args.prompt, generate(args.lm_dir, args.prompt, args.words, args.temperature, args.seed))
    return 0


def embeddings_command(args: argparse.Namespace) -> int:
    from .embeddings import train_vectors

    data = unlabeled_texts(args.dataset, args.data_dir, args.text_column)
    print(f"training {args.algorithm} vectors on {data.describe()} (texts only, no labels)", file=sys.stderr)
    result = train_vectors(data.texts, args.out, args.algorithm, args.dim, args.epochs, args.window, args.min_count,
                           args.seed, args.workers)
    print(f"{result['words']:,} words x {result['dim']} dimensions written to {result['path']}; "
          f"use them with: textrnn train --embeddings {result['path']} --embed-dim {result['dim']}", file=sys.stderr)
    return 0


def presets_command(args: argparse.Namespace) -> int:
    for name, description in DESCRIPTIONS.items():
        print(f"{name:<20} {description}")
    return 0


def train_command(args: argparse.Namespace, argv: list[str]) -> int:
    from .runs import train_run

    flag_values = {k: v for k, v in vars(args).items() if k not in ("command", "config", "resume")}
    if args.resume:
        return resume_command(args.resume, flag_values, argv)
    train_run(run_config(args.config, flag_values), argv=["textrnn", *argv])
    return 0


def run_config(config_file: str | None, flag_values: dict[str, Any]) -> RunConfig:
    """Defaults, then the preset, then the config file, then the flags."""
    file_values: dict[str, Any] = {}
    if config_file:
        file_values = read_yaml_config(Path(config_file))
    preset_name = flag_values.get("preset") or file_values.get("preset") or "default"
    values = {"verbose": True, **preset(preset_name), **file_values, **flag_values, "preset": preset_name}
    return validate(RunConfig, values)


def tune_command(args: argparse.Namespace) -> int:
    from .tune import tune

    own = ("command", "config", "budget_minutes", "trials", "tuned")
    config = run_config(args.config, {k: v for k, v in vars(args).items() if k not in own})
    tune(config, budget_seconds=args.budget_minutes * 60, trials=args.trials, out=args.tuned)
    return 0


def resume_command(run_dir: str, flag_values: dict[str, Any], argv: list[str]) -> int:
    from .runs import read_run_config, train_run

    config = read_run_config(run_dir)
    if config is None:
        raise ConfigError(f"resume: {run_dir} has no run.json, so it is not a textrnn run directory")
    fixed = sorted(set(flag_values) - set(RESUME_MAY_CHANGE))
    if fixed:
        raise ConfigError(
            f"resume: the configuration comes from {run_dir}/run.json; --{fixed[0].replace('_', '-')} cannot change it "
            f"(only {', '.join('--' + n.replace('_', '-') for n in RESUME_MAY_CHANGE)} can)"
        )
    config = validate(RunConfig, {**config.model_dump(), "verbose": True, **flag_values, "out": run_dir})
    train_run(config, argv=["textrnn", *argv], resume=True)
    return 0


def read_yaml_config(path: Path) -> dict[str, Any]:
    import yaml

    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the config file ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of parameter names to values")
    if isinstance(values.get("text_column"), str):
        values["text_column"] = [values["text_column"]]
    return values


def evaluate_command(args: argparse.Namespace) -> int:
    from .metrics import format_metrics
    from .runs import evaluate_run, evaluation_data

    dataset = evaluation_data(args.run_dir, args.data, args.data_dir, args.text_column, args.label_column,
                              args.on_bad_rows)
    metrics = evaluate_run(args.run_dir, dataset)
    print(dataset.describe())
    for row in dataset.skipped:
        print(f"skipped: {row}", file=sys.stderr)
    print(format_metrics(metrics))
    if args.output:
        Path(args.output).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return 0


def predict_command(args: argparse.Namespace) -> int:
    from .runtime import load_predictor

    if args.top_k < 1:
        raise ConfigError(f"top_k: must be at least 1 (got {args.top_k})")
    if args.texts and args.input:
        raise ConfigError("give texts as arguments or --input FILE, not both")
    model = load_predictor(args.run_dir)
    if args.input:
        from .batch_predict import predict_file

        if not args.output:
            raise ConfigError("--input needs --output FILE (its extension picks the format: csv, tsv, jsonl, parquet)")
        rows = predict_file(model, args.input, args.output, args.text_column or ["text"], args.top_k)
        print(f"{rows:,} rows labeled into {args.output}", file=sys.stderr)
        return 0
    texts = list(args.texts) if args.texts else [line.rstrip("\n") for line in sys.stdin]
    probabilities = model.predict_proba(texts)
    k = min(args.top_k, len(model.classes_))
    ranked = probabilities.argsort(axis=1)[:, ::-1][:, :k]
    rows = [
        {"text": text, "top_k": [{"label": model.classes_[j], "probability": float(p[j])} for j in order]}
        for text, p, order in zip(texts, probabilities, ranked)
    ]
    out = open(args.output, "w", encoding="utf-8", newline="") if args.output else sys.stdout
    try:
        write_predictions(rows, args.format, k, out)
    finally:
        if args.output:
            out.close()
    return 0


def report_command(args: argparse.Namespace) -> int:
    from .report import write_report

    path = write_report(args.run_dir, mistakes=args.mistakes)
    print(path)
    if args.open:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())
    return 0


def explain_command(args: argparse.Namespace) -> int:
    from .classifier import TextRNNClassifier
    from .explain import explain, to_terminal

    clf = TextRNNClassifier.load(args.run_dir)
    if args.label is not None and args.label not in clf.classes_:
        raise ConfigError(f"label: {args.label!r} is not one of the classes ({', '.join(clf.classes_)})")
    for text in args.texts:
        explanation = explain(clf, text, args.label)
        print(f"{explanation.label} {explanation.probability:.3f}")
        print(to_terminal(explanation) if sys.stdout.isatty() else " ".join(explanation.tokens))
        for token, score in explanation.ranked()[: args.top]:
            print(f"  {score:+.3f}  {token}")
    return 0


def compare_command(args: argparse.Namespace) -> int:
    from .compare import compare_runs, format_comparison, plot_comparison

    rows, differing = compare_runs(args.run_dirs)
    print(format_comparison(rows, differing))
    if args.plot:
        plot_comparison(rows, args.plot)
    return 0


def export_command(args: argparse.Namespace) -> int:
    from .export import describe, export_onnx, load_check_texts

    out, agreement = export_onnx(args.run_dir, args.out, args.quantize, check_texts=load_check_texts(Path(args.run_dir)))
    print(f"{out}: ONNX export checked against PyTorch: {describe(agreement)}")
    return 0


def serve_command(args: argparse.Namespace) -> int:
    from .serve import serve

    settings = validate(ServeSettings, {name: getattr(args, name) for name in ServeSettings.model_fields})
    serve(settings, host=args.host, port=args.port, workers=args.workers)
    return 0


def write_predictions(rows: list[dict], fmt: str, k: int, out) -> None:
    if fmt == "jsonl":
        for row in rows:
            best = row["top_k"][0]
            out.write(json.dumps({"text": row["text"], "label": best["label"], "probability": best["probability"],
                                  "top_k": row["top_k"]}, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        writer = csv.writer(out)
        header = ["text", "label", "probability"]
        for i in range(2, k + 1):
            header += [f"label_{i}", f"probability_{i}"]
        writer.writerow(header)
        for row in rows:
            cells = [row["text"]]
            for choice in row["top_k"]:
                cells += [choice["label"], f"{choice['probability']:.6f}"]
            writer.writerow(cells)
    else:
        for row in rows:
            choices = "  ".join(f"{c['label']} {c['probability']:.3f}" for c in row["top_k"])
            text = row["text"] if len(row["text"]) <= 70 else row["text"][:67] + "..."
            out.write(f"{choices}  | {text}\n")


if __name__ == "__main__":
    raise SystemExit(main())
