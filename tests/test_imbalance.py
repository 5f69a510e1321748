"""Imbalanced classes: class weights in the loss, what model selection maximises, and thin validation classes."""

import json

import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight

from conftest import synthetic_corpus
from textrnn import ConfigError, TextRNNClassifier
from textrnn.cli import main
from textrnn.train.balance import class_weights, resolve_monitor

SMALL = dict(embed_dim=8, hidden_size=8, epochs=3, batch_size=16, lr=1e-2)


def imbalanced(rows_per_class=(400, 40, 40), seed=0):
    texts, labels = synthetic_corpus(3 * max(rows_per_class), seed=seed)
    keep, seen = [], {}
    for text, label in zip(texts, labels):
        limit = dict(zip(("sport", "money", "tech"), rows_per_class))[label]
        if seen.get(label, 0) < limit:
            keep.append((text, label))
            seen[label] = seen.get(label, 0) + 1
    return [t for t, _ in keep], [label for _, label in keep]


def test_balanced_weights_are_scikit_learns():
    _, labels = imbalanced()
    classes = ["money", "sport", "tech"]
    expected = compute_class_weight("balanced", classes=np.array(classes), y=np.array(labels))
    np.testing.assert_allclose(class_weights("balanced", labels, classes), expected, rtol=1e-6)
    np.testing.assert_allclose(class_weights({"tech": 5}, labels, classes), [1, 1, 5])
    assert class_weights("none", labels, classes) is None
    with pytest.raises(ConfigError, match="'weather' not among the classes"):
        class_weights({"weather": 2}, labels, classes)


def test_auto_monitor_follows_the_class_balance():
    assert resolve_monitor("auto", imbalanced()[1])[0] == "macro_f1"
    assert resolve_monitor("auto", synthetic_corpus(300)[1])[0] == "accuracy"
    assert resolve_monitor("accuracy", imbalanced()[1]) == ("accuracy", "chosen by the user")


def test_fit_selects_on_macro_f1_for_imbalanced_data_and_weights_the_loss():
    texts, labels = imbalanced()
    plain = TextRNNClassifier(**SMALL, val_size=0.25).fit(texts, labels)
    assert plain.fit_info_["monitor"] == "macro_f1" and plain.fit_info_["class_weights"] is None
    assert all("val_macro_f1" in record for record in plain.history_)
    heavy = TextRNNClassifier(**SMALL, val_size=0.25, class_weight={"tech": 50.0}).fit(texts, labels)
    assert heavy.fit_info_["class_weights"] == {"money": 1.0, "sport": 1.0, "tech": 50.0}
    # A class that costs 50 times as much to miss is predicted more often.
    assert (heavy.predict(texts) == "tech").sum() > (plain.predict(texts) == "tech").sum()


def test_a_class_too_thin_to_validate_is_warned_about():
    texts, labels = imbalanced((200, 200, 40))
    with pytest.warns(UserWarning, match=r"few validation rows for tech \(2\)"):
        TextRNNClassifier(**{**SMALL, "epochs": 1, "val_size": 0.05}).fit(texts, labels)


def test_class_weight_and_monitor_on_the_command_line(tmp_path):
    import csv

    texts, labels = imbalanced()
    with open(tmp_path / "d.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([("text", "label"), *zip(texts, labels)])
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(tmp_path / "d.csv"), "--class-weight", '{"tech": 3}', "--monitor",
                 "accuracy", "--out", str(out), "--embed-dim", "4", "--hidden-size", "4", "--epochs", "1",
                 "--no-verbose"]) == 0
    choices = json.loads((out / "metrics.json").read_text())["choices"]
    assert choices["monitor"] == "accuracy"
    assert choices["class_weights"] == {"money": 1.0, "sport": 1.0, "tech": 3.0}
    assert json.loads((out / "run.json").read_text())["config"]["class_weight"] == {"tech": 3.0}


def test_the_baseline_chooses_its_C_by_the_figure_the_network_monitors(tmp_path):
    import csv

    texts, labels = imbalanced()
    with open(tmp_path / "d.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([("text", "label"), *zip(texts, labels)])
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(tmp_path / "d.csv"), "--out", str(out), "--embed-dim", "4",
                 "--hidden-size", "4", "--epochs", "1", "--no-verbose"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["choices"]["monitor"] == "macro_f1"  # decided from the class balance
    chosen_on = metrics["baseline"]["C_chosen_on"]  # the baseline compares on the same figure (NBSVM competes by it)
    assert chosen_on == "validation macro_f1" or "on the validation rows (macro-F1" in chosen_on
