"""Imbalanced classes: the loss weight of each class, and what model selection should maximise."""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

from ..errors import ConfigError, quoted

IMBALANCE_RATIO = 3.0  # largest class / smallest class from which accuracy stops being a fair judge
FEW_VALIDATION_ROWS = 5


def class_weights(setting, labels: Sequence[str], classes: Sequence[str]) -> np.ndarray | None:
    """One loss weight per class (in the order of ``classes``), or None for all 1.

    ``balanced`` is scikit-learn's: rows / (classes x rows of the class). A mapping gives some classes a
    weight (the others 1); a name that is not a class is refused.
    """
    if setting in (None, "none"):
        return None
    if setting == "balanced":
        counts = Counter(labels)
        return np.array([len(labels) / (len(classes) * counts[name]) for name in classes], dtype=np.float32)
    if isinstance(setting, dict):
        unknown = sorted(set(map(str, setting)) - set(classes))
        if unknown:
            raise ConfigError(f"class_weight: {', '.join(map(repr, unknown))} not among the classes "
                              f"({', '.join(classes)})")
        weights = {str(name): float(value) for name, value in setting.items()}
        if any(value <= 0 for value in weights.values()):
            raise ConfigError("class_weight: every weight must be above 0")
        return np.array([weights.get(name, 1.0) for name in classes], dtype=np.float32)
    raise ConfigError(f"class_weight: expected none, balanced or a mapping of class to weight, got {quoted(setting)}")


def label_weights(setting, indicator: np.ndarray, classes: Sequence[str]) -> np.ndarray | None:
    """Multi-label loss weights: row 0 weighs each label's negatives, row 1 its positives (None: all 1).

    ``balanced`` is scikit-learn's for each label's own yes/no problem: rows / (2 x rows of that answer), so
    a rare label's few positives count as much as its many negatives. A mapping weighs a label's positives.
    """
    if setting in (None, "none"):
        return None
    rows, positives = len(indicator), indicator.sum(axis=0)
    if setting == "balanced":
        positive = rows / (2 * np.maximum(positives, 1))
        negative = rows / (2 * np.maximum(rows - positives, 1))
        return np.stack([negative, positive]).astype(np.float32)
    return np.stack([np.ones(len(classes), dtype=np.float32), class_weights(setting, [], classes)])


def resolve_monitor(setting: str, labels: Sequence[str] | None) -> tuple[str, str]:
    """The validation figure to maximise, and why: ``auto`` picks macro-F1 for imbalanced classes."""
    if setting != "auto":
        return setting, "chosen by the user"
    if labels is None:
        return "accuracy", "the class balance of streamed data is not known before training"
    counts = Counter(labels).values()
    ratio = max(counts) / min(counts)
    if ratio >= IMBALANCE_RATIO:
        return "macro_f1", f"the largest class has {ratio:.1f} times the rows of the smallest"
    return "accuracy", f"the classes are balanced (largest / smallest {ratio:.1f})"


def thin_validation_classes(labels: Sequence[str], classes: Sequence[str]) -> list[str]:
    """Classes with too few validation rows for their figures to mean much."""
    counts = Counter(labels)
    return [f"{name} ({counts.get(name, 0)})" for name in classes if counts.get(name, 0) < FEW_VALIDATION_ROWS]
