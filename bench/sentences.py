"""Small data: 10-fold cross-validation on MR, CR, SUBJ and MPQA (3,771 to 10,662 short texts each).

For each dataset and fold (the `fold` column of `../shared/data/sentences/`: train on nine folds, test on the
tenth), a full training run as `textrnn train` does it (the recipe in-process: the default model, its
bag-of-words baseline fitted on the same rows, the RNN alone without the path), plus two peers on the same
folds: NBSVM-bigram as Wang and Manning (2012) describe it (binarised word 1-2-grams scaled by naive-Bayes
log-count ratios, a linear SVM, C 1, interpolation 0.25), and fastText with bigrams (10 epochs, as
`bench/datasets.py`; skipped without `bench/.venvs/fasttext`). Mean and spread (standard deviation) over the
folds; the published figures beside them (from the data's README).

With `--pretrain EPOCHS`, each fold first pretrains a language model (`textrnn pretrain`, both directions) on
its own training texts for EPOCHS epochs, kept in the cache, and the run starts from it (`init_from`); add
ULMFiT's fine-tuning with `--set discriminative_lr=2.6 gradual_unfreezing=true`.

    python bench/sentences.py [--datasets mr cr] [--folds 0 1 2] [--set word_dropout=0.1 ...] [--pretrain 5]
                              [--name NAME]    (results: bench/results/sentences[-NAME].{json,md})
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gzip
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from datasets import run_fasttext  # noqa: E402
from measure import write_results  # noqa: E402

SHARED = ROOT.parent.parent / "shared" / "data" / "sentences"
CACHE = ROOT / "results" / "tmp" / "sentences"
DATASETS = ("mr", "cr", "subj", "mpqa")
PUBLISHED = {  # Kim (2014), Table 2; Wang and Manning (2012) for NBSVM
    "NBSVM-bigram (published)": {"mr": 79.4, "cr": 81.8, "subj": 93.2, "mpqa": 86.3},
    "CNN, random vectors (published)": {"mr": 76.1, "cr": 79.8, "subj": 89.6, "mpqa": 83.4},
    "CNN, word2vec fine-tuned (published)": {"mr": 81.5, "cr": 84.3, "subj": 93.4, "mpqa": 89.5},
}


def read(name: str) -> list[dict]:
    with io.TextIOWrapper(gzip.open(SHARED / f"{name}.csv.gz"), encoding="latin-1", newline="") as handle:
        return list(csv.DictReader(handle))


def fold_files(name: str, rows: list[dict], fold: int) -> dict[str, Path]:
    """train.csv (the other nine folds) and test.csv (this fold), written once into the cache."""
    directory = CACHE / name / f"fold{fold}"
    files = {"train": directory / "train.csv", "test": directory / "test.csv"}
    if not all(path.exists() for path in files.values()):
        directory.mkdir(parents=True, exist_ok=True)
        for part, keep in (("train", lambda r: int(r["fold"]) != fold), ("test", lambda r: int(r["fold"]) == fold)):
            with open(files[part], "w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out)
                writer.writerow(["text", "label"])
                writer.writerows((r["text"], r["label"]) for r in rows if keep(r))
    return files


def run_textrnn(files: dict[str, Path], seed: int, settings: dict) -> dict:
    """One training run as `textrnn train --dataset train.csv --test-data test.csv` (plus ``settings``)."""
    from textrnn.params import RunConfig
    from textrnn.recipe import train_run

    with tempfile.TemporaryDirectory() as scratch:
        config = RunConfig(dataset=str(files["train"]), test_data=str(files["test"]), out=str(Path(scratch) / "run"),
                           seed=seed, verbose=False, **settings)
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            train_run(config)
        wall = time.perf_counter() - started
        metrics = json.loads((Path(scratch) / "run" / "metrics.json").read_text())
    mix = metrics.get("bag_of_words") or {}
    alone = (mix.get("network_alone") or {}).get("test") or metrics["test"]
    baseline = metrics.get("baseline") or {}
    return {"default": 100 * metrics["test"]["accuracy"], "RNN alone": 100 * alone["accuracy"],
            "baseline": 100 * baseline["test"]["accuracy"] if baseline.get("test") else None,
            "baseline name": baseline.get("name"), "weight": mix.get("weight", 0.0),
            "epochs": metrics["timing"]["epochs_run"], "best epoch": metrics["timing"]["best_epoch"],
            "train seconds": metrics["timing"]["train_seconds"], "wall seconds": wall}


def pretrained_lm(files: dict[str, Path], seed: int, settings: dict, epochs: int) -> tuple[Path, float]:
    """A language model pretrained on this fold's training texts (the run's validation rows among them, without
    their labels; never its test texts) with the run's architecture and vocabulary settings, written once into
    the cache; its directory and the seconds its training took."""
    import torch
    from textrnn.model.lm import pretrain
    from textrnn.params import ClassifierParams, validate

    keys = ("cell", "embed_dim", "hidden_size", "num_layers", "bidirectional", "max_tokens", "punctuation")
    architecture = {key: settings[key] for key in keys if key in settings}
    name = "lm-" + "-".join([f"epochs{epochs}", f"seed{seed}", *(f"{k}{v}" for k, v in sorted(architecture.items()))])
    directory = files["train"].parent / name
    record_file = directory / "lm.json"
    if not record_file.exists():
        with open(files["train"], encoding="utf-8") as handle:
            texts = [row["text"] for row in csv.DictReader(handle)]
        params = validate(ClassifierParams, {**architecture, "epochs": epochs, "seed": seed, "verbose": False})
        if isinstance(settings.get("threads"), int):  # pretrain leaves PyTorch's thread count as it finds it
            torch.set_num_threads(settings["threads"])
        pretrain(texts, directory, params)
    history = json.loads(record_file.read_text())["history"]
    return directory, sum(epoch.get("seconds", 0.0) for direction in history.values() for epoch in direction)


def nbsvm_bigram(files: dict[str, Path]) -> float:
    """Wang and Manning's NBSVM-bigram: binarised 1-2-grams scaled by the log-count ratio r, a linear SVM
    (C 1), its weights interpolated with their mean magnitude (beta 0.25). Test accuracy in %."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.svm import LinearSVC

    train, test = (list(csv.DictReader(open(files[part], encoding="utf-8"))) for part in ("train", "test"))
    vectorizer = CountVectorizer(ngram_range=(1, 2), binary=True, token_pattern=r"\S+")
    x, x_test = vectorizer.fit_transform([r["text"] for r in train]), vectorizer.transform([r["text"] for r in test])
    classes = sorted({r["label"] for r in train})
    y = np.array([r["label"] == classes[1] for r in train])
    p, q = np.asarray(x[y].sum(axis=0)).ravel() + 1, np.asarray(x[~y].sum(axis=0)).ravel() + 1
    ratio = np.log((p / p.sum()) / (q / q.sum()))
    svm = LinearSVC(C=1.0).fit(x.multiply(ratio).tocsr(), y)
    beta, w = 0.25, svm.coef_.ravel()
    w = (1 - beta) * np.abs(w).mean() + beta * w
    predicted = x_test.multiply(ratio).tocsr() @ w + beta * svm.intercept_[0] > 0
    return 100 * float(np.mean(predicted == np.array([r["label"] == classes[1] for r in test])))


