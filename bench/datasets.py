"""The default model on data it was never tuned on, against the bag-of-words baseline and fastText.

Five datasets, built deterministically from the shared files (nothing is downloaded):

* `ag_news`: the 45,593-row AG News subset, title and description (about 40 tokens), 4 balanced classes;
* `ag_news-titles`: the same rows, titles only (short sentences, about 8 tokens);
* `ag_news-small`: 2,000 of those rows (500 per class): the small-data regime;
* `ag_news-5k`: 5,000 of those rows (1,250 per class), between the small sets and the large;
* `goemotions-single`: the GoEmotions comments that carry exactly one label (28 classes, strongly imbalanced,
  informal Reddit text), its own train/dev/test split;
* `ag_news-long`: documents of 12 same-class AG News texts joined (about 500 tokens): long documents.

For each dataset and recipe, one `textrnn train` command (the baseline is fitted in the same command, on the
same rows), and fastText supervised with word bigrams on the same rows.

    python bench/datasets.py [--datasets ...] [--recipes ...]     (results: bench/results/datasets.{json,md})
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import os
import platform
import random
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import write_results  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CACHE = Path(__file__).resolve().parent / "results" / "tmp" / "datasets"
FASTTEXT_PYTHON = Path(__file__).resolve().parent / ".venvs" / "fasttext" / "bin" / "python"
# "default" is whatever the defaults are; the others pin every setting the defaults may decide from the data,
# so that they measure one rule each: word vectors, and more epochs with steadier stopping.
FIXED = ["--epochs", "5", "--patience", "2", "--val-size", "0.05", "--max-length", "none"]
NO_WORD_VECTORS = ["--embeddings", "none"]
ROWS_PER_CLASS = {"ag_news-small": 500, "ag_news-5k": 1_250}  # the AG News subsets drawn from the training rows
RECIPES = {
    "default": [],
    "plain": [*FIXED, *NO_WORD_VECTORS],
    "word2vec": [*FIXED, "--embeddings", "word2vec"],
    "epochs-15": ["--epochs", "15", "--patience", "3", "--val-size", "0.05", "--max-length", "none",
                  *NO_WORD_VECTORS],
    "word2vec-epochs-15": ["--epochs", "15", "--patience", "3", "--val-size", "0.05", "--max-length", "none",
                           "--embeddings", "word2vec"],
    # Text clean-up, each against "plain": HTML stripped; and punctuation replaced by spaces instead of deleted.
    "html": [*FIXED, *NO_WORD_VECTORS, "--strip-html"],
    "html-space": [*FIXED, *NO_WORD_VECTORS, "--strip-html", "--punctuation", "space"],
    # The default with punctuation replaced by spaces (everything else decided from the data).
    "space": ["--punctuation", "space"],
    # The default with punctuation marks as tokens of their own.
    "token": ["--punctuation", "token"],
    # The default with and without word vectors trained on the training texts, whatever the size of the data.
    "without-word2vec": NO_WORD_VECTORS,
    "with-word2vec": ["--embeddings", "word2vec"],
    # The default with and without adversarial training on the word vectors, whatever the size of the data.
    "without-adversarial": ["--adversarial", "0"],
    "with-adversarial": ["--adversarial", "0.1"],
    # Characters as tokens against words, every other setting decided from the data as by default.
    "words": NO_WORD_VECTORS,  # the same run as without-word2vec, named for the comparison with characters
    "char": ["--vocabulary-type", "char"],
    "char-one-hot": ["--vocabulary-type", "char", "--one-hot"],
}


# ------------------------------------------------------------------------------------------- datasets


def ag_news_rows(name: str) -> list[tuple[str, str, str]]:
    with io.TextIOWrapper(gzip.open(SHARED / "ag_news" / name), encoding="utf-8", newline="") as handle:
        return [(label, title, description) for label, title, description in csv.reader(handle)]


def write(path: Path, rows) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows([("text", "label"), *rows])
    return path


def build(name: str) -> dict[str, Path]:
    """The dataset's train (and dev) and test CSV files, made once."""
    directory = CACHE / name
    files = {split: directory / f"{split}.csv" for split in ("train", "dev", "test")}
    if files["train"].is_file():
        return {split: path for split, path in files.items() if path.is_file()}
    directory.mkdir(parents=True, exist_ok=True)
    if name.startswith("ag_news"):
        train, test = ag_news_rows("train_subset.csv.gz"), ag_news_rows("test.csv.gz")
        if name == "ag_news-titles":
            text = lambda row: row[1]
        else:
            text = lambda row: f"{row[1]} {row[2]}"
        if name in ROWS_PER_CLASS:
            rng = random.Random(0)
            train = [row for label in "1234"
                     for row in rng.sample([r for r in train if r[0] == label], ROWS_PER_CLASS[name])]
        if name == "ag_news-long":
            train, test = join_documents(train, 12, 0), join_documents(test, 12, 1)
            text = lambda row: row[1]
        write(files["train"], ((text(row), row[0]) for row in train))
        write(files["test"], ((text(row), row[0]) for row in test))
        files.pop("dev")
    elif name == "goemotions-single":
        for split in ("train", "dev", "test"):
            with io.TextIOWrapper(gzip.open(SHARED / "goemotions" / f"{split}.tsv.gz"), encoding="utf-8") as handle:
                rows = [line.rstrip("\n").split("\t") for line in handle]
            write(files[split], ((text, labels) for text, labels, _ in rows if "," not in labels))
    return files


