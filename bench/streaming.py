"""Streaming benchmark: peak memory of one training epoch as the corpus grows, streamed vs. loaded whole.

    .venv/bin/python bench/streaming.py                 # 1x, 5x and 10x the shared AG News training rows
    .venv/bin/python bench/streaming.py --scales 1 2    # quicker, for development

The corpus is the shared AG News training subset repeated ``scale`` times; every copy after the first
is perturbed (each word dropped with probability 0.1, and one random pair of neighbouring words
swapped), so that copies are not identical rows. It is written as Parquet shards of 50,000 rows.
Each configuration trains one epoch in its own process (``textrnn train``), and the process's peak
resident memory (VmHWM) is recorded. A small model (GRU, 32 units) keeps the run short: the model's
size does not depend on the corpus, so it does not change what is compared. Results:
``bench/results/streaming.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import run_with_peak_memory, write_results  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO.parent / "shared" / "data" / "ag_news"
SHARD_ROWS = 50_000
MODEL = ["--cell", "gru", "--embed-dim", "32", "--hidden-size", "32", "--no-bidirectional", "--batch-size", "128"]


def load_split(split: str) -> tuple[list[str], list[str]]:
    sys.path.insert(0, str(REPO / "src"))
    from textrnn.data.ag_news import load_ag_news

    data = load_ag_news(split, DATA_DIR)
    return data.texts, data.labels


def perturb(text: str, rng: np.random.Generator) -> str:
    words = [w for w in text.split() if rng.random() >= 0.1] or text.split()[:1]
    if len(words) > 2:
        i = int(rng.integers(len(words) - 1))
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def write_corpus(directory: Path, texts: list[str], labels: list[str], scale: int) -> int:
    """``scale`` copies of the rows, shuffled, as Parquet shards; returns the number of rows."""
    rng = np.random.default_rng(scale)
    directory.mkdir(parents=True, exist_ok=True)
    out_texts, out_labels = list(texts), list(labels)
    for _ in range(scale - 1):
        out_texts.extend(perturb(t, rng) for t in texts)
        out_labels.extend(labels)
    order = rng.permutation(len(out_texts))
    for shard, start in enumerate(range(0, len(order), SHARD_ROWS)):
        index = order[start : start + SHARD_ROWS]
        table = pa.table({"text": [out_texts[i] for i in index], "label": [out_labels[i] for i in index]})
        pq.write_table(table, directory / f"part-{shard:04d}.parquet")
    return len(order)


def train_once(corpus: Path, test: Path, out: Path, stream: bool) -> dict:
    command = [str(REPO / ".venv" / "bin" / "textrnn"), "train", "--dataset", str(corpus), "--test-data", str(test), "--text-column", "text", "--epochs", "1",
               "--val-size", "0.01", "--out", str(out), "--device", "cpu", *MODEL, *(["--stream"] if stream else [])]
    process, _, seconds, peak_mb = run_with_peak_memory(command)
    if process.returncode != 0:
        raise SystemExit(f"failed ({process.returncode}): {' '.join(command)}")
    metrics = json.loads((out / "metrics.json").read_text())
    return {
        "mode": "streamed" if stream else "loaded whole",
        "peak_memory_mb": round(peak_mb, 1),
        "wall_seconds": round(seconds, 1),
        "train_seconds": round(metrics["timing"]["train_seconds"], 1),
        "texts_per_second": round(metrics["timing"]["samples_per_second"]),
        "train_rows": metrics["data"]["train_rows"],
        "test_accuracy": round(metrics["test"]["accuracy"], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    args = parser.parse_args()
    texts, labels = load_split("train")
    results = {"command": "python bench/streaming.py " + " ".join(sys.argv[1:]),
               "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
               "base_rows": len(texts), "model": " ".join(MODEL), "runs": []}
    with tempfile.TemporaryDirectory(prefix="textrnn-streaming-") as tmp:
        test = Path(tmp) / "test.parquet"
        test_texts, test_labels = load_split("test")
        pq.write_table(pa.table({"text": test_texts, "label": test_labels}), test)
        for scale in args.scales:
            corpus = Path(tmp) / f"corpus-{scale}x"
            rows = write_corpus(corpus, texts, labels, scale)
            for stream in (True, False):
                run = train_once(corpus, test, Path(tmp) / f"run-{scale}x-{'stream' if stream else 'whole'}", stream)
                run.update(scale=scale, corpus_rows=rows)
                results["runs"].append(run)
                print(json.dumps(run), flush=True)
    lines = [
        f"Peak resident memory of `textrnn train --epochs 1` (one process, {results['model']}) on the shared AG News "
        f"training subset ({len(texts):,} rows) repeated and perturbed; test on the full 7,600-row test set. "
        f"Command: `{results['command']}`.",
        "",
        "| corpus | rows | mode | peak memory | train time | texts/s | test accuracy |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for run in results["runs"]:
        lines.append(f"| {run['scale']}x | {run['corpus_rows']:,} | {run['mode']} | {run['peak_memory_mb']:,.0f} MB | "
                     f"{run['train_seconds']:.0f} s | {run['texts_per_second']:,} | {run['test_accuracy']:.4f} |")
    write_results(args.out, "streaming", results, lines)


if __name__ == "__main__":
    main()
