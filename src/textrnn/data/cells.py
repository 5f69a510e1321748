"""What a table cell may hold: a text, a label, or (multi-label) a set of labels. Every reader checks its
cells here, so a bad cell gets the same :class:`~textrnn.errors.RowError` (file, row, field) from any of them."""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import RowError, quoted

# Longest field accepted, in characters: far above any real text, low enough to stop a runaway quote early.
MAX_FIELD_CHARS = 1_000_000


def label_set(path: Path, where: str, column: str, record: dict, separator: str) -> tuple[str, ...]:
    """A multi-label cell as a tuple of labels: text joined by ``separator``, an integer, or a list of them
    (JSONL, Parquet, fastText). An empty cell or list is a text without labels, which multi-label data allows."""
    value = record[column]
    if isinstance(value, (list, tuple)):
        parts = []
        for item in value:
            if isinstance(item, float) and item.is_integer():
                item = int(item)
            if not isinstance(item, (str, int)) or isinstance(item, bool):
                raise RowError(path, where, f"a label list holds {type(item).__name__} {quoted(item)}; expected text or "
                               "integers", column, record)
            parts.append(str(item))
    else:
        check_cell(path, where, column, record, text=False)
        value = record[column]
        parts = value.split(separator) if isinstance(value, str) else [str(value)]
    for part in parts:
        check_cell(path, where, column, {column: part}, text=True)
    return tuple(dict.fromkeys(part.strip() for part in parts if part.strip()))


def check_cell(path: Path, where: str, column: str, record: dict, text: bool) -> None:
    """A text cell must be a string; a label may also be an integer (or a float that holds one).
    Nothing may be missing or NaN."""
    value = record[column]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise RowError(path, where, "missing value", column, record)
    if not text and isinstance(value, float) and value.is_integer():
        record[column] = value = int(value)  # integer labels come back as floats from columns that held NaN
    allowed = (str,) if text else (str, int)
    if not isinstance(value, allowed) or isinstance(value, bool):
        expected = "text" if text else "text or an integer"
        hint = "; several labels in one cell need --multi-label" if isinstance(value, (list, tuple)) else ""
        raise RowError(path, where, f"expected {expected}, got {type(value).__name__} {quoted(value)}{hint}", column, record)
    if isinstance(value, str):
        try:
            value.encode("utf-8")  # fails only on the surrogates that stand for bytes that were not UTF-8
        except UnicodeEncodeError:
            raise RowError(path, where, "invalid UTF-8", column, record) from None
        if len(value) > MAX_FIELD_CHARS:
            raise RowError(path, where, f"{len(value):,} characters, more than {MAX_FIELD_CHARS:,}", column)
