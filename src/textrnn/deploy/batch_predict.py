"""Label a file of any size: read it in chunks, predict, write the chunk out, keep memory bounded.

The output keeps every input column and adds ``label`` and ``probability`` (and ``label_2``,
``probability_2``, ... for ``top_k`` > 1); a multi-label model's output also has ``labels``: the labels
each text gets (a list in JSONL and Parquet, names joined by a comma in CSV and TSV). Formats (CSV, TSV, JSONL, Parquet; input optionally
gzipped) follow the file names. The output is written to a temporary name and renamed when complete.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..data.tables import TableOptions, iter_records, parquet_module, table_format
from ..errors import DataError, RowError, listed, quoted
from ..files import FILE_MODE, remove_stale, temporary_prefix
from ..multilabel import given_labels
from ..text.vectorizer import check_encodable

CHUNK_ROWS = 8192


def read_chunks(path: Path, chunk_rows: int = CHUNK_ROWS, text_column: Sequence[str] = ("text",),
                options: TableOptions = TableOptions(), notes: list[str] | None = None) -> Iterator[list[dict]]:
    """The file's rows as dicts (every column), ``chunk_rows`` at a time, read and checked by the one table
    reader that training uses (:func:`textrnn.data.tables.iter_records`); the first bad row stops it.
    ``text_column`` decides, with ``options.header`` auto, whether a CSV/TSV file's first row is a header."""
    chunk: list[dict] = []
    for _, record in iter_records(path, None, notes=[] if notes is None else notes, options=options,
                                  required=text_column):
        if isinstance(record, RowError):
            raise record
        chunk.append(record)
        if len(chunk) == chunk_rows:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def read_texts(source: str | os.PathLike, text_column: Sequence[str] = ("text",),
               options: TableOptions = TableOptions(), notes: list[str] | None = None) -> list[str]:
    """Every text of an unlabelled file (several text columns joined with a space), checked as prediction checks
    them; for the commands that need all texts at once (choosing what to label next)."""
    source = Path(source)
    if not source.is_file():
        raise DataError(f"{source}: no such file")
    texts: list[str] = []
    for chunk in read_chunks(source, CHUNK_ROWS, text_column, options, notes):
        columns = [_column_key(c, chunk[0]) for c in text_column]
        texts += _texts(chunk, columns, source, len(texts) + 1)
    if not texts:
        raise DataError(f"{source}: no rows")
    return texts


def _texts(chunk: list[dict], text_column: Sequence[str], source: Path, first_row: int) -> list[str]:
    """The text of each record of a chunk (several text columns joined with a space), checked with the rows
    named as the file counts them (not by their place in the chunk)."""
    texts = []
    for row, record in enumerate(chunk, start=first_row):
        missing = [c for c in text_column if record.get(c) is None]
        if missing:
            raise DataError(f"{source}, row {row}: no value in text column {missing[0]!r}")
        texts.append(" ".join(str(record[c]) for c in text_column))
    check_encodable(texts, first_row, f"{source}, row")
    return texts


def _same_fields(chunk: list[dict], fields: list[str], source: Path, first_row: int) -> None:
    """Rows of a JSONL file may hold different fields; a table written from them cannot, so a field the first
    row does not have stops the run (naming the row), and a field a row lacks is an empty cell."""
    known = set(fields)
    for row, record in enumerate(chunk, start=first_row):
        extra = [key for key in record if key not in known]
        if extra:
            raise DataError(f"{source}, row {row}: field {quoted(extra[0])} is not among the first row's fields "
                            f"({listed(fields)}); every row of a table needs the same fields (or write JSONL)")
        for key in fields:
            record.setdefault(key, None)


def _column_key(column: str, record: dict) -> str:
    """The key of a text column in the records: its name, or the name of the column at its position."""
    if column not in record and column.isdigit() and int(column) < len(record):
        return list(record)[int(column)]
    return column


class ChunkWriter:
    """Appends chunks of dict rows to a CSV, TSV, JSONL or Parquet file (columns fixed by the first chunk)."""

    def __init__(self, handle, fmt: str) -> None:
        self.handle, self.fmt = handle, fmt
        self.csv_writer = self.parquet_writer = self.schema = None

    def write(self, rows: list[dict]) -> None:
        if self.fmt == "jsonl":
            self.handle.write("".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows))
        elif self.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pylist(rows, schema=self.schema)
            if self.parquet_writer is None:
                self.schema = table.schema
                self.parquet_writer = pq.ParquetWriter(self.handle, self.schema)
            self.parquet_writer.write_table(table)
        else:
            if self.csv_writer is None:
                self.csv_writer = csv.DictWriter(self.handle, fieldnames=list(rows[0]),
                                                 delimiter="\t" if self.fmt == "tsv" else ",")
                self.csv_writer.writeheader()
            self.csv_writer.writerows(rows)

    def close(self) -> None:
        if self.parquet_writer is not None:
            self.parquet_writer.close()


