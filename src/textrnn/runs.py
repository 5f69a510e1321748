"""Run directories: train from a :class:`RunConfig` and write everything a run produced; read it back.

A run directory holds the model files (see :mod:`textrnn.classifier`) plus

* ``metrics.json``: test and validation metrics, per-epoch curves, row counts and timing;
* ``run.json``: the full configuration, the data used, the exact command and the library versions.

The command line (:mod:`textrnn.cli`) is a thin layer over :func:`train_run` and :func:`evaluate_run`.
"""

from __future__ import annotations

import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from .classifier import ModelFileError, TextRNNClassifier, read_json
from .config import CLASSIFIER_PARAM_NAMES, RunConfig
from .data import AG_NEWS_LABELS, DataError, Dataset, load_ag_news, read_table, train_val_split
from .files import write_json_atomic
from .metrics import format_metrics
from .training import log


def load_training_data(config: RunConfig) -> tuple[Dataset, Dataset | None, list[str] | None]:
    """Training data, test data (if any) and, for AG News, the class order."""
    if config.dataset == "ag_news":
        train = load_ag_news("train", config.data_dir, config.text_column)
        test = load_ag_news("test", config.data_dir, config.text_column)
        return train, test, list(AG_NEWS_LABELS)
    train = read_table(config.dataset, config.text_column, config.label_column)
    test = read_table(config.test_data, config.text_column, config.label_column) if config.test_data else None
    return train, test, None


def default_run_dir(config: RunConfig) -> Path:
    name = config.preset or f"{config.cell}{'-bi' if config.bidirectional else ''}"
    return Path("runs") / f"{name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def train_run(config: RunConfig, argv: Sequence[str] | None = None) -> Path:
    """Train as ``config`` says, report test metrics, and write the run directory; returns its path."""
    run_dir = Path(config.out) if config.out else default_run_dir(config)
    if run_dir.exists() and any(run_dir.iterdir()):
        raise DataError(f"run directory {run_dir} already exists and is not empty; choose another --out")
    started_at = datetime.now(timezone.utc)
    wall_start = time.perf_counter()

    train_all, test, classes = load_training_data(config)
    train, val = train_val_split(train_all, config.val_size, config.seed)
    log(f"data: {train_all.describe()}")
    log(f"  training on {len(train):,} rows, validating on {0 if val is None else len(val):,}"
        + (f", testing on {len(test):,} ({test.source})" if test else ", no test data"))

    params = {name: getattr(config, name) for name in CLASSIFIER_PARAM_NAMES}
    clf = TextRNNClassifier(**params)
    clf.fit(train.texts, train.labels, validation_data=(val.texts, val.labels) if val else None, classes=classes)

    metrics: dict[str, Any] = {
        "data": {
            "train_source": train_all.source,
            "train_rows": len(train),
            "validation_rows": 0 if val is None else len(val),
            "test_source": test.source if test else None,
            "test_rows": len(test) if test else 0,
            "truncated_train_texts": clf.fit_info_["truncated_train_texts"],
        },
        "validation": clf.evaluate(val.texts, val.labels, val.source) if val else None,
        "test": clf.evaluate(test.texts, test.labels, test.source) if test else None,
        "history": clf.history_,
        "timing": {
            "train_seconds": clf.fit_info_["train_seconds"],
            "fit_seconds": clf.fit_info_["fit_seconds"],
            "samples_per_second": clf.fit_info_["samples_per_second"],
            "best_epoch": clf.fit_info_["best_epoch"],
            "epochs_run": clf.fit_info_["epochs_run"],
        },
    }
    metrics["timing"]["wall_seconds"] = time.perf_counter() - wall_start
    clf.save(run_dir)
    write_json_atomic(run_dir / "metrics.json", metrics)
    write_json_atomic(run_dir / "run.json", run_record(config, argv, started_at))

    if test:
        log(f"\ntest metrics ({test.source}; model trained on {len(train):,} rows of {train_all.source}):")
        log(format_metrics(metrics["test"]))
    log(f"\nwall time {metrics['timing']['wall_seconds']:.1f} s; run directory: {run_dir}")
    return run_dir


def run_record(config: RunConfig, argv: Sequence[str] | None, started_at: datetime) -> dict:
    import lightning_fabric
    import tokenizers
    import torch

    return {
        "command": list(argv) if argv is not None else None,
        "config": config.model_dump(),
        "started": started_at.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
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
) -> Dataset:
    """The labeled data to evaluate a run on: a file, or by default the test split the run was trained for."""
    config = read_run_config(run_dir)
    columns = list(text_column or (config.text_column if config else ["text"]))
    label = label_column or (config.label_column if config else "label")
    if data in (None, "ag_news") and (data == "ag_news" or (config and config.dataset == "ag_news")):
        return load_ag_news("test", data_dir or (config.data_dir if config else None), columns)
    if data is None and config and config.test_data:
        data = config.test_data
    if data is None:
        raise DataError(f"{run_dir}: no test data recorded for this run; pass --data FILE")
    return read_table(data, columns, label)


def evaluate_run(run_dir: str | Path, dataset: Dataset) -> dict:
    clf = TextRNNClassifier.load(run_dir)
    metrics = clf.evaluate(dataset.texts, dataset.labels, dataset.source)
    metrics["source"] = dataset.source
    return metrics