def summarise(values: list[float]) -> dict:
    return {"mean": round(statistics.mean(values), 2), "spread": round(statistics.pstdev(values), 2),
            "folds": len(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--folds", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE",
                        help="training parameters beside the defaults (YAML values), to measure a variant")
    parser.add_argument("--name", help="results go to sentences-NAME.{json,md}")
    parser.add_argument("--no-peers", action="store_true", help="only textrnn (not NBSVM, not fastText)")
    parser.add_argument("--pretrain", type=int, metavar="EPOCHS",
                        help="start each fold from a language model pretrained on its training texts")
    args = parser.parse_args()
    settings = {key: yaml.safe_load(value) for key, value in (item.split("=", 1) for item in args.set)}
    results = {"settings": settings, "pretrain_epochs": args.pretrain, "seed": args.seed, "folds": args.folds,
               "datasets": {},
               "machine": f"{platform.platform()}, {len(os.sched_getaffinity(0))} CPUs"}
    for name in args.datasets:
        rows, per_fold = read(name), []
        for fold in args.folds:
            files = fold_files(name, rows, fold)
            run_settings, lm = settings, {}
            if args.pretrain:
                directory, seconds = pretrained_lm(files, args.seed, settings, args.pretrain)
                run_settings, lm = {**settings, "init_from": str(directory)}, {"pretrain seconds": seconds}
            record = {"fold": fold, **run_textrnn(files, args.seed, run_settings), **lm}
            if not args.no_peers:
                record["NBSVM-bigram"] = nbsvm_bigram(files)
                fast = run_fasttext(name, files)
                record["fastText bigrams"] = 100 * fast["accuracy"] if fast else None
            per_fold.append(record)
            print(json.dumps({"dataset": name, **record}), flush=True)
        systems = [key for key in ("default", "RNN alone", "baseline", "NBSVM-bigram", "fastText bigrams")
                   if all(r.get(key) is not None for r in per_fold)]
        results["datasets"][name] = {"folds": per_fold, **{key: summarise([r[key] for r in per_fold])
                                                          for key in systems}}
    write_results(ROOT / "results", "sentences" + (f"-{args.name}" if args.name else ""), results,
                  markdown(results, sys.argv[1:]))


def markdown(results: dict, argv: list[str]) -> list[str]:
    names = list(results["datasets"])
    systems = [("textrnn default", "default"), ("RNN alone (no bag-of-words path)", "RNN alone"),
               ("textrnn's reported baseline", "baseline"), ("NBSVM-bigram (this code)", "NBSVM-bigram"),
               ("fastText bigrams", "fastText bigrams")]
    lines = ["| system | " + " | ".join(name.upper() for name in names) + " |", "|---|" + "---|" * len(names)]
    for label, key in systems:
        cells = [results["datasets"][n].get(key) for n in names]
        if any(cells):
            lines.append(f"| {label} | " + " | ".join(f"{c['mean']:.1f} ± {c['spread']:.1f}" if c else ""
                                                     for c in cells) + " |")
    for label, figures in PUBLISHED.items():
        lines.append(f"| {label} | " + " | ".join(f"{figures[n]:.1f}" for n in names) + " |")
    first = results["datasets"][names[0]]["folds"][0]
    lines += ["", f"Test accuracy (%), mean ± standard deviation over folds {results['folds']}; seed "
              f"{results['seed']}; settings beside the defaults: {results['settings'] or 'none'}"
              + (f"; started from a language model pretrained for {results['pretrain_epochs']} epochs on each fold's "
                 "training texts" if results.get("pretrain_epochs") else "") + "; the reported "
              f"baseline is {first['baseline name']}. Machine: {results['machine']}. Command: "
              f"`{' '.join(['python', 'bench/sentences.py', *argv])}`"]
    return lines


if __name__ == "__main__":
    main()
