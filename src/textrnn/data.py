"""Datasets: where texts and labels come from.

A dataset is a list of texts, a list of labels (class names, as strings) and a one-line description
of where it came from, so that every run can say which rows it used. Two kinds of source exist:

* AG News, read from a local directory (``--data-dir`` / ``TEXTRNN_DATA_DIR``) or downloaded once into
  a cache directory and checked against the canonical MD5 sums;
* any local CSV, TSV, JSONL or Parquet file, with named text and label columns.

Every problem with the data is a :class:`DataError` that names the file, the row and the field.
"""

from __future__ import annotations

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
from dataclasses import dataclass
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


@dataclass
class Dataset:
    texts: list[str]
    labels: list[str] | None
    source: str

    def __len__(self) -> int:
        return len(self.texts)

    def describe(self) -> str:
        return f"{self.source}: {len(self):,} rows"


# ---------------------------------------------------------------------------------------------- AG News


def load_ag_news(split: str, data_dir: str | os.PathLike | None = None, text_column: Sequence[str] = ("text",)) -> Dataset:
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
    texts, labels = [], []
    with open_text(path) as handle:
        reader = csv.reader(handle)
        try:
            for row in reader:
                if len(row) != 3:
                    raise DataError(
                        f"{path}, line {reader.line_num}: expected 3 fields (label, title, description), got {len(row)}"
                    )
                label, title, description = row
                if label not in ("1", "2", "3", "4"):
                    raise DataError(f"{path}, line {reader.line_num}, field label: expected 1-4, got {label!r}")
                fields = {"title": title, "description": description, "text": f"{title} {description}"}
                texts.append(" ".join(fields[c] for c in text_column))
                labels.append(AG_NEWS_LABELS[int(label) - 1])
        except csv.Error as error:
            raise DataError(f"{path}, line {reader.line_num}: malformed CSV ({error})") from None
    if not texts:
        raise DataError(f"{path}: no rows")
    source = f"AG News {split} ({path.name}"
    if split == "train" and len(texts) < AG_NEWS_FULL_TRAIN_ROWS:
        source += f", a subset: {len(texts):,} of the {AG_NEWS_FULL_TRAIN_ROWS:,} training rows"
    return Dataset(texts, labels, source + ")")


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
) -> Dataset:
    """Read texts (and labels, unless ``label_column`` is None) from a CSV, TSV, JSONL or Parquet file.

    Several text columns are joined with a space. A missing cell, an empty label, or (unless
    ``allow_empty_text``) a text that is empty in every text column is an error naming the row.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    columns = list(text_column) + ([label_column] if label_column else [])
    texts: list[str] = []
    labels: list[str] = []
    for where, record in iter_records(path, columns):
        cells = []
        for column in columns:
            value = record[column]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                raise DataError(f"{path}, {where}, field {column!r}: missing value")
            if not isinstance(value, (str, int)) or isinstance(value, bool):
                raise DataError(f"{path}, {where}, field {column!r}: expected text, got {type(value).__name__}")
            cells.append(str(value))
        text = " ".join(cells[: len(text_column)])
        if not allow_empty_text and not text.strip():
            raise DataError(f"{path}, {where}, field {'/'.join(text_column)!r}: empty text")
        texts.append(text)
        if label_column:
            label = cells[-1].strip()
            if not label:
                raise DataError(f"{path}, {where}, field {label_column!r}: empty label")
            labels.append(label)
    if not texts:
        raise DataError(f"{path}: no rows")
    return Dataset(texts, labels if label_column else None, str(path))


def iter_records(path: Path, columns: Sequence[str]) -> Iterator[tuple[str, dict]]:
    """Yield ``(where, record)`` for each row, where ``where`` is 'line N' or 'row N' for messages."""
    fmt = table_format(path)
    if fmt == "parquet":
        yield from _parquet_records(path, columns)
        return
    try:
        with open_text(path) as handle:
            if fmt == "jsonl":
                yield from _jsonl_records(path, handle, columns)
            else:
                yield from _delimited_records(path, handle, columns, "\t" if fmt == "tsv" else ",")
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not valid UTF-8 ({error.reason} at byte {error.start} of a read block)") from None


def _delimited_records(path: Path, handle: IO[str], columns: Sequence[str], delimiter: str):
    reader = csv.reader(handle, delimiter=delimiter)
    try:
        header = next(reader, None)
        if header is None:
            raise DataError(f"{path}: empty file (expected a header row naming the columns)")
        missing = [c for c in columns if c not in header]
        if missing:
            raise DataError(f"{path}: no column {', '.join(map(repr, missing))}; the header has {', '.join(header)}")
        positions = {c: header.index(c) for c in columns}
        for row in reader:
            if not row:
                continue  # a blank line holds no row
            if len(row) != len(header):
                raise DataError(f"{path}, line {reader.line_num}: {len(row)} fields, the header has {len(header)}")
            yield f"line {reader.line_num}", {c: row[i] for c, i in positions.items()}
    except csv.Error as error:
        kind = "TSV" if delimiter == "\t" else "CSV"
        raise DataError(f"{path}, line {reader.line_num}: malformed {kind} ({error})") from None


def _jsonl_records(path: Path, handle: IO[str], columns: Sequence[str]):
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}, line {number}: invalid JSON ({error.msg})") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}, line {number}: expected a JSON object, got {type(record).__name__}")
        for column in columns:
            if column not in record:
                raise DataError(f"{path}, line {number}: no field {column!r}")
        yield f"line {number}", record


def _parquet_records(path: Path, columns: Sequence[str]):
    import pyarrow.parquet as pq

    try:
        schema_names = pq.read_schema(path).names
        missing = [c for c in columns if c not in schema_names]
        if missing:
            raise DataError(f"{path}: no column {', '.join(map(repr, missing))}; it has {', '.join(schema_names)}")
        table = pq.read_table(path, columns=list(dict.fromkeys(columns)))
    except DataError:
        raise
    except Exception as error:  # pyarrow raises several unrelated types for unreadable files
        raise DataError(f"{path}: not a readable Parquet file ({error})") from None
    values = {c: table.column(c).to_pylist() for c in dict.fromkeys(columns)}
    for index in range(table.num_rows):
        yield f"row {index + 1}", {c: values[c][index] for c in columns}


def open_text(path: Path) -> IO[str]:
    """Open a UTF-8 text file, gzipped or not; a byte-order mark is dropped."""
    try:
        raw = gzip.open(path) if path.suffix.lower() == ".gz" else open(path, "rb")
        return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    except OSError as error:
        raise DataError(f"{path}: cannot open ({error.strerror or error})") from None


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


def check_labels_known(dataset: Dataset, classes: Sequence[str]) -> None:
    """Stop on the first label the model was not trained on, naming the row and the known labels."""
    known = set(classes)
    for row, label in enumerate(dataset.labels or [], start=1):
        if label not in known:
            raise DataError(
                f"{dataset.source}, data row {row}: label {label!r} is not one the model knows ({', '.join(classes)})"
            )
