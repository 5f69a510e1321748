"""Training rows whose label is probably wrong: the rows to look at first when cleaning a labelled file.

Every row gets a probability for each class from a model that never saw it: the bag-of-words baseline's model
(TF-IDF of word 1-2-grams, logistic regression), fitted k times on the other folds (out-of-fold probabilities,
scikit-learn's ``cross_val_predict``). Rows are then flagged by confident learning (Northcutt, Jiang and Chuang,
2021, "Confident learning: estimating uncertainty in dataset labels"), pruning by noise rate as cleanlab does by
default (see :func:`_flag`). Flagged rows are ranked by the normalised margin (the given
label's probability minus the likeliest other's: the most negative first). Texts that appear more than once with
different labels are flagged too, whatever the model says.

    issues = find_label_issues(texts, labels)
    issues.rows[:10]          # [{"row": 812, "text": ..., "label": ..., "suggested": ..., "score": ..., ...}]
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..errors import DataError, listed
from .baseline import C_WITHOUT_VALIDATION, logistic_regression, tfidf_vectorizer

METHODS = ("confident_learning", "self_confidence")


@dataclass
class LabelIssues:
    """What :func:`find_label_issues` found: the flagged rows, most suspect first, and how they were found."""

    rows: list[dict]
    classes: list[str]
    probabilities: np.ndarray  # out-of-fold, one row per input row, columns in the order of ``classes``
    method: str
    folds: int
    seconds: float
    duplicates: int = 0  # rows flagged because the same text carries another label elsewhere
    counts: dict = field(default_factory=dict)


def find_label_issues(texts: Sequence[str], labels: Sequence[str], *, folds: int = 5, seed: int = 0,
                      method: str = "confident_learning", progress: Callable[[str], None] | None = None
                      ) -> LabelIssues:
    """Rows whose label looks wrong (see the module's docstring). ``method``: confident_learning, or
    self_confidence (every row whose label is not the likeliest class, ranked the same way)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline

    started = time.perf_counter()
    if method not in METHODS:
        raise DataError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    texts, labels = list(texts), [str(label) for label in labels]
    if len(texts) != len(labels):
        raise DataError(f"{len(texts):,} texts but {len(labels):,} labels")
    classes = sorted(set(labels))
    counts = {name: labels.count(name) for name in classes}
    smallest = min(counts.values()) if counts else 0
    if len(classes) < 2 or smallest < 2:
        raise DataError(f"finding mislabelled rows needs two or more classes with two or more rows each; "
                        f"{listed([c for c in classes if counts[c] < 2]) or 'one class'} has fewer")
    folds = min(folds, smallest)
    if progress:
        progress(f"label issues: out-of-fold probabilities from {folds} fits of the bag-of-words model on "
                 f"{len(texts):,} rows")
    model = make_pipeline(tfidf_vectorizer(len(texts)), logistic_regression(C_WITHOUT_VALIDATION, seed))
    splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    probabilities = cross_val_predict(model, texts, labels, cv=splits, method="predict_proba")
    given = np.array([classes.index(label) for label in labels])
    flagged, suggested = _flag(probabilities, given, method)
    others = probabilities.copy()
    others[np.arange(len(given)), given] = -np.inf
    margin = probabilities[np.arange(len(given)), given] - others.max(axis=1)
    conflicting = _conflicting_duplicates(texts, labels)
    rows = [{"row": int(i) + 1, "text": texts[i], "label": labels[i], "suggested": classes[suggested[i]],
             "score": round(float(margin[i]), 6), "probability_of_label": round(float(probabilities[i, given[i]]), 6),
             "reason": "the model, trained without this row, prefers another class"}
            for i in np.flatnonzero(flagged)]
    for i, others_labels in conflicting.items():
        reason = f"the same text has the label(s) {listed(sorted(others_labels))} elsewhere"
        if flagged[i]:
            next(row for row in rows if row["row"] == i + 1)["reason"] += "; " + reason
        else:
            rows.append({"row": i + 1, "text": texts[i], "label": labels[i], "suggested": classes[suggested[i]],
                         "score": round(float(margin[i]), 6),
                         "probability_of_label": round(float(probabilities[i, given[i]]), 6), "reason": reason})
    rows.sort(key=lambda row: row["score"])
    return LabelIssues(rows, classes, probabilities, method, folds, time.perf_counter() - started,
                       duplicates=len(conflicting), counts=counts)


def _flag(probabilities: np.ndarray, given: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Which rows are flagged, and the class each is suggested to have.

    Confident learning, pruning by noise rate (cleanlab's default): each class's threshold is the mean
    probability of that class over the rows that carry it; a row counts as "labelled i, truly j" when j is the
    likeliest class that reaches its threshold (the confident joint); the counts are calibrated to the rows per
    label; then for each i, j the rows labelled i most in favour of j (largest p_j - p_i) are flagged, as many
    as the calibrated count estimates."""
    rows, classes = probabilities.shape
    if method == "self_confidence":
        suggested = probabilities.argmax(axis=1)
        return suggested != given, suggested
    thresholds = np.array([probabilities[given == j, j].mean() for j in range(classes)])
    confident = probabilities >= thresholds[None, :]
    likeliest_confident = np.where(confident, probabilities, -np.inf).argmax(axis=1)
    joint = np.zeros((classes, classes))
    np.add.at(joint, (given[confident.any(axis=1)], likeliest_confident[confident.any(axis=1)]), 1)
    per_label = np.bincount(given, minlength=classes)
    calibrated = joint / np.maximum(joint.sum(axis=1, keepdims=True), 1) * per_label[:, None]
    flagged = np.zeros(rows, dtype=bool)
    suggested = probabilities.argmax(axis=1)
    best_gap = np.full(rows, -np.inf)
    for i in range(classes):
        members = np.flatnonzero(given == i)
        for j in range(classes):
            count = int(round(calibrated[i, j])) if j != i else 0
            if count == 0 or not len(members):
                continue
            gaps = probabilities[members, j] - probabilities[members, i]
            chosen = members[np.argsort(-gaps, kind="stable")[:count]]
            flagged[chosen] = True
            better = probabilities[chosen, j] - probabilities[chosen, i] > best_gap[chosen]
            suggested[chosen[better]], best_gap[chosen[better]] = j, (probabilities[chosen, j]
                                                                       - probabilities[chosen, i])[better]
    return flagged, suggested


def _conflicting_duplicates(texts: list[str], labels: list[str]) -> dict[int, set[str]]:
    """Rows whose text (lower-cased, punctuation and spacing ignored) appears elsewhere with another label:
    row index -> the other labels."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, text in enumerate(texts):
        groups[" ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())].append(i)
    conflicting: dict[int, set[str]] = {}
    for members in groups.values():
        names = {labels[i] for i in members}
        if len(names) > 1:
            for i in members:
                conflicting[i] = names - {labels[i]}
    return conflicting
