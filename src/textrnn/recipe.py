"""The training recipe behind ``textrnn train``: one :class:`~textrnn.params.RunConfig` in, one run directory out.

Read top to bottom: choose and lock the run directory, record the run, read the data, fit, evaluate on
the validation and test rows, save the model, the metrics and the report. The run directory's layout
and rules are in :mod:`textrnn.rundir`; the model's format in :mod:`textrnn.saved_model`.
"""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from . import rundir
from .artifacts import read_json
from .data.dataset import Dataset, check_labels_known, describe_label_sets
from .data.sources import (class_order, file_source, load_run_data, source_kind, spec_path, test_source,
                           training_and_validation)
from .errors import ConfigError, MemoryBudgetError, RunDirError, TrainingInterrupted
from .estimator import TextRNNClassifier
from .evaluation.baseline import NAME, NBSVM_MAX_ROWS, comparison_line, composition, fit_baseline, refit_baseline
from .evaluation.label_issues import check_run_rows
from .evaluation.metrics import format_metrics
from .evaluation.report import write_report
from .files import write_bytes_atomic, write_json_atomic
from .params import CLASSIFIER_PARAM_NAMES, NAMED_VECTORS, FileShape, RunConfig
from .rundir import CHECKPOINT_FILE
from .text.embeddings import ALGORITHMS
from .train import adaptive, distributed
from .train.finish import without_bag_of_words
from .train.memory import memory_budget_bytes
from .train.distributed import log


def train_run(config: RunConfig, argv: Sequence[str] | None = None, resume: bool = False) -> Path:
    """Train as ``config`` says, report test metrics, and write the run directory; returns its path.

    With ``resume``, continue the interrupted run in ``config.out`` from its last checkpoint.
    Data-parallel (``devices``/``num_nodes`` above 1, or under torchrun), every rank runs this function;
    rank 0 chooses the run directory, and only rank 0 writes it.
    """
    if distributed.is_distributed(config.devices, config.num_nodes):
        distributed.get_fabric(config.device, config.devices, config.num_nodes)  # starts the other local ranks
    run_dir, problem = None, None
    if distributed.is_rank_zero():
        run_dir = Path(config.out) if config.out else rundir.default_run_dir(config)
        try:
            rundir.check_usable(run_dir, resume)
        except RunDirError as error:
            problem = error
    run_dir, problem = distributed.broadcast((run_dir, problem))  # every rank stops, or none does
    if problem:
        raise problem
    if not resume:
        config = with_absolute_paths(config)
    if not distributed.is_rank_zero():
        _train_run(config, run_dir, argv, resume)
        return run_dir
    with rundir.locked(run_dir):
        return _train_run(config, run_dir, argv, resume)


def with_absolute_paths(config: RunConfig) -> RunConfig:
    """Record where the data was found, so that evaluate and report find it again from anywhere."""
    data_dir = config.data_dir or (os.environ.get("TEXTRNN_DATA_DIR") if config.dataset == "ag_news" else None)
    absolute = lambda path: str(Path(path).expanduser().resolve()) if path else None
    keep = lambda spec: spec if spec is None or source_kind(spec_path(spec)) != "files" else (
        absolute(spec) if isinstance(spec, str) else FileShape(**{**dict(spec), "path": absolute(spec_path(spec))}))
    return config.model_copy(update={
        "data_dir": absolute(data_dir),
        "dataset": keep(config.dataset),
        "test_data": keep(config.test_data),
        "validation_data": keep(config.validation_data),
        "embeddings": config.embeddings if config.embeddings in (*ALGORITHMS, *NAMED_VECTORS, "auto")
        else absolute(config.embeddings),
        "init_from": absolute(config.init_from),
    })


