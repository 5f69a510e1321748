"""The run report, explanations and run comparison."""

import json
import shutil

import pytest
from conftest import synthetic_corpus
from PIL import Image

from textrnn import TextRNNClassifier
from textrnn.cli import main
from textrnn.evaluation.compare import compare_runs
from textrnn.evaluation.explain import explain, to_html, to_terminal

SMALL = ["--embed-dim", "16", "--hidden-size", "16", "--epochs", "2", "--lr", "0.005", "--no-verbose"]
SECTIONS = ("<h2>Configuration</h2>", "<h2>Data</h2>", "<h2>Training</h2>", "<h2>Test</h2>",
            "<h2>Most confident mistakes</h2>", "<h2>Timing</h2>", "<h2>Calibration</h2>",
            "<h2>Against a bag-of-words baseline</h2>")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("data")
    for name, (rows, seed) in {"train.jsonl": (900, 0), "test.jsonl": (300, 1)}.items():
        texts, labels = synthetic_corpus(rows, seed)
        # A few mislabeled test rows, so that there are mistakes to show.
        labels = ["tech" if (name == "test.jsonl" and i % 40 == 0 and l != "tech") else l for i, l in enumerate(labels)]
        (directory / name).write_text("".join(json.dumps({"text": t, "label": l}) + "\n" for t, l in zip(texts, labels)))
    return directory


def train(data_dir, out, *extra):
    assert main(["train", "--dataset", str(data_dir / "train.jsonl"), "--test-data", str(data_dir / "test.jsonl"),
                 "--out", str(out), *SMALL, *extra]) == 0
    return out


@pytest.fixture(scope="module")
def run(data_dir, tmp_path_factory):
    return train(data_dir, tmp_path_factory.mktemp("runs") / "small", "--tensorboard")


def test_training_writes_a_self_contained_report_with_every_section(run):
    html = (run / "report.html").read_text()
    for section in SECTIONS:
        assert section in html
    assert 'src="http' not in html and "<script" not in html  # nothing to fetch: it opens offline
    assert html.count('src="data:image/png;base64,') == 4  # curves, confusion matrix, reliability, data
    assert "pushed towards the wrong prediction" in html and html.count("<span style=\"background:rgba") > 10


@pytest.mark.parametrize("name", ["curves.png", "confusion_matrix.png", "data.png"])
def test_figures_are_valid_png_images(run, name):
    with Image.open(run / name) as image:
        image.verify()
    with Image.open(run / name) as image:
        assert image.format == "PNG" and image.size[0] > 300 and image.size[1] > 200


def test_report_command_rebuilds_it_and_copes_with_missing_data(run, data_dir, tmp_path, capsys):
    (run / "report.html").unlink()
    assert main(["report", str(run)]) == 0
    assert all(section in (run / "report.html").read_text() for section in SECTIONS)
    moved = tmp_path / "moved"
    shutil.copytree(run, moved)
    record = json.loads((moved / "run.json").read_text())
    record["config"]["dataset"] = str(tmp_path / "gone.jsonl")
    (moved / "run.json").write_text(json.dumps(record))
    assert main(["report", str(moved)]) == 0
    html = (moved / "report.html").read_text()
    assert "could not be read again" in html and "gone.jsonl" in html and "<h2>Test</h2>" in html


