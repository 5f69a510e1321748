"""Accuracy ablation of issue #5: each technique alone on top of the default model, on AG News, over seeds.

    .venv/bin/python bench/ablation.py                       # every technique, seeds 0 1 2
    .venv/bin/python bench/ablation.py --seeds 0 --only default concat-pooling

Every run trains on the shared AG News training subset with textrnn's own stratified 5% validation
split (chosen by the run's seed), which alone picks the best epoch and stops training; the complete test
set is only scored at the end. Word vectors for the "word2vec" rows are trained with gensim on the
training texts only (never the test texts), once per seed, and their training time is added to the
row's wall time; so are the language models of the "lm" rows (textrnn pretrain on the training texts
without labels, forward and backward, 2 epochs, the default model's GRU sizes). Results: bench/results/ablation.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import write_results  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO.parent / "shared" / "data" / "ag_news"
BASE = {"epochs": 4, "patience": 2, "val_size": 0.05}
TECHNIQUES: dict[str, dict] = {
    "default": {},
    "concat-pooling": {"pooling": "concat"},
    "attention-pooling": {"pooling": "attention"},
    "label-smoothing-0.1": {"label_smoothing": 0.1},
    "warmup-linear": {"lr_schedule": "warmup-linear", "epochs": 3},
    "locked+word-dropout": {"locked_dropout": True, "word_dropout": 0.1},
    "sparse-embedding": {"sparse_embedding": True},
    "word2vec-finetuned": {"embeddings": "WORD2VEC"},
    "word2vec-frozen-1-epoch": {"embeddings": "WORD2VEC", "freeze_embeddings": 1},
    "bpe-20k": {"vocabulary_type": "bpe"},
    "unigram-20k": {"vocabulary_type": "unigram"},
    "lm-pretrained": {"init_from": "LM"},
    "lm-pretrained+ulmfit": {"init_from": "LM", "discriminative_lr": 2.6, "gradual_unfreezing": True},
}
COMMIT = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
LM = {"cell": "gru", "embed_dim": 64, "hidden_size": 64, "num_layers": 1, "bidirectional": True, "epochs": 2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="+", choices=list(TECHNIQUES), help="run only these techniques")
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    parser.add_argument("--add-to", metavar="JSON", help="add these runs to an earlier ablation.json (other seeds)")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    from textrnn import TextRNNClassifier
    from textrnn.data.ag_news import AG_NEWS_LABELS, load_ag_news
    from textrnn.text.embeddings import train_vectors
    from textrnn.model.lm import pretrain
    from textrnn.params import ClassifierParams

    train, test = load_ag_news("train", DATA_DIR), load_ag_news("test", DATA_DIR)
    names = args.only or list(TECHNIQUES)
    command = "python bench/ablation.py " + " ".join(sys.argv[1:])
    results = {"command": command, "train_rows": len(train), "test_rows": len(test), "base": BASE,
               "techniques": {n: TECHNIQUES[n] for n in names}, "machine": {"platform": platform.platform(),
                                                                           "cpus": os.cpu_count()}, "runs": []}
    if args.add_to:  # earlier runs (other seeds, perhaps another commit: each run records its own)
        earlier = json.loads(Path(args.add_to).read_text())
        results["runs"] = earlier["runs"]
        results["command"] = f"{earlier['command']}, then {command}"
        results["techniques"] = {**earlier["techniques"], **results["techniques"]}
    with tempfile.TemporaryDirectory(prefix="textrnn-ablation-") as tmp:
        vectors: dict = {}  # seed (or ("lm", seed)) -> (path, seconds it took to make)
        for seed in args.seeds:
            for name in names:
                params = {**BASE, **TECHNIQUES[name], "seed": seed}
                extra_seconds = 0.0
                if params.get("init_from") == "LM":
                    if ("lm", seed) not in vectors:
                        started = time.perf_counter()
                        path = str(Path(tmp) / f"lm-{seed}")
                        pretrain(train.texts, path, ClassifierParams(**LM, lr=3e-3, seed=seed, verbose=False))
                        vectors[("lm", seed)] = (path, time.perf_counter() - started)
                    params["init_from"], extra_seconds = vectors[("lm", seed)]
                if params.get("embeddings") == "WORD2VEC":
                    if seed not in vectors:
                        started = time.perf_counter()
                        path = str(Path(tmp) / f"word2vec-{seed}.bin")
                        train_vectors(train.texts, path, dim=64, epochs=5, seed=seed)
                        vectors[seed] = (path, time.perf_counter() - started)
                    params["embeddings"], extra_seconds = vectors[seed]
                started = time.perf_counter()
                clf = TextRNNClassifier(**params).fit(train.texts, train.labels, classes=list(AG_NEWS_LABELS))
                wall = time.perf_counter() - started + extra_seconds
                best = clf.fit_info_["best_epoch"]
                run = {"technique": name, "seed": seed, "commit": COMMIT, "best_epoch": best, "epochs_run": clf.fit_info_["epochs_run"],
                       "val_accuracy": clf.history_[best - 1]["val_accuracy"],
                       "test_accuracy": clf.score(test.texts, test.labels), "wall_seconds": round(wall, 1),
                       "embeddings": clf.fit_info_.get("embeddings")}
                results["runs"].append(run)
                print(json.dumps(run), flush=True)

    seeds = sorted({r["seed"] for r in results["runs"]})
    shown = [n for n in TECHNIQUES if n in results["techniques"]]  # with --add-to, the earlier ones too
    write_results(args.out, "ablation", results, table(results, shown, seeds))


def table(results: dict, names: list[str], seeds: list[int]) -> list[str]:
    """Per technique: mean (and, over several seeds, standard deviation) of accuracy and wall time."""
    summary = {}
    for name in names:
        runs = [r for r in results["runs"] if r["technique"] == name]
        summary[name] = {key: {"mean": float(np.mean([r[key] for r in runs])), "std": float(np.std([r[key] for r in runs]))}
                         for key in ("val_accuracy", "test_accuracy", "wall_seconds")}
        summary[name]["seeds"] = len(runs)
    results["summary"] = summary
    spread = len(seeds) > 1
    lines = [f"Each technique alone on top of the default model; AG News, {results['train_rows']:,} training rows (the "
             f"shared subset; 5% held out for validation), {results['test_rows']:,} test rows; "
             + (f"mean ± standard deviation over seeds {', '.join(map(str, seeds))}" if spread else f"seed {seeds[0]} only")
             + f"; {results['machine']['cpus']} CPUs. Command: `{results['command']}`.", "",
             "| technique | seeds | validation accuracy | test accuracy | wall time |", "|---|---:|---:|---:|---:|"]

    def cell(value: dict, seeds: int, percent: bool = True) -> str:
        text = f"{value['mean']:.2%}" if percent else f"{value['mean']:.0f} s"
        return text + (f" ± {value['std']:.2%}" if seeds > 1 and percent else "")

    for name, row in summary.items():
        n = row["seeds"]
        lines.append(f"| {name} | {n} | {cell(row['val_accuracy'], n)} | {cell(row['test_accuracy'], n)} | "
                     f"{cell(row['wall_seconds'], n, percent=False)} |")
    return lines


if __name__ == "__main__":
    main()
