"""Classification metrics as plain JSON-ready dicts, from a confusion matrix."""

from __future__ import annotations

from typing import Sequence

import numpy as np

MAX_MATRIX_CLASSES = 100  # above, no dense confusion matrix: 10,000 classes would be 10^8 cells in metrics.json
TOP_CONFUSIONS = 50
PRINTED_MATRIX_CLASSES = 20  # the summary's matrix is wider than a terminal beyond this


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str]) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    ``y_true`` and ``y_pred`` are class indices into ``classes``; in the confusion matrix, rows are the
    true classes and columns the predicted ones, both in the order of ``classes``. With more than
    ``MAX_MATRIX_CLASSES`` classes the matrix is replaced by the most frequent confusions (``top_confusions``),
    so that the cost follows the number of rows, not the square of the number of classes.
    """
    return metrics_from_pairs(*confusion_pairs(y_true, y_pred, len(classes)), classes)


def confusion_pairs(y_true: np.ndarray, y_pred: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The (true, predicted) pairs that occur, as cells ``true * size + predicted``, and their counts."""
    cells = np.asarray(y_true, dtype=np.int64) * size + np.asarray(y_pred, dtype=np.int64)
    return np.unique(cells, return_counts=True)


def add_pairs(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Two sets of pair counts added (streamed evaluation adds them chunk by chunk)."""
    cells, inverse = np.unique(np.concatenate([a[0], b[0]]), return_inverse=True)
    return cells, np.bincount(inverse, weights=np.concatenate([a[1], b[1]])).astype(np.int64)


def class_counts(cells: np.ndarray, counts: np.ndarray, size: int) -> np.ndarray:
    """Per class, from pair counts (:func:`confusion_pairs`): right predictions, true rows and predicted rows, as
    one (3, size) array (validation sums these over the ranks)."""
    true, predicted = cells // size, cells % size
    right = true == predicted
    return np.stack([np.bincount(true[right], weights=counts[right], minlength=size),
                     np.bincount(true, weights=counts, minlength=size),
                     np.bincount(predicted, weights=counts, minlength=size)]).astype(np.int64)


def f1_from_counts(counts: np.ndarray) -> np.ndarray:
    """F1 of each class from :func:`class_counts`: 2 TP / (true + predicted); a class with no rows and no
    predictions scores 0, as in scikit-learn."""
    true_positive, denominator = counts[0].astype(float), (counts[1] + counts[2]).astype(float)
    return np.divide(2 * true_positive, denominator, out=np.zeros_like(true_positive), where=denominator > 0)


def metrics_from_pairs(cells: np.ndarray, counts: np.ndarray, classes: Sequence[str]) -> dict:
    """The figures from pair counts (:func:`confusion_pairs`)."""
    size = len(classes)
    true, predicted_class = cells // size, cells % size
    right = true == predicted_class
    per_class = class_counts(cells, counts, size)
    true_positive, support, predicted = per_class[0].astype(float), per_class[1], per_class[2]
    precision = np.divide(true_positive, predicted, out=np.zeros_like(true_positive), where=predicted > 0)
    recall = np.divide(true_positive, support, out=np.zeros_like(true_positive), where=support > 0)
    f1 = f1_from_counts(per_class)
    rows = int(counts.sum())
    metrics = {
        "rows": rows,
        "accuracy": float(true_positive.sum() / rows) if rows else 0.0,
        "macro_f1": float(np.mean(f1)) if size else 0.0,
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(classes, precision, recall, f1, support)
        },
        "labels": list(classes),
    }
    if size <= MAX_MATRIX_CLASSES:
        matrix = np.zeros((size, size), dtype=np.int64)
        matrix[true, predicted_class] = counts
        metrics["confusion_matrix"] = matrix.tolist()
    else:
        wrong = np.flatnonzero(~right)
        top = wrong[np.argsort(-counts[wrong], kind="stable")[:TOP_CONFUSIONS]]
        metrics["top_confusions"] = [{"true": classes[true[i]], "predicted": classes[predicted_class[i]],
                                      "count": int(counts[i])} for i in top]
    return metrics


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
    if "confusion_matrix" in metrics and len(labels) <= PRINTED_MATRIX_CLASSES:
        lines += ["", "confusion matrix (rows: true, columns: predicted)"]
        lines.append(" " * width + "  " + " ".join(f"{label[:8]:>8}" for label in labels))
        for label, row in zip(labels, metrics["confusion_matrix"]):
            lines.append(f"{label:<{width}}  " + " ".join(f"{count:8,}" for count in row))
    else:
        lines += ["", "most frequent confusions (true -> predicted: rows)"]
        lines += [f"{c['true']} -> {c['predicted']}: {c['count']:,}" for c in top_confusions(metrics)[:20]]
    return "\n".join(lines)


def top_confusions(metrics: dict) -> list[dict]:
    """The most frequent mistakes, ``{true, predicted, count}``, from the matrix or the stored list."""
    if "top_confusions" in metrics:
        return metrics["top_confusions"]
    labels, matrix = metrics["labels"], np.asarray(metrics["confusion_matrix"])
    np.fill_diagonal(matrix, 0)
    order = np.argsort(-matrix, axis=None, kind="stable")[:TOP_CONFUSIONS]
    return [{"true": labels[i // len(labels)], "predicted": labels[i % len(labels)], "count": int(matrix.flat[i])}
            for i in order if matrix.flat[i] > 0]