def test_tensorboard_logs_are_written(run):
    events = list((run / "tensorboard").rglob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0


def test_explanation_puts_the_decisive_word_first():
    texts, labels = synthetic_corpus(900)
    clf = TextRNNClassifier(embed_dim=16, hidden_size=16, epochs=3, lr=5e-3).fit(texts, labels)
    for text, word, label in [("the report today new goal on week", "goal", "sport"),
                              ("after the big week a new robot says", "robot", "tech"),
                              ("in the market today the report", "market", "money")]:
        explanation = explain(clf, text)
        assert explanation.label == label
        assert explanation.ranked()[0][0] == word
        assert len(explanation.scores) == len(text.split())
    colored = to_terminal(explain(clf, "a goal and a zzzunknown word"))
    assert "\033[48;5;" in colored and "zzzunknown[?]" in colored
    assert "<span" in to_html(explain(clf, "goal"))


def test_explain_command(run, capsys):
    assert main(["explain", str(run), "the coach and the team after a goal", "--top-words", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("sport ") and len(lines) == 4
    assert main(["explain", str(run), "x", "--label", "weather"]) == 2
    capsys.readouterr()
    assert main(["explain", str(run), "the coach and the team after a goal", "--top-k", "2", "--top-words", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and lines[0].startswith("sport ") and lines[3].split()[0] in ("money", "tech")


def test_compare_lists_metrics_and_the_parameters_that_differ(run, data_dir, tmp_path, capsys):
    other = train(data_dir, tmp_path / "other", "--hidden-size", "8", "--cell", "lstm")
    rows, differing, left_out = compare_runs([run, other])
    assert left_out == []
    assert {"hidden_size", "cell"} <= set(differing) and "seed" not in differing
    assert rows[0]["parameters"] > rows[1]["parameters"] > 0
    assert main(["compare", str(run), str(other), "--plot", str(tmp_path / "cmp.png")]) == 0
    out = capsys.readouterr().out
    assert "small" in out and "other" in out and "hidden_size" in out and "%" in out
    with Image.open(tmp_path / "cmp.png") as image:
        assert image.format == "PNG"
    # A directory that is not a finished run is left out with its reason; with no finished run at all: an error.
    assert main(["compare", str(run), str(tmp_path / "nothing")]) == 0
    assert f"left out {tmp_path / 'nothing'}: no such directory" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "nothing")]) == 2

    # Formats for other tools: raw figures, every column; the table leaves out the columns no run fills.
    assert main(["compare", str(run), str(other), "--format", "jsonl"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["run"] for r in records] == ["small", "other"] and 0 < records[0]["test accuracy"] <= 1
    assert records[0]["micro-F1"] is None and records[1]["cell"] == "lstm"
    assert main(["compare", str(run), str(other), "--format", "csv"]) == 0
    header = capsys.readouterr().out.splitlines()[0].split(",")
    assert header[:2] == ["run", "model"] and "hidden_size" in header
    assert main(["compare", str(run), str(other)]) == 0
    table = capsys.readouterr().out
    assert "micro-F1" not in table.splitlines()[0]  # single-label runs: no micro-F1 to show


def test_a_training_run_reports_from_what_it_computed(data_dir, tmp_path, monkeypatch):
    """The report of a training run uses the fitted model and its test probabilities: it neither loads the
    saved model again nor predicts the test rows a second time."""
    from textrnn.evaluation import report

    def no_reload(directory):
        raise AssertionError("the report loaded the model again")

    monkeypatch.setattr(report.TextRNNClassifier, "load", no_reload)
    calls = []
    real = TextRNNClassifier.predict_proba
    monkeypatch.setattr(TextRNNClassifier, "predict_proba",
                        lambda self, texts: calls.append((id(self), len(texts))) or real(self, texts))
    out = train(data_dir, tmp_path / "run", "--bag-of-words", "none")
    assert "<h2>Most confident mistakes</h2>" in (out / "report.html").read_text()
    assert sum(1 for _, rows in calls if rows == 300) == 1  # the 300 test rows, predicted once


def test_many_imbalanced_classes_report_the_figure_that_chose_the_epoch(tmp_path):
    """14 classes, the largest with 5 times the rows of the others: macro-F1 chooses the epoch, so the report
    tabulates it and says so; the matrix gives way to the commonest confusions; decided values, not auto."""
    import random

    rng, rows = random.Random(0), []
    for c in range(14):
        for _ in range(150 if c == 0 else 30):
            words = [rng.choice(["the", "a", "new", "of", "on", "today"]) for _ in range(rng.randint(3, 12))]
            words.insert(rng.randrange(len(words) + 1), f"word{c}")
            rows.append({"text": " ".join(words), "label": f"class{c:02d}"})
    rng.shuffle(rows)
    for name, part in (("train.jsonl", rows[:480]), ("test.jsonl", rows[480:])):
        (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in part))
    out = train(tmp_path, tmp_path / "run", "--epochs", "auto", "--patience", "1")
    html = (out / "report.html").read_text()
    assert "validation macro-F1</th>" in html and "the best by validation macro-F1" in html
    assert "Most frequent confusions" in html and not (out / "confusion_matrix.png").exists()
    assert "<td>epochs</td><td>15 (auto)</td>" in html
