"""The thread policy: auto leaves a core to other processes; the choice is recorded; PyTorch's own setting
comes back after fit and predict."""

import json

import pytest
import torch

from conftest import synthetic_corpus
from textrnn import TextRNNClassifier
from textrnn import threads as thread_policy
from textrnn.cli import main


@pytest.mark.parametrize("cpus,expected", [(1, 1), (2, 1), (4, 2), (16, 8), (64, 8)])
def test_auto_threads_leave_room_for_other_processes(monkeypatch, cpus, expected):
    monkeypatch.setattr(thread_policy, "allowed_cpus", lambda: cpus)
    assert thread_policy.resolve_threads("auto")[0] == expected
    assert thread_policy.resolve_threads(3) == (3, "given")


def test_fit_and_predict_use_the_threads_and_give_pytorchs_setting_back():
    texts, labels = synthetic_corpus(300)
    before = torch.get_num_threads()
    seen = []

    from textrnn.train.callbacks import Callback

    class Record(Callback):
        def on_epoch_start(self, loop):
            seen.append(torch.get_num_threads())

    clf = TextRNNClassifier(embed_dim=4, hidden_size=4, epochs=2, threads=1).fit(texts, labels, callbacks=[Record()])
    assert seen == [1, 1] and torch.get_num_threads() == before
    assert clf.fit_info_["threads"] == {"setting": 1, "used": 1, "reason": "given"}
    clf.predict(texts[:10])
    assert torch.get_num_threads() == before


def test_the_choice_is_recorded_in_the_run(tmp_path):
    import csv

    texts, labels = synthetic_corpus(300)
    with open(tmp_path / "d.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([("text", "label"), *zip(texts, labels)])
    assert main(["train", "--dataset", str(tmp_path / "d.csv"), "--out", str(tmp_path / "run"), "--threads", "2",
                 "--embed-dim", "4", "--hidden-size", "4", "--epochs", "1", "--no-verbose"]) == 0
    choices = json.loads((tmp_path / "run" / "metrics.json").read_text())["choices"]
    assert choices["threads"] == {"setting": 2, "used": 2, "reason": "given"}
    with pytest.raises(SystemExit):
        main(["train", "--threads", "0"])
