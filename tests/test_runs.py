"""Run directories: named after what was trained, marked failed when a run fails, usable again after a
failure, and left out (not fatal) when compared unfinished. Also: behaviour plugs into training as callbacks."""

import csv
import json
from datetime import datetime

import pytest

from conftest import synthetic_corpus
from textrnn import TextRNNClassifier
from textrnn.cli import main
from textrnn.errors import RunDirError
from textrnn.evaluation.baseline import C_GRID
from textrnn.params import RunConfig
from textrnn.rundir import default_run_dir, locked
from textrnn.train.callbacks import Callback

FAST = ["--embed-dim", "4", "--hidden-size", "4", "--epochs", "1", "--no-verbose"]


def write_csv(path, rows):
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows([("text", "label"), *rows])
    return path


def test_run_directories_are_named_after_what_was_trained():
    now = datetime(2026, 11, 24, 10, 15, 0)
    assert str(default_run_dir(RunConfig(), now)) == "runs/bigru64-ag_news-20261124-101500"
    config = RunConfig(dataset="/data/My Reviews.csv.gz", cell="lstm", bidirectional=False, hidden_size=32,
                       num_layers=2, preset="default")
    assert str(default_run_dir(config, now)) == "runs/lstm32x2-My-Reviews-20261124-101500"
    assert str(default_run_dir(RunConfig(preset="lesson-lstm"), now)) == "runs/lesson-lstm-20261124-101500"


def test_a_failed_run_is_marked_failed_and_the_same_command_can_run_again(tmp_path, capsys):
    """It used to stay 'running': the same command was refused and the suggested --resume replayed the error."""
    texts, labels = synthetic_corpus(300)
    data = write_csv(tmp_path / "train.csv", [*zip(texts, labels), ("", "sport")])  # an empty text: a bad row
    out = tmp_path / "run"
    command = ["train", "--dataset", str(data), "--out", str(out), *FAST]
    assert main(command) == 2
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "failed" and "empty text" in run["error"]

    assert main(["train", "--resume", str(out)]) == 2
    assert "no checkpoint to continue from" in capsys.readouterr().err

    write_csv(data, zip(texts, labels))  # the data fixed: the same command now runs in the same directory
    assert main(command) == 0
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    assert "error" not in json.loads((out / "run.json").read_text())


def test_a_finished_run_is_never_overwritten(tmp_path, capsys):
    texts, labels = synthetic_corpus(200)
    data = write_csv(tmp_path / "train.csv", zip(texts, labels))
    command = ["train", "--dataset", str(data), "--out", str(tmp_path / "run"), *FAST]
    assert main(command) == 0
    assert main(command) == 2
    assert "already exists and is not empty" in capsys.readouterr().err


def test_compare_leaves_out_unfinished_runs(tmp_path, capsys):
    texts, labels = synthetic_corpus(200)
    data = write_csv(tmp_path / "train.csv", zip(texts, labels))
    assert main(["train", "--dataset", str(data), "--out", str(tmp_path / "done"), *FAST]) == 0
    failed = tmp_path / "failed"
    failed.mkdir()
    (failed / "run.json").write_text(json.dumps({"status": "failed", "error": "bad row", "config": {}}))
    assert main(["compare", str(tmp_path / "done"), str(failed)]) == 0
    captured = capsys.readouterr()
    assert "done" in captured.out and f"left out {failed}: the run is failed: bad row" in captured.err


def test_a_symlinked_lock_file_is_not_followed(tmp_path):
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / ".lock").symlink_to(victim)
    with pytest.raises(RunDirError, match="symbolic link"):
        with locked(run_dir):
            pass
    assert victim.read_text() == "keep me"


class Recorder(Callback):
    """Records the hooks it sees, and stops training after the first epoch."""

    def __init__(self):
        self.calls = []

    def on_fit_start(self, loop):
        self.calls.append("fit_start")

    def on_epoch_start(self, loop):
        self.calls.append(f"epoch_start {loop.state.epoch}")

    def on_after_backward(self, loop):
        if "backward" not in self.calls:
            self.calls.append("backward")
            assert loop.embedding_weight.grad is not None  # gradients exist here and can be edited

    def on_epoch_end(self, loop, record):
        self.calls.append(f"epoch_end {record['epoch']}")
        loop.state.done = True

    def on_fit_end(self, loop):
        self.calls.append("fit_end")


def test_a_callback_plugs_into_training_without_touching_the_loop():
    texts, labels = synthetic_corpus(300)
    recorder = Recorder()
    clf = TextRNNClassifier(embed_dim=4, hidden_size=4, epochs=5, patience=None).fit(texts, labels,
                                                                                    callbacks=[recorder])
    assert recorder.calls == ["fit_start", "epoch_start 1", "backward", "epoch_end 1", "fit_end"]
    assert len(clf.history_) == 1  # the callback stopped it after one of five epochs


