"""What each command does: map its arguments to the Python API, print the result. Nothing else lives here.

Only light modules are imported at the top: ``textrnn predict`` and ``serve`` with an ONNX export must
run in an install without torch.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError, ModelFileError, listed, quoted
from ..files import write_bytes_atomic
from ..params import RESUME_MAY_CHANGE, ClassifierParams, RunConfig, validate
from ..presets import DESCRIPTIONS, preset
from .config_file import read_yaml_config
from .parser import CLI_DEFAULTS, PRETRAIN_FLAGS

def param(args: argparse.Namespace, name: str) -> Any:
    """A parameter flag's value, or the parameter's own default when the flag was not given (parameter flags
    stay absent from the namespace when unset, so that they override nothing)."""
    return getattr(args, name, RunConfig.model_fields[name].default)


_OWN_FLAGS = ("command", "config", "resume", "budget_minutes", "trials", "out")
TUNED_FILE = "tuned.yaml"


def train_command(args: argparse.Namespace, argv: list[str]) -> int:
    from ..data.sources import check_sources

    flag_values = {k: v for k, v in vars(args).items() if k not in ("command", "config", "resume")}
    if args.resume:
        return resume_command(args.resume, flag_values, argv)
    config, _ = run_config(args.config, flag_values)
    check_sources(config)  # a missing file or column fails now, before PyTorch loads
    from ..recipe import train_run

    train_run(config, argv=["textrnn", *argv])
    return 0


def print_notes(notes: list[str]) -> None:
    """What reading a file decided or noticed (its header row, mixed line endings), one line each."""
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def check_paths(args: argparse.Namespace) -> None:
    """The directories and files a command names exist, checked before anything heavy is imported: a typo is
    an error in a fraction of a second. (What they hold is checked where they are read.)"""
    run_dir = getattr(args, "run_dir", None) or getattr(args, "model_path", None)
    if run_dir is not None and not Path(run_dir).is_dir():
        raise ModelFileError(f"{run_dir}: no such model directory (a run directory, a saved model or an export)")
    source = getattr(args, "input", None)
    if source and not Path(source).is_file():
        raise DataError(f"{source}: no such file")
    if args.command == "evaluate" and getattr(args, "test_data", None):
        from ..data.sources import source_kind, spec_path  # only here: the other commands start without them
        from ..data.tables import table_files

        data = spec_path(args.test_data)
        if source_kind(data) == "files":
            table_files(Path(data))


def run_config(config_file: str | None, flag_values: dict[str, Any]) -> tuple[RunConfig, set[str]]:
    """Defaults, then the preset, then the config file, then the flags; also the names the user set."""
    file_values = read_yaml_config(Path(config_file)) if config_file else {}
    preset_name = flag_values.get("preset") or file_values.get("preset") or "default"
    values = {**CLI_DEFAULTS, **preset(preset_name), **file_values, **flag_values, "preset": preset_name}
    return validate(RunConfig, values), set(file_values) | set(flag_values)


def tune_command(args: argparse.Namespace) -> int:
    from ..tune import tune

    config, given = run_config(args.config, {k: v for k, v in vars(args).items() if k not in _OWN_FLAGS})
    tune(config, budget_seconds=args.budget_minutes * 60, fixed=sorted(given), trials=args.trials,
         out=getattr(args, "out", TUNED_FILE))
    return 0


def resume_command(run_dir: str, flag_values: dict[str, Any], argv: list[str]) -> int:
    from ..recipe import train_run
    from ..rundir import read_run_config

    config = read_run_config(run_dir)
    if config is None:
        raise ConfigError(f"resume: {run_dir} has no run.json, so it is not a textrnn run directory")
    fixed = sorted(set(flag_values) - set(RESUME_MAY_CHANGE))
    if fixed:
        raise ConfigError(
            f"resume: the configuration comes from {run_dir}/run.json; --{fixed[0].replace('_', '-')} cannot change it "
            f"(only {', '.join('--' + n.replace('_', '-') for n in RESUME_MAY_CHANGE)} can)"
        )
    config = validate(RunConfig, {**config.model_dump(), **CLI_DEFAULTS, **flag_values, "out": run_dir})
    train_run(config, argv=["textrnn", *argv], resume=True)
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    from ..evaluation.metrics import format_metrics
    from ..data.sources import evaluation_data
    from ..recipe import evaluate_run

    dataset = evaluation_data(args.run_dir, getattr(args, "test_data", None), data_dir=getattr(args, "data_dir", None),
                              text_column=getattr(args, "text_column", None),
                              label_column=getattr(args, "label_column", None),
                              on_bad_rows=getattr(args, "on_bad_rows", "error"), header=getattr(args, "header", None),
                              quoting=getattr(args, "quoting", None))
    metrics = evaluate_run(args.run_dir, dataset)
    print_notes(dataset.notes)
    print(dataset.describe())
    for row in dataset.skipped:
        print(f"skipped: {row}", file=sys.stderr)
    print(format_metrics(metrics))
    if getattr(args, "out", None):
        write_bytes_atomic(args.out, (json.dumps(metrics, indent=2) + "\n").encode("utf-8"))
    return 0


def predict_command(args: argparse.Namespace) -> int:
    from ..deploy.runtime import load_predictor
    from ..multilabel import given_labels

    if args.top_k < 1:
        raise ConfigError(f"top_k: must be at least 1 (got {args.top_k})")
    if args.texts and args.input:
        raise ConfigError("give texts as arguments or --input FILE, not both")
    model = load_predictor(args.run_dir, threads=param(args, "threads"))
    out = getattr(args, "out", None)
    text_column = param(args, "text_column")
    if args.input:
        from ..data.tables import TableOptions
        from ..deploy.batch_predict import predict_file

        if not out:
            raise ConfigError("--input needs --out FILE (its extension picks the format: csv, tsv, jsonl, parquet)")
        notes: list[str] = []
        options = TableOptions(header=getattr(args, "header", "auto"), quoting=getattr(args, "quoting", "csv"))
        rows = predict_file(model, args.input, out, text_column=text_column, top_k=args.top_k, options=options,
                            notes=notes)
        print_notes(notes)
        print(f"{rows:,} rows labeled into {out}", file=sys.stderr)
        return 0
    # stdin is read as bytes: a line that is not UTF-8 is then named by the vectorizer, not a decoding traceback.
    stdin_lines = lambda: sys.stdin.buffer.read().decode("utf-8", "surrogateescape").splitlines()
    texts = list(args.texts) if args.texts else stdin_lines()
    probabilities = model.predict_proba(texts)
    k = min(args.top_k, len(model.class_names_))
    ranked = probabilities.argsort(axis=1)[:, ::-1][:, :k]
    thresholds = getattr(model, "thresholds_", None)  # multi-label: each text gets the labels that reach theirs
    given = given_labels(probabilities, thresholds) if thresholds is not None else None
    choice = lambda p, j: {"label": model.class_names_[j], "probability": float(p[j])}
    rows = [{"text": text, "top_k": [choice(p, j) for j in order]} for text, p, order in zip(texts, probabilities, ranked)]
    for row, p, labels in zip(rows, probabilities, given or ()):
        row["labels"] = [choice(p, j) for j in labels]
    if not out:
        write_predictions(rows, args.format, k, sys.stdout)
        return 0
    buffer = io.StringIO(newline="")
    write_predictions(rows, args.format, k, buffer)
    write_bytes_atomic(out, buffer.getvalue().encode("utf-8"))  # a temporary name, then a rename: never via a link
    return 0


def report_command(args: argparse.Namespace) -> int:
    from ..evaluation.report import write_report

    path = write_report(args.run_dir, mistakes=args.mistakes)
    print(path)
    if args.open:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())
    return 0


def explain_command(args: argparse.Namespace) -> int:
    from ..estimator import TextRNNClassifier
    from ..evaluation.explain import explain, to_terminal

    clf = TextRNNClassifier.load(args.run_dir)
    if args.label is not None and args.label not in clf.class_names_:
        raise ConfigError(f"label: {quoted(args.label)} is not one of the classes ({listed(clf.class_names_)})")
    if args.top_k < 1:
        raise ConfigError(f"top_k: must be at least 1 (got {args.top_k})")
    for text in args.texts:
        # --top-k counts labels, as in predict: the k most probable labels are each explained
        ranked = clf.predict_proba([text])[0].argsort()[::-1][: args.top_k]
        for label in [args.label] if args.label is not None else [clf.class_names_[j] for j in ranked]:
            explanation = explain(clf, text, label)
            print(f"{explanation.label} {explanation.probability:.3f}")
            print(to_terminal(explanation) if sys.stdout.isatty() else " ".join(explanation.tokens))
            for token, score in explanation.ranked()[: args.top_words]:
                print(f"  {score:+.3f}  {token}")
    return 0


def compare_command(args: argparse.Namespace) -> int:
    from ..evaluation.compare import compare_runs, format_comparison

    rows, differing, left_out = compare_runs(args.run_dirs)
    for run_dir, reason in left_out:
        print(f"left out {run_dir}: {reason}", file=sys.stderr)
    print(format_comparison(rows, differing, args.format))
    if args.plot:
        from ..evaluation.plots import plot_comparison  # matplotlib: only when a plot is asked for

        plot_comparison(rows, args.plot)
    return 0


def export_command(args: argparse.Namespace) -> int:
    from ..deploy.export import describe, export_onnx, load_check_texts

    out, agreement = export_onnx(args.run_dir, getattr(args, "out", None), args.quantize,
                                 check_texts=load_check_texts(Path(args.run_dir)))
    print(f"{out}: ONNX export checked against PyTorch: {describe(agreement)}")
    return 0


def serve_command(args: argparse.Namespace) -> int:
    from ..deploy.serve import ServeSettings, serve

    from ..threads import resolve_threads

    values = {name: getattr(args, name) for name in ServeSettings.model_fields if hasattr(args, name)}
    if "threads" in values:
        values["threads"] = resolve_threads(values["threads"])[0]
    settings = validate(ServeSettings, values)
    serve(settings, host=args.host, port=args.port, workers=args.workers)
    return 0


def presets_command(args: argparse.Namespace) -> int:
    for name, description in DESCRIPTIONS.items():
        print(f"{name:<20} {description}")
    return 0


def pretrain_command(args: argparse.Namespace) -> int:
    from ..model.lm import pretrain

    data = _unlabeled_texts(args)
    params = validate(ClassifierParams, {**{n: getattr(args, n) for n in PRETRAIN_FLAGS if hasattr(args, n)},
                                         "verbose": True})
    print(f"pretraining a language model on {data.describe()} (texts only, no labels)", file=sys.stderr)
    record = pretrain(data.texts, args.out, params)
    print(f"language model written to {args.out}; fine-tune it with: textrnn train --init-from {args.out} "
          f"--cell {record['cell']} --embed-dim {record['embed_dim']} --hidden-size {record['hidden_size']} "
          f"--num-layers {record['num_layers']}" + ("" if params.bidirectional else " --no-bidirectional"),
          file=sys.stderr)
    return 0


def generate_command(args: argparse.Namespace) -> int:
    from ..model.lm import generate

    print(args.prompt, generate(args.lm_dir, args.prompt, args.words, args.temperature, param(args, "seed")))
    return 0


def embeddings_command(args: argparse.Namespace) -> int:
    from ..text.embeddings import train_vectors
    from ..train.adaptive import punctuation_for_texts

    data = _unlabeled_texts(args)
    print(f"training {args.algorithm} vectors on {data.describe()} (texts only, no labels)", file=sys.stderr)
    threads = getattr(args, "threads", 1)  # 1 unless given: only 1 gives the same vectors for the same seed
    result = train_vectors(data.texts, args.out, algorithm=args.algorithm, dim=param(args, "embed_dim"),
                           epochs=param(args, "epochs"), window=args.window, min_count=args.min_count,
                           seed=param(args, "seed"), workers=1 if threads == "auto" else threads,
                           punctuation=punctuation_for_texts(param(args, "punctuation"), len(data.texts)),
                           strip_html=param(args, "strip_html"))
    print(f"{result['words']:,} words x {result['dim']} dimensions written to {result['path']}; "
          f"use them with: textrnn train --embeddings {result['path']} --embed-dim {result['dim']}", file=sys.stderr)
    return 0


def _unlabeled_texts(args: argparse.Namespace):
    """The texts of ``--dataset`` (labels not read): AG News' training split, or a file."""
    from ..data.sources import load_dataset

    return load_dataset(param(args, "dataset"), "train", param(args, "text_column"), None,
                        data_dir=param(args, "data_dir"))