def join_documents(rows, per_document: int, seed: int) -> list[tuple[str, str]]:
    """Same-class texts joined into documents of ``per_document`` texts each (title and description)."""
    rng = random.Random(seed)
    documents = []
    for label in "1234":
        members = [f"{r[1]}. {r[2]}" for r in rows if r[0] == label]
        rng.shuffle(members)
        for start in range(0, len(members) - per_document + 1, per_document):
            documents.append((label, " ".join(members[start:start + per_document])))
    rng.shuffle(documents)
    return documents


# ------------------------------------------------------------------------------------------- systems


def run_textrnn(name: str, files: dict[str, Path], recipe: str, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "run"
        flags = ["--dataset", str(files["train"]), "--test-data", str(files["test"]), *RECIPES[recipe],
                 "--seed", str(seed)]
        if "dev" in files:
            flags += ["--validation-data", str(files["dev"])]
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "textrnn", "train", *flags, "--out", str(out), "--no-verbose"],
                       check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        metrics = json.loads((out / "metrics.json").read_text())
    test, baseline, mix = metrics["test"], metrics["baseline"], metrics.get("bag_of_words") or {}
    alone = (mix.get("network_alone") or {}).get("test") or test  # the RNN without the bag-of-words path
    return {
        "dataset": name, "system": f"textrnn {recipe}", "command": "textrnn train " + shlex.join(flags),
        "accuracy": test["accuracy"], "macro_f1": test["macro_f1"],
        "baseline_accuracy": baseline["test"]["accuracy"], "baseline_macro_f1": baseline["test"]["macro_f1"],
        "baseline_seconds": baseline["seconds"], "train_seconds": metrics["timing"]["train_seconds"],
        "wall_seconds": wall, "epochs_run": metrics["timing"]["epochs_run"],
        "best_epoch": metrics["timing"]["best_epoch"], "monitor": metrics["choices"]["monitor"],
        "train_rows": metrics["data"]["train_rows"], "texts_per_second": metrics["timing"]["samples_per_second"],
        "bag_of_words_weight": mix.get("weight", 0.0), "rnn_alone_accuracy": alone["accuracy"],
        "rnn_alone_macro_f1": alone["macro_f1"],
    }


FASTTEXT = """
import json, sys, time, csv
import fasttext
def f1_score(truth, predicted):
    f1 = []
    for label in sorted(set(truth)):
        tp = sum(t == label and p == label for t, p in zip(truth, predicted))
        denominator = truth.count(label) + predicted.count(label)
        f1.append(2 * tp / denominator if denominator else 0.0)
    return sum(f1) / len(f1)
files, epochs = json.loads(sys.argv[1]), int(sys.argv[2])
def rows(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return [(r["text"], r["label"]) for r in csv.DictReader(handle)]
clean = lambda t: " ".join(t.lower().replace("\\n", " ").split())
with open(sys.argv[3], "w", encoding="utf-8") as out:
    out.writelines(f"__label__{y} {clean(x)}\\n" for x, y in rows(files["train"]))
started = time.perf_counter()
model = fasttext.train_supervised(sys.argv[3], wordNgrams=2, epoch=epochs, lr=0.5, dim=50, minCount=1, thread=2,
                                  seed=0, verbose=0)
seconds = time.perf_counter() - started
test = rows(files["test"])
predicted = [p[0].replace("__label__", "") for p in model.predict([clean(x) for x, _ in test])[0]]
truth = [y for _, y in test]
print(json.dumps({"accuracy": sum(p == y for p, y in zip(predicted, truth)) / len(truth),
                  "macro_f1": f1_score(truth, predicted), "train_seconds": seconds}))
"""


