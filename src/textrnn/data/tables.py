"""One reader for tables: CSV, TSV, JSONL and Parquet files (optionally gzipped), or a directory of them.

Training, evaluation, streaming and batch prediction all read through :func:`iter_records`, so a file
is checked the same way whatever reads it: a bad row is a :class:`~textrnn.errors.RowError` naming the
file, the line or row and the field.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import os
import zlib
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import IO, Iterator, Sequence

from ..errors import DataError, RowError
from .cells import MAX_FIELD_CHARS, check_cell, label_set
from .delimited import delimited_records
from .dataset import Dataset, collect_rows, converted

TABLE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
                 ".txt": "fasttext"}
FASTTEXT_LABEL = "__label__"


@dataclass(frozen=True)
class TableOptions:
    """How to read a table beyond its column names: the header row, quotes, and multi-label cells."""

    # True: the first row names the columns; False: it is data, and the columns are named "0", "1", ...;
    # "auto": decided for each file on its own (see _first_row_is_header), and said in the file's notes.
    header: bool | str = "auto"
    quoting: str = "csv"  # "none": a double quote is an ordinary character (plain tab-separated lines)
    label_separator: str | None = None  # multi-label: a label cell holds labels joined by this; None: one label

    @property
    def multi_label(self) -> bool:
        return self.label_separator is not None


def table_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    fmt = TABLE_FORMATS.get(suffixes[-1] if suffixes else "")
    if fmt is None:
        raise DataError(f"{path}: unknown file type; expected one of {', '.join(TABLE_FORMATS)} (optionally .gz)")
    return fmt


def read_table(
    path: str | os.PathLike,
    text_column: Sequence[str] = ("text",),
    label_column: str | None = "label",
    allow_empty_text: bool = False,
    on_bad_rows: str = "error",
    options: TableOptions = TableOptions(),
) -> Dataset:
    """Read texts (and labels, unless ``label_column`` is None) from a CSV, TSV, JSONL or Parquet file,
    or from every such file in a directory (the shards of one dataset, read in name order).

    Several text columns are joined with a space. With ``options.label_separator`` (multi-label), each
    label is a tuple of labels, possibly empty. A bad row (malformed, a missing or non-text cell, an
    empty label, invalid UTF-8, or unless ``allow_empty_text`` an empty text) stops reading with an error
    naming the row and field, or with ``on_bad_rows="skip"`` is left out and listed in ``Dataset.skipped``.
    Problems with the whole file (unreadable, no such column, no rows) always stop.
    """
    path = Path(path)
    notes: list[str] = []
    files = table_files(path)
    rows = chain.from_iterable(
        _named(file, table_rows(file, text_column, label_column, notes, allow_empty_text, options), len(files) > 1)
        for file in files
    )
    texts, labels, skipped, places = collect_rows(path, rows, on_bad_rows)
    return Dataset(texts, labels if label_column else None, str(path), skipped, notes, places)


def _named(file: Path, rows, several: bool):
    """A directory's rows are placed by file and line ("part-2.csv line 5"); a single file's by line."""
    return ((f"{file.name} {where}", row) for where, row in rows) if several else rows


def table_files(path: Path) -> list[Path]:
    """``[path]`` for a file; for a directory, the table files in it (not hidden ones), by name."""
    if path.is_file():
        table_format(path)  # an unknown file type fails here, before anything is read
        return [path]
    if path.exists() and not path.is_dir():  # a pipe or a device: its rows could be read only once
        raise DataError(f"{path}: not a regular file (a pipe or a device); write the data to a file first")
    if not path.is_dir():
        raise DataError(f"{path}: no such file or directory")
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".") and _is_table(p))
    if not files:
        raise DataError(f"{path}: no {', '.join(TABLE_FORMATS)} files in this directory")
    return files


def _is_table(path: Path) -> bool:
    try:
        table_format(path)
        return True
    except DataError:
        return False


def table_rows(
    path: Path,
    text_column: Sequence[str],
    label_column: str | None,
    notes: list[str],
    allow_empty_text: bool = False,
    options: TableOptions = TableOptions(),
) -> Iterator[tuple[str, tuple | RowError]]:
    """``(where, (text, label))`` for each row of a table file, or ``(where, RowError)`` for a bad one; lazily."""
    columns = list(dict.fromkeys([*text_column, *([label_column] if label_column else [])]))

    def convert(where: str, record: dict) -> tuple[str, str | None]:
        for column in text_column:
            check_cell(path, where, column, record, text=True)
        text = " ".join(record[c] for c in text_column)
        if not allow_empty_text and not text.strip():
            raise RowError(path, where, "empty text", "/".join(text_column), record)
        if not label_column:
            return text, None
        if options.multi_label:
            return text, label_set(path, where, label_column, record, options.label_separator)
        check_cell(path, where, label_column, record, text=False)
        label = str(record[label_column]).strip()
        if not label:
            raise RowError(path, where, "empty label", label_column, record)
        return text, label

    return converted(iter_records(path, columns, notes, options=options), convert)


def iter_records(
    path: Path, columns: Sequence[str] | None, notes: list[str], header: Sequence[str] | None = None,
    options: TableOptions = TableOptions(), required: Sequence[str] = (),
) -> Iterator[tuple[str, dict | RowError]]:
    """Yield ``(where, record)`` for each row, ``where`` being 'line N' or 'row N' for messages.

    ``columns`` are the fields each record must hold (``None``: every column, as batch prediction keeps
    them all). A row that cannot be parsed comes as a :class:`RowError` in place of the record, so that
    reading can go on past it. ``header`` names the columns of a file that has no header row (without it, and
    ``options.header`` false or found false, they are named by position, "0", "1", ...). ``required``: with
    ``columns`` None, the columns the reader needs (they decide whether a first row is a header).
    """
    fmt = table_format(path)
    if fmt == "parquet":
        yield from _parquet_records(path, columns)
        return
    with open_text(path, notes) as handle:
        lines = _LineEndings(handle)
        if fmt == "jsonl":
            yield from _jsonl_records(path, lines, columns)
        elif fmt == "fasttext":
            yield from _fasttext_records(path, lines, columns, options.multi_label)
        else:
            yield from delimited_records(path, lines, columns, "\t" if fmt == "tsv" else ",", header=header,
                                         header_row=options.header, quoting=options.quoting, required=required,
                                         notes=notes)
        if lines.mixed():
            notes.append(f"{path}: mixed line endings ({lines.describe()}); each row was read as it is")


class _LineEndings:
    """Passes lines through while counting how they end, to report files with mixed line endings."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle, self.counts = handle, {"CRLF": 0, "LF": 0, "CR": 0}

    def __iter__(self):
        for line in self.handle:
            ending = "CRLF" if line.endswith("\r\n") else "LF" if line.endswith("\n") else "CR" if line.endswith("\r") else None
            if ending:
                self.counts[ending] += 1
            yield line

    def mixed(self) -> bool:
        return sum(1 for count in self.counts.values() if count) > 1

    def describe(self) -> str:
        return ", ".join(f"{count:,} {name}" for name, count in self.counts.items() if count)


