"""Hugging Face datasets: ``hf:NAME[:CONFIG]`` on the Hub, or ``hf:/path`` written by ``save_to_disk``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Sequence

from ..errors import DataError, RowError
from .dataset import Dataset, collect_rows, converted
from .cells import check_cell, label_set

HF_PREFIX = "hf:"


def is_hf(dataset: str | os.PathLike) -> bool:
    return str(dataset).startswith(HF_PREFIX)


def open_hf(spec: str, split: str):
    """The ``split`` of the Hugging Face dataset ``hf:NAME[:CONFIG]``, as a memory-mapped ``datasets.Dataset``.

    NAME is a dataset on the Hub (downloaded once into the Hugging Face cache, which needs a network),
    or a local directory written by ``save_to_disk``. Either way the rows stay on disk in Arrow files
    and are read in batches, so a large dataset does not have to fit in memory.
    """
    try:
        import datasets
    except ModuleNotFoundError:
        raise DataError(f"{spec}: Hugging Face datasets need the 'datasets' package: pip install 'textrnn[hf]'") from None
    name, _, config = spec[len(HF_PREFIX):].partition(":")
    if not name:
        raise DataError(f"{spec}: expected hf:NAME or hf:NAME:CONFIG")
    try:
        if Path(name).expanduser().is_dir():
            loaded = datasets.load_from_disk(str(Path(name).expanduser()))
        else:
            loaded = datasets.load_dataset(name, config or None)
    except Exception as error:  # network, missing dataset, bad config: datasets raises many types
        raise DataError(f"{spec}: cannot load this Hugging Face dataset ({type(error).__name__}: {error})") from None
    if isinstance(loaded, datasets.Dataset):
        if split != "train":
            raise DataError(f"{spec}: a single dataset (no splits), so there is no {split!r} split")
        return loaded
    if split not in loaded:
        raise DataError(f"{spec}: no {split!r} split; it has {', '.join(loaded)}")
    return loaded[split]


def hf_has_split(spec: str, split: str) -> bool:
    try:
        open_hf(spec, split)
        return True
    except DataError:
        return False


def hf_rows(spec: str, split: str, text_column: Sequence[str], label_column: str | None,
            multi_label_separator: str | None = None) -> Iterator[tuple[str, tuple | RowError]]:
    """``(where, (text, label))`` for each row of a Hugging Face dataset split, or ``(where, RowError)``.

    A ``ClassLabel`` column gives its class names, other label columns their values as text. With
    ``multi_label_separator``, each label is a tuple (a ``Sequence(ClassLabel)`` column gives names).
    """
    table = open_hf(spec, split)
    columns = list(dict.fromkeys([*text_column, *([label_column] if label_column else [])]))
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise DataError(f"{spec} [{split}]: no column {', '.join(map(repr, missing))}; "
                        f"it has {', '.join(table.column_names)}")
    feature = table.features.get(label_column) if label_column else None
    if multi_label_separator is not None:  # a Sequence(ClassLabel) column: the names are its feature's
        feature = getattr(feature, "feature", feature)
    names = getattr(feature, "names", None)
    where_path = Path(f"{spec} [{split}]")
    class_name = lambda value: names[value] if isinstance(value, int) and 0 <= value < len(names) else value

    def convert(where: str, record: dict) -> tuple:
        if names is not None and isinstance(record[label_column], list):
            record[label_column] = [class_name(value) for value in record[label_column]]
        elif names is not None:
            record[label_column] = class_name(record[label_column])
        for column in text_column:
            check_cell(where_path, where, column, record, text=True)
        text = " ".join(record[c] for c in text_column)
        if not text.strip():
            raise RowError(where_path, where, "empty text", "/".join(text_column), record)
        if not label_column:
            return text, None
        if multi_label_separator is not None:
            return text, label_set(where_path, where, label_column, record, multi_label_separator)
        check_cell(where_path, where, label_column, record, text=False)
        return text, str(record[label_column]).strip()

    def records():
        row = 0
        for batch in table.select_columns(columns).iter(batch_size=10_000):
            for index in range(len(batch[columns[0]])):
                row += 1
                yield f"row {row}", {c: batch[c][index] for c in columns}

    return converted(records(), convert)


def load_hf(spec: str, split: str, text_column: Sequence[str] = ("text",), label_column: str = "label",
            on_bad_rows: str = "error", multi_label_separator: str | None = None) -> Dataset:
    """A Hugging Face dataset split read whole, like :func:`read_table`."""
    rows = hf_rows(spec, split, text_column, label_column, multi_label_separator)
    texts, labels, skipped, places = collect_rows(Path(spec), rows, on_bad_rows)
    return Dataset(texts, labels, f"{spec} [{split}]", skipped, places=places)

