"""Run directories: train from a :class:`RunConfig` and write everything a run produced; read it back.

A run directory holds the model files (see :mod:`textrnn.classifier`) plus

* ``metrics.json``: test and validation metrics, per-epoch curves, row counts and timing;
* ``run.json``: the full configuration, the data used, the exact command and the library versions.

The command line (:mod:`textrnn.cli`) is a thin layer over :func:`train_run` and :func:`evaluate_run`.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from . import __version__, distributed
from .checkpoint import CHECKPOINT_FILE
from .classifier import TextRNNClassifier, read_json
from .config import CLASSIFIER_PARAM_NAMES, RunConfig
from .data import (
    AG_NEWS_LABELS,
    DataError,
    Dataset,
    hf_has_split,
    is_hf,
    load_ag_news,
    load_hf,
    read_table,
    train_val_split,
)
from .embeddings import ALGORITHMS
from .errors import ModelFileError, RunDirError
from .files import write_bytes_atomic, write_json_atomic
from .metrics import format_metrics
from .report import write_report
from .stream import RowStream
from .training import TrainingInterrupted, log


def load_training_data(config: RunConfig) -> tuple[Dataset, Dataset | None, list[str] | None]:
    """Training data, test data (if any) and, for AG News, the class order."""
    if config.dataset == "ag_news":
        train = load_ag_news("train", config.data_dir, config.text_column, config.on_bad_rows)
        test = load_ag_news("test", config.data_dir, config.text_column, config.on_bad_rows)
        return train, test, list(AG_NEWS_LABELS)
    columns = (config.text_column, config.label_column)
    if is_hf(config.dataset):
        train = load_hf(config.dataset, "train", *columns, on_bad_rows=config.on_bad_rows)
    else:
        train = read_table(config.dataset, *columns, on_bad_rows=config.on_bad_rows)
    test_data = test_source(config)
    test = None
    if test_data and is_hf(test_data):
        test = load_hf(test_data, "test", *columns, on_bad_rows=config.on_bad_rows)
    elif test_data:
        test = read_table(test_data, *columns, on_bad_rows=config.on_bad_rows)
    return train, test, None


def test_source(config: RunConfig) -> str | None:
    """Where a run's test rows are: ``test_data``, else a Hugging Face dataset's own test split, if any."""
    if config.test_data:
        return config.test_data
    if is_hf(config.dataset) and hf_has_split(config.dataset, "test"):
        return config.dataset
    return None


def default_run_dir(config: RunConfig) -> Path:
    name = config.preset or f"{config.cell}{'-bi' if config.bidirectional else ''}"
    return Path("runs") / f"{name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


@contextmanager
def locked(run_dir: Path):
    """Hold an exclusive lock on ``run_dir`` so that two processes never write one run directory.

    The lock is an OS file lock (flock): it goes away with the process, even after SIGKILL, so a
    crashed run never leaves a stale lock behind.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    handle = open(run_dir / ".lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise RunDirError(f"{run_dir} is in use by {holder}; wait for it to finish or choose another --out") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


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
        run_dir = Path(config.out) if config.out else default_run_dir(config)
        if not resume and run_dir.exists() and any(p.name != ".lock" for p in run_dir.iterdir()):
            problem = (f"run directory {run_dir} already exists and is not empty; choose another --out "
                       f"(or continue an interrupted run with --resume {run_dir})")
    run_dir, problem = distributed.broadcast((run_dir, problem))  # every rank stops, or none does
    if problem:
        raise RunDirError(problem)
    if not resume:
        config = with_absolute_paths(config)
    if not distributed.is_rank_zero():
        _train_run(config, run_dir, argv, resume)
        return run_dir
    with locked(run_dir):
        return _train_run(config, run_dir, argv, resume)


def with_absolute_paths(config: RunConfig) -> RunConfig:
    """Record where the data was found, so that evaluate and report find it again from anywhere."""
    data_dir = config.data_dir or (os.environ.get("TEXTRNN_DATA_DIR") if config.dataset == "ag_news" else None)
    absolute = lambda path: str(Path(path).expanduser().resolve()) if path else None
    return config.model_copy(update={
        "data_dir": absolute(data_dir),
        "dataset": config.dataset if config.dataset == "ag_news" or is_hf(config.dataset) else absolute(config.dataset),
        "test_data": config.test_data if config.test_data and is_hf(config.test_data) else absolute(config.test_data),
        "embeddings": config.embeddings if config.embeddings in ALGORITHMS else absolute(config.embeddings),
        "init_from": absolute(config.init_from),
    })


def _train_run(config: RunConfig, run_dir: Path, argv: Sequence[str] | None, resume: bool) -> Path:
    started_at = datetime.now(timezone.utc)
    wall_start = time.perf_counter()
    writer = distributed.is_rank_zero()
    if writer and not resume:
        write_json_atomic(run_dir / "run.json", run_record(config, argv, started_at, status="running"))

    params = {name: getattr(config, name) for name in CLASSIFIER_PARAM_NAMES}
    clf = TextRNNClassifier(**params)
    fit_options = dict(checkpoint_dir=run_dir, resume=resume,
                       tensorboard_dir=run_dir / "tensorboard" if config.tensorboard else None)
    try:
        if config.stream:
            data, train, test = _fit_streaming(clf, config, run_dir, fit_options)
        else:
            data, train, test = _fit_in_memory(clf, config, run_dir, fit_options)
    except TrainingInterrupted as stop:
        log(f"\n{stop.signal_name}: training stopped in epoch {stop.state.epoch} after {stop.state.step} batches; "
            f"the checkpoint is saved. Continue with: textrnn train --resume {run_dir}")
        raise
    if not writer:
        return run_dir

    metrics: dict[str, Any] = {
        "data": data,
        "validation": data.pop("validation_metrics"),
        "test": data.pop("test_metrics"),
        "history": clf.history_,
        "timing": {
            "train_seconds": clf.fit_info_["train_seconds"],
            "fit_seconds": clf.fit_info_["fit_seconds"],
            "samples_per_second": clf.fit_info_["samples_per_second"],
            "best_epoch": clf.fit_info_["best_epoch"],
            "epochs_run": clf.fit_info_["epochs_run"],
        },
        "distributed": {
            "world_size": clf.fit_info_["world_size"],
            "devices": config.devices,
            "num_nodes": config.num_nodes,
            "batch_size_per_rank": config.batch_size,
            "effective_batch_size": clf.fit_info_["effective_batch_size"],
            "lr": config.lr,
            "ranks": clf.fit_info_["rank_shares"],
        },
    }
    metrics["data"]["embeddings"] = clf.fit_info_["embeddings"]  # the coverage of a pretrained embedding file
    metrics["timing"]["wall_seconds"] = time.perf_counter() - wall_start
    clf.save(run_dir)
    write_json_atomic(run_dir / "metrics.json", metrics)
    record = read_json(run_dir / "run.json") if resume else run_record(config, argv, started_at, status="running")
    record.update(status="finished", finished=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    if resume:
        record.setdefault("resumed", []).append({"command": list(argv) if argv else None, "at": started_at.isoformat()})
    write_json_atomic(run_dir / "run.json", record)
    for leftover in [run_dir / CHECKPOINT_FILE, *run_dir.glob("member-*.safetensors")]:
        leftover.unlink(missing_ok=True)  # the run is complete: nothing left to resume
    report = write_report(run_dir, train, test)

    if metrics["test"]:
        log(f"\ntest metrics ({data['test_source']}; model trained on {data['train_rows']:,} rows of "
            f"{data['train_source']}):")
        log(format_metrics(metrics["test"]))
    log(f"\nwall time {metrics['timing']['wall_seconds']:.1f} s; run directory: {run_dir}; report: {report}")
    return run_dir


def _fit_in_memory(clf: TextRNNClassifier, config: RunConfig, run_dir: Path, fit_options: dict):
    """Load the data whole and fit; returns the data record (with the metrics) and the datasets."""
    train_all, test, classes = load_training_data(config)
    train, val = train_val_split(train_all, config.val_size, config.seed)
    log(f"data: {train_all.describe()}")
    log(f"  training on {len(train):,} rows, validating on {0 if val is None else len(val):,}"
        + (f", testing on {len(test):,} ({test.source})" if test else ", no test data"))
    skipped = [row for dataset in (train_all, test) if dataset for row in dataset.skipped]
    notes = [note for dataset in (train_all, test) if dataset for note in dataset.notes]
    for note in notes:
        log(f"  note: {note}")
    write_skipped_rows(run_dir, skipped, len(skipped))

    clf.fit(train.texts, train.labels, validation_data=(val.texts, val.labels) if val else None, classes=classes,
            **fit_options)
    if not distributed.is_rank_zero():
        return None, None, None
    data = {
        "train_source": train_all.source,
        "train_rows": len(train),
        "validation_rows": 0 if val is None else len(val),
        "test_source": test.source if test else None,
        "test_rows": len(test) if test else 0,
        "skipped_rows": len(skipped),
        "notes": notes,
        "max_length": config.max_length,
        "truncated_train_texts": clf.fit_info_["truncated_train_texts"],
        "truncated_test_texts": clf.vectorizer_.truncated_count(test.texts) if test else 0,
        "validation_metrics": clf.evaluate(val.texts, val.labels, val.source) if val else None,
        "test_metrics": clf.evaluate(test.texts, test.labels, test.source) if test else None,
    }
    return data, train, test


def _fit_streaming(clf: TextRNNClassifier, config: RunConfig, run_dir: Path, fit_options: dict):
    """Fit reading the data in chunks; validation and test metrics are streamed too."""
    stream = RowStream(config.dataset, config.text_column, config.label_column, config.data_dir, config.on_bad_rows)
    test_data = "ag_news" if config.dataset == "ag_news" else test_source(config)
    test_stream = None
    if test_data:
        test_stream = RowStream(test_data, config.text_column, config.label_column, config.data_dir,
                                config.on_bad_rows, split="test")
    log(f"data: streaming {stream.source}" + (f", testing on {test_stream.source}" if test_stream else ""))
    clf.fit_stream(stream, classes=list(AG_NEWS_LABELS) if config.dataset == "ag_news" else None, **fit_options)
    if not distributed.is_rank_zero():
        return None, None, None
    summary = clf.stream_summary_
    for note in summary.notes:
        log(f"  note: {note}")
    write_skipped_rows(run_dir, summary.skipped, summary.skipped_count)
    validation = None
    if clf.fit_info_["val_rows"]:
        validation = clf.evaluate_stream(stream, "validation", config.val_size, config.seed)
    test = clf.evaluate_stream(test_stream) if test_stream else None
    data = {
        "train_source": stream.source,
        "train_rows": clf.fit_info_["train_rows"],
        "validation_rows": clf.fit_info_["val_rows"],
        "test_source": test_stream.source if test_stream else None,
        "test_rows": test["rows"] if test else 0,
        "skipped_rows": summary.skipped_count,
        "notes": summary.notes,
        "max_length": config.max_length,
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


def run_record(config: RunConfig, argv: Sequence[str] | None, started_at: datetime, status: str) -> dict:
    import lightning_fabric
    import tokenizers
    import torch

    return {
        "command": list(argv) if argv is not None else None,
        "config": config.model_dump(),
        "status": status,
        "started": started_at.isoformat(timespec="seconds"),
        "versions": {
            "textrnn": __version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "lightning_fabric": lightning_fabric.__version__,
            "tokenizers": tokenizers.__version__,
        },
        "machine": {"platform": platform.platform(), "processor": platform.machine(), "cpus": _cpu_count(),
                    "torch_threads": torch.get_num_threads()},
    }


def _cpu_count() -> int | None:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def read_run_config(run_dir: str | Path) -> RunConfig | None:
    """The :class:`RunConfig` a run directory was trained with, or None for a bare saved model."""
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        return None
    record = read_json(path)
    try:
        return RunConfig(**record["config"])
    except Exception as error:
        raise ModelFileError(f"{path}: unusable run record ({error})") from None


def evaluation_data(
    run_dir: str | Path,
    data: str | None = None,
    data_dir: str | None = None,
    text_column: Sequence[str] | None = None,
    label_column: str | None = None,
    on_bad_rows: str = "error",
) -> Dataset:
    """The labeled data to evaluate a run on: a file, or by default the test split the run was trained for."""
    config = read_run_config(run_dir)
    columns = list(text_column or (config.text_column if config else ["text"]))
    label = label_column or (config.label_column if config else "label")
    if data in (None, "ag_news") and (data == "ag_news" or (config and config.dataset == "ag_news")):
        return load_ag_news("test", data_dir or (config.data_dir if config else None), columns, on_bad_rows)
    if data is None and config:
        data = test_source(config)
    if data is None:
        raise DataError(f"{run_dir}: no test data recorded for this run; pass --data FILE")
    if is_hf(data):
        return load_hf(data, "test", columns, label, on_bad_rows=on_bad_rows)
    return read_table(data, columns, label, on_bad_rows=on_bad_rows)


def evaluate_run(run_dir: str | Path, dataset: Dataset) -> dict:
    clf = TextRNNClassifier.load(run_dir)
    metrics = clf.evaluate(dataset.texts, dataset.labels, dataset.source)
    metrics["source"] = dataset.source
    metrics["skipped_rows"] = [row.record() for row in dataset.skipped]
    return metrics
