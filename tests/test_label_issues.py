"""Finding mislabelled training rows: planted flips are found, duplicates with other labels are flagged, and the
command writes the most suspect rows first."""

import csv
import json
import random

import numpy as np
import pytest
from conftest import KEYWORDS, filler_words, insert_keywords

from textrnn.cli import main
from textrnn.errors import DataError
from textrnn.evaluation.label_issues import find_label_issues


def keyword_rows(count: int, seed: int = 0):
    """Texts whose class is decided by two of its keywords (so that a flipped label contradicts the text)."""
    rng, texts, labels = random.Random(seed), [], []
    for i in range(count):
        label = list(KEYWORDS)[i % len(KEYWORDS)]
        words = filler_words(rng, 12)
        insert_keywords(rng, words, KEYWORDS[label], 2)
        texts.append(" ".join(words) + f" item{i}")
        labels.append(label)
    return texts, labels


@pytest.fixture(scope="module")
def noisy():
    texts, labels = keyword_rows(900)
    rng = np.random.default_rng(0)
    flipped = set(rng.choice(len(labels), 45, replace=False).tolist())  # 5% of the rows
    noisy = [rng.choice([c for c in KEYWORDS if c != label]) if i in flipped else label
             for i, label in enumerate(labels)]
    return texts, noisy, labels, flipped


@pytest.mark.parametrize("method", ["confident_learning", "self_confidence"])
def test_planted_flips_are_found(noisy, method):
    texts, labels, truth, flipped = noisy
    issues = find_label_issues(texts, labels, method=method)
    found = {row["row"] - 1 for row in issues.rows}
    precision, recall = len(found & flipped) / max(len(found), 1), len(found & flipped) / len(flipped)
    assert precision >= 0.8 and recall >= 0.8, (precision, recall)
    for row in issues.rows[:10]:  # the most suspect first, each with the class it should have
        assert row["suggested"] == truth[row["row"] - 1] and row["score"] < 0
    assert [row["score"] for row in issues.rows] == sorted(row["score"] for row in issues.rows)
    assert issues.probabilities.shape == (len(texts), 3) and np.allclose(issues.probabilities.sum(axis=1), 1)


def test_the_same_text_with_another_label_is_flagged():
    texts, labels = keyword_rows(300)
    texts.append(texts[0].upper() + "!")  # the same text, another casing and punctuation, another label
    labels.append("tech" if labels[0] != "tech" else "money")
    issues = find_label_issues(texts, labels)
    flagged = {row["row"]: row for row in issues.rows}
    assert issues.duplicates == 2 and {1, len(texts)} <= set(flagged)
    assert "the same text has the label(s)" in flagged[len(texts)]["reason"]


def test_too_few_rows_of_a_class_is_a_message():
    with pytest.raises(DataError, match="two or more classes with two or more rows each"):
        find_label_issues(["a b", "c d", "e f"], ["x", "x", "y"])


def test_the_command_writes_the_most_suspect_rows_first(noisy, tmp_path, capsys):
    texts, labels, truth, flipped = noisy
    (tmp_path / "data.jsonl").write_text("".join(json.dumps({"text": t, "label": l}) + "\n"
                                                 for t, l in zip(texts, labels)))
    assert main(["suspects", str(tmp_path / "data.jsonl"), "--rows", "20", "--out", str(tmp_path / "s.csv")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "s.csv")))
    assert len(rows) == 20 and all(int(r["row"]) - 1 in flipped for r in rows[:15])
    assert "rows look mislabelled" in capsys.readouterr().err