def test_every_run_reports_a_bag_of_words_baseline_on_the_same_rows(tmp_path, capsys):
    texts, labels = synthetic_corpus(600)
    data = write_csv(tmp_path / "train.csv", zip(texts[:500], labels[:500]))
    test = write_csv(tmp_path / "test.csv", zip(texts[500:], labels[500:]))
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(data), "--test-data", str(test), "--out", str(out), *FAST]) == 0
    err = capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    baseline = metrics["baseline"]
    assert baseline["name"] in ("tfidf-logreg", "nbsvm-bigram") and baseline["seconds"] > 0
    assert baseline["C_chosen_on"] == f"validation {metrics['choices']['monitor']}"  # the figure C maximised
    assert baseline["test"]["rows"] == metrics["test"]["rows"] == 100
    assert baseline["validation"]["rows"] == metrics["validation"]["rows"] == metrics["data"]["validation_rows"]
    assert 0.5 < baseline["test"]["accuracy"] <= 1.0  # keywords decide the class: a bag of words finds them
    points = 100 * (metrics["test"]["accuracy"] - baseline["test"]["accuracy"])
    mix = metrics["bag_of_words"]
    name = {0: "RNN", 1: "bag of words"}.get(mix["weight"], "RNN + bag of words")  # what the model is
    assert (f"{name} {metrics['test']['accuracy']:.1%} vs bag-of-words {baseline['test']['accuracy']:.1%}: "
            f"{points:+.1f} points (test accuracy)") in err
    if mix["weight"]:  # the network without the path, on the same rows, beside it
        alone = mix["network_alone"]["test"]["accuracy"]
        assert f"the RNN alone: {alone:.1%} test accuracy" in err
    assert "Against a bag-of-words baseline" in (out / "report.html").read_text()
    # The baseline's fits say what they do while they run (they took minutes with nothing printed)
    assert "baseline: fitting on" in err and "baseline nbsvm-bigram: validation" in err
    assert err.count("  baseline C ") == len(C_GRID)
    assert main(["compare", str(out)]) == 0
    assert "baseline accuracy" in (out_text := capsys.readouterr().out) and "RNN alone accuracy" in out_text

    assert main(["train", "--dataset", str(data), "--out", str(tmp_path / "none"), "--baseline", "none", *FAST]) == 0
    assert json.loads((tmp_path / "none" / "metrics.json").read_text())["baseline"] is None


def test_a_path_refit_on_the_validation_rows_keeps_the_figures_honest_and_the_baseline_level(tmp_path, capsys,
                                                                                              monkeypatch):
    """When the model's bag-of-words path is fitted again on the training and validation rows, the baseline is
    too (after its validation figures are taken), and the run's validation figures are the model's from before."""
    from textrnn.train import bag_of_words

    monkeypatch.setattr(bag_of_words, "MIX_WEIGHTS", (0.5,))  # a mix, whatever the network learned
    texts, labels = synthetic_corpus(600)
    data = write_csv(tmp_path / "train.csv", zip(texts[:500], labels[:500]))
    test = write_csv(tmp_path / "test.csv", zip(texts[500:], labels[500:]))
    assert main(["train", "--dataset", str(data), "--test-data", str(test), "--out", str(tmp_path / "run"),
                 *FAST]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    mix, baseline = metrics["bag_of_words"], metrics["baseline"]
    assert mix["refit_rows"] == baseline["refit_rows"] == 500
    assert metrics["validation"]["accuracy"] == mix["validation"]["mixed"]
    assert "then fitted on the 500 training and validation rows" in capsys.readouterr().err


def test_the_users_own_validation_file_chooses_the_epoch(tmp_path, capsys):
    texts, labels = synthetic_corpus(700)
    data = write_csv(tmp_path / "train.csv", zip(texts[:500], labels[:500]))
    validation = write_csv(tmp_path / "validation.csv", zip(texts[500:600], labels[500:600]))
    test = write_csv(tmp_path / "test.csv", zip(texts[600:], labels[600:]))
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(data), "--validation-data", str(validation), "--test-data", str(test),
                 "--out", str(out), *FAST]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["train_rows"] == 500 and metrics["data"]["validation_rows"] == 100  # no hold-out
    assert metrics["validation"]["rows"] == metrics["baseline"]["validation"]["rows"] == 100
    assert "val_accuracy" in metrics["history"][0]
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["validation_data"] == str(validation.resolve())

    assert main(["train", "--dataset", str(data), "--validation-data", str(test), "--test-data", str(test),
                 "--out", str(tmp_path / "cheat"), *FAST]) == 2
    assert "validation_data: it is the test data" in capsys.readouterr().err


def test_a_log_gets_a_progress_line_every_interval(capsys):
    """No terminal (CI, a log file): a long epoch still says how far it is, with throughput and time left."""
    from textrnn.train.callbacks import ProgressBar

    texts, labels = synthetic_corpus(600)
    TextRNNClassifier(embed_dim=4, hidden_size=4, epochs=1, verbose=True).fit(
        texts, labels, callbacks=[ProgressBar(every_seconds=0.0)])
    lines = [line for line in capsys.readouterr().err.splitlines() if " texts (" in line]
    assert lines and "epoch 1/1: " in lines[0] and "texts/s" in lines[0] and "s left in the epoch" in lines[0]


