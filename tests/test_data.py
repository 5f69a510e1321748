import gzip
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from textrnn.data import ag_news as data
from textrnn.data.ag_news import AG_NEWS_LABELS, load_ag_news
from textrnn.data.dataset import Dataset, train_val_split
from textrnn.data.tables import read_table
from textrnn.errors import DataError


def test_shared_ag_news_subset_loads_and_says_it_is_a_subset(ag_news_dir):
    train = load_ag_news("train", ag_news_dir)
    test = load_ag_news("test", ag_news_dir)
    assert len(train) == 45_593 and len(test) == 7_600
    assert "45,593 of the 120,000" in train.describe()
    assert "subset" not in test.describe()
    assert set(test.labels) == set(AG_NEWS_LABELS)
    assert {label: test.labels.count(label) for label in AG_NEWS_LABELS} == dict.fromkeys(AG_NEWS_LABELS, 1900)


def test_ag_news_text_fields(ag_news_slice):
    title = load_ag_news("test", ag_news_slice, ["title"])
    description = load_ag_news("test", ag_news_slice, ["description"])
    text = load_ag_news("test", ag_news_slice, ["text"])
    assert text.texts[0] == f"{title.texts[0]} {description.texts[0]}"
    assert text.texts[0].startswith("Fears for T N pension after talks ")


def test_ag_news_directory_from_environment(ag_news_slice, monkeypatch):
    monkeypatch.setenv("TEXTRNN_DATA_DIR", str(ag_news_slice))
    assert len(load_ag_news("train")) == 3000


