"""Training speed per token on short and on long texts, with the default settings, in one run.

* `short`: AG News rows (title and description, about 40 tokens);
* `long`: documents of 300-2,000 tokens, each made of AG News texts of one class joined in a random order
  (lengths drawn log-uniformly, so there are as many 300-550-token documents as 1,100-2,000-token ones).

For each, one training epoch of the default model (`TextRNNClassifier()` with `epochs=1` and no hold-out, so
that only the training loop is timed; the default decides everything else from the data), and prediction of
the same texts. The criterion: long texts train at no less than 1/1.5 of the short texts' tokens per second.

A second table times one training step of the default model's network on batches of one length and of mixed
lengths, read the way textrnn reads them (each text reversed within its own length for the backward direction)
and through PyTorch's packed sequences, which textrnn used before and which is still what its ONNX export holds.

    python bench/long_texts.py [--short-rows 20000] [--long-docs 1000]   (results: bench/results/long_texts.*)
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import write_results  # noqa: E402

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "ag_news"


def ag_news(limit: int | None = None) -> tuple[list[str], list[str]]:
    with io.TextIOWrapper(gzip.open(DATA_DIR / "train_subset.csv.gz"), encoding="utf-8", newline="") as handle:
        rows = [(f"{title} {description}", label) for label, title, description in csv.reader(handle)]
    order = np.random.default_rng(0).permutation(len(rows))[:limit]  # the file is grouped by class
    return [rows[i][0] for i in order], [rows[i][1] for i in order]


def long_documents(texts: list[str], labels: list[str], count: int) -> tuple[list[str], list[str]]:
    """``count`` documents of 300-2,000 words, each joined from texts of one class."""
    rng = np.random.default_rng(1)
    by_class: dict[str, list[str]] = {}
    for text, label in zip(texts, labels):
        by_class.setdefault(label, []).append(text)
    classes = sorted(by_class)
    documents, document_labels = [], []
    for i in range(count):
        label = classes[i % len(classes)]
        pool, target = by_class[label], int(np.exp(rng.uniform(np.log(300), np.log(2000))))
        words: list[str] = []
        while len(words) < target:
            words.extend(pool[rng.integers(len(pool))].split())
        documents.append(" ".join(words[:target]))
        document_labels.append(label)
    return documents, document_labels


def train_and_predict(texts: list[str], labels: list[str]) -> dict:
    from textrnn import TextRNNClassifier

    clf = TextRNNClassifier(epochs=1, val_size=0, verbose=False)
    started = time.perf_counter()
    clf.fit(texts, labels)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    clf.predict_proba(texts)
    predict_seconds = time.perf_counter() - started
    info, max_length = clf.fit_info_, clf.params_.max_length
    tokens = sum(min(len(t.split()), max_length or 10**9) for t in texts)
    return {
        "texts": len(texts),
        "median_words": float(np.median([len(t.split()) for t in texts])),
        "max_length": max_length,
        "threads": info["threads"]["used"],
        "train_tokens_per_second": info["tokens_per_second"],
        "train_texts_per_second": info["samples_per_second"],
        "fit_seconds": fit_seconds,
        "predict_tokens_per_second": tokens / predict_seconds,
    }


def kernel_step_times(lengths=(40, 450, 1500), batch: int = 64) -> list[dict]:
    """Tokens per second of one training step of the default network, by batch length and reading."""
    import torch

    from textrnn.params import ClassifierParams
    from textrnn.threads import resolve_threads, torch_threads
    from textrnn.model.build import build_network

    torch.manual_seed(0)
    model = build_network(ClassifierParams(), 20_000, 4, single=True)  # the default network (no word vectors)
    optimizer = torch.optim.Adam(model.parameters())
    rows = []
    with torch_threads(resolve_threads("auto")[0]):
        for steps in lengths:
            ids = torch.randint(2, 20_000, (batch, steps))
            mixed = torch.randint(int(steps * 0.8), steps + 1, (batch,))
            mixed[0] = steps
            readings = [("one length", model.forward, torch.full((batch,), steps)),
                        ("mixed lengths, reversed within each length", model.forward, mixed)]
            if steps <= 500:  # packing's backward pass is quadratic in the length: minutes for one batch beyond
                readings.append(("mixed lengths, packed (before)", lambda i, n: model.forward_packed(i, n, False),
                                 mixed))
            for reading, run, batch_lengths in readings:
                def step():
                    optimizer.zero_grad()
                    run(ids, batch_lengths).logsumexp(dim=1).mean().backward()
                    optimizer.step()

                if "packed" not in reading:
                    step()  # warm-up
                repeats = 1 if "packed" in reading else 3
                started = time.perf_counter()
                for _ in range(repeats):
                    step()
                seconds = (time.perf_counter() - started) / repeats
                rows.append({"tokens_per_text": steps, "reading": reading, "seconds_per_batch": seconds,
                             "tokens_per_second": int(batch_lengths.sum()) / seconds})
                print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short-rows", type=int, default=20_000)
    parser.add_argument("--long-docs", type=int, default=1_000)
    args = parser.parse_args()
    texts, labels = ag_news()
    datasets = {"short": (texts[: args.short_rows], labels[: args.short_rows]),
                "long": long_documents(texts, labels, args.long_docs)}
    results = {"command": "python bench/long_texts.py " + " ".join(sys.argv[1:]),
               "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs", "datasets": {}}
    for name, (x, y) in datasets.items():
        results["datasets"][name] = train_and_predict(x, y)
        print(name, json.dumps(results["datasets"][name]), flush=True)
    short, long = results["datasets"]["short"], results["datasets"]["long"]
    results["long_over_short"] = long["train_tokens_per_second"] / short["train_tokens_per_second"]
    results["kernel"] = kernel_step_times()

    lines = [
        f"Default model, one training epoch and prediction of the same texts; {results['machine']}. "
        f"Command: `{results['command'].strip()}`.",
        "",
        "| texts | count | median words | max_length (auto) | threads | train tokens/s | train texts/s "
        "| predict tokens/s | fit seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results["datasets"].items():
        lines.append(f"| {name} | {r['texts']:,} | {r['median_words']:.0f} | {r['max_length'] or 'none'} "
                     f"| {r['threads']} | {r['train_tokens_per_second']:,.0f} | {r['train_texts_per_second']:,.0f} "
                     f"| {r['predict_tokens_per_second']:,.0f} | {r['fit_seconds']:.1f} |")
    lines += ["", f"Long texts train at {results['long_over_short']:.2f}x the short texts' tokens per second "
                  f"(target: at least {1 / 1.5:.2f}x).", "",
              "One training step of the default network, batch of 64 texts (mixed: lengths 80-100% of the longest):",
              "", "| tokens per text | batch | seconds per batch | tokens/s |", "|---:|---|---:|---:|"]
    for r in results["kernel"]:
        lines.append(f"| {r['tokens_per_text']:,} | {r['reading']} | {r['seconds_per_batch']:.2f} "
                     f"| {r['tokens_per_second']:,.0f} |")
    write_results(Path(__file__).resolve().parent / "results", "long_texts", results, lines)


if __name__ == "__main__":
    main()
