"""Careless and hostile input to the command line: one clear line each, never a traceback, never a file lost."""

import gzip
import io
import sys

import pytest
from conftest import synthetic_corpus

from textrnn import ConfigError, DataError, TextRNNClassifier
from textrnn.errors import MemoryBudgetError
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


def test_ten_thousand_classes_cost_what_their_rows_cost_not_the_square_of_the_classes():
    import tracemalloc

    import numpy as np

    from textrnn.evaluation.metrics import classification_metrics, format_metrics
    from textrnn.train.calibration import reliability

    classes = [f"c{i}" for i in range(10_000)]
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 10_000, size=20_000)
    predicted = np.where(rng.random(20_000) < 0.5, truth, rng.integers(0, 10_000, size=20_000))
    tracemalloc.start()
    metrics = classification_metrics(truth, predicted, classes)
    text = format_metrics(metrics)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50e6  # a dense 10,000 x 10,000 matrix alone is 800 MB
    assert "confusion_matrix" not in metrics and len(metrics["top_confusions"]) == 50
    assert metrics["accuracy"] == pytest.approx(np.mean(truth == predicted))
    assert "most frequent confusions" in text and len(text.splitlines()) < 10_100
    # The calibration figures work through the logits in chunks of rows (float64 copies of a whole
    # 5,000 x 10,000 matrix would be 400 MB each).
    logits = rng.normal(size=(5_000, 10_000)).astype(np.float32)
    tracemalloc.start()
    reliability(logits, rng.integers(0, 10_000, size=5_000), temperature=2.0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 100e6


def test_a_run_with_many_classes_reports_its_commonest_confusions(tmp_path):
    import csv
    import json

    rows = [(f"w{i % 300} filler w{(i * 7) % 300}", f"class{i % 300}") for i in range(1_800)]
    for name, part in (("train.csv", rows), ("test.csv", rows[:600])):
        with open(tmp_path / name, "w", newline="") as handle:
            csv.writer(handle).writerows([("text", "label"), *part])
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(tmp_path / "train.csv"), "--test-data", str(tmp_path / "test.csv"),
                 "--epochs", "1", "--embed-dim", "8", "--hidden-size", "8", "--baseline", "none",
                 "--bag-of-words", "none", "--out", str(out), "--no-verbose"]) == 0
    test = json.loads((out / "metrics.json").read_text())["test"]
    assert "confusion_matrix" not in test and test["top_confusions"]
    assert "Most frequent confusions" in (out / "report.html").read_text()


def test_one_enormous_training_text_is_cut_instead_of_setting_every_cost():
    # One 600,000-character text among short ones: max_length auto cuts the outlier (and says so), so training
    # stays as cheap as the other texts make it instead of padding a batch to 100,000 steps.
    texts, labels = synthetic_corpus(300)
    texts = texts + ["goal match " * 50_000]
    labels = labels + ["sport"]
    clf = TextRNNClassifier(embed_dim=8, hidden_size=8, epochs=1, val_size=0.2).fit(texts, labels)
    assert clf.params_.max_length == 1_000
    assert clf.fit_info_["truncated_train_texts"] == 1
    assert any(c["name"] == "max_length" and "the longest training text has 100,000 words" in c["reason"]
               for c in clf.fit_info_["auto"])