def _train_run(config: RunConfig, run_dir: Path, argv: Sequence[str] | None, resume: bool) -> Path:
    started_at = datetime.now(timezone.utc)
    wall_start = time.perf_counter()
    writer = distributed.is_rank_zero()
    if writer and not resume:
        write_json_atomic(run_dir / "run.json", rundir.run_record(config, argv, started_at, status="running"))
    clf = TextRNNClassifier(**{name: getattr(config, name) for name in CLASSIFIER_PARAM_NAMES})
    fit_options = dict(checkpoint_dir=run_dir, resume=resume,
                       tensorboard_dir=run_dir / "tensorboard" if config.tensorboard else None)
    try:
        fit = _fit_streaming if config.stream else _fit_in_memory
        data, train, test = fit(clf, config, run_dir, fit_options)  # saves the model as soon as it is trained
        test_probabilities = data.pop("test_probabilities", None) if writer else None  # computed once
        metrics = _metrics(clf, config, data) if writer else None
    except TrainingInterrupted as stop:
        log(f"\n{stop.signal_name}: training stopped in epoch {stop.state.epoch} after {stop.state.step} batches; "
            f"the checkpoint is saved. Continue with: textrnn train --resume {run_dir}")
        raise
    except Exception as error:
        if writer and (run_dir / "run.json").is_file():
            rundir.update_record(run_dir, status="failed", error=str(error).splitlines()[0][:500],
                                 finished=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        if writer and (run_dir / "model.safetensors").is_file():
            log(f"\nthe trained model is saved in {run_dir}; what failed came after training. "
                f"textrnn train --resume {run_dir} evaluates it again without training")
        raise
    if not writer:
        return run_dir
    metrics["timing"]["wall_seconds"] = time.perf_counter() - wall_start
    write_json_atomic(run_dir / "metrics.json", metrics)
    rundir.update_record(run_dir, auto=metrics["choices"]["auto"])  # the parameters decided from the data
    _mark_finished(run_dir, argv, started_at, resume)
    report = write_report(run_dir, train, test, clf=clf, test_probabilities=test_probabilities)
    if metrics["test"]:
        log(f"\ntest metrics ({data['test_source']}; model trained on {data['train_rows']:,} rows of "
            f"{data['train_source']}):")
        log(format_metrics(metrics["test"]))
    _log_baseline(metrics)
    issues = metrics.get("label_issues") or {}
    if "flagged" in issues:
        log(f"{issues['flagged']:,} training rows look mislabelled: see {run_dir / issues['file']} "
            f"(textrnn suspects ranks them with 5 folds)")
    # metrics.json was written before the report; this is the whole run, the report included
    log(f"\nwall time {time.perf_counter() - wall_start:.1f} s; run directory: {run_dir}; report: {report}")
    return run_dir


def _metrics(clf: TextRNNClassifier, config: RunConfig, data: dict) -> dict[str, Any]:
    info = clf.fit_info_
    validation, test, held_out = data.pop("validation_metrics"), data.pop("test_metrics"), data.pop("held_out", None)
    baseline, alone = data.pop("baseline", None), data.pop("network_alone", None)
    return {
        "baseline": baseline,
        "label_issues": data.pop("label_issues", None),
        # the bag-of-words path mixed into the model: what was fitted and chosen, and the RNN without it
        "bag_of_words": {**info["bag_of_words"], "network_alone": alone} if info.get("bag_of_words") else None,
        "data": {**data, "embeddings": info["embeddings"]},  # embeddings: the coverage of a word-vector file
        "validation": validation,
        "test": test,
        "history": clf.history_,
        "timing": {key: info[key] for key in ("train_seconds", "fit_seconds", "samples_per_second",
                                              "tokens_per_second", "best_epoch", "epochs_run")},
        "choices": {"monitor": info["monitor"], "class_weights": info["class_weights"], "threads": info["threads"],
                    # the parameters decided from the data (the run's own hold-out share first)
                    "auto": [c for c in (held_out,) if c] + info.get("auto", [])},
        "calibration": info["calibration"],
        "thresholds": info.get("thresholds"),  # multi-label: the rule, and each label's threshold
        "distributed": {
            "world_size": info["world_size"],
            "devices": config.devices,
            "num_nodes": config.num_nodes,
            "batch_size_per_rank": config.batch_size,
            "effective_batch_size": info["effective_batch_size"],
            "lr": config.lr,
            "ranks": info["rank_shares"],
        },
    }


def _log_baseline(metrics: dict) -> None:
    """The closing comparison with the bag-of-words baseline, on the test rows (else the validation rows)."""
    baseline = metrics.get("baseline")
    if not baseline:
        return
    split = "test" if metrics["test"] and baseline.get("test") else "validation"
    if not (metrics[split] and baseline.get(split)):
        return
    mix = metrics.get("bag_of_words") or {}
    alone = (mix.get("network_alone") or {}).get(split)
    name, sentence = composition(mix.get("weight"))
    log(f"\n{comparison_line(metrics[split], baseline[split], split, name)}; the baseline took "
        f"{baseline['seconds']:.1f} s, the model {metrics['timing']['fit_seconds']:.1f} s")
    if alone:
        log(f"  {sentence} (chosen on the validation rows); the RNN alone: {alone['accuracy']:.1%} {split} accuracy")


def _mark_finished(run_dir: Path, argv: Sequence[str] | None, started_at: datetime, resume: bool) -> None:
    """run.json says finished; the checkpoint goes (the run is complete: nothing left to resume)."""
    record = read_json(run_dir / "run.json")
    record.update(status="finished", finished=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    record.pop("error", None)
    if resume:
        record.setdefault("resumed", []).append({"command": list(argv) if argv else None, "at": started_at.isoformat()})
    write_json_atomic(run_dir / "run.json", record)
    for leftover in [run_dir / CHECKPOINT_FILE, *run_dir.glob("member-*.safetensors")]:
        leftover.unlink(missing_ok=True)


def _fit_in_memory(clf: TextRNNClassifier, config: RunConfig, run_dir: Path, fit_options: dict):
    """Load the data whole and fit; returns the data record (with the metrics) and the datasets."""
    train_all, test, classes = load_run_data(config)
    config, held_out = _val_size(config, train_all)
    train, val = training_and_validation(config, train_all)
    check_labels_known(train, val, test)
    log(f"data: {train_all.describe()}")
    log(f"  training on {len(train):,} rows, validating on {0 if val is None else len(val):,}"
        + (f", testing on {len(test):,} ({test.source})" if test else ", no test data"))
    read = (train_all, val if config.validation_data else None, test)  # each file read (a held-out val is train's)
    skipped = [row for dataset in read if dataset for row in dataset.skipped]
    notes = [note for dataset in read if dataset for note in dataset.notes]
    if held_out:
        log(f"  val_size {held_out['value']}: {held_out['reason']}")
    if config.multi_label:
        log("  " + describe_label_sets(train_all))
    for note in notes:
        log(f"  note: {note}")
    write_skipped_rows(run_dir, skipped, len(skipped))

    clf.fit(train.texts, train.labels, validation_data=(val.texts, val.labels) if val else None, classes=classes,
            **fit_options)
    if not distributed.is_rank_zero():
        return None, None, None
    clf.save(run_dir)  # before anything else can fail: the training is never lost
    data = {
        "train_source": train_all.source,
        "train_rows": len(train),
        "validation_rows": 0 if val is None else len(val),
        "test_source": test.source if test else None,
        "test_rows": len(test) if test else 0,
        "skipped_rows": len(skipped),
        "notes": notes,
        "max_length": clf.params_.max_length,
        "truncated_train_texts": clf.fit_info_["truncated_train_texts"],
        "truncated_test_texts": clf.vectorizer_.truncated_count(test.texts) if test else 0,
        "held_out": held_out,
        # the probabilities fit kept: its bag-of-words path may since have learned from these rows
        "validation_metrics": clf.evaluate(val.texts, val.labels, val.source, clf.validation_probabilities_)
        if val else None,
        "test_probabilities": (probabilities := clf.predict_proba(test.texts) if test else None),
        "test_metrics": clf.evaluate(test.texts, test.labels, test.source, probabilities) if test else None,
        "baseline": (baseline := _baseline(config, clf.class_names_, (train, val, test), clf.fit_info_["monitor"],
                                           refit=bool((clf.fit_info_.get("bag_of_words") or {}).get("refit_rows")))),
        "network_alone": _network_alone(clf, val, test),
        # the bag-of-words model's view of the training labels: the rows to check first (suspects.csv)
        "label_issues": check_run_rows(train, run_dir, seed=config.seed, progress=log)
        if config.baseline != "none" and "skipped" not in (baseline or {}) else None,
    }
    return data, train, test


def _network_alone(clf: TextRNNClassifier, val: Dataset | None, test: Dataset | None) -> dict | None:
    """A model that mixes in a bag-of-words path, without it, on the same rows: what the path added."""
    alone = without_bag_of_words(clf)
    figures = lambda rows: rows and {k: v for k, v in alone.evaluate(rows.texts, rows.labels).items()
                                     if k in ("accuracy", "macro_f1")}
    return {"validation": figures(val), "test": figures(test)} if alone else None


def _val_size(config: RunConfig, train_all: Dataset) -> tuple[RunConfig, dict | None]:
    """The run holds its validation rows out itself (so the baseline sees the same ones): ``val_size`` auto is
    decided here, from all the training rows, and recorded."""
    return (config, None) if config.validation_data else adaptive.held_out_share(config, train_all.labels)


def _baseline(config: RunConfig, classes: list[str], datasets: tuple, monitor: str, refit: bool) -> dict | None:
    """The bag-of-words baseline on exactly the model's (training, validation, test) rows; ``refit``: the
    model's path was fitted again on training and validation rows together, so the baseline is too."""
    train, val, test = datasets
    if config.baseline == "none":
        return None
    log(f"baseline: fitting on {len(train):,} rows" + (", choosing C on the validation rows" if val else ""))
    try:
        baseline = fit_baseline((train.texts, train.labels), (val.texts, val.labels) if val else None, classes,
                                seed=config.seed, class_weight=config.class_weight, monitor=monitor,
                                threshold=config.threshold if config.multi_label else None, progress=log,
                                memory_budget=memory_budget_bytes(config.memory_budget_gb),
                                nbsvm_rows=NBSVM_MAX_ROWS if config.baseline == "auto" else 0)
    except MemoryBudgetError as error:  # the model is saved; the run goes on without the comparison
        log(f"baseline: not fitted: {error}")
        return {"name": NAME, "skipped": str(error)}
    validation = baseline.evaluate(val.texts, val.labels) if val else None  # before it sees them
    rows = len(train) + len(val) if refit else None
    if rows:
        baseline = refit_baseline(baseline, (train.texts + val.texts, train.labels + val.labels), seed=config.seed,
                                  class_weight=config.class_weight)
    log(f"baseline ({baseline.name}): C {baseline.C:g} ({baseline.chosen_on})"
        + (f", then fitted on the {rows:,} training and validation rows" if rows else "")
        + f", {baseline.seconds:.1f} s")
    return {"name": baseline.name, "C": baseline.C, "C_chosen_on": baseline.chosen_on, "seconds": baseline.seconds,
            "refit_rows": rows, "validation": validation,
            "test": baseline.evaluate(test.texts, test.labels) if test else None}


def _fit_streaming(clf: TextRNNClassifier, config: RunConfig, run_dir: Path, fit_options: dict):
    """Fit reading the data in chunks; validation and test metrics are streamed too."""
    from .data.stream import RowStream

    stream = RowStream(config.dataset, config.text_column, config.label_column, config.data_dir, config.on_bad_rows)
    test_data = test_source(config.dataset, config.test_data)
    test_stream = None
    if test_data:
        path, columns, label, _ = file_source(test_data, config)
        test_stream = RowStream(path, columns, label, config.data_dir, config.on_bad_rows, split="test")
    if config.validation_data:
        raise ConfigError("validation_data: not with --stream yet; streamed runs validate on a hashed val_size share")
    if config.multi_label or config.header is False or config.quoting != "csv":
        raise ConfigError("stream: reads files with a header row, CSV quoting and one label per text; drop --stream "
                          "for multi_label, header or quoting")
    log(f"data: streaming {stream.source}" + (f", testing on {test_stream.source}" if test_stream else ""))
    if config.baseline != "none":
        log("  note: no bag-of-words baseline for streamed data (it needs every text in memory)")
    clf.fit_stream(stream, classes=class_order(config.dataset), **fit_options)
    if not distributed.is_rank_zero():
        return None, None, None
    clf.save(run_dir)  # before anything else can fail: the training is never lost
    summary = clf.stream_summary_
    for note in summary.notes:
        log(f"  note: {note}")
    write_skipped_rows(run_dir, summary.skipped, summary.skipped_count)
    validation = None
    if clf.fit_info_["val_rows"]:
        validation = clf.evaluate_stream(stream, "validation", clf.params_.val_size, config.seed)
    test = clf.evaluate_stream(test_stream) if test_stream else None
    data = {
        "train_source": stream.source,
        "train_rows": clf.fit_info_["train_rows"],
        "validation_rows": clf.fit_info_["val_rows"],
        "test_source": test_stream.source if test_stream else None,
        "test_rows": test["rows"] if test else 0,
        "skipped_rows": summary.skipped_count,
        "notes": summary.notes,
        "max_length": clf.params_.max_length,
        "truncated_train_texts": clf.fit_info_["truncated_train_texts"],
        "truncated_test_texts": None,  # not counted when streaming
        "validation_metrics": validation,
        "test_metrics": test,
    }
    return data, None, None


def write_skipped_rows(run_dir: Path, skipped: list, count: int) -> None:
    if not skipped or not distributed.is_rank_zero():
        return
    write_bytes_atomic(run_dir / "skipped_rows.jsonl",
                       "".join(json.dumps(row.record(), ensure_ascii=False) + "\n" for row in skipped).encode())
    listed = "listed" if count == len(skipped) else f"the first {len(skipped):,} listed"
    log(f"  skipped {count:,} bad rows ({listed} in {run_dir / 'skipped_rows.jsonl'}); the first: {skipped[0]}")


def evaluate_run(run_dir: str | Path, dataset: Dataset) -> dict:
    clf = TextRNNClassifier.load(run_dir)
    metrics = clf.evaluate(dataset.texts, dataset.labels, dataset.source)
    metrics["source"] = dataset.source
    metrics["skipped_rows"] = [row.record() for row in dataset.skipped]
    return metrics