def test_ag_news_missing_directory_and_bad_rows(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_ag_news("train", tmp_path / "nowhere")
    with pytest.raises(DataError, match="holds none of train.csv"):
        load_ag_news("train", tmp_path)
    (tmp_path / "test.csv").write_text('"3","a","b"\n"7","c","d"\n')
    with pytest.raises(DataError, match=r"test.csv, line 2, field 'label': expected 1-4, got '7'"):
        load_ag_news("test", tmp_path)
    (tmp_path / "test.csv").write_text('"3","a"\n')
    with pytest.raises(DataError, match=r"line 1: 2 fields, expected 3"):
        load_ag_news("test", tmp_path)


def test_download_is_checked_against_the_md5(tmp_path, monkeypatch):
    good = tmp_path / "served.csv"
    good.write_text('"1","t","d"\n"2","t2","d2"\n')
    monkeypatch.delenv("TEXTRNN_DATA_DIR", raising=False)
    monkeypatch.setenv("TEXTRNN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setitem(data.AG_NEWS_URLS, "test", good.as_uri())
    monkeypatch.setitem(data.AG_NEWS_MD5, "test", "0" * 32)
    with pytest.raises(DataError, match="expected 0000"):
        load_ag_news("test")
    assert not list((tmp_path / "cache" / "ag_news").iterdir())  # nothing unverified is kept
    monkeypatch.setitem(data.AG_NEWS_MD5, "test", data.md5sum(good))
    assert load_ag_news("test").labels == ["World", "Sports"]
    assert (tmp_path / "cache" / "ag_news" / "test.csv").is_file()
    monkeypatch.setitem(data.AG_NEWS_URLS, "test", (tmp_path / "gone.csv").as_uri())
    assert len(load_ag_news("test")) == 2  # served from the cache, no second download


def test_failed_download_says_how_to_point_at_local_data(tmp_path, monkeypatch):
    monkeypatch.delenv("TEXTRNN_DATA_DIR", raising=False)
    monkeypatch.setenv("TEXTRNN_CACHE_DIR", str(tmp_path))
    monkeypatch.setitem(data.AG_NEWS_URLS, "train", (tmp_path / "missing.csv").as_uri())
    with pytest.raises(DataError, match="TEXTRNN_DATA_DIR"):
        load_ag_news("train")


ROWS = [{"title": "Goal!", "body": "late winner", "topic": "sport"}, {"title": "Shares", "body": "fell", "topic": "money"}]


def write(path, rows):
    suffix = "".join(path.suffixes)
    if ".parquet" in suffix:
        pq.write_table(pa.Table.from_pylist(rows), path)
        return path
    if ".jsonl" in suffix:
        content = "".join(json.dumps(r) + "\n" for r in rows)
    else:
        sep = "\t" if ".tsv" in suffix else ","
        content = sep.join(rows[0]) + "\n" + "".join(sep.join(r.values()) + "\n" for r in rows)
    if suffix.endswith(".gz"):
        path.write_bytes(gzip.compress(content.encode()))
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["d.csv", "d.tsv", "d.jsonl", "d.parquet", "d.csv.gz", "d.jsonl.gz"])
def test_every_file_format_reads_the_same(tmp_path, name):
    dataset = read_table(write(tmp_path / name, ROWS), ["title", "body"], "topic")
    assert dataset.texts == ["Goal! late winner", "Shares fell"]
    assert dataset.labels == ["sport", "money"]


def test_file_errors_name_file_row_and_field(tmp_path):
    path = write(tmp_path / "d.csv", ROWS)
    with pytest.raises(DataError, match=r"d.csv: no column 'text'; the header has title, body, topic"):
        read_table(path, ["text"], "topic")
    path.write_text("title,topic\nfine,sport\nalso fine,\n")
    with pytest.raises(DataError, match=r"d.csv, line 3, field 'topic': empty label"):
        read_table(path, ["title"], "topic")
    path.write_text("title,topic\n,sport\n")
    with pytest.raises(DataError, match=r"line 2, field 'title': empty text"):
        read_table(path, ["title"], "topic")
    path.write_text("title,topic\na,b,c\n")
    with pytest.raises(DataError, match=r"line 2: 3 fields, expected 2"):
        read_table(path, ["title"], "topic")
    path.write_text("title,topic\n")
    with pytest.raises(DataError, match=r"d.csv: no rows"):
        read_table(path, ["title"], "topic")
    path.write_bytes(b"title,topic\n\xff\xfe,x\n")
    with pytest.raises(DataError, match=r"d.csv, line 2, field .title.: invalid UTF-8"):
        read_table(path, ["title"], "topic")
    with pytest.raises(DataError, match=r"nope.csv: no such file"):
        read_table(tmp_path / "nope.csv", ["title"], "topic")
    with pytest.raises(DataError, match=r"unknown file type"):
        read_table(write(tmp_path / "d.xlsx", ROWS), ["title"], "topic")  # (.txt is fastText's format now)


def test_jsonl_and_parquet_errors(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"title": "a", "topic": "x"}\n{"title": "b"}\n')
    with pytest.raises(DataError, match=r"d.jsonl, line 2, field 'topic': no such field"):
        read_table(path, ["title"], "topic")
    path.write_text('{"title": "a", "topic": "x"}\nnot json\n')
    with pytest.raises(DataError, match=r"line 2: invalid JSON"):
        read_table(path, ["title"], "topic")
    parquet = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist([{"title": "a", "topic": "x"}, {"title": None, "topic": "y"}]), parquet)
    with pytest.raises(DataError, match=r"d.parquet, row 2, field 'title': missing value"):
        read_table(parquet, ["title"], "topic")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=r"not a readable Parquet file"):
        read_table(tmp_path / "bad.parquet", ["title"], "topic")


def test_validation_split_is_stratified_disjoint_and_seeded():
    labels = ["a"] * 100 + ["b"] * 40
    dataset = Dataset([f"text {i}" for i in range(140)], labels, "d")
    train, val = train_val_split(dataset, 0.1, seed=3)
    assert len(val) == 14 and val.labels.count("a") == 10 and val.labels.count("b") == 4
    assert not set(train.texts) & set(val.texts) and len(train) + len(val) == 140
    assert train_val_split(dataset, 0.1, seed=3)[1].texts == val.texts
    assert train_val_split(dataset, 0.1, seed=4)[1].texts != val.texts
    assert train_val_split(dataset, 0.0, seed=3) == (dataset, None)


def test_split_keeps_at_least_one_training_row_per_class():
    dataset = Dataset(["x", "y", "z"], ["a", "a", "b"], "d")
    train, val = train_val_split(dataset, 0.5, seed=0)
    assert sorted(train.labels) == ["a", "b"]
    assert np.array_equal(np.unique(val.labels), ["a"])


def test_fasttext_text_files_are_read(tmp_path):
    """fastText's own format, one example a line: '__label__sports Red Sox win the pennant'."""
    from textrnn.errors import RowError

    path = tmp_path / "train.txt"
    path.write_text("__label__sports Red Sox win the pennant\n\n__label__business Stocks fall , again\n")
    data = read_table(path)
    assert data.texts == ["Red Sox win the pennant", "Stocks fall , again"] and data.labels == ["sports", "business"]
    path.write_text("__label__sports __label__business Red Sox buy a bank\n")
    with pytest.raises(RowError, match=r"train.txt, line 1, field 'label': 2 labels \(sports, business\)"):
        read_table(path)
    path.write_text("no label here\n")
    with pytest.raises(DataError, match="line 1, field 'label': missing value"):
        read_table(path)


