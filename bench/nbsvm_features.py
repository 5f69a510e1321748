"""Which features NBSVM-bigram needs on the small sets: punctuation as tokens or not, n-grams seen once or not,
binary presence or counts divided by their L2 norm (what the model's in-graph path computes) or raw counts.

For each of MR, CR, SUBJ and MPQA and each of the ten folds, NBSVM (C 1, interpolation 0.25, textrnn's
implementation) is fitted on the other nine folds' word 1-2-grams as scikit-learn's CountVectorizer reads them,
and scored on the fold. "words only" is what the model's path sees (its vectorizer turns punctuation into
spaces); "punctuation tokens" is the run's baseline (each punctuation mark a token).

    python bench/nbsvm_features.py      (results: bench/results/nbsvm_features.{json,md}; about a minute)
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from measure import write_results  # noqa: E402
from sentences import DATASETS, read  # noqa: E402

WORDS, PUNCTUATION = r"(?u)\b\w+\b", r"(?u)\b\w+\b|[^\w\s]"
VARIANTS = {  # name: (token pattern, min_df, features)
    "punctuation tokens, binary, seen twice+ (the baseline before)": (PUNCTUATION, 2, "binary"),
    "punctuation tokens, binary (the baseline)": (PUNCTUATION, 1, "binary"),
    "punctuation tokens, L2-normalised counts": (PUNCTUATION, 1, "l2"),
    "words only, binary": (WORDS, 1, "binary"),
    "words only, L2-normalised counts (the path)": (WORDS, 1, "l2"),
    "words only, raw counts": (WORDS, 1, "counts"),
}


def accuracy(train: list[dict], test: list[dict], pattern: str, min_df: int, features: str) -> float:
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.preprocessing import normalize

    from textrnn.evaluation.nbsvm import NBSVM

    vectorizer = CountVectorizer(ngram_range=(1, 2), token_pattern=pattern, min_df=min_df,
                                 binary=features == "binary")
    fit, held = vectorizer.fit_transform([r["text"] for r in train]), vectorizer.transform([r["text"] for r in test])
    if features == "l2":
        fit, held = normalize(fit.astype(float)), normalize(held.astype(float))
    model = NBSVM(binary=features == "binary").fit(fit, np.array([r["label"] for r in train]))
    return float((model.predict(held) == np.array([r["label"] for r in test])).mean())


def main() -> None:
    results = {"machine": f"{platform.platform()}, {len(os.sched_getaffinity(0))} CPUs", "accuracy": {}}
    for name in DATASETS:
        rows = read(name)
        for variant, settings in VARIANTS.items():
            scores = [accuracy([r for r in rows if int(r["fold"]) != fold], [r for r in rows if int(r["fold"]) == fold],
                      *settings) for fold in range(10)]
            results["accuracy"].setdefault(variant, {})[name] = round(100 * float(np.mean(scores)), 2)
    lines = ["| NBSVM-bigram features | " + " | ".join(name.upper() for name in DATASETS) + " |",
             "|---|" + "---|" * len(DATASETS)]
    lines += [f"| {variant} | " + " | ".join(f"{by_set[name]:.2f}" for name in DATASETS) + " |"
              for variant, by_set in results["accuracy"].items()]
    lines += ["", f"Test accuracy (%), mean of the ten folds. Machine: {results['machine']}. "
              "Command: `python bench/nbsvm_features.py`"]
    write_results(ROOT / "results", "nbsvm_features", results, lines)


if __name__ == "__main__":
    main()
