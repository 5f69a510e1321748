"""Shared by the benchmark's runners; standard library and NumPy only, so every peer's environment can import it."""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

LABELS = ("World", "Sports", "Business", "Sci/Tech")


def load(data_dir: str, quick: bool) -> tuple[list[str], list[int], list[str], list[int]]:
    """AG News (title + " " + description, labels 0-3): the shared training subset and the complete test set.

    Quick mode keeps 4,000 training rows and 1,000 test rows, spread evenly over each file.
    """

    def read(name: str, keep: int | None):
        with io.TextIOWrapper(gzip.open(Path(data_dir) / name), encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        if keep:
            rows = rows[:: len(rows) // keep][:keep]
        return [f"{t} {d}" for _, t, d in rows], [int(label) - 1 for label, _, _ in rows]

    train_texts, train_labels = read("train_subset.csv.gz", 4000 if quick else None)
    test_texts, test_labels = read("test.csv.gz", 1000 if quick else None)
    return train_texts, train_labels, test_texts, test_labels


def latency_ms(predict_one, texts: list[str], count: int = 300) -> tuple[float, float]:
    """p50 and p99 milliseconds of predicting one document at a time."""
    for text in texts[:20]:
        predict_one(text)  # warm-up
    times = []
    for text in texts[:count]:
        started = time.perf_counter()
        predict_one(text)
        times.append(1000 * (time.perf_counter() - started))
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def throughput(predict_batch, texts: list[str], batch: int = 256) -> float:
    """Documents per second, predicting ``texts`` in batches of ``batch`` (after one warm-up batch)."""
    predict_batch(texts[:batch])
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        predict_batch(texts[i : i + batch])
    return len(texts) / (time.perf_counter() - started)


def emit(result: dict) -> None:
    """The runner's result, as the last line of its output."""
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()