def _jsonl_records(path: Path, lines, columns: Sequence[str] | None):
    for number, line in enumerate(lines, start=1):
        where = f"line {number}"
        if not line.strip():
            continue
        if len(line) > MAX_FIELD_CHARS:
            yield where, RowError(path, where, f"{len(line):,} characters, more than {MAX_FIELD_CHARS:,}")
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            yield where, RowError(path, where, f"invalid JSON ({error.msg})", content=line.rstrip("\r\n"))
            continue
        if not isinstance(record, dict):
            yield where, RowError(path, where, f"expected a JSON object, got {type(record).__name__}", content=record)
            continue
        absent = [c for c in columns or () if c not in record]
        if absent:
            yield where, RowError(path, where, "no such field", ", ".join(absent), record)
            continue
        yield where, record


def _fasttext_records(path: Path, lines, columns: Sequence[str] | None, multi_label: bool = False):
    """fastText's format, one example a line: ``__label__sports Red Sox win``; the fields are ``text`` and
    ``label``. A line without a label is a text to predict; one with several labels is refused unless
    ``multi_label`` (then the label is the list of them)."""
    other = [c for c in columns or () if c not in ("text", "label")]
    if other:
        raise DataError(f"{path}: a fastText .txt file has the fields text and label; no {', '.join(map(repr, other))}")
    for number, line in enumerate(lines, start=1):
        where, words = f"line {number}", line.split()
        if not words:
            continue
        labels = [word[len(FASTTEXT_LABEL):] for word in words if word.startswith(FASTTEXT_LABEL)]
        text = " ".join(word for word in words if not word.startswith(FASTTEXT_LABEL))
        if multi_label:
            yield where, {"text": text, "label": labels}
            continue
        if len(labels) > 1:
            yield where, RowError(path, where, f"{len(labels)} labels ({', '.join(labels)}); a text takes one here",
                                  "label", line.rstrip("\r\n"))
            continue
        yield where, {"text": text, "label": labels[0] if labels else None}


