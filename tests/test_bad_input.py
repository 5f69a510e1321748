"""A corpus of bad input files, each with its own message; skip mode; property-based tests of the loaders."""

import csv
import gzip
import io
import json
import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import synthetic_corpus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textrnn import DataError, TextRNNClassifier, read_table
from textrnn.cli import main
from textrnn.data.tables import MAX_FIELD_CHARS

# name -> (file name, bytes, expected message)
BAD_FILES = {
    "unbalanced quote": ("d.csv", b'text,label\n"fine",a\n"never closed,b\nmore,c\n',
                         r"d.csv, line 3: malformed CSV: a quoted field opened on line 3 is never closed"),
    "stray quote": ("d.csv", b'text,label\n"ab"c,a\n', r"d.csv, line 2: malformed CSV \(',' expected after '\"'\)"),
    "too many fields": ("d.csv", b"text,label\nx,a\ny,b,extra\n", r"d.csv, line 3: 3 fields, expected 2"),
    "too few fields": ("d.tsv", b"text\tlabel\nx\n", r"d.tsv, line 2: 1 fields, expected 2"),
    "missing column": ("d.csv", b"body,label\nx,a\n", r"d.csv: no column 'text'; the header has body, label"),
    "empty text": ("d.csv", b"text,label\n  ,a\n", r"d.csv, line 2, field 'text': empty text"),
    "empty label": ("d.csv", b"text,label\nx, \n", r"d.csv, line 2, field 'label': empty label"),
    "invalid UTF-8": ("d.csv", b"text,label\nok,a\ncaf\xe9,b\n", r"d.csv, line 3, field 'text': invalid UTF-8"),
    "enormous line": ("d.csv", b"text,label\n" + b"x" * (MAX_FIELD_CHARS + 5) + b",a\n",
                      r"d.csv, line 2: malformed CSV \(field larger than field limit"),
    "empty file": ("d.csv", b"", r"d.csv: empty file \(expected a header row"),
    "header only": ("d.csv", b"text,label\n", r"d.csv: no rows"),
    "JSONL null text": ("d.jsonl", b'{"text": null, "label": "a"}\n', r"d.jsonl, line 1, field 'text': missing value"),
    "JSONL number text": ("d.jsonl", b'{"text": 12, "label": "a"}\n',
                          r"line 1, field 'text': expected text, got int 12"),
    "JSONL NaN label": ("d.jsonl", b'{"text": "x", "label": NaN}\n', r"line 1, field 'label': missing value"),
    "JSONL list label": ("d.jsonl", b'{"text": "x", "label": ["a"]}\n',
                         r"line 1, field 'label': expected text or an integer, got list"),
    "JSONL not an object": ("d.jsonl", b'["x", "a"]\n', r"d.jsonl, line 1: expected a JSON object, got list"),
    "JSONL broken": ("d.jsonl", b'{"text": "x", "label": \n', r"d.jsonl, line 1: invalid JSON"),
    "JSONL missing field": ("d.jsonl", b'{"text": "x"}\n', r"d.jsonl, line 1, field 'label': no such field"),
    "gzip that is not": ("d.csv.gz", b"text,label\nx,a\n", r"d.csv.gz: cannot open"),
    "truncated gzip": ("d.csv.gz", gzip.compress(b"text,label\n" + b"some words,a\n" * 20_000)[:300],
                       r"d.csv.gz: truncated or damaged gzip data after [\d,]+ bytes"),
    "unknown type": ("d.xlsx", b"PK", r"d.xlsx: unknown file type"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_each_bad_file_gets_its_own_message(case, tmp_path):
    name, content, message = BAD_FILES[case]
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_table(tmp_path / name)


def test_parquet_nan_and_non_string_cells(tmp_path):
    table = pa.table({"text": ["fine", None, "x"], "label": pa.array([1.0, 2.0, math.nan])})
    pq.write_table(table, tmp_path / "d.parquet")
    with pytest.raises(DataError, match=r"d.parquet, row 2, field 'text': missing value"):
        read_table(tmp_path / "d.parquet")
    pq.write_table(pa.table({"text": ["fine"], "label": pa.array([1.5])}), tmp_path / "e.parquet")
    with pytest.raises(DataError, match=r"e.parquet, row 1, field 'label': expected text or an integer, got float"):
        read_table(tmp_path / "e.parquet")
    pq.write_table(pa.table({"text": [3], "label": ["a"]}), tmp_path / "f.parquet")
    with pytest.raises(DataError, match=r"f.parquet, row 1, field 'text': expected text, got int"):
        read_table(tmp_path / "f.parquet")


def test_byte_order_mark_and_mixed_line_endings_are_read_and_noted(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"\xef\xbb\xbftext,label\r\nx,a\r\ny,b\nz,c\r\n")
    dataset = read_table(path)
    assert dataset.texts == ["x", "y", "z"] and dataset.labels == ["a", "b", "c"]
    assert any("byte-order mark" in note for note in dataset.notes)
    assert any("mixed line endings (3 CRLF, 1 LF)" in note for note in dataset.notes)


def test_labels_classes_and_unknown_labels():
    texts, labels = synthetic_corpus(90)
    with pytest.raises(DataError, match="needs at least two classes"):
        TextRNNClassifier().fit(texts, ["only"] * 90)
    with pytest.raises(DataError, match=r"class\(es\) weather have no training rows"):
        TextRNNClassifier().fit(texts, labels, classes=["money", "sport", "tech", "weather"])
    clf = TextRNNClassifier(embed_dim=4, hidden_size=4, epochs=1).fit(texts, labels)
    with pytest.raises(DataError, match=r"test.csv, row 3: label 'weather' is not one of the classes"):
        clf.evaluate(["a", "b", "c"], ["money", "tech", "weather"], source="test.csv")


def test_skip_mode_reports_every_bad_row_and_writes_them_aside(tmp_path, capsys):
    texts, labels = synthetic_corpus(300)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["text", "label"])
    bad_lines = []
    for i, (text, label) in enumerate(zip(texts, labels)):
        if i in (10, 50, 200):
            writer.writerow([text, ""])  # empty label
            bad_lines.append(i + 2)
        else:
            writer.writerow([text, label])
    buffer.write("too,many,fields\n")
    bad_lines.append(302)
    (tmp_path / "train.csv").write_text(buffer.getvalue())

    with pytest.raises(DataError, match="line 12, field 'label': empty label"):
        read_table(tmp_path / "train.csv")
    dataset = read_table(tmp_path / "train.csv", on_bad_rows="skip")
    assert len(dataset) == 297 and [e.where for e in dataset.skipped] == [f"line {n}" for n in bad_lines]

    out = tmp_path / "run"
    assert main(["train", "--dataset", str(tmp_path / "train.csv"), "--on-bad-rows", "skip", "--epochs", "1",
                 "--embed-dim", "8", "--hidden-size", "8", "--out", str(out), "--no-verbose"]) == 0
    assert "skipped 4 bad rows" in capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["skipped_rows"] == 4
    assert metrics["data"]["train_rows"] + metrics["data"]["validation_rows"] == 297
    side = [json.loads(line) for line in (out / "skipped_rows.jsonl").read_text().splitlines()]
    assert [row["where"] for row in side] == [f"line {n}" for n in bad_lines]
    assert side[0]["reason"] == "empty label" and side[0]["content"]["text"] == texts[10]


# ------------------------------------------------------------------------------------------- properties

good_text = st.text(min_size=1).filter(lambda t: t.strip() and "\x00" not in t)
label_text = st.sampled_from(["a", "b", "c", "Sci/Tech", "é"])
# A row is (text, label, fault); fault None means a good row.
rows_strategy = st.lists(
    st.tuples(good_text, label_text, st.sampled_from([None, None, None, "empty label", "empty text", "extra field"])),
    min_size=1, max_size=40,
)


def write_csv(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["text", "label"])
        for text, label, fault in rows:
            if fault == "empty label":
                writer.writerow([text, ""])
            elif fault == "empty text":
                writer.writerow([" ", label])
            elif fault == "extra field":
                writer.writerow([text, label, "x"])
            else:
                writer.writerow([text, label])


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as out:
        for text, label, fault in rows:
            record = {"text": text, "label": label}
            if fault == "empty label":
                record["label"] = ""
            elif fault == "empty text":
                record["text"] = "\t"
            elif fault == "extra field":
                record = [text, label]  # not an object
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


@pytest.mark.parametrize("writer,name", [(write_csv, "d.csv"), (write_jsonl, "d.jsonl")])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows_strategy)
def test_every_good_row_is_read_and_every_bad_row_reported(writer, name, rows, tmp_path):
    path = tmp_path / name
    writer(path, rows)
    good = [(text, label.strip()) for text, label, fault in rows if fault is None]
    bad = len(rows) - len(good)
    if good:
        dataset = read_table(path, on_bad_rows="skip")
        assert list(zip(dataset.texts, dataset.labels)) == good
        assert len(dataset.skipped) == bad
    else:
        with pytest.raises(DataError, match="no rows"):
            read_table(path, on_bad_rows="skip")
    if bad:
        with pytest.raises(DataError):
            read_table(path)
    else:
        assert len(read_table(path)) == len(rows)
