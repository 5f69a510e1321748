"""Labels as users give them, and the targets the network trains on, for both tasks.

* Single-label: one label per text (a name or an integer); the target is the class index.
* Multi-label: a set of labels per text, given as a list of label lists (``[["joy"], [], ["anger", "fear"]]``,
  ``MultiLabelBinarizer``'s input) or a 0/1 indicator matrix (its output); the target is a row of 0/1.

``predict`` gives labels back in the form ``fit`` got them (:func:`predicted_labels`).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import DataError
from ..multilabel import decide, indicator_matrix, label_sets

LABEL_KINDS = ("str", "int", "indicator")


def label_kind(labels) -> str:
    """``int`` when every label is an integer (then predict gives integers back), else ``str``; for label sets,
    ``indicator`` when they came as a matrix, else whether their members are all integers."""
    if _is_matrix(labels):
        return "indicator"
    labels = list(labels) if not isinstance(labels, np.ndarray) else labels.tolist()
    members = [m for label in labels for m in (label if _is_collection(label) else [label])]
    ints = all(isinstance(m, (int, np.integer)) and not isinstance(m, bool) for m in members)
    return "int" if members and ints else "str"


def single_labels(labels, name: str) -> list[str]:
    """Single-label labels as class names; a row holding several labels is refused with the way out."""
    if _is_matrix(labels):
        raise DataError(f"{name}: a matrix of labels (multi-label indicators); pass multi_label=True")
    labels = list(labels)
    for row, label in enumerate(labels, start=1):
        if _is_collection(label):
            raise DataError(f"{name}, row {row}: a list of labels ({_short(label)}); one label per text here, "
                            "or pass multi_label=True (--multi-label) for several")
    return [str(label) for label in labels]


def multi_label_sets(labels, classes: Sequence[str] | None, name: str) -> tuple[list[tuple[str, ...]], list[str]]:
    """Label sets (tuples of class names) and the class order: ``classes``, or the indicator matrix's column
    numbers, or the sorted names found."""
    if _is_matrix(labels):
        matrix = labels.toarray() if hasattr(labels, "toarray") else np.asarray(labels)
        if not np.isin(matrix, (0, 1)).all():
            raise DataError(f"{name}: an indicator matrix holds only 0 and 1")
        if classes is None:
            classes = [str(j) for j in range(matrix.shape[1])]
        elif len(classes) != matrix.shape[1]:
            raise DataError(f"{name}: {matrix.shape[1]} columns but {len(classes)} classes")
        return label_sets(matrix, list(map(str, classes))), list(map(str, classes))
    sets = []
    for row, label in enumerate(labels, start=1):
        if not _is_collection(label):
            raise DataError(f"{name}, row {row}: expected a list of labels (multi_label), got "
                            f"{type(label).__name__} {_short(label)}; a text with no label is []")
        sets.append(tuple(dict.fromkeys(str(member) for member in label)))
    if classes is None:
        classes = sorted({member for labels_ in sets for member in labels_}, key=_natural)
    return sets, list(map(str, classes))


def _natural(name: str):
    """Label ids in number order (2 before 10); names alphabetically after them."""
    return (0, int(name), "") if name.lstrip("-").isdigit() else (1, 0, name)


def targets(labels: Sequence, classes: Sequence[str], multi_label: bool) -> np.ndarray:
    """Class indices (int64) for single labels; a 0/1 indicator matrix (float32) for label sets."""
    if multi_label:
        return indicator_matrix(labels, classes)
    position = {name: i for i, name in enumerate(classes)}
    return np.array([position[label] for label in labels], dtype=np.int64)


def predicted_labels(probabilities: np.ndarray, classes: Sequence[str], kind: str,
                     thresholds: np.ndarray | None = None) -> Any:
    """What ``predict`` returns: single-label, each text's most probable class (an integer if the labels were);
    multi-label (``thresholds`` given), each text's label set as a tuple, or the 0/1 indicator matrix if
    ``fit`` got one."""
    if thresholds is None:
        best = probabilities.argmax(axis=1)
        if kind == "int":
            return np.asarray([int(name) for name in classes])[best]
        return np.asarray(classes, dtype=object)[best]
    chosen = decide(probabilities, thresholds)
    if kind == "indicator":
        return chosen.astype(np.int64)
    convert = int if kind == "int" else str
    out = np.empty(len(chosen), dtype=object)
    out[:] = [tuple(convert(name) for name in names) for names in label_sets(chosen, classes)]
    return out


def _is_matrix(labels) -> bool:
    return (isinstance(labels, np.ndarray) and labels.ndim == 2) or hasattr(labels, "toarray")


def _is_collection(label) -> bool:
    return isinstance(label, (list, tuple, set, frozenset, np.ndarray))


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
