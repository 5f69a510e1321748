"""Multi-label metrics as plain JSON-ready dicts: micro and macro precision/recall/F1, per-label figures
with support, subset accuracy, Hamming loss, and the macro-F1 at a fixed 0.3 threshold (the threshold of
published GoEmotions figures). Each agrees with scikit-learn's function of the same name (tested)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..multilabel import f1_scores

PUBLISHED_THRESHOLD = 0.3


def multilabel_metrics(truth: np.ndarray, chosen: np.ndarray, classes: Sequence[str],
                       probabilities: np.ndarray | None = None) -> dict:
    """The figures for true and predicted indicator matrices (rows: texts, columns: ``classes``)."""
    truth, chosen = np.asarray(truth, dtype=bool), np.asarray(chosen, dtype=bool)
    true_positive = (truth & chosen).sum(axis=0).astype(float)
    predicted, support = chosen.sum(axis=0).astype(float), truth.sum(axis=0)
    precision = _ratio(true_positive, predicted)
    recall = _ratio(true_positive, support.astype(float))
    f1 = f1_scores(truth, chosen)
    micro_precision = _ratio(true_positive.sum(), predicted.sum())
    micro_recall = _ratio(true_positive.sum(), float(support.sum()))
    micro_f1 = _ratio(2 * true_positive.sum(), predicted.sum() + support.sum())
    rows = len(truth)
    subset_accuracy = float((truth == chosen).all(axis=1).mean()) if rows else 0.0
    metrics = {
        "multi_label": True,
        "rows": rows,
        "accuracy": subset_accuracy,  # scikit-learn's accuracy_score on indicator matrices is this
        "subset_accuracy": subset_accuracy,
        "hamming_loss": float((truth != chosen).mean()) if rows else 0.0,
        "micro_precision": float(micro_precision), "micro_recall": float(micro_recall), "micro_f1": float(micro_f1),
        "macro_precision": float(precision.mean()), "macro_recall": float(recall.mean()), "macro_f1": float(f1.mean()),
        "rows_without_labels": int((~truth.any(axis=1)).sum()),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(classes, precision, recall, f1, support)
        },
        "labels": list(classes),
    }
    if probabilities is not None:
        metrics[f"macro_f1_at_{PUBLISHED_THRESHOLD}"] = float(
            f1_scores(truth, np.asarray(probabilities) >= PUBLISHED_THRESHOLD).mean())
    return metrics


def _ratio(numerator, denominator):
    return np.divide(numerator, denominator, out=np.zeros_like(np.asarray(numerator, dtype=float)),
                     where=np.asarray(denominator) > 0)


def co_occurrence(truth: np.ndarray, classes: Sequence[str], top: int = 15) -> list[dict]:
    """The label pairs that occur together most often, with how often."""
    truth = np.asarray(truth, dtype=np.int64)
    counts = truth.T @ truth
    pairs = [(int(counts[i, j]), classes[i], classes[j])
             for i in range(len(classes)) for j in range(i + 1, len(classes)) if counts[i, j]]
    pairs.sort(key=lambda pair: (-pair[0], pair[1], pair[2]))
    return [{"labels": [a, b], "texts": n} for n, a, b in pairs[:top]]


def format_multilabel_metrics(metrics: dict) -> str:
    """A plain-text report: headline figures, then a per-label table, most frequent labels first."""
    labels = sorted(metrics["labels"], key=lambda name: -metrics["per_class"][name]["support"])
    width = max(10, *(len(label) for label in labels))
    at_published = metrics.get(f"macro_f1_at_{PUBLISHED_THRESHOLD}")
    lines = [
        f"macro-F1 {metrics['macro_f1']:.4f}   micro-F1 {metrics['micro_f1']:.4f}   "
        f"subset accuracy {metrics['subset_accuracy']:.4f}   Hamming loss {metrics['hamming_loss']:.4f}   "
        f"({metrics['rows']:,} rows, {metrics['rows_without_labels']:,} without labels)",
    ]
    if at_published is not None:
        lines.append(f"macro-F1 at threshold {PUBLISHED_THRESHOLD} (as published figures): {at_published:.4f}")
    lines += ["", f"{'label':<{width}}  precision  recall     f1  support"]
    for label in labels:
        row = metrics["per_class"][label]
        lines.append(
            f"{label:<{width}}  {row['precision']:9.4f}  {row['recall']:6.4f}  {row['f1']:.4f}  {row['support']:7,}"
        )
    return "\n".join(lines)