def test_ctrl_c_while_the_data_loads_is_one_line_and_the_run_can_start_again(tmp_path, capsys, monkeypatch):
    import csv

    from textrnn import recipe

    texts, labels = synthetic_corpus(200)
    with open(tmp_path / "d.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([("text", "label"), *zip(texts, labels)])

    def interrupted(config):
        raise KeyboardInterrupt

    monkeypatch.setattr(recipe, "load_run_data", interrupted)
    command = ["train", "--dataset", str(tmp_path / "d.csv"), "--epochs", "1", "--out", str(tmp_path / "run"),
               "--no-verbose", "--baseline", "none"]
    assert main(command) == 130
    err = capsys.readouterr().err
    assert "textrnn: stopped (Ctrl-C)" in err and "Traceback" not in err
    monkeypatch.undo()
    assert main(command) == 0  # nothing was finished in the directory: the same command runs again


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli-run")
    texts, labels = synthetic_corpus(300)
    (directory / "data.csv").write_text("text,label\n" + "".join(f"{t},{l}\n" for t, l in zip(texts, labels)))
    assert main(["train", "--dataset", str(directory / "data.csv"), "--out", str(directory / "run"),
                 "--embed-dim", "8", "--hidden-size", "8", "--epochs", "1", "--no-verbose"]) == 0
    return directory


OUTPUTS = {  # every command that writes a file the user names: (arguments, the output's name)
    "evaluate --out": (["evaluate", "{run}", "--test-data", "{data}", "--out", "{out}"], "metrics.json"),
    "predict TEXT --out": (["predict", "{run}", "a goal", "--out", "{out}"], "predictions.txt"),
    "predict --input --out": (["predict", "{run}", "--input", "{data}", "--out", "{out}"], "labeled.csv"),
    "compare --plot": (["compare", "{run}", "--plot", "{out}"], "compare.png"),
    "tune --out": (["tune", "--dataset", "{data}", "--budget-minutes", "5", "--trials", "1", "--epochs", "1",
                    "--embed-dim", "4", "--hidden-size", "4", "--out", "{out}"], "tuned.yaml"),
}


@pytest.mark.parametrize("case", sorted(OUTPUTS))
def test_no_output_is_written_through_a_planted_link(cli_run, tmp_path, case):
    """A symbolic link where the output goes is replaced by the file (a temporary name, then a rename); the
    file it pointed at is never written."""
    arguments, name = OUTPUTS[case]
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / name
    out.symlink_to(victim)
    values = {"run": cli_run / "run", "data": cli_run / "data.csv", "out": out}
    assert main([part.format(**values) for part in arguments]) == 0
    assert victim.read_text() == "precious" and out.is_file() and not out.is_symlink()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


BOMB = "".join(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9 if previous else ['"lol"'] * 9) + "]\n"
               for previous, name in zip([None, "a", "b", "c", "d", "e", "f", "g"], "abcdefgh")) + "hidden_size: *h\n"


