"""Datasets: where texts and labels come from.

A dataset is a list of texts, a list of labels (class names, as strings) and a one-line description
of where it came from, so that every run can say which rows it used. Two kinds of source exist:

* AG News, read from a local directory (``--data-dir`` / ``TEXTRNN_DATA_DIR``) or downloaded once into
  a cache directory and checked against the canonical MD5 sums;
* any local CSV, TSV, JSONL or Parquet file, with named text and label columns.

Every problem with the data is a :class:`DataError` that names the file, the row and the field.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import json
import math
import os
import shutil
import sys
import tempfile
import urllib.request
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import IO, Iterator, Sequence

import numpy as np

AG_NEWS_LABELS = ("World", "Sports", "Business", "Sci/Tech")
AG_NEWS_FIELDS = ("title", "description", "text")
AG_NEWS_FULL_TRAIN_ROWS = 120_000
AG_NEWS_URLS = {
    "train": "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/train.csv",
    "test": "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/test.csv",
}
# The sums torchtext checks for the same files.
AG_NEWS_MD5 = {"train": "b1a00f826fdfbd249f79597b59e1dc12", "test": "d52ea96a97a2d943681189a97654912d"}
# File names looked for in a data directory, best first. train_subset is the partial copy in ../shared.
AG_NEWS_FILES = {
    "train": ("train.csv", "train.csv.gz", "train_subset.csv", "train_subset.csv.gz"),
    "test": ("test.csv", "test.csv.gz"),
}


class DataError(ValueError):
    """The data cannot be used as it is; the message says where (file, row, field) and why."""


class RowError(DataError):
    """One row cannot be used; with ``on_bad_rows="skip"`` it is reported and left out instead of stopping."""

    def __init__(self, path: Path, where: str, reason: str, field: str | None = None, content: object = None):
        self.path, self.where, self.reason, self.field, self.content = path, where, reason, field, content
        place = f"{path}, {where}" + (f", field {field!r}" if field else "")
        super().__init__(f"{place}: {reason}")

    def record(self) -> dict:
        """The JSON line written to the side file of skipped rows."""
        return {"file": str(self.path), "where": self.where, "field": self.field, "reason": self.reason,
                "content": self.content if isinstance(self.content, (str, dict, list)) else repr(self.content)}


ON_BAD_ROWS = ("error", "skip")
# Longest field accepted, in characters: far above any real text, low enough to stop a runaway quote early.
MAX_FIELD_CHARS = 1_000_000


@dataclass
class Dataset:
    texts: list[str]
    labels: list[str] | None
    source: str
    skipped: list[RowError] = field(default_factory=list)  # rows left out under on_bad_rows="skip"
    notes: list[str] = field(default_factory=list)  # oddities that did not stop reading (a byte-order mark, ...)

    def __len__(self) -> int:
        return len(self.texts)

    def describe(self) -> str:
        text = f"{self.source}: {len(self):,} rows"
        if self.skipped:
            text += f" ({len(self.skipped):,} bad rows skipped)"
        return text


# ---------------------------------------------------------------------------------------------- AG News


def load_ag_news(
    split: str,
    data_dir: str | os.PathLike | None = None,
    text_column: Sequence[str] = ("text",),
    on_bad_rows: str = "error",
) -> Dataset:
    """Read the AG News ``train`` or ``test`` split.

    ``text_column`` picks ``title``, ``description`` or ``text`` (title + " " + description), or several of
    them joined by a space. The directory is ``data_dir``, else ``$TEXTRNN_DATA_DIR``, else the download cache.
    """
    if split not in AG_NEWS_FILES:
        raise DataError(f"AG News has splits 'train' and 'test', not {split!r}")
    for column in text_column:
        if column not in AG_NEWS_FIELDS:
            raise DataError(f"AG News has text columns {', '.join(AG_NEWS_FIELDS)}; not {column!r}")
    path = find_ag_news_file(split, data_dir)
    notes: list[str] = []
    texts, labels, skipped = collect_rows(path, ag_news_rows(path, text_column, notes), on_bad_rows)
    source = f"AG News {split} ({path.name}"
    if split == "train" and len(texts) < AG_NEWS_FULL_TRAIN_ROWS:
        source += f", a subset: {len(texts):,} of the {AG_NEWS_FULL_TRAIN_ROWS:,} training rows"
    return Dataset(texts, labels, source + ")", skipped, notes)


def ag_news_rows(path: Path, text_column: Sequence[str], notes: list[str]) -> Iterator[tuple[str, tuple | RowError]]:
    """``(where, (text, label))`` for each row of an AG News CSV file, or ``(where, RowError)`` for a bad one."""

    def convert(where: str, record: dict) -> tuple[str, str]:
        if record["label"] not in ("1", "2", "3", "4"):
            raise RowError(path, where, f"expected 1-4, got {record['label']!r}", "label", record)
        fields = {**record, "text": f"{record['title']} {record['description']}"}
        return " ".join(fields[c] for c in text_column), AG_NEWS_LABELS[int(record["label"]) - 1]

    columns = ("label", "title", "description")
    return _converted(iter_records(path, columns, notes, header=columns), convert)


def _converted(records, convert) -> Iterator[tuple[str, tuple | RowError]]:
    for where, record in records:
        if isinstance(record, RowError):
            yield where, record
            continue
        try:
            yield where, convert(where, record)
        except RowError as error:
            yield where, error


def find_ag_news_file(split: str, data_dir: str | os.PathLike | None = None) -> Path:
    """The local file for ``split``, downloading it into the cache when no directory holds it."""
    explicit = data_dir or os.environ.get("TEXTRNN_DATA_DIR")
    if explicit:
        directory = Path(explicit).expanduser()
        if not directory.is_dir():
            raise DataError(f"AG News data directory {directory} does not exist")
        for name in AG_NEWS_FILES[split]:
            if (directory / name).is_file():
                return directory / name
        raise DataError(f"{directory} holds none of {', '.join(AG_NEWS_FILES[split])} (AG News {split} split)")
    return download_ag_news(split)


def cache_dir() -> Path:
    return Path(os.environ.get("TEXTRNN_CACHE_DIR") or Path.home() / ".cache" / "textrnn")


def download_ag_news(split: str) -> Path:
    """Download the canonical AG News CSV once, check its MD5, and keep it in the cache directory."""
    target = cache_dir() / "ag_news" / f"{split}.csv"
    if target.is_file() and md5sum(target) == AG_NEWS_MD5[split]:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    url = AG_NEWS_URLS[split]
    print(f"downloading AG News {split} from {url}", file=sys.stderr)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                shutil.copyfileobj(response, tmp)
        except OSError as error:
            os.unlink(tmp.name)
            raise DataError(
                f"AG News {split} is not available locally and could not be downloaded from {url} ({error}). "
                "Point --data-dir or TEXTRNN_DATA_DIR at a directory holding train.csv and test.csv."
            ) from None
    digest = md5sum(Path(tmp.name))
    if digest != AG_NEWS_MD5[split]:
        os.unlink(tmp.name)
        raise DataError(f"downloaded AG News {split} has MD5 {digest}, expected {AG_NEWS_MD5[split]}; not using it")
    os.replace(tmp.name, target)
    return target


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ------------------------------------------------------------------------------------------ local files

TABLE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


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
) -> Dataset:
    """Read texts (and labels, unless ``label_column`` is None) from a CSV, TSV, JSONL or Parquet file,
    or from every such file in a directory (the shards of one dataset, read in name order).

    Several text columns are joined with a space. A bad row (malformed, a missing or non-text cell, an
    empty label, invalid UTF-8, or unless ``allow_empty_text`` an empty text) stops reading with an error
    naming the row and field, or with ``on_bad_rows="skip"`` is left out and listed in ``Dataset.skipped``.
    Problems with the whole file (unreadable, no such column, no rows) always stop.
    """
    path = Path(path)
    notes: list[str] = []
    rows = chain.from_iterable(
        table_rows(file, text_column, label_column, notes, allow_empty_text) for file in table_files(path)
    )
    texts, labels, skipped = collect_rows(path, rows, on_bad_rows)
    return Dataset(texts, labels if label_column else None, str(path), skipped, notes)


def table_files(path: Path) -> list[Path]:
    """``[path]`` for a file; for a directory, the table files in it (not hidden ones), by name."""
    if path.is_file():
        table_format(path)  # an unknown file type fails here, before anything is read
        return [path]
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
        check_cell(path, where, label_column, record, text=False)
        label = str(record[label_column]).strip()
        if not label:
            raise RowError(path, where, "empty label", label_column, record)
        return text, label

    return _converted(iter_records(path, columns, notes), convert)


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
        raise RowError(path, where, f"expected {expected}, got {type(value).__name__} {value!r}", column, record)
    if isinstance(value, str):
        try:
            value.encode("utf-8")  # fails only on the surrogates that stand for bytes that were not UTF-8
        except UnicodeEncodeError:
            raise RowError(path, where, "invalid UTF-8", column, record) from None
        if len(value) > MAX_FIELD_CHARS:
            raise RowError(path, where, f"{len(value):,} characters, more than {MAX_FIELD_CHARS:,}", column)


def collect_rows(path: Path, rows: Iterator[tuple[str, tuple | RowError]], on_bad_rows: str):
    """Gather converted rows; stop at the first bad row, or skip and list it."""
    check_on_bad_rows(on_bad_rows)
    texts, labels, skipped = [], [], []
    for _, row in rows:
        if isinstance(row, RowError):
            if on_bad_rows == "error":
                raise row
            skipped.append(row)
            continue
        texts.append(row[0])
        labels.append(row[1])
    if not texts:
        raise DataError(f"{path}: no rows" + (f" ({len(skipped)} bad rows skipped)" if skipped else ""))
    return texts, labels, skipped


def check_on_bad_rows(on_bad_rows: str) -> None:
    if on_bad_rows not in ON_BAD_ROWS:
        raise DataError(f"on_bad_rows: expected one of {', '.join(ON_BAD_ROWS)}, got {on_bad_rows!r}")


def iter_records(
    path: Path, columns: Sequence[str], notes: list[str], header: Sequence[str] | None = None
) -> Iterator[tuple[str, dict | RowError]]:
    """Yield ``(where, record)`` for each row, ``where`` being 'line N' or 'row N' for messages.

    A row that cannot be parsed comes as a :class:`RowError` in place of the record, so that reading
    can go on past it. ``header`` names the columns of a file that has no header row.
    """
    fmt = table_format(path)
    if fmt == "parquet":
        yield from _parquet_records(path, columns)
        return
    with open_text(path, notes) as handle:
        lines = _LineEndings(handle)
        if fmt == "jsonl":
            yield from _jsonl_records(path, lines, columns)
        else:
            yield from _delimited_records(path, lines, columns, "\t" if fmt == "tsv" else ",", header)
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


def _delimited_records(path: Path, lines, columns: Sequence[str], delimiter: str, header: Sequence[str] | None):
    kind = "TSV" if delimiter == "\t" else "CSV"
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_CHARS + 1))
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    if header is None:
        try:
            header = next(reader, None)
        except csv.Error as error:
            raise DataError(f"{path}, line 1: malformed {kind} header ({error})") from None
        if header is None:
            raise DataError(f"{path}: empty file (expected a header row naming the columns)")
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataError(f"{path}: no column {', '.join(map(repr, missing))}; the header has {', '.join(header)}")
    positions = {c: header.index(c) for c in columns}
    while True:
        first_line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            reason = f"malformed {kind} ({error})"
            if "unexpected end of data" in str(error):
                reason = f"malformed {kind}: a quoted field opened on line {first_line} is never closed"
            yield f"line {first_line}", RowError(path, f"line {first_line}", reason)
            continue
        where = f"line {first_line}" if reader.line_num == first_line else f"lines {first_line}-{reader.line_num}"
        if not row:
            continue  # a blank line holds no row
        if len(row) != len(header):
            yield where, RowError(path, where, f"{len(row)} fields, expected {len(header)}", content=row)
            continue
        yield where, {c: row[i] for c, i in positions.items()}


def _jsonl_records(path: Path, lines, columns: Sequence[str]):
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
        absent = [c for c in columns if c not in record]
        if absent:
            yield where, RowError(path, where, "no such field", ", ".join(absent), record)
            continue
        yield where, record


def _parquet_records(path: Path, columns: Sequence[str]):
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as error:  # pyarrow raises several unrelated types for unreadable files
        raise DataError(f"{path}: not a readable Parquet file ({error})") from None
    names = parquet.schema_arrow.names
    missing = [c for c in columns if c not in names]
    if missing:
        raise DataError(f"{path}: no column {', '.join(map(repr, missing))}; it has {', '.join(names)}")
    row = 0
    for batch in parquet.iter_batches(columns=list(columns), batch_size=65_536):
        values = {c: batch.column(c).to_pylist() for c in columns}
        for index in range(batch.num_rows):
            row += 1
            yield f"row {row}", {c: values[c][index] for c in columns}


def open_text(path: Path, notes: list[str] | None = None) -> IO[str]:
    """Open a UTF-8 text file, gzipped or not, for the CSV and JSON readers.

    A byte-order mark at the start is dropped (and noted). Bytes that are not UTF-8 are kept as
    surrogates, so that the row holding them can be named (:func:`check_cell`) instead of failing
    somewhere in a block of the file.
    """
    try:
        raw = gzip.open(path) if path.suffix.lower() == ".gz" else open(path, "rb")
        if raw.peek(3)[:3] == codecs.BOM_UTF8:
            raw.read(3)
            if notes is not None:
                notes.append(f"{path}: starts with a UTF-8 byte-order mark; it was skipped")
        return io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: cannot open ({getattr(error, 'strerror', None) or error})") from None


# --------------------------------------------------------------------------------- Hugging Face datasets

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


def hf_rows(spec: str, split: str, text_column: Sequence[str], label_column: str | None
            ) -> Iterator[tuple[str, tuple | RowError]]:
    """``(where, (text, label))`` for each row of a Hugging Face dataset split, or ``(where, RowError)``.

    A ``ClassLabel`` column gives its class names, other label columns their values as text.
    """
    table = open_hf(spec, split)
    columns = list(dict.fromkeys([*text_column, *([label_column] if label_column else [])]))
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise DataError(f"{spec} [{split}]: no column {', '.join(map(repr, missing))}; "
                        f"it has {', '.join(table.column_names)}")
    names = getattr(table.features.get(label_column), "names", None) if label_column else None
    where_path = Path(f"{spec} [{split}]")

    def convert(where: str, record: dict) -> tuple[str, str | None]:
        if names is not None and isinstance(record[label_column], int) and 0 <= record[label_column] < len(names):
            record[label_column] = names[record[label_column]]
        for column in text_column:
            check_cell(where_path, where, column, record, text=True)
        text = " ".join(record[c] for c in text_column)
        if not text.strip():
            raise RowError(where_path, where, "empty text", "/".join(text_column), record)
        if not label_column:
            return text, None
        check_cell(where_path, where, label_column, record, text=False)
        return text, str(record[label_column]).strip()

    def records():
        row = 0
        for batch in table.select_columns(columns).iter(batch_size=10_000):
            for index in range(len(batch[columns[0]])):
                row += 1
                yield f"row {row}", {c: batch[c][index] for c in columns}

    return _converted(records(), convert)


def load_hf(spec: str, split: str, text_column: Sequence[str] = ("text",), label_column: str = "label",
            on_bad_rows: str = "error") -> Dataset:
    """A Hugging Face dataset split read whole, like :func:`read_table`."""
    texts, labels, skipped = collect_rows(Path(spec), hf_rows(spec, split, text_column, label_column), on_bad_rows)
    return Dataset(texts, labels, f"{spec} [{split}]", skipped)


# ------------------------------------------------------------------------------------------- splitting


def train_val_split(dataset: Dataset, val_size: float, seed: int) -> tuple[Dataset, Dataset | None]:
    """Hold out ``val_size`` of each class for validation (stratified), chosen by ``seed``."""
    if val_size <= 0:
        return dataset, None
    assert dataset.labels is not None
    labels = np.asarray(dataset.labels)
    rng = np.random.default_rng(seed)
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
        return Dataset(
            [dataset.texts[i] for i in rows], [dataset.labels[i] for i in rows], f"{dataset.source} [{name}]"
        )

    return subset(~is_val, "train part"), subset(is_val, f"validation part, seed {seed}")
