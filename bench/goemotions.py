"""Multi-label benchmark: GoEmotions (28 emotion labels, Reddit comments), its own train/dev/test split.

Each recipe is one `textrnn train` command, run as a user would run it; the bag-of-words baseline
(one-vs-rest TF-IDF + logistic regression) is fitted on the same rows in the same command. Reported on the
test set: macro-F1 with the thresholds chosen on the dev set, macro-F1 at a fixed 0.3 threshold (the
threshold of the published figures: a bidirectional LSTM 0.41, BERT-base 0.46), micro-F1, subset accuracy,
and the times.

    python bench/goemotions.py [--recipes default word2vec]     (results: bench/results/goemotions.{json,md})
"""

from __future__ import annotations

import argparse
import json
import platform
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import write_results  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "goemotions"
# GoEmotions' files: no header; text, comma-joined label ids, comment id; quotes are not CSV quoting.
DATA_FLAGS = ["--dataset", f"{DATA}/train.tsv.gz", "--validation-data", f"{DATA}/dev.tsv.gz",
              "--test-data", f"{DATA}/test.tsv.gz", "--no-header", "--quoting", "none",
              "--text-column", "0", "--label-column", "1", "--multi-label"]
RECIPES = {
    "default": [],  # every auto decided from the data: with 43,410 rows, in-fit word2vec vectors and 5 epochs
    "no-word-vectors": ["--embeddings", "none"],
    "word2vec-10-epochs": ["--embeddings", "word2vec", "--epochs", "10", "--patience", "3"],
}
PUBLISHED = {"bidirectional LSTM (paper)": 0.41, "BERT-base fine-tuned (paper)": 0.46}


def run(recipe: str, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "run"
        flags = [*DATA_FLAGS, *RECIPES[recipe], "--seed", str(seed), "--out", str(out), "--no-verbose"]
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "textrnn", "train", *flags], check=True)
        wall = time.perf_counter() - started
        metrics = json.loads((out / "metrics.json").read_text())
        rules = threshold_rules(out)
    test, baseline = metrics["test"], metrics["baseline"]["test"]
    pick = lambda m: {k: m[k] for k in ("macro_f1", "macro_f1_at_0.3", "micro_f1", "subset_accuracy", "hamming_loss")}
    shown = [flag.replace(str(DATA), "../shared/data/goemotions") for flag in flags if flag != str(out)]
    shown = [flag for flag in shown if flag != "--out"]
    return {
        "recipe": recipe, "command": "textrnn train " + shlex.join(shown),
        "test": pick(test), "baseline": pick(baseline), "baseline_seconds": metrics["baseline"]["seconds"],
        "per_label_f1": {name: row["f1"] for name, row in test["per_class"].items()},
        "thresholds": metrics.get("thresholds"), "test_macro_f1_by_threshold_rule": rules, "wall_seconds": wall,
        "train_seconds": metrics["timing"]["train_seconds"], "epochs_run": metrics["timing"]["epochs_run"],
        "best_epoch": metrics["timing"]["best_epoch"],
    }


def threshold_rules(run_dir: Path) -> dict:
    """The test macro-F1 of the run's model with thresholds chosen on the dev set by each rule."""
    from textrnn import TextRNNClassifier
    from textrnn.data.sources import load_dataset
    from textrnn.data.tables import TableOptions
    from textrnn.multilabel import choose_thresholds, decide, f1_scores, indicator_matrix

    options = TableOptions(header=False, quoting="none", label_separator=",")
    dev, test = (load_dataset(f"{DATA}/{name}.tsv.gz", name, ["0"], "1", options=options) for name in ("dev", "test"))
    clf = TextRNNClassifier.load(run_dir)
    dev_p, test_p = clf.predict_proba(dev.texts), clf.predict_proba(test.texts)
    dev_y, test_y = indicator_matrix(dev.labels, clf.classes_), indicator_matrix(test.labels, clf.classes_)
    scores = {}
    for rule in ("per_label", "global", 0.3, 0.5):
        thresholds, _ = choose_thresholds(dev_p, dev_y, rule)
        scores[str(rule)] = float(f1_scores(test_y, decide(test_p, thresholds)).mean())
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = [run(recipe, args.seed) for recipe in args.recipes]
    lines = [
        "| recipe | macro-F1 (tuned thresholds) | macro-F1 at 0.3 | micro-F1 | subset accuracy | baseline macro-F1 "
        "(tuned) | baseline at 0.3 | baseline micro-F1 | epochs (best) | training | whole command |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        t, b = r["test"], r["baseline"]
        lines.append(f"| `{r['recipe']}` | {t['macro_f1']:.3f} | {t['macro_f1_at_0.3']:.3f} | {t['micro_f1']:.3f} | "
                     f"{t['subset_accuracy']:.3f} | {b['macro_f1']:.3f} | {b['macro_f1_at_0.3']:.3f} | "
                     f"{b['micro_f1']:.3f} | {r['epochs_run']} ({r['best_epoch']}) | {r['train_seconds']:.0f} s | "
                     f"{r['wall_seconds']:.0f} s |")
    lines += ["", "Test macro-F1 by threshold rule (thresholds chosen on the dev set): "
              + "; ".join(f"`{r['recipe']}` " + ", ".join(f"{rule} {f1:.3f}" for rule, f1 in
                                                          r["test_macro_f1_by_threshold_rule"].items())
                          for r in results) + "."]
    lines += ["", "Published (test, macro-F1 at 0.3): " + "; ".join(f"{k} {v:.2f}" for k, v in PUBLISHED.items()) + ".",
              f"Machine: {platform.platform()}, {os.cpu_count()} CPUs. Seed {args.seed}. Commands:", ""]
    lines += [f"- `{r['recipe']}`: `{r['command']}`" for r in results]
    write_results(Path(__file__).resolve().parent / "results", "goemotions",
                  {"machine": platform.platform(), "cpus": os.cpu_count(), "seed": args.seed,
                   "command": "python bench/goemotions.py " + shlex.join(sys.argv[1:]), "results": results}, lines)


if __name__ == "__main__":
    main()