def test_every_file_has_its_own_shape(tmp_path, capsys):
    """A headerless training TSV beside a test CSV with a header, columns by position: each file's first row
    is judged on its own and the run says how it read it; evaluate and predict read other shapes too."""
    import csv as csv_module
    import json

    from conftest import synthetic_corpus
    from textrnn.cli import main

    texts, labels = synthetic_corpus(400)
    (tmp_path / "train.tsv").write_text("".join(f"{t}\t{l}\n" for t, l in zip(texts[:300], labels[:300])))
    with open(tmp_path / "test.csv", "w", newline="") as handle:
        csv_module.writer(handle).writerows([("text", "label"), *zip(texts[300:], labels[300:])])
    run = tmp_path / "run"
    assert main(["train", "--dataset", str(tmp_path / "train.tsv"), "--test-data", str(tmp_path / "test.csv"),
                 "--text-column", "0", "--label-column", "1", "--out", str(run), "--embed-dim", "8",
                 "--hidden-size", "8", "--epochs", "2", "--threads", "1"]) == 0
    err = capsys.readouterr().err
    assert "train.tsv: no header row: the first row" in err and "looks like data" in err
    assert "test.csv: the first row ('text', 'label') was read as a header" in err
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["data"]["train_rows"] + metrics["data"]["validation_rows"] == 300
    assert metrics["test"]["rows"] == 100

    # evaluate: a file of another shape than the run's, told by flags or found out
    assert main(["evaluate", str(run), "--test-data", str(tmp_path / "test.csv"), "--text-column", "text",
                 "--label-column", "label"]) == 0
    assert main(["evaluate", str(run), "--test-data", str(tmp_path / "train.tsv"), "--header", "no"]) == 0
    capsys.readouterr()
    # predict: a headerless file by position, and a file with a header by position
    for source in ("train.tsv", "test.csv"):
        out = tmp_path / f"labeled-{source}.jsonl"
        assert main(["predict", str(run), "--input", str(tmp_path / source), "--text-column", "0",
                     "--out", str(out)]) == 0
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(rows) == (300 if source == "train.tsv" else 100) and "label" in rows[0]


def test_a_first_row_of_data_asked_for_by_name_says_so(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("the match ended with a late goal for the home team,sport\nshares fell,money\n")
    with pytest.raises(DataError, match="no column 'text'.*looks like data, not a header: name the columns by "
                                        "position"):
        read_table(path)


def test_a_test_or_validation_file_described_on_its_own(tmp_path, capsys):
    """Column names that differ from the training file's: the file is described on its own (JSON on the command
    line, a mapping in YAML), and evaluate reads the run's test data as the run described it."""
    import json

    from conftest import synthetic_corpus
    from textrnn.cli import main

    texts, labels = synthetic_corpus(400)
    (tmp_path / "train.csv").write_text("text,label\n" + "".join(f"{t},{l}\n" for t, l in zip(texts[:250], labels)))
    (tmp_path / "val.jsonl").write_text("".join(json.dumps({"review": t, "stars": l}) + "\n"
                                                for t, l in zip(texts[250:320], labels[250:320])))
    (tmp_path / "test.tsv").write_text("".join(f"{l}\t{t}\n" for t, l in zip(texts[320:], labels[320:])))
    (tmp_path / "run.yaml").write_text(
        f"dataset: {tmp_path / 'train.csv'}\n"
        f"validation_data: {{path: {tmp_path / 'val.jsonl'}, text_column: [review], label_column: stars}}\n")
    shape = json.dumps({"path": str(tmp_path / "test.tsv"), "text_column": ["1"], "label_column": "0",
                        "header": False})
    run = tmp_path / "run"
    assert main(["train", "--config", str(tmp_path / "run.yaml"), "--test-data", shape, "--out", str(run),
                 "--embed-dim", "8", "--hidden-size", "8", "--epochs", "2", "--threads", "1"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["data"]["validation_rows"] == 70 and metrics["test"]["rows"] == 80
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 0
    assert "80 rows" in capsys.readouterr().out