def _parquet_records(path: Path, columns: Sequence[str] | None):
    pq = parquet_module(path)
    try:
        parquet = pq.ParquetFile(path)
    except Exception as error:  # pyarrow raises several unrelated types for unreadable files
        raise DataError(f"{path}: not a readable Parquet file ({error})") from None
    names = parquet.schema_arrow.names
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataError(f"{path}: column(s) {', '.join(map(repr, repeated))} appear more than once; a table needs "
                        "each column name once")
    columns = names if columns is None else columns
    missing = [c for c in columns if c not in names]
    if missing:
        raise DataError(f"{path}: no column {', '.join(map(repr, missing))}; it has {', '.join(names)}")
    row = 0
    for batch in parquet.iter_batches(columns=list(columns), batch_size=65_536):
        values = {c: batch.column(c).to_pylist() for c in columns}
        for index in range(batch.num_rows):
            row += 1
            yield f"row {row}", {c: values[c][index] for c in columns}


def parquet_module(path: Path):
    """``pyarrow.parquet``, or a clear error in an install without it (the serve extra leaves it out)."""
    try:
        import pyarrow.parquet as pq
    except ModuleNotFoundError:
        raise DataError(f"{path}: reading or writing Parquet needs pyarrow: pip install pyarrow") from None
    return pq


class _GzipReader(io.RawIOBase):
    """A gzip file whose damage, found wherever the reading is, is a :class:`DataError` naming the file (gzip
    finds a truncated file only when it reaches the end, long after the first rows were read)."""

    def __init__(self, path: Path) -> None:
        self.path, self.inner = path, gzip.open(path)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self.inner.read(len(buffer))
        except (EOFError, gzip.BadGzipFile, zlib.error) as error:
            if isinstance(error, gzip.BadGzipFile) and self.inner.tell() == 0:
                raise DataError(f"{self.path}: cannot open (not gzip data: {error})") from None
            raise DataError(f"{self.path}: truncated or damaged gzip data after {self.inner.tell():,} bytes "
                            f"uncompressed ({error}); download or compress the file again") from None
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()


def open_text(path: Path, notes: list[str] | None = None) -> IO[str]:
    """Open a UTF-8 text file, gzipped or not, for the CSV and JSON readers.

    A byte-order mark at the start is dropped (and noted). Bytes that are not UTF-8 are kept as
    surrogates, so that the row holding them can be named (:func:`check_cell`) instead of failing
    somewhere in a block of the file.
    """
    try:
        raw = io.BufferedReader(_GzipReader(path)) if path.suffix.lower() == ".gz" else open(path, "rb")
        if raw.peek(3)[:3] == codecs.BOM_UTF8:
            raw.read(3)
            if notes is not None:
                notes.append(f"{path}: starts with a UTF-8 byte-order mark; it was skipped")
        return io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: cannot open ({getattr(error, 'strerror', None) or error})") from None