def test_train_on_a_fasttext_file(tmp_path):
    texts, labels = synthetic_corpus(300)
    (tmp_path / "train.txt").write_text("".join(f"__label__{label} {text}\n" for text, label in zip(texts, labels)))
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(tmp_path / "train.txt"), "--out", str(out), *FAST]) == 0
    assert json.loads((out / "metrics.json").read_text())["data"]["train_rows"] == 240  # 20% held out


def test_a_test_label_unseen_in_training_stops_the_run_before_training(tmp_path, capsys):
    """It used to train for the whole run, then fail, and save no model."""
    texts, labels = synthetic_corpus(300)
    data = write_csv(tmp_path / "train.csv", zip(texts, labels))
    test = write_csv(tmp_path / "test.csv", [("a sunny day", "weather"), ("the match", "sport")])
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(data), "--test-data", str(test), "--out", str(out),
                 "--embed-dim", "4", "--hidden-size", "4", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "test.csv, row 1: label 'weather' does not occur in the training data" in err
    assert "epoch 1/1" not in err  # stopped before any training
    assert json.loads((out / "run.json").read_text())["status"] == "failed"


def test_a_failure_after_training_keeps_the_trained_model_and_resume_evaluates_it(tmp_path, capsys, monkeypatch):
    from textrnn import recipe
    from textrnn.errors import DataError

    texts, labels = synthetic_corpus(300)
    data = write_csv(tmp_path / "train.csv", zip(texts, labels))
    out = tmp_path / "run"

    def failing_baseline(*args, **kwargs):
        raise DataError("the baseline ran out of memory")

    monkeypatch.setattr(recipe, "_baseline", failing_baseline)
    assert main(["train", "--dataset", str(data), "--out", str(out), *FAST]) == 2
    assert "the trained model is saved in" in capsys.readouterr().err
    assert json.loads((out / "run.json").read_text())["status"] == "failed"
    trained = TextRNNClassifier.load(out).predict_proba(texts[:20])

    monkeypatch.undo()
    assert main(["train", "--resume", str(out)]) == 0  # evaluates the saved training; does not train again
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    assert (TextRNNClassifier.load(out).predict_proba(texts[:20]) == trained).all()


def test_resume_refuses_training_rows_whose_content_changed(tmp_path, capsys, monkeypatch):
    from textrnn import recipe
    from textrnn.errors import DataError

    texts, labels = synthetic_corpus(300)
    data = write_csv(tmp_path / "train.csv", zip(texts, labels))
    out = tmp_path / "run"
    monkeypatch.setattr(recipe, "_baseline", lambda *a, **k: (_ for _ in ()).throw(DataError("stop after training")))
    assert main(["train", "--dataset", str(data), "--out", str(out), *FAST]) == 2
    monkeypatch.undo()
    write_csv(data, zip([text + " changed" for text in texts], labels))  # the same row count, other texts
    capsys.readouterr()
    assert main(["train", "--resume", str(out)]) == 2
    assert "the training or validation rows changed since the checkpoint was made" in capsys.readouterr().err


def test_temporary_files_of_an_interrupted_save_are_removed_by_the_next_run(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    leftover = out / ".model.safetensors.abc123.tmp"  # what a save killed half-way leaves
    leftover.write_bytes(b"partial")
    keep = out / "notes.tmp"  # not one of textrnn's temporary names
    keep.write_text("mine")
    with locked(out):
        pass
    assert not leftover.exists() and keep.exists()


def test_a_validation_file_counts_like_the_training_file(tmp_path, capsys, monkeypatch):
    """Its skipped bad rows are listed with the others, and --resume refuses it when its content changed."""
    from textrnn import recipe
    from textrnn.errors import DataError

    texts, labels = synthetic_corpus(300)
    data = write_csv(tmp_path / "train.csv", zip(texts[:240], labels[:240]))
    val = write_csv(tmp_path / "val.csv", [*zip(texts[240:], labels[240:]), ("", "sport")])  # one empty text
    out = tmp_path / "run"
    monkeypatch.setattr(recipe, "_baseline", lambda *a, **k: (_ for _ in ()).throw(DataError("stop after training")))
    assert main(["train", "--dataset", str(data), "--validation-data", str(val), "--on-bad-rows", "skip",
                 "--out", str(out), *FAST]) == 2
    monkeypatch.undo()
    skipped = (out / "skipped_rows.jsonl").read_text()
    assert "val.csv" in skipped and "empty text" in skipped
    write_csv(val, zip([text + " changed" for text in texts[240:]], labels[240:]))
    capsys.readouterr()
    assert main(["train", "--resume", str(out)]) == 2
    assert "the training or validation rows changed since the checkpoint was made" in capsys.readouterr().err
