"""Classification metrics as plain JSON-ready dicts, from a confusion matrix."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str]) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    ``y_true`` and ``y_pred`` are class indices into ``classes``; in the confusion matrix, rows are the
    true classes and columns the predicted ones, both in the order of ``classes``.
    """
    return metrics_from_confusion(confusion_matrix(y_true, y_pred, len(classes)), classes)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, size: int) -> np.ndarray:
    """Counts of (true class, predicted class) pairs, class indices below ``size``."""
    cells = np.asarray(y_true, dtype=np.int64) * size + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(cells, minlength=size * size).reshape(size, size)


def f1_per_class(matrix: np.ndarray) -> np.ndarray:
    """F1 of each class of a confusion matrix (rows: true, columns: predicted): 2 TP / (true + predicted); a
    class with no rows and no predictions scores 0, as in scikit-learn."""
    true_positive = np.diag(matrix).astype(float)
    denominator = (matrix.sum(axis=0) + matrix.sum(axis=1)).astype(float)
    return np.divide(2 * true_positive, denominator, out=np.zeros_like(true_positive), where=denominator > 0)


def metrics_from_confusion(matrix: np.ndarray, classes: Sequence[str]) -> dict:
    """The same figures from a confusion matrix alone (streamed evaluation adds matrices chunk by chunk)."""
    matrix = np.asarray(matrix, dtype=np.int64)
    true_positive = np.diag(matrix).astype(float)
    support, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0)
    recall = np.divide(true_positive, support, out=np.zeros_like(true_positive), where=support > 0)
    f1 = f1_per_class(matrix)
    rows = int(matrix.sum())
    return {
        "rows": rows,
        "accuracy": float(true_positive.sum() / rows) if rows else 0.0,
        "macro_f1": float(np.mean(f1)),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(classes, precision, recall, f1, support)
        },
        "labels": list(classes),
        "confusion_matrix": matrix.tolist(),
    }


def format_metrics(metrics: dict) -> str:
    """A plain-text report: headline figures, a per-class table and the confusion matrix."""
    if metrics.get("multi_label"):
        from .multilabel import format_multilabel_metrics

        return format_multilabel_metrics(metrics)
    labels = metrics["labels"]
    width = max(10, *(len(label) for label in labels))
    lines = [
        f"accuracy {metrics['accuracy']:.4f}   macro-F1 {metrics['macro_f1']:.4f}   ({metrics['rows']:,} rows)",
        "",
        f"{'class':<{width}}  precision  recall     f1  support",
    ]
    for label in labels:
        row = metrics["per_class"][label]
        lines.append(
            f"{label:<{width}}  {row['precision']:9.4f}  {row['recall']:6.4f}  {row['f1']:.4f}  {row['support']:7,}"
        )
    lines += ["", "confusion matrix (rows: true, columns: predicted)"]
    lines.append(" " * width + "  " + " ".join(f"{label[:8]:>8}" for label in labels))
    for label, row in zip(labels, metrics["confusion_matrix"]):
        lines.append(f"{label:<{width}}  " + " ".join(f"{count:8,}" for count in row))
    return "\n".join(lines)