def write_predictions(rows: list[dict], fmt: str, k: int, out) -> None:
    """Rows of predictions as JSON lines, CSV or a table. Multi-label rows also carry ``labels``: the labels
    given (the table shows those, the CSV joins their names with a comma)."""
    multi_label = bool(rows) and "labels" in rows[0]
    if fmt == "jsonl":
        for row in rows:
            best = row["top_k"][0]
            out.write(json.dumps({"text": row["text"], "label": best["label"], "probability": best["probability"],
                                  **({"labels": row["labels"]} if multi_label else {}), "top_k": row["top_k"]},
                                 ensure_ascii=False) + "\n")
    elif fmt == "csv":
        writer = csv.writer(out)
        header = ["text"] + (["labels"] if multi_label else []) + ["label", "probability"]
        for i in range(2, k + 1):
            header += [f"label_{i}", f"probability_{i}"]
        writer.writerow(header)
        for row in rows:
            cells = [row["text"]] + ([",".join(c["label"] for c in row["labels"])] if multi_label else [])
            for choice in row["top_k"]:
                cells += [choice["label"], f"{choice['probability']:.6f}"]
            writer.writerow(cells)
    else:
        for row in rows:
            shown = row["labels"] if multi_label else row["top_k"]
            choices = "  ".join(f"{c['label']} {c['probability']:.3f}" for c in shown) or "(no label)"
            text = row["text"] if len(row["text"]) <= 70 else row["text"][:67] + "..."
            out.write(f"{choices}  | {text}\n")