def run_fasttext(name: str, files: dict[str, Path], epochs: int = 10) -> dict | None:
    if not FASTTEXT_PYTHON.exists():
        print(f"fastText skipped: no {FASTTEXT_PYTHON} (python -m venv bench/.venvs/fasttext && "
              "bench/.venvs/fasttext/bin/pip install fasttext-numpy2==0.10.4)")
        return None
    with tempfile.NamedTemporaryFile(suffix=".txt") as scratch:
        output = subprocess.run([str(FASTTEXT_PYTHON), "-c", FASTTEXT, json.dumps({k: str(v) for k, v in files.items()}),
                                 str(epochs), scratch.name], check=True, capture_output=True, text=True).stdout
    result = json.loads(output.strip().splitlines()[-1])
    return {"dataset": name, "system": f"fastText bigrams, {epochs} epochs", **result}


# ---------------------------------------------------------------------------------------------- main

DATASETS = ("ag_news", "ag_news-titles", "ag_news-small", "ag_news-5k", "goemotions-single", "ag_news-long")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=["default"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="datasets", help="results name under bench/results (default: datasets)")
    parser.add_argument("--no-fasttext", action="store_true")
    parser.add_argument("--collect", metavar="LOG", help="only rebuild the tables from the result lines this script "
                        "printed into LOG (a run that was stopped before its end)")
    args = parser.parse_args()
    if args.collect:
        lines = Path(args.collect).read_text(encoding="utf-8").splitlines()
        results = [json.loads(line) for line in lines if line.startswith('{"dataset"')]
        return write_tables(results, args, note=f"Collected from the result lines of {Path(args.collect).name}.")
    results = []
    for name in args.datasets:
        files = build(name)
        for recipe in args.recipes:
            results.append(run_textrnn(name, files, recipe, args.seed))
            print(json.dumps(results[-1]), flush=True)
        fast = None if args.no_fasttext else run_fasttext(name, files)
        if fast:
            results.append(fast)
            print(json.dumps(fast), flush=True)
        write_tables(results, args)  # after every dataset: a long run stopped early keeps what it measured


def write_tables(results: list[dict], args, note: str = "") -> None:
    lines = ["| dataset | system | test accuracy | macro-F1 | bag-of-words accuracy | bag-of-words macro-F1 | "
             "textrnn − bag-of-words (points, macro-F1) | mix weight | RNN alone macro-F1 | epochs (best) | training | "
             "whole command |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if "baseline_accuracy" in r:
            gap = 100 * (r["macro_f1"] - r["baseline_macro_f1"])
            alone = f"{r['rnn_alone_macro_f1']:.2%}" if "rnn_alone_macro_f1" in r else ""
            lines.append(f"| {r['dataset']} | {r['system']} | {r['accuracy']:.2%} | {r['macro_f1']:.2%} | "
                         f"{r['baseline_accuracy']:.2%} | {r['baseline_macro_f1']:.2%} | {gap:+.1f} | "
                         f"{r.get('bag_of_words_weight', 0):g} | {alone} | "
                         f"{r['epochs_run']} ({r['best_epoch']}) | {r['train_seconds']:.0f} s | {r['wall_seconds']:.0f} s |")
        else:
            lines.append(f"| {r['dataset']} | {r['system']} | {r['accuracy']:.2%} | {r['macro_f1']:.2%} | | | | | | | "
                         f"{r['train_seconds']:.0f} s | |")
    lines += ["", f"Machine: {platform.platform()}, {os.cpu_count()} CPUs. Seed {args.seed}. "
              "Command: `python bench/datasets.py " + shlex.join(sys.argv[1:]) + "`. " + note]
    write_results(Path(__file__).resolve().parent / "results", args.out,
                  {"machine": platform.platform(), "cpus": os.cpu_count(), "seed": args.seed, "results": results}, lines)


if __name__ == "__main__":
    main()
