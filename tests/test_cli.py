import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from textrnn import TextRNNClassifier
from textrnn.cli import main

FAST = ["--embed-dim", "16", "--hidden-size", "16", "--batch-size", "64", "--no-verbose"]


@pytest.fixture(scope="module")
def ag_news_run(ag_news_slice, tmp_path_factory):
    """A real `textrnn train` on a 3,000-row slice of AG News (canonical CSV layout)."""
    out = tmp_path_factory.mktemp("runs") / "ag"
    code = main(["train", "--data-dir", str(ag_news_slice), "--epochs", "2", "--out", str(out), *FAST])
    assert code == 0
    return out


def test_train_writes_a_complete_run_directory(ag_news_run):
    names = sorted(p.name for p in ag_news_run.iterdir() if not p.name.startswith("."))
    assert names == ["config.json", "confusion_matrix.png", "curves.png", "data.png", "labels.json", "metrics.json",
                     "model.safetensors", "reliability.png", "report.html", "run.json", "suspects.csv", "vectorizer.json"]
    metrics = json.loads((ag_news_run / "metrics.json").read_text())
    assert metrics["data"]["train_rows"] + metrics["data"]["validation_rows"] == 3000
    assert metrics["data"]["test_rows"] == 1000
    assert "AG News train (train.csv, a subset: 3,000 of the 120,000 training rows)" == metrics["data"]["train_source"]
    test = metrics["test"]
    assert test["rows"] == 1000 and 0.25 < test["accuracy"] <= 1.0
    assert test["labels"] == ["World", "Sports", "Business", "Sci/Tech"]
    assert sum(map(sum, test["confusion_matrix"])) == 1000
    assert set(test["per_class"]["Sports"]) == {"precision", "recall", "f1", "support"}
    assert [h["epoch"] for h in metrics["history"]] == [1, 2]
    assert metrics["timing"]["samples_per_second"] > 0 and metrics["timing"]["tokens_per_second"] > 0
    run = json.loads((ag_news_run / "run.json").read_text())
    assert run["command"][:2] == ["textrnn", "train"] and run["config"]["epochs"] == 2
    assert run["status"] == "finished" and run["finished"] >= run["started"]
    assert run["versions"]["torch"].startswith("2.13.0")


def test_evaluate_reproduces_the_test_metrics(ag_news_run, capsys, tmp_path):
    assert main(["evaluate", str(ag_news_run), "--output", str(tmp_path / "m.json")]) == 0
    printed = capsys.readouterr().out
    stored = json.loads((ag_news_run / "metrics.json").read_text())["test"]
    again = json.loads((tmp_path / "m.json").read_text())
    assert again["accuracy"] == stored["accuracy"] and again["confusion_matrix"] == stored["confusion_matrix"]
    assert f"accuracy {stored['accuracy']:.4f}" in printed and "confusion matrix" in printed


def test_predict_formats(ag_news_run, capsys, tmp_path):
    texts = ["Stocks fall as oil prices soar", "Red Sox win the World Series"]
    assert main(["predict", str(ag_news_run), *texts, "--format", "jsonl", "--top-k", "2"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in rows] == texts
    assert all(len(r["top_k"]) == 2 and r["top_k"][0]["label"] == r["label"] for r in rows)
    assert all(r["top_k"][0]["probability"] >= r["top_k"][1]["probability"] for r in rows)

    source = tmp_path / "in.csv"
    source.write_text("id,headline\n1,Stocks fall\n2,\n")
    out = tmp_path / "out.csv"
    assert main(["predict", str(ag_news_run), "--input", str(source), "--text-column", "headline",
                 "--output", str(out), "--top-k", "2"]) == 0
    table = list(csv.DictReader(out.open()))
    assert [r["headline"] for r in table] == ["Stocks fall", ""] and [r["id"] for r in table] == ["1", "2"]
    assert all(float(r["probability"]) >= float(r["probability_2"]) for r in table)
    assert all(r["label"] in ("World", "Sports", "Business", "Sci/Tech") for r in table)

    assert main(["predict", str(ag_news_run), "Stocks fall"]) == 0
    assert "| Stocks fall" in capsys.readouterr().out


def test_config_file_flags_and_presets_combine(ag_news_slice, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(f"preset: lesson-lstm\ndata_dir: {ag_news_slice}\nhidden_size: 4\nepochs: 1\nverbose: false\n")
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), "--hidden-size", "5", "--out", str(out)]) == 0
    used = json.loads((out / "run.json").read_text())["config"]
    assert used["preset"] == "lesson-lstm" and used["cell"] == "lstm" and used["embed_dim"] == 64  # preset
    assert used["epochs"] == 1 and used["hidden_size"] == 5  # file, then flag over file


