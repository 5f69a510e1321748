"""A dataset in memory, a bad row, and the stratified validation split.

A dataset is a list of texts, a list of labels (class names, as strings) and a one-line description
of where it came from, so that every run can say which rows it used. Every problem with the data is a
:class:`~textrnn.errors.DataError` that names the file, the row and the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..errors import DataError, RowError, listed, quoted

ON_BAD_ROWS = ("error", "skip")



@dataclass
class Dataset:
    texts: list[str]
    labels: list[str] | list[tuple[str, ...]] | None  # multi-label: a tuple of labels per text (maybe empty)
    source: str
    skipped: list[RowError] = field(default_factory=list)  # rows left out under on_bad_rows="skip"
    notes: list[str] = field(default_factory=list)  # oddities that did not stop reading (a byte-order mark, ...)
    # Where each row is, as messages name rows ("line 813"; in a directory "part-2.csv line 813"): what a user
    # looks up. None when the rows came from Python.
    places: list[str] | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def describe(self) -> str:
        text = f"{self.source}: {len(self):,} rows"
        if self.skipped:
            text += f" ({len(self.skipped):,} bad rows skipped)"
        return text



def converted(records, convert) -> Iterator[tuple[str, tuple | RowError]]:
    for where, record in records:
        if isinstance(record, RowError):
            yield where, record
            continue
        try:
            yield where, convert(where, record)
        except RowError as error:
            yield where, error



def collect_rows(path: Path, rows: Iterator[tuple[str, tuple | RowError]], on_bad_rows: str):
    """Gather converted rows and where each is; stop at the first bad row, or skip and list it."""
    check_on_bad_rows(on_bad_rows)
    texts, labels, skipped, places = [], [], [], []
    for where, row in rows:
        if isinstance(row, RowError):
            if on_bad_rows == "error":
                raise row
            skipped.append(row)
            continue
        texts.append(row[0])
        labels.append(row[1])
        places.append(where)
    if not texts:
        raise DataError(f"{path}: no rows" + (f" ({len(skipped)} bad rows skipped)" if skipped else ""))
    return texts, labels, skipped, places


def check_on_bad_rows(on_bad_rows: str) -> None:
    if on_bad_rows not in ON_BAD_ROWS:
        raise DataError(f"on_bad_rows: expected one of {', '.join(ON_BAD_ROWS)}, got {on_bad_rows!r}")



def train_val_split(dataset: Dataset, val_size: float, seed: int) -> tuple[Dataset, Dataset | None]:
    """Hold out ``val_size`` of each class for validation (stratified), chosen by ``seed``. Multi-label rows
    (label sets) are held out at random: a set of labels is not one class to stratify by."""
    if val_size <= 0:
        return dataset, None
    assert dataset.labels is not None
    rng = np.random.default_rng(seed)
    if is_multi_label(dataset.labels):
        labels = np.zeros(len(dataset.labels))  # one group: a random share
    else:
        labels = np.asarray(dataset.labels)
    val_index = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = int(round(val_size * len(members)))
        if len(members) >= 2:
            count = min(max(count, 1), len(members) - 1)
        else:
            count = 0
        val_index.extend(rng.permutation(members)[:count].tolist())
    is_val = np.zeros(len(labels), dtype=bool)
    is_val[val_index] = True
    if not is_val.any():
        return dataset, None

    def subset(mask: np.ndarray, name: str) -> Dataset:
        rows = np.flatnonzero(mask)
        places = [dataset.places[i] for i in rows] if dataset.places else None
        return Dataset([dataset.texts[i] for i in rows], [dataset.labels[i] for i in rows],
                       f"{dataset.source} [{name}]", places=places)

    return subset(~is_val, "train part"), subset(is_val, f"validation part, seed {seed}")


def check_texts(texts: Sequence[str], name: str) -> list[str]:
    if isinstance(texts, str):
        raise DataError(f"{name}: expected a list of texts, got a single string (wrap it in a list)")
    texts = list(texts)
    for row, text in enumerate(texts, start=1):
        if not isinstance(text, str):
            raise DataError(f"{name}, row {row}: expected a string, got {type(text).__name__}")
    return texts


def is_multi_label(labels: Sequence) -> bool:
    """Whether ``labels`` are label sets (tuples), as multi-label data is read."""
    return bool(labels) and isinstance(labels[0], tuple)


def label_names(label) -> tuple:
    """The labels of one row: a label set as it is, a single label as a set of one."""
    return label if isinstance(label, tuple) else (label,)


def describe_label_sets(dataset: Dataset) -> str:
    """How multi-label rows look: labels per text, texts with several labels and with none."""
    counts = np.array([len(labels) for labels in dataset.labels])
    distinct = len({name for labels in dataset.labels for name in labels})
    return (f"multi-label: {distinct} labels, {counts.mean():.2f} per text; {int((counts > 1).sum()):,} texts with "
            f"two or more, {int((counts == 0).sum()):,} with none")


def check_classes(labels: Sequence, classes: Sequence[str], source: str) -> None:
    known = set(classes)
    for row, label in enumerate(labels, start=1):
        for name in label_names(label):
            if name not in known:
                raise DataError(f"{source}, row {row}: label {quoted(name)} is not one of the classes ({listed(classes)})")
    if len(known) < 2:
        raise DataError(f"{source}: {len(known)} class ({listed(classes) or 'none'}); a classifier needs at least two "
                        "classes")


def check_labels_known(train: Dataset, *others: Dataset | None) -> None:
    """Every validation and test label must be one the training rows teach: checked before training, so that a
    test file with a class the model never saw stops the run at once, not after the whole training."""
    known = {name for label in train.labels for name in label_names(label)}
    for data in others:
        if data is None:
            continue
        for row, label in enumerate(data.labels, start=1):
            for name in label_names(label):
                if name not in known:
                    raise DataError(f"{data.source}, row {row}: label {quoted(name)} does not occur in the training data "
                                    f"({listed(sorted(known))}); the model could never predict it")
