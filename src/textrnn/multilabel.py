"""Multi-label decisions: label sets and indicator matrices, thresholds chosen on validation rows, and the
labels a row of probabilities gives.

A multi-label model gives each label its own probability (a sigmoid output); a text gets every label whose
probability reaches that label's threshold. The thresholds are chosen after training on the validation
rows, to maximise F1, and saved with the model, so PyTorch, the ONNX runtime and the server decide alike.
This module uses numpy only: the torch-free runtime imports it.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

THRESHOLD_RULES = ("per_label", "global")
DEFAULT_THRESHOLD = 0.5  # without validation rows to choose on
GLOBAL_GRID = np.round(np.arange(0.05, 0.96, 0.05), 2)
# A label with fewer validation positives than this takes the global threshold: a threshold fitted to two or
# three texts is noise, and rare labels are where it would matter most.
MIN_POSITIVES_FOR_OWN_THRESHOLD = 5
THRESHOLD_BOUNDS = (0.02, 0.98)


def indicator_matrix(label_sets: Iterable[Sequence[str]], classes: Sequence[str]) -> np.ndarray:
    """Rows of 0/1 (float32), one column per class in the order of ``classes``."""
    position = {name: i for i, name in enumerate(classes)}
    label_sets = list(label_sets)
    matrix = np.zeros((len(label_sets), len(classes)), dtype=np.float32)
    for row, labels in enumerate(label_sets):
        for label in labels:
            matrix[row, position[label]] = 1.0
    return matrix


def label_sets(chosen: np.ndarray, classes: Sequence[str]) -> list[tuple[str, ...]]:
    """The class names of each row's chosen columns, in the order of ``classes``."""
    return [tuple(classes[j] for j in np.flatnonzero(row)) for row in np.asarray(chosen, dtype=bool)]


def decide(probabilities: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Which labels each text gets: a boolean matrix, true where a probability reaches its label's threshold."""
    return np.asarray(probabilities) >= np.asarray(thresholds, dtype=np.float32)[None, :]


def given_labels(probabilities: np.ndarray, thresholds: np.ndarray | None) -> list[list[int]]:
    """The column of each label a text gets, most probable first: multi-label, every label that reaches its
    threshold (perhaps none); single-label (``thresholds`` None), the most probable class."""
    if thresholds is None:
        return [[int(row.argmax())] for row in probabilities]
    chosen = decide(probabilities, thresholds)
    return [[int(j) for j in np.argsort(-row, kind="stable") if mask[j]] for row, mask in zip(probabilities, chosen)]


def f1_scores(truth: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Each label's F1 (0 where the label has no positives and none is predicted, as in scikit-learn)."""
    truth, chosen = np.asarray(truth, dtype=bool), np.asarray(chosen, dtype=bool)
    true_positive = (truth & chosen).sum(axis=0).astype(float)
    denominator = (truth.sum(axis=0) + chosen.sum(axis=0)).astype(float)
    return np.divide(2 * true_positive, denominator, out=np.zeros_like(true_positive), where=denominator > 0)


def best_threshold(scores: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """The threshold that maximises one label's F1 on these rows, and that F1.

    Every cut of the rows sorted by score is tried at once (cumulative true positives); the threshold is
    placed half-way between the last score taken and the next, so it does not sit on a validation text.
    """
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_truth = scores[order], truth[order].astype(bool)
    positives = int(sorted_truth.sum())
    if positives == 0:
        return DEFAULT_THRESHOLD, 0.0
    true_positive = np.cumsum(sorted_truth)
    taken = np.arange(1, len(scores) + 1)
    f1 = 2 * true_positive / (taken + positives)
    # Only cuts between two different scores can be made by a threshold.
    cut_allowed = np.append(sorted_scores[1:] < sorted_scores[:-1], True)
    f1 = np.where(cut_allowed, f1, -1.0)
    k = int(np.argmax(f1))
    following = sorted_scores[k + 1] if k + 1 < len(scores) else 0.0
    threshold = float(np.clip((sorted_scores[k] + following) / 2, *THRESHOLD_BOUNDS))
    return threshold, float(f1[k])


def choose_thresholds(probabilities: np.ndarray, truth: np.ndarray, rule: str | float) -> tuple[np.ndarray, dict]:
    """One threshold per label by ``rule``, and a record of the choice.

    ``rule``: a number (that threshold for every label), ``global`` (the one threshold of a grid that
    maximises macro-F1 on these rows) or ``per_label`` (each label's own F1-maximising threshold; labels
    with fewer than :data:`MIN_POSITIVES_FOR_OWN_THRESHOLD` positives here take the global one).
    """
    labels = truth.shape[1]
    if not isinstance(rule, str):
        return np.full(labels, float(rule), dtype=np.float32), {"rule": "fixed", "global": float(rule)}
    if len(truth) == 0:
        return (np.full(labels, DEFAULT_THRESHOLD, dtype=np.float32),
                {"rule": rule, "global": DEFAULT_THRESHOLD, "note": "no validation rows: the default threshold"})
    macro = [f1_scores(truth, probabilities >= t).mean() for t in GLOBAL_GRID]
    global_threshold = float(GLOBAL_GRID[int(np.argmax(macro))])
    thresholds = np.full(labels, global_threshold, dtype=np.float32)
    record = {"rule": rule, "global": global_threshold, "validation_macro_f1_global": float(max(macro))}
    if rule == "per_label":
        positives = truth.sum(axis=0)
        own = 0
        for j in range(labels):
            if positives[j] >= MIN_POSITIVES_FOR_OWN_THRESHOLD:
                thresholds[j] = best_threshold(probabilities[:, j], truth[:, j])[0]
                own += 1
        record["labels_with_own_threshold"] = own
        record["validation_macro_f1_per_label"] = float(f1_scores(truth, decide(probabilities, thresholds)).mean())
    return thresholds, record


def validation_macro_f1(probabilities: np.ndarray, truth: np.ndarray, rule: str | float) -> float:
    """The macro-F1 the thresholds of ``rule`` reach on these rows (what model selection maximises)."""
    thresholds, _ = choose_thresholds(probabilities, truth, rule)
    return float(f1_scores(truth, decide(probabilities, thresholds)).mean())


def check_thresholds(values, classes: Sequence[str], source: str) -> np.ndarray:
    """Thresholds read from a file: one number in (0, 1) per class, or a ValueError naming ``source``."""
    if not (isinstance(values, list) and len(values) == len(classes)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1 for v in values)):
        raise ValueError(f"{source}: thresholds must be a list of {len(classes)} numbers between 0 and 1 "
                         "(one per label)")
    return np.asarray(values, dtype=np.float32)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Each label's probability from its logit (numerically safe for large logits)."""
    return (0.5 * (1.0 + np.tanh(0.5 * np.asarray(logits, dtype=np.float64)))).astype(np.float32)
