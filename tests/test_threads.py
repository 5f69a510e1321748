"""The thread policy: auto computes with the cores other processes leave free, looks again while training,
records its choices; PyTorch's own setting comes back after fit and predict."""

import json
import multiprocessing
import threading
import time
from types import SimpleNamespace

import pytest
import torch
from conftest import synthetic_corpus

from textrnn import TextRNNClassifier
from textrnn import threads as thread_policy
from textrnn.cli import main
from textrnn.threads import CpuReading, busy_elsewhere, threads_for
from textrnn.train.callbacks import ThreadWatch

# conftest makes auto ignore the load in every test; these are the real measurements, kept before it does
MEASURE_OTHERS, READ_OTHERS = busy_elsewhere, CpuReading.cores_used_by_others


@pytest.mark.parametrize("cpus,others,expected", [
    (2, 0.0, 2), (2, 0.2, 2), (2, 0.6, 1), (2, 1.0, 1), (2, 3.0, 1), (1, 0.0, 1), (4, 1.0, 3), (4, 1.4, 2),
    (16, 0.0, 8), (16, 12.0, 4), (2, None, 1), (4, None, 2), (64, None, 8),
])
def test_auto_uses_the_cores_other_processes_leave_free(cpus, others, expected):
    assert threads_for(cpus, others)[0] == expected


def test_auto_and_given_settings(monkeypatch):
    monkeypatch.setattr(thread_policy, "allowed_cpus", lambda: 2)
    monkeypatch.setattr(thread_policy, "busy_elsewhere", lambda seconds=0.2: 1.0)
    assert thread_policy.resolve_threads("auto") == (1, "2 cores, other processes use 1.0: 1 left free")
    assert thread_policy.resolve_threads(3) == (3, "given")


def test_prediction_never_waits_to_measure_the_load(monkeypatch):
    monkeypatch.setattr(thread_policy, "allowed_cpus", lambda: 2)
    monkeypatch.setattr(thread_policy, "busy_elsewhere", lambda seconds=0.2: pytest.fail("predict waited"))
    # no earlier reading: the rule for an unknown load (one thread on 2 cores)
    assert thread_policy.resolve_threads("auto", wait=False)[0] == 1
    # a reading from an earlier call, 0.2-60 s old: the load since then decides
    monkeypatch.setattr(thread_policy, "_last_choice", None)
    monkeypatch.setattr(CpuReading, "cores_used_by_others", lambda self: 0.0)
    thread_policy._last_reading.wall -= 1.0
    assert thread_policy.resolve_threads("auto", wait=False) == (2, "2 cores, other processes use 0.0: all free")


def _spin(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_a_busy_process_is_counted_and_this_process_is_not(monkeypatch):
    monkeypatch.setattr(CpuReading, "cores_used_by_others", READ_OTHERS)
    other = multiprocessing.get_context("spawn").Process(target=_spin, args=(3.0,))
    other.start()
    try:
        time.sleep(0.5)  # the child has started spinning
        assert MEASURE_OTHERS(0.5) >= 0.5
    finally:
        other.join()
    own = threading.Thread(target=_spin, args=(1.0,))
    own.start()
    reading = CpuReading()
    own.join()
    # the spin above was this process's own time: it is not another process's (other tests may run beside)
    assert READ_OTHERS(reading) < 0.5 or MEASURE_OTHERS(0.5) >= 0.3


def test_training_steps_down_when_another_process_starts_and_back_up_after(monkeypatch):
    from textrnn.train import callbacks

    readings = iter([1.0, 0.0])
    monkeypatch.setattr(callbacks, "allowed_cpus", lambda: 2)
    monkeypatch.setattr(CpuReading, "cores_used_by_others", lambda self: next(readings))
    changes = []
    watch = ThreadWatch(changes, every_seconds=0)
    loop = SimpleNamespace(state=SimpleNamespace(epoch=1, step=7))
    with thread_policy.torch_threads(2):
        watch.on_fit_start(loop)
        watch.on_batch_end(loop, (), 0.0)
        assert torch.get_num_threads() == 1
        watch.on_batch_end(loop, (), 0.0)
        assert torch.get_num_threads() == 2
    assert [change["threads"] for change in changes] == [1, 2]
    assert changes[0] == {"epoch": 1, "step": 7, "threads": 1,
                          "reason": "2 cores, other processes use 1.0: 1 left free"}


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
    assert clf.fit_info_["threads"] == {"setting": 1, "used": 1, "reason": "given", "changes": []}
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
    assert choices["threads"] == {"setting": 2, "used": 2, "reason": "given", "changes": []}
    with pytest.raises(SystemExit):
        main(["train", "--threads", "0"])
