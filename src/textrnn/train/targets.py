"""Labels as users give them, and the targets the network trains on, for both tasks.

* Single-label: one label per text (a name or an integer); the target is the class index.
* Multi-label: a set of labels per text, given as a list of label lists (``[["joy"], [], ["anger", "fear"]]``,
  ``MultiLabelBinarizer``'s input) or a 0/1 indicator matrix (its output); the target is a row of 0/1.

``predict`` gives labels back in the form ``fit`` got them (:func:`predicted_labels`).
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from ..errors import DataError
from ..multilabel import decide, indicator_matrix, label_sets

# What the labels given to fit were, so that classes_ and predict give them back in their own type: inside,
# every class is a name (a string: labels.json, metrics, reports), and these kinds say how to turn it back.
LABEL_KINDS = ("str", "int", "float", "bool", "indicator")


def given_labels(labels, multi_label: bool):
    """The labels ``fit`` got, checked for what scikit-learn's classifiers refuse or convert: none at all,
    numbers that are not classes (continuous), a column vector (one label per row, flattened with scikit-learn's
    warning); array-likes that are no sequence become arrays."""
    from sklearn.exceptions import DataConversionWarning
    from sklearn.utils.multiclass import type_of_target

    if labels is None:
        raise DataError("fit requires y to be passed, but the target y is None: give one label per text")
    if not isinstance(labels, (list, tuple, np.ndarray)) and hasattr(labels, "__array__"):
        labels = np.asarray(labels)
    if isinstance(labels, np.ndarray) and labels.ndim == 2 and labels.shape[1] == 1 and not multi_label:
        warnings.warn("A column-vector y was passed when a 1d array was expected: one label per row is read",
                      DataConversionWarning, stacklevel=3)
        labels = labels.ravel()
    if not multi_label and label_kind(labels) == "float":
        try:
            kind = type_of_target(labels)
        except ValueError:
            kind = "unknown"
        if kind.startswith("continuous"):
            values = np.unique(np.asarray(labels, dtype=float))
            raise DataError(f"labels: Unknown label type: continuous ({len(values):,} distinct numbers, such as "
                            f"{values[0]:g}, that are not whole): a classifier needs classes, not measurements")
    return labels


def label_kind(labels) -> str:
    """``bool``, ``int`` or ``float`` when every label is one of those (``float``: numbers, not all integers),
    else ``str``; for label sets, ``indicator`` when they came as a matrix, else the kind of their members."""
    if _is_matrix(labels):
        return "indicator"
    labels = list(labels) if not isinstance(labels, np.ndarray) else labels.tolist()
    members = [m for label in labels for m in (label if _is_collection(label) else [label])]
    if not members:
        return "str"
    if all(isinstance(m, (bool, np.bool_)) for m in members):
        return "bool"
    if any(isinstance(m, (bool, np.bool_)) for m in members):
        return "str"
    if all(isinstance(m, (int, np.integer)) for m in members):
        return "int"
    if all(isinstance(m, (int, float, np.integer, np.floating)) for m in members):
        return "float"
    return "str"


def label_name(label, kind: str) -> str:
    """The class name of one label: the same name for equal labels of one kind (1 and 1.0 among floats)."""
    if kind == "float":
        return repr(float(label))
    if kind in ("int", "indicator"):
        return str(int(label))
    return str(label)


def named_keys(mapping, kind: str):
    """A mapping keyed by labels (``{10: 5.0}``, as scikit-learn's ``class_weight``) keyed by class names; anything
    else as it is."""
    if not isinstance(mapping, dict):
        return mapping
    return {key if isinstance(key, str) else label_name(key, kind): value for key, value in mapping.items()}


def class_values(names: Sequence[str], kind: str) -> np.ndarray:
    """``classes_``: the class names turned back into the labels' own type (what ``np.unique(y)`` gives)."""
    if kind in ("int", "indicator") and all(name.lstrip("-").isdigit() for name in names):
        return np.array([int(name) for name in names], dtype=np.int64)
    if kind == "float":
        return np.array([float(name) for name in names], dtype=np.float64)
    if kind == "bool":
        return np.array([name == "True" for name in names], dtype=bool)
    return np.array(names, dtype=object)


def sorted_classes(names, kind: str) -> list[str]:
    """The distinct names in the order of ``np.unique`` on the labels: by value for numbers, else by name."""
    names = set(names)
    if kind in ("str", "indicator"):
        return sorted(names)
    return sorted(names, key=lambda name: class_values([name], kind)[0])


def single_labels(labels, name: str, kind: str = "str") -> list[str]:
    """Single-label labels as class names; a row holding several labels is refused with the way out."""
    if _is_matrix(labels):
        raise DataError(f"{name}: a matrix of labels (multi-label indicators); pass multi_label=True")
    labels = list(labels)
    for row, label in enumerate(labels, start=1):
        if _is_collection(label):
            raise DataError(f"{name}, row {row}: a list of labels ({_short(label)}); one label per text here, "
                            "or pass multi_label=True (--multi-label) for several")
    if kind != "str" and label_kind(labels) not in (kind, "int" if kind == "float" else kind):
        kind = "str"  # labels of another type than fit's (strings read from a file): compared as names
    return [label_name(label, kind) for label in labels]


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


def predicted_labels(probabilities: np.ndarray, classes: np.ndarray, kind: str,
                     thresholds: np.ndarray | None = None) -> Any:
    """What ``predict`` returns, from ``classes`` (``classes_``, the labels in their own type): single-label,
    each text's most probable class; multi-label (``thresholds`` given), each text's label set as a tuple, or
    the 0/1 indicator matrix if ``fit`` got one."""
    if thresholds is None:
        return classes[probabilities.argmax(axis=1)]
    chosen = decide(probabilities, thresholds)
    if kind == "indicator":
        return chosen.astype(np.int64)
    out = np.empty(len(chosen), dtype=object)
    out[:] = [tuple(classes[row].tolist()) for row in chosen.astype(bool)]
    return out


def _is_matrix(labels) -> bool:
    return (isinstance(labels, np.ndarray) and labels.ndim == 2) or hasattr(labels, "toarray")


def _is_collection(label) -> bool:
    return isinstance(label, (list, tuple, set, frozenset, np.ndarray))


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
