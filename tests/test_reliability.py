"""Faults: killed and interrupted training, failed saves, concurrent runs, unsafe model files, memory limits."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import synthetic_corpus

from textrnn import ModelFileError, TextRNNClassifier
from textrnn import files as files_module
from textrnn.train.checkpoint import load_checkpoint
from textrnn.cli import main
from textrnn.rundir import CHECKPOINT_FILE, locked
from textrnn.errors import MemoryBudgetError

TRAIN = ["--embed-dim", "16", "--hidden-size", "16", "--batch-size", "16", "--epochs", "2", "--patience", "none",
         "--checkpoint-every", "25", "--seed", "3", "--no-verbose", "--threads", "1"]  # bits depend on threads


def textrnn(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "textrnn", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kwargs)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """20,000 synthetic rows: about 1,200 training steps an epoch at batch 16, a few seconds, long enough to hit."""
    directory = tmp_path_factory.mktemp("corpus")
    texts, labels = synthetic_corpus(20_000, seed=5)
    with open(directory / "train.jsonl", "w") as out:
        for text, label in zip(texts, labels):
            out.write(json.dumps({"text": text, "label": label}) + "\n")
    test_texts, test_labels = synthetic_corpus(600, seed=6)
    with open(directory / "test.jsonl", "w") as out:
        for text, label in zip(test_texts, test_labels):
            out.write(json.dumps({"text": text, "label": label}) + "\n")
    return directory


def train_args(corpus: Path, out: Path) -> list[str]:
    return ["train", "--dataset", str(corpus / "train.jsonl"), "--test-data", str(corpus / "test.jsonl"),
            "--out", str(out), *TRAIN]


@pytest.fixture(scope="module")
def uninterrupted(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "whole"
    process = textrnn(*train_args(corpus, out))
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return out


def wait_for_checkpoint(process: subprocess.Popen, path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"training ended before its first checkpoint: {process.stderr.read()}"
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.01)


def same_results(resumed: Path, whole: Path) -> None:
    """Same weights, same test metrics, same curves (timings aside) as the run that was never stopped."""
    assert (resumed / "model.safetensors").read_bytes() == (whole / "model.safetensors").read_bytes()
    a, b = (json.loads((run / "metrics.json").read_text()) for run in (resumed, whole))
    assert a["test"] == b["test"] and a["validation"] == b["validation"]
    timed = ("seconds", "samples_per_second", "tokens_per_second")
    untimed = lambda history: [{k: v for k, v in r.items() if k not in timed} for r in history]
    assert untimed(a["history"]) == untimed(b["history"])


def test_sigkill_mid_epoch_then_resume_gives_the_uninterrupted_result(corpus, uninterrupted, tmp_path):
    out = tmp_path / "killed"
    process = textrnn(*train_args(corpus, out))
    wait_for_checkpoint(process, out / CHECKPOINT_FILE)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    state = load_checkpoint(out / CHECKPOINT_FILE).state
    assert state.epoch == 1 and 0 < state.step  # really mid-epoch, not at a boundary
    assert not (out / "metrics.json").exists()

    resumed = textrnn("train", "--resume", str(out), "--no-verbose")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    same_results(out, uninterrupted)
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "finished" and len(run["resumed"]) == 1
    assert not (out / CHECKPOINT_FILE).exists()


def test_resume_with_sparse_embedding_gives_the_uninterrupted_result(corpus, tmp_path):
    """Two optimizers (SparseAdam for the embedding, its step a Python number) survive the checkpoint exactly."""
    whole, out = tmp_path / "whole", tmp_path / "killed"
    process = textrnn(*train_args(corpus, whole), "--sparse-embedding", "--epochs", "1")
    assert process.communicate(timeout=300) and process.returncode == 0
    process = textrnn(*train_args(corpus, out), "--sparse-embedding", "--epochs", "1")
    wait_for_checkpoint(process, out / CHECKPOINT_FILE)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    checkpoint = load_checkpoint(out / CHECKPOINT_FILE)
    assert checkpoint.state.step > 0 and set(checkpoint.optimizers) == {"optimizer", "sparse_optimizer"}
    resumed = textrnn("train", "--resume", str(out), "--no-verbose")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    same_results(out, whole)


def test_sigterm_saves_a_checkpoint_and_says_how_to_resume(corpus, uninterrupted, tmp_path, capsys):
    out = tmp_path / "stopped"
    process = textrnn(*train_args(corpus, out))
    wait_for_checkpoint(process, out / CHECKPOINT_FILE)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM
    assert f"Continue with: textrnn train --resume {out}" in err
    assert load_checkpoint(out / CHECKPOINT_FILE).state.step > 0

    assert main(["train", "--resume", str(out), "--epochs", "5"]) == 2  # the configuration is the run's
    state = load_checkpoint(out / CHECKPOINT_FILE).state
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--verbose"]) == 0
    said = f"resuming from {out / CHECKPOINT_FILE}: epoch {state.epoch}, after {state.step:,} of its batches"
    assert said in capsys.readouterr().err
    same_results(out, uninterrupted)


def test_a_run_directory_in_use_is_refused(corpus, tmp_path, capsys):
    out = tmp_path / "busy"
    with locked(out):
        assert main(train_args(corpus, out)) == 2
    assert f"{out} is in use by pid {os.getpid()}" in capsys.readouterr().err


def test_a_failed_save_leaves_the_previous_model_loadable(monkeypatch, tmp_path):
    texts, labels = synthetic_corpus(300)
    first = TextRNNClassifier(embed_dim=8, hidden_size=8, epochs=1).fit(texts, labels)
    second = TextRNNClassifier(embed_dim=8, hidden_size=8, epochs=1, seed=9).fit(texts, labels)
    directory = first.save(tmp_path / "model")
    expected = first.predict_proba(texts[:20])

    real_fdopen, opened = os.fdopen, []

    def failing_fdopen(descriptor, mode):
        opened.append(descriptor)
        if len(opened) == 3:  # the third file of the save: the disk "fills up" half-way through writing it
            handle = real_fdopen(descriptor, mode)
            handle.write(b"partial")
            handle.close()
            raise OSError(28, "No space left on device")
        return real_fdopen(descriptor, mode)

    monkeypatch.setattr(files_module.os, "fdopen", failing_fdopen)
    with pytest.raises(OSError, match="No space left"):
        second.save(directory)
    monkeypatch.undo()
    assert not [p for p in directory.iterdir() if p.name.endswith(".tmp")]  # no temporary left behind
    np.testing.assert_array_equal(TextRNNClassifier.load(directory).predict_proba(texts[:20]), expected)

    # A crash between the renames (only config.json left to move) is caught, not loaded as a mix.
    real_replace = os.replace

    def crash_before_config(source, target):
        if str(target).endswith("config.json"):
            raise KeyboardInterrupt("power cut")
        real_replace(source, target)

    monkeypatch.setattr(files_module.os, "replace", crash_before_config)
    with pytest.raises(KeyboardInterrupt):
        second.save(directory)
    monkeypatch.undo()
    with pytest.raises(ModelFileError, match="SHA-256 differs"):
        TextRNNClassifier.load(directory)


def test_a_model_directory_with_a_pickle_is_refused(tmp_path):
    texts, labels = synthetic_corpus(120)
    directory = TextRNNClassifier(embed_dim=4, hidden_size=4, epochs=1).fit(texts, labels).save(tmp_path / "m")
    (directory / "extra_weights.pt").write_bytes(b"\x80\x04K\x01.")  # a pickle
    with pytest.raises(ModelFileError, match="extra_weights.pt: a format that runs code"):
        TextRNNClassifier.load(directory)


def test_a_batch_that_cannot_fit_the_memory_budget_is_refused_before_training(tmp_path):
    texts, labels = synthetic_corpus(60)
    texts[0] = " ".join(["goal"] * 50_000)
    clf = TextRNNClassifier(memory_budget_gb=0.05, epochs=1, max_length=None)  # none: keep every token
    with pytest.raises(MemoryBudgetError, match=r"64 texts of up to 50,000 tokens needs about .* GB, more than the "
                                                r"budget of 0.05 GB \(memory_budget_gb\).*max_length"):
        clf.fit(texts, labels)
    capped = TextRNNClassifier(memory_budget_gb=0.05, epochs=1, max_length=64, val_size=0).fit(texts, labels)
    assert capped.fit_info_["truncated_train_texts"] == 1