def output_prefix(first_row: dict, k: int, multi_label: bool = False) -> str:
    """``""`` (columns ``label``, ``probability``, ``label_2``, ...), or ``predicted_`` when the input already has a
    column of one of those names (a labeled file): the input's columns are kept as they are, never overwritten."""
    names = {f"{kind}{'' if rank == 1 else f'_{rank}'}" for kind in ("label", "probability") for rank in range(1, k + 1)}
    names |= {"labels"} if multi_label else set()
    if not names & set(first_row):
        return ""
    taken = {f"predicted_{name}" for name in names} & set(first_row)
    if taken:
        raise DataError(f"the input already has the column(s) {', '.join(sorted(taken))}; rename them, so that "
                        "the predictions do not overwrite them")
    print("note: the input has a column named like the predictions; they are written as predicted_label, "
          "predicted_probability, ...", file=sys.stderr)
    return "predicted_"


def _output(descriptor: int, path: str, binary: bool, gzipped: bool):
    """The output file: binary for Parquet, else UTF-8 text, gzip-compressed when its name ends in .gz."""
    if binary:
        return open(descriptor, "wb")
    if gzipped:  # opened by name, so that closing it closes the file under the compressor too
        os.close(descriptor)
        return gzip.open(path, "wt", encoding="utf-8", newline="")
    return open(descriptor, "w", encoding="utf-8", newline="")


@contextmanager
def table_output(target: Path):
    """The output file of a table, checked first (known type, a directory to write into), written under a
    temporary name beside it (named after this process; a killed run's are removed here) and renamed into place
    when the ``with`` block ends without an error: yields (file handle, format)."""
    fmt, gzipped = table_format(target), target.suffix.lower() == ".gz"
    if fmt == "parquet":
        parquet_module(target)  # a clear error now if pyarrow is missing, not after the first chunk
        if gzipped:
            raise DataError(f"{target}: Parquet compresses itself; drop the .gz")
    if not target.parent.is_dir():
        raise DataError(f"{target.parent}: no such directory to write {target.name} into")
    remove_stale(target)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=temporary_prefix(target), suffix=".tmp")
    try:
        with _output(handle, temporary, fmt == "parquet", gzipped) as out:
            yield out, fmt
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, target)
    finally:
        Path(temporary).unlink(missing_ok=True)


def write_table(target: str | os.PathLike, rows: list[dict], columns: Sequence[str]) -> None:
    """``rows`` (dicts with ``columns``) as one CSV, TSV, JSONL or Parquet file, by the target's extension."""
    with table_output(Path(target)) as (out, fmt):
        writer = ChunkWriter(out, fmt)
        if rows:
            writer.write([{column: row.get(column) for column in columns} for row in rows])
        elif fmt in ("csv", "tsv"):  # no rows: the header still says what the columns would be
            csv.writer(out, delimiter="\t" if fmt == "tsv" else ",").writerow(columns)
        elif fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table({column: pa.array([], pa.string()) for column in columns}), out)
        writer.close()


def predict_file(model, source: str | os.PathLike, target: str | os.PathLike, *, text_column: Sequence[str] = ("text",),
                 top_k: int = 1, chunk_rows: int = CHUNK_ROWS, progress: bool = True,
                 options: TableOptions = TableOptions(), notes: list[str] | None = None) -> int:
    """Label every row of ``source`` with ``model`` (anything with ``predict_proba`` and ``class_names_``)
    into ``target``; returns the number of rows. ``options``: the input file's header and quotes (a text
    column is named by its header or its position from 0); what was decided about its header goes to ``notes``."""
    source, target = Path(source), Path(target)
    if not source.is_file():
        raise DataError(f"{source}: no such file")
    classes = list(model.class_names_)
    k = min(top_k, len(classes))
    thresholds = getattr(model, "thresholds_", None)  # multi-label models only
    rows_done = 0
    bar = tqdm(unit="row", unit_scale=True, desc="predict", disable=not (progress and sys.stderr.isatty()))
    try:
        with table_output(target) as (out, out_fmt):
            listed = out_fmt in ("jsonl", "parquet")  # multi-label labels: a list there, joined names in CSV, TSV
            writer = ChunkWriter(out, out_fmt)
            prefix = None
            for chunk in read_chunks(source, chunk_rows, text_column, options, notes):
                if prefix is None:  # decided on the first chunk: an input column is never overwritten
                    prefix = output_prefix(chunk[0], k, thresholds is not None)
                    text_column = [_column_key(c, chunk[0]) for c in text_column]
                    fields = list(chunk[0])
                if out_fmt != "jsonl":  # one table: every row has the first row's fields (a missing one is empty)
                    _same_fields(chunk, fields, source, rows_done + 1)
                probabilities = model.predict_proba(_texts(chunk, text_column, source, rows_done + 1))
                ranked = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
                if thresholds is not None:
                    for record, given in zip(chunk, given_labels(probabilities, thresholds)):
                        names = [classes[j] for j in given]
                        record[f"{prefix}labels"] = names if listed else ",".join(names)
                for record, p, order in zip(chunk, probabilities, ranked):
                    for rank, j in enumerate(order, start=1):
                        suffix = "" if rank == 1 else f"_{rank}"
                        record[f"{prefix}label{suffix}"] = classes[j]
                        record[f"{prefix}probability{suffix}"] = round(float(p[j]), 6)
                writer.write(chunk)
                rows_done += len(chunk)
                bar.update(len(chunk))
            writer.close()
            if rows_done == 0:
                raise DataError(f"{source}: no rows")
    finally:
        bar.close()
    return rows_done
