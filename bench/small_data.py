"""Small data: the default model and a few regularising variants against the bag-of-words baseline, 2,000 rows.

Three training sets of 2,000 rows, built from the shared data like `bench/datasets.py` builds its own (run it
first: it writes the CSV files this script reads): `ag_news-small` itself, 2,000 random rows of
`ag_news-titles` and 2,000 random rows of `goemotions-single`, each tested on its full test set. For each
variant and seed, one fit through the Python API (everything else decided from the data, as by default);
the baseline (TF-IDF + logistic regression) is fitted on the same rows, its C chosen on a tenth of them.

    python bench/small_data.py [--seeds 0 1 2]     (results: bench/results/small_data.{json,md})
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import write_results  # noqa: E402

CACHE = Path(__file__).resolve().parent / "results" / "tmp" / "datasets"
ROWS = 2000
VARIANTS = {
    "default": {},
    "batch_size 16": {"batch_size": 16},
    "dropout 0.5": {"dropout": 0.5},
    "word_dropout 0.1": {"word_dropout": 0.1},
    "words seen 2+ times": {"min_count": 2},
    "words seen 3+ times": {"min_count": 3},
    "punctuation space": {"punctuation": "space"},
}


def read(path: Path) -> tuple[list[str], list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [row["text"] for row in rows], [row["label"] for row in rows]


def sample(data: tuple[list[str], list[str]], rows: int) -> tuple[list[str], list[str]]:
    chosen = random.Random(0).sample(range(len(data[0])), rows)
    return [data[0][i] for i in chosen], [data[1][i] for i in chosen]


def datasets() -> dict:
    return {
        "ag_news-small": (read(CACHE / "ag_news-small" / "train.csv"), read(CACHE / "ag_news-small" / "test.csv")),
        "ag_news-titles, 2,000 rows": (sample(read(CACHE / "ag_news-titles" / "train.csv"), ROWS),
                                       read(CACHE / "ag_news-titles" / "test.csv")),
        "goemotions-single, 2,000 rows": (sample(read(CACHE / "goemotions-single" / "train.csv"), ROWS),
                                          read(CACHE / "goemotions-single" / "test.csv")),
    }


def vocabulary_size(texts: list[str], min_count: int) -> int:
    """``max_tokens`` that keeps exactly the words seen ``min_count`` times or more (plus padding and unknown)."""
    from textrnn.text.vectorizer import TextVectorizer

    vectorizer = TextVectorizer(max_tokens=10**7).adapt(texts)
    counts = collections.Counter(token for ids in vectorizer.encode(texts) for token in ids)
    return sum(count >= min_count for count in counts.values()) + 2


def macro_f1(truth: list[str], predicted) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(truth, list(predicted), average="macro"))


def baseline_f1(train: tuple, test: tuple) -> float:
    from textrnn.evaluation.baseline import fit_baseline

    held = len(train[0]) // 10
    fitted = fit_baseline((train[0][held:], train[1][held:]), (train[0][:held], train[1][:held]),
                          sorted(set(train[1])))
    return macro_f1(test[1], fitted.model.predict(fitted.vectorizer.transform(test[0])))


def main() -> None:
    from textrnn import TextRNNClassifier

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--out", default="small_data", help="results name under bench/results")
    args = parser.parse_args()
    results = {"command": "python bench/small_data.py " + " ".join(sys.argv[1:]), "rows": ROWS, "runs": [],
               "baseline": {}}
    for name, (train, test) in datasets().items():
        results["baseline"][name] = baseline_f1(train, test)
        for variant in args.variants:
            settings = dict(VARIANTS[variant])
            if "min_count" in settings:
                settings["max_tokens"] = vocabulary_size(train[0], settings.pop("min_count"))
            for seed in args.seeds:
                started = time.perf_counter()
                clf = TextRNNClassifier(seed=seed, threads=2, **settings).fit(*train)
                mix = clf.fit_info_.get("bag_of_words") or {}
                run = {"dataset": name, "variant": variant, "seed": seed,
                       "macro_f1": macro_f1(test[1], clf.predict(test[0])), "bag_of_words_weight": mix.get("weight"),
                       "epochs_run": clf.fit_info_["epochs_run"], "seconds": time.perf_counter() - started}
                results["runs"].append(run)
                print(json.dumps(run), flush=True)
    write_results(Path(__file__).parent / "results", args.out, results, table(results))


def table(results: dict) -> list[str]:
    names = list(results["baseline"])
    lines = [f"Test macro-F1 on {results['rows']:,} training rows, mean over seeds "
             f"({', '.join(str(s) for s in sorted({r['seed'] for r in results['runs']}))}). "
             f"Command: `{results['command'].strip()}`.", "",
             "| variant | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    baseline = " | ".join(f"{100 * results['baseline'][n]:.1f}%" for n in names)
    lines.append(f"| bag-of-words baseline | {baseline} |")
    for variant in dict.fromkeys(r["variant"] for r in results["runs"]):
        cells = []
        for name in names:
            scores = [r["macro_f1"] for r in results["runs"] if r["dataset"] == name and r["variant"] == variant]
            cells.append(f"{100 * statistics.mean(scores):.1f}% ({100 * (min(scores)):.1f}-{100 * max(scores):.1f})")
        lines.append(f"| textrnn, {variant} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    main()
