"""Choosing what to label next: uncertainty scores, the diversity rule, and the command on a saved model."""

import csv

import numpy as np
import pytest

from textrnn import TextRNNClassifier
from textrnn.cli import main
from textrnn.evaluation.label_next import texts_to_label, uncertainty


def test_uncertainty_is_one_when_the_model_cannot_choose_and_zero_when_it_is_sure():
    probabilities = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.6, 0.3, 0.1], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(uncertainty(probabilities, method="margin"), [1.0, 0.0, 0.7, 1.0])
    entropy = uncertainty(probabilities, method="entropy")
    assert entropy[3] == pytest.approx(1.0) and entropy[1] == pytest.approx(0.0, abs=1e-9)
    assert entropy[0] < entropy[3] and entropy[2] > entropy[0]  # spread over three: entropy's doubt, not margin's
    # Multi-label: the label nearest its threshold decides (0.3 is at label 0's threshold).
    multi = uncertainty(np.array([[0.3, 0.99], [0.0, 1.0], [0.65, 0.9]]), thresholds=np.array([0.3, 0.5]))
    np.testing.assert_allclose(multi, [1.0, 0.0, 0.5])
    with pytest.raises(ValueError, match="uncertainty: expected one of margin, entropy"):
        uncertainty(probabilities, method="variance")


def test_the_top_of_the_list_is_not_copies_of_one_text():
    texts = ["the stock market and the team"] * 50 + [f"topic {i} words here number {i}" for i in range(50)]
    probabilities = np.array([[0.5, 0.5]] * 50 + [[0.6, 0.4]] * 50)  # the copies are the most uncertain
    chosen = texts_to_label(texts, probabilities, 10)
    assert chosen[0] < 50 and sum(i < 50 for i in chosen) == 1 and len(set(chosen)) == 10
    assert texts_to_label(texts, probabilities, 500) and len(texts_to_label(texts, probabilities, 500)) == 100
    assert texts_to_label(["", "!"], np.array([[0.5, 0.5], [0.9, 0.1]]), 1) == [0]  # no words: uncertainty alone


@pytest.fixture(scope="module")
def saved_model(synthetic, tmp_path_factory):
    texts, labels = synthetic
    directory = tmp_path_factory.mktemp("label_next") / "model"
    # The torn texts below are the least sure for this model; with adversarial training (the small-data default)
    # it names the commonest word's class for two of them, sure of it, so the expectations rest on it being off.
    TextRNNClassifier(embed_dim=16, hidden_size=16, epochs=3, batch_size=32, lr=5e-3, val_size=0.1, seed=0,
                      bag_of_words=None, adversarial=0).fit(texts, labels).save(directory)
    return directory


def test_the_command_writes_the_texts_to_label_with_an_empty_label_column(saved_model, tmp_path, capsys):
    clear = [f"the {words} report today" for words in ("goal team", "stock bank", "chip robot")] * 10
    torn = ["the goal and the stock", "a chip for the team", "the bank and the robot"]  # one word of two classes
    with open(tmp_path / "pool.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([["id", "body"]] + [[i, text] for i, text in enumerate(clear + torn)])
    assert main(["uncertain", str(saved_model), str(tmp_path / "pool.csv"), "--text-column", "body", "--top", "3",
                 "--out", str(tmp_path / "next.csv")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "next.csv")))
    assert list(rows[0]) == ["text", "label", "row", "guess", "probability", "uncertainty"]
    assert {row["text"] for row in rows} == set(torn) and all(row["label"] == "" for row in rows)
    assert "3 of 33 texts to label next" in capsys.readouterr().err
    assert main(["uncertain", str(saved_model), str(tmp_path / "pool.csv"), "--top", "0"]) == 2
    assert "top: must be at least 1" in capsys.readouterr().err
