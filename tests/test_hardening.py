"""Careless and hostile input to the command line: one clear line each, never a traceback, never a file lost."""

import gzip
import io
import sys

import pytest
from conftest import synthetic_corpus

from textrnn import TextRNNClassifier
from textrnn.cli import main


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    texts, labels = synthetic_corpus(200)
    return TextRNNClassifier(embed_dim=8, hidden_size=8, epochs=1).fit(texts, labels).save(
        tmp_path_factory.mktemp("hardening") / "m")


def test_texts_that_are_not_valid_unicode_are_named(model, capsys, monkeypatch):
    assert main(["predict", str(model), "fine", "bad \udcff text"]) == 2  # an argument holding a non-UTF-8 byte
    assert "text 2: not valid Unicode at character 5" in capsys.readouterr().err
    stdin = io.TextIOWrapper(io.BytesIO(b"a good line\nbad \xff\n"), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    assert main(["predict", str(model)]) == 2
    assert "text 2: not valid Unicode" in capsys.readouterr().err


def test_batch_output_into_a_missing_directory_or_a_full_disk_is_one_line(model, tmp_path, capsys, monkeypatch):
    source = tmp_path / "in.csv"
    source.write_text("text\nthe team won\n")
    assert main(["predict", str(model), "--input", str(source), "--out", str(tmp_path / "nowhere" / "out.csv")]) == 2
    assert "nowhere: no such directory to write out.csv into" in capsys.readouterr().err

    from textrnn.deploy import batch_predict

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "out.csv"))

    monkeypatch.setattr(batch_predict, "predict_file", full_disk)
    assert main(["predict", str(model), "--input", str(source), "--out", str(tmp_path / "out.csv")]) == 1
    err = capsys.readouterr().err
    assert "out.csv: No space left on device" in err and "please report" not in err


def test_a_gz_output_is_gzipped(model, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("text\nthe team won\nshares fell\n")
    assert main(["predict", str(model), "--input", str(source), "--out", str(tmp_path / "out.csv.gz")]) == 0
    lines = gzip.decompress((tmp_path / "out.csv.gz").read_bytes()).decode().splitlines()
    assert lines[0] == "text,label,probability" and len(lines) == 3


def test_a_truncated_or_foreign_onnx_graph_is_refused_with_a_message(model, tmp_path):
    import hashlib
    import json

    from textrnn.deploy.export import export_onnx
    from textrnn.deploy.runtime import OnnxClassifier
    from textrnn.errors import ExportError

    export, _ = export_onnx(model, tmp_path / "onnx", check_count=50)
    graph = export / "model.onnx"
    graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 2])
    manifest = json.loads((export / "export.json").read_text())
    manifest["sha256"]["model.onnx"] = hashlib.sha256(graph.read_bytes()).hexdigest()  # as an attacker would
    (export / "export.json").write_text(json.dumps(manifest))
    with pytest.raises(ExportError, match="model.onnx: not a loadable ONNX graph"):
        OnnxClassifier(export)
    (export / "export.json").write_text("{broken")
    with pytest.raises(ExportError, match="export.json: not readable JSON"):
        OnnxClassifier(export)