def test_messages_quote_what_they_were_given_in_bounded_size(tmp_path, capsys):
    """A 400-byte YAML alias bomb (9^8 values), a huge value in Python, a huge unknown label: each message
    names the problem in a line, never the whole value (a bomb once made a 312 MB message)."""
    config = tmp_path / "bomb.yaml"
    config.write_text(BOMB)
    assert len(BOMB) < 500
    assert main(["train", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "aliases (*name) expand to more than 100,000 values" in err and len(err) < 400
    nested = [[list(range(1000))] * 1000] * 10
    with pytest.raises(ConfigError) as caught:
        TextRNNClassifier(hidden_size=nested, lr="x" * 1_000_000).fit(["a b", "c d"], ["x", "y"])
    assert "hidden_size" in str(caught.value) and "lr" in str(caught.value) and len(str(caught.value)) < 600
    clf = TextRNNClassifier(embed_dim=4, hidden_size=4, epochs=1, verbose=False).fit(["a b", "c d"] * 20,
                                                                                    ["x", "y"] * 20)
    with pytest.raises(DataError) as caught:
        clf.evaluate(["a b"], ["z" * 500_000])
    assert "is not one of the classes" in str(caught.value) and len(str(caught.value)) < 400


def test_a_network_too_large_for_memory_is_refused_before_anything_is_allocated(tmp_path, capsys):
    """hidden_size 20,000 took 6 GB in 18 s, 1e11 ended in the allocator's error: the size is estimated from the
    parameters and refused with the figures. Run under an address-space limit far below what it would take."""
    import resource
    import subprocess

    config = tmp_path / "big.yaml"
    data = tmp_path / "d.csv"
    texts, labels = synthetic_corpus(60)
    data.write_text("text,label\n" + "".join(f"{t},{l}\n" for t, l in zip(texts, labels)))
    limit = lambda: resource.setrlimit(resource.RLIMIT_AS, (6 * 2**30, 6 * 2**30))
    for size in ("20000", "100000000000"):  # (YAML reads 1e11 as text: a clear message of its own)
        config.write_text(f"hidden_size: {size}\nepochs: 1\nbaseline: none\n")
        result = subprocess.run([sys.executable, "-m", "textrnn", "train", "--config", str(config), "--dataset",
                                 str(data), "--out", str(tmp_path / f"run-{size}")], capture_output=True, text=True,
                                preexec_fn=limit, timeout=120)
        assert result.returncode == 2, result.stderr
        assert "the network would have" in result.stderr and "choose smaller sizes" in result.stderr
    with pytest.raises(MemoryBudgetError, match="hidden_size 20000"):
        TextRNNClassifier(hidden_size=20_000, memory_budget_gb=4).fit(texts, labels)


def test_the_parameter_count_is_the_networks(tmp_path):
    """The estimate that refuses large networks counts exactly what build_network allocates."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from textrnn.model.build import build_network
    from textrnn.params import ClassifierParams
    from textrnn.train.memory import network_parameters

    @settings(max_examples=40, deadline=None)
    @given(cell=st.sampled_from(["rnn", "lstm", "gru"]), bidirectional=st.booleans(),
           num_layers=st.integers(1, 3), pooling=st.sampled_from(["last", "max", "mean", "attention", "concat"]),
           ensemble=st.integers(1, 3), one_hot=st.booleans(), hidden=st.integers(1, 12), embed=st.integers(1, 12),
           vocab=st.integers(3, 60), classes=st.integers(2, 9))
    def check(cell, bidirectional, num_layers, pooling, ensemble, one_hot, hidden, embed, vocab, classes):
        params = ClassifierParams(cell=cell, bidirectional=bidirectional, num_layers=num_layers, pooling=pooling,
                                  ensemble=ensemble, one_hot=one_hot, hidden_size=hidden, embed_dim=embed,
                                  embeddings=None if one_hot else "auto")
        model = build_network(params, vocab, classes)
        assert network_parameters(params, vocab, classes) == sum(p.numel() for p in model.parameters())

    check()


def test_linear_models_too_large_for_memory_are_skipped_and_the_network_kept(tmp_path, capsys):
    """A 10,000-class run passed 8 GB in the bag-of-words path's fit and was killed before the model was saved.
    The fits' memory is estimated first (here against a tiny budget): the path is not tried, the baseline is not
    fitted, each says why, and the trained network is saved and reported."""
    import json
    import random

    rng = random.Random(0)
    rows = [(" ".join([f"word{c}"] + [rng.choice(["aa", "bb", "cc"]) for _ in range(5)]), f"class{c}")
            for c in range(80) for _ in range(8)]
    (tmp_path / "d.csv").write_text("text,label\n" + "".join(f"{t},{l}\n" for t, l in rows))
    assert main(["train", "--dataset", str(tmp_path / "d.csv"), "--out", str(tmp_path / "run"), "--embed-dim", "4",
                 "--hidden-size", "4", "--epochs", "1", "--memory-budget-gb", "0.0006", "--embeddings", "none",
                 "--max-tokens", "200"]) == 0
    err = capsys.readouterr().err
    assert "bag_of_words None: its linear model for 80 classes would need about" in err
    assert "baseline: not fitted: the baseline's logistic regression" in err
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "skipped" in metrics["baseline"] and (tmp_path / "run" / "model.safetensors").is_file()
    assert "Not fitted:" in (tmp_path / "run" / "report.html").read_text()


def test_inputs_the_readme_says_are_handled_get_their_own_message(cli_run, tmp_path, capsys, monkeypatch):
    """One message naming the file and row for each, never the catch-all line."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from textrnn import threads
    from textrnn.artifacts import read_json
    from textrnn.deploy.batch_predict import predict_file
    from textrnn.errors import ModelFileError
    from textrnn.evaluation.compare import compare_runs

    run = cli_run / "run"
    table = pa.Table.from_arrays([pa.array(["a b", "c d"]), pa.array(["e", "f"]), pa.array(["x", "y"])],
                                 names=["text", "text", "label"])
    pq.write_table(table, tmp_path / "dup.parquet")
    assert main(["train", "--dataset", str(tmp_path / "dup.parquet"), "--out", str(tmp_path / "r")]) == 2
    assert "dup.parquet: column(s) 'text' appear more than once" in capsys.readouterr().err

    (tmp_path / "mixed.jsonl").write_text('{"text": "goal"}\n{"text": "stock", "extra": 1}\n')
    assert main(["predict", str(run), "--input", str(tmp_path / "mixed.jsonl"), "--out", str(tmp_path / "o.csv")]) == 2
    assert "mixed.jsonl, row 2: field 'extra' is not among the first row's fields" in capsys.readouterr().err
    assert main(["predict", str(run), "--input", str(tmp_path / "mixed.jsonl"), "--out", str(tmp_path / "o.jsonl")]) == 0

    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ModelFileError, match="deep.json: not readable JSON"):
        read_json(tmp_path / "deep.json")

    damaged = tmp_path / "damaged"
    import shutil

    shutil.copytree(run, damaged)
    (damaged / "metrics.json").write_text(json.dumps({"test": {"accuracy": "high"}}))
    rows, _, left_out = compare_runs([run, damaged])
    assert [r["run"] for r in rows] == ["run"] and "test accuracy is 'high', not a number" in left_out[0][1]

    with pytest.raises(DataError, match="validation_data: 0 texts and 0 labels"):
        TextRNNClassifier(epochs=1).fit(["a b", "c d"] * 5, ["x", "y"] * 5, validation_data=([], []))

    (tmp_path / "cpu.max").write_text("100000 0\n")  # a zero period
    monkeypatch.setattr(threads, "CGROUP", tmp_path)
    assert threads.cgroup_quota() is None

    lines = [f"row number {i}" for i in range(20)]
    lines[12] = "bad \udcff text"
    (tmp_path / "many.csv").write_text("text\n" + "\n".join(lines) + "\n", encoding="utf-8", errors="surrogateescape")
    model = TextRNNClassifier.load(run)
    with pytest.raises(DataError, match=r"many.csv, row 13: not valid Unicode"):  # the file's row, not the chunk's
        predict_file(model, tmp_path / "many.csv", tmp_path / "many-out.csv", chunk_rows=5)


def test_a_tokenizer_panic_is_a_message(cli_run, monkeypatch):
    """The tokenizers library panics with a BaseException; the server already survived it, the CLI did not."""
    model = TextRNNClassifier.load(cli_run / "run")

    class PanicException(BaseException):
        pass

    class Panicking:
        def encode_batch_fast(self, texts, add_special_tokens=False):
            raise PanicException("regex engine panicked")

    monkeypatch.setattr(model.vectorizer_, "tokenizer", Panicking())
    with pytest.raises(DataError, match="the tokenizer failed on these texts"):
        model.predict(["anything"])


def reading_a_pipe(pid: int) -> bool:
    """Whether the process sleeps in a read of a pipe (Linux names the kernel function it waits in)."""
    try:
        with open(f"/proc/{pid}/wchan") as wchan:
            return "pipe_read" in wchan.read()
    except OSError:
        return False


def test_sigterm_outside_training_says_so(cli_run, tmp_path):
    """SIGTERM while the command waits for its texts on stdin (a pipe nobody writes) used to end it without a word;
    and a pipe given as a data file is named as what it is."""
    import os
    import signal
    import subprocess
    import time

    process = subprocess.Popen([sys.executable, "-m", "textrnn", "predict", str(cli_run / "run")],
                               stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not reading_a_pipe(process.pid):  # the model loaded, reading stdin
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143 and "textrnn: stopped (SIGTERM)" in err, err
    os.mkfifo(tmp_path / "in.csv")
    assert main(["train", "--dataset", str(tmp_path / "in.csv")]) == 2


def test_temporaries_a_killed_process_left_are_removed_by_the_next_run(cli_run, tmp_path):
    """Batch prediction and export write under a temporary name beside their output, naming their process; the
    next run to the same output removes what a killed one left (and never what a running one is writing)."""
    import os

    from textrnn.deploy.batch_predict import predict_file
    from textrnn.deploy.export import export_onnx

    dead, alive = "999999999", str(os.getpid())
    out = tmp_path / "out.csv"
    for pid in (dead, alive):
        (tmp_path / f".out.csv.{pid}.abc123.tmp").write_text("half a file")
    predict_file(TextRNNClassifier.load(cli_run / "run"), cli_run / "data.csv", out)
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp"))
    assert left == [f".out.csv.{alive}.abc123.tmp"]

    import shutil

    run = shutil.copytree(cli_run / "run", tmp_path / "run")
    (run / f".onnx.{dead}.xyz.tmp").mkdir()
    (run / f".onnx.{dead}.xyz.tmp" / "model.onnx").write_bytes(b"half a graph")
    export_onnx(run)
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
