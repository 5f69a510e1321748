"""CSV and TSV files: rows parsed strictly, and a first row that names the columns, or does not.

Whether the first row is a header is decided for each file on its own (unless the user says), because the
files of one run often differ: a training file without a header beside a test file with one. A column is
named by its header or by its position from 0 in either kind of file.
"""

from __future__ import annotations

import csv
import re
from itertools import chain, islice
from pathlib import Path
from typing import Iterator, Sequence

from ..errors import DataError, RowError
from .cells import MAX_FIELD_CHARS


def delimited_records(path: Path, lines, columns: Sequence[str] | None, delimiter: str, *,
                      header: Sequence[str] | None = None, header_row: bool | str = "auto", quoting: str = "csv",
                      required: Sequence[str] = (), notes: list[str] | None = None
                      ) -> Iterator[tuple[str, dict | RowError]]:
    """Records of a CSV/TSV file, as :func:`textrnn.data.tables.iter_records` gives them. ``header`` names the
    columns of a file known to have no header row; else ``header_row`` says whether the first row names them
    (True, False, or "auto": decided from the file, and said in ``notes``). A column is named by its header or
    by its position (``0`` is the first), in a file with a header row or without; ``required`` are the
    columns that decide an "auto" header when ``columns`` is None (every column kept)."""
    kind = "TSV" if delimiter == "\t" else "CSV"
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_CHARS + 1))
    quoting = {"quoting": csv.QUOTE_NONE} if quoting == "none" else {}
    rows = _parsed_rows(csv.reader(lines, delimiter=delimiter, strict=True, **quoting), kind)
    numbered = False  # the columns are named by position: the file has no header row
    if header is None:
        first = next(rows, None)
        if first is None:
            raise DataError(f"{path}: empty file (expected "
                            + ("rows)" if header_row is False else "a header row naming the columns)"))
        if isinstance(first[1], str):
            raise DataError(f"{path}, {first[0]}: {first[1]}")
        is_header = header_row
        if is_header == "auto":
            peeked = list(islice(rows, HEADER_PEEK_ROWS))
            rows = chain(peeked, rows)
            is_header, reason = _first_row_is_header(first[1], [r for _, r in peeked if not isinstance(r, str)],
                                                     list(columns or required))
            if reason and notes is not None:
                notes.append(f"{path}: {reason}")
        if is_header:
            header = first[1]
        else:
            header, numbered = [str(i) for i in range(len(first[1]))], True
            rows = chain([first], rows)
    if columns is None:
        columns = header
    positions = {c: _position(c, header) for c in columns}
    missing = [c for c, i in positions.items() if i is None]
    if missing:
        named = "without a header the columns are" if numbered else "the header has"
        hint = ""
        if not numbered and not all(_looks_like_a_name(cell) for cell in header):
            hint = ("; that first row looks like data, not a header: name the columns by position (--text-column 0 "
                    "--label-column 1, counting from 0)")
        raise DataError(f"{path}: no column {', '.join(map(repr, missing))}; {named} "
                        f"{', '.join(map(_short_cell, header))}{hint}")
    for where, row in rows:
        if isinstance(row, str):
            yield where, RowError(path, where, row)
        elif len(row) != len(header):
            yield where, RowError(path, where, f"{len(row)} fields, expected {len(header)}", content=row)
        else:
            yield where, {c: row[i] for c, i in positions.items()}


HEADER_PEEK_ROWS = 1000  # rows after the first that header detection looks at
_COLUMN_NAME = re.compile(r"[^\W\d][\w .\-/#()]{0,39}")


def _position(column: str, header: Sequence[str]) -> int | None:
    """Where ``column`` is: its header name, else its position when it is a number within the row."""
    if column in header:
        return list(header).index(column)
    if column.isdigit() and int(column) < len(header):
        return int(column)
    return None


def _first_row_is_header(first: list[str], following: list[list[str]], required: list[str]) -> tuple[bool, str]:
    """Whether a file's first row names its columns, and, when that was not obvious, why it was read as it was.

    It is a header when it holds every column asked for by name. When the columns are asked for by position, it
    is a header when each of those cells looks like a column name (a short name, not a number) that does not
    come back as a value in its column in the next rows: a label such as "positive" recurs, a header does not.
    """
    if not required or all(c in first for c in required):
        return True, ""
    if not all(c.isdigit() for c in required):
        return True, ""  # names that are not in the first row: the missing-column error says what it holds
    indices = [int(c) for c in required if int(c) < len(first)]
    cells = [first[i].strip() for i in indices]
    shown = ", ".join(repr(_short_cell(cell)) for cell in first)
    names_like = all(map(_looks_like_a_name, cells))
    recurs = any(row[i].strip() == first[i].strip() for row in following for i in indices if i < len(row))
    if names_like and following and not recurs:
        return True, (f"the first row ({shown}) was read as a header: it looks like column names; "
                      "--header no if it is data")
    return False, (f"no header row: the first row ({shown}) looks like data, so the columns are numbered "
                   "from 0; --header yes if it names them")


def _looks_like_a_name(cell: str) -> bool:
    """A column name: a short word or a few (``text``, ``review_body``, ``Class Index``), not a number."""
    cell = cell.strip()
    return bool(_COLUMN_NAME.fullmatch(cell)) and len(cell.split()) <= 3


def _short_cell(cell: str) -> str:
    return cell if len(cell) <= 30 else cell[:27] + "..."


def _parsed_rows(reader, kind: str) -> Iterator[tuple[str, list[str] | str]]:
    """``(where, fields)`` for each row that is not blank, or ``(where, reason)`` for one the reader refused."""
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
            yield f"line {first_line}", reason
            continue
        if row:  # a blank line holds no row
            yield (f"line {first_line}" if reader.line_num == first_line
                   else f"lines {first_line}-{reader.line_num}"), row