def test_errors_are_one_line_with_the_parameter_or_file(tmp_path, capsys, ag_news_slice, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a run that fails on its data still writes its run directory: under runs/ here
    assert main(["train", "--data-dir", str(ag_news_slice), "--dropout", "2", "--out", str(tmp_path / "r")]) == 2
    assert "dropout: Input should be less than 1" in capsys.readouterr().err
    assert main(["train", "--preset", "nope"]) == 2
    assert "no preset named 'nope'" in capsys.readouterr().err
    config = tmp_path / "c.yaml"
    config.write_text("hidden_sise: 3\n")
    assert main(["train", "--config", str(config)]) == 2
    assert "hidden_sise: unknown parameter" in capsys.readouterr().err
    assert main(["train", "--dataset", str(tmp_path / "missing.csv")]) == 2
    assert "missing.csv: no such file" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "no-run"), "x"]) == 2
    assert "no such model directory" in capsys.readouterr().err


def test_train_on_a_local_file_with_test_data(tmp_path, synthetic):
    texts, labels = synthetic
    for name, rows in (("train.jsonl", range(0, 450)), ("test.jsonl", range(450, 600))):
        (tmp_path / name).write_text("".join(json.dumps({"body": texts[i], "topic": labels[i]}) + "\n" for i in rows))
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(tmp_path / "train.jsonl"), "--test-data", str(tmp_path / "test.jsonl"),
                 "--text-column", "body", "--label-column", "topic", "--lr", "0.005",
                 "--out", str(out), *FAST]) == 0  # epochs auto: 15 for so few rows, early stopping ends it
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["rows"] == 150 and metrics["test"]["accuracy"] > 0.9
    assert main(["train", "--dataset", str(tmp_path / "train.jsonl"), "--text-column", "body",
                 "--label-column", "topic", "--out", str(out), *FAST]) == 2  # refuses to overwrite a run


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "textrnn"
    result = subprocess.run([str(script), "presets"], capture_output=True, text=True, check=True)
    assert "lesson-bilstm" in result.stdout and "default" in result.stdout


def test_none_means_off_in_yaml_python_and_flags(tmp_path, synthetic):
    """The docs and --help say none; YAML reads it as a string and Python users copy it: all three must work."""
    texts, labels = synthetic
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": l}) + "\n" for t, l in zip(texts[:300], labels[:300])))
    config = tmp_path / "c.yaml"
    config.write_text("bag_of_words: none\nmax_length: none\npatience: none\nclass_weight: none\nbaseline: none\n")
    out = tmp_path / "run"
    assert main(["train", "--config", str(config), "--dataset", str(data), "--out", str(out), "--epochs", "1", *FAST]) == 0
    used = json.loads((out / "run.json").read_text())["config"]
    assert used["bag_of_words"] is None and used["max_length"] is None and used["patience"] is None
    assert used["class_weight"] == "none" and used["baseline"] == "none"  # "none" is one of their own options
    clf = TextRNNClassifier(bag_of_words="none", max_length="None", embed_dim=4, hidden_size=4, epochs=1,
                            verbose=False).fit(texts[:200], labels[:200])
    assert clf.params_.bag_of_words is None and clf.params_.max_length is None and clf.bag_of_words_weight_ == 0
    assert clf.get_params()["bag_of_words"] == "none"  # as given (scikit-learn's clone compares them)
