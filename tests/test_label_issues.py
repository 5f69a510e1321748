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
        assert row["suggested"] == truth[row["row"] - 1] and row["score"] < 0.5
    assert [row["score"] for row in issues.rows] == sorted(row["score"] for row in issues.rows)
    assert all(row["score"] == round(issues.probabilities[row["row"] - 1, issues.classes.index(row["label"])], 6)
               for row in issues.rows)
    assert issues.probabilities.shape == (len(texts), 3) and np.allclose(issues.probabilities.sum(axis=1), 1)


def test_the_same_text_with_another_label_is_flagged():
    texts, labels = keyword_rows(300)
    texts.append(texts[0].upper() + "!")  # the same text, another casing and punctuation, another label
    labels.append("tech" if labels[0] != "tech" else "money")
    issues = find_label_issues(texts, labels)
    flagged = {row["row"]: row for row in issues.rows}
    assert issues.duplicates == 2 and {1, len(texts)} <= set(flagged)
    assert "the same text is labelled" in flagged[len(texts)]["reason"]


def test_texts_of_marks_alone_are_duplicates_only_of_the_same_marks():
    texts = ["🙂", "😡 !", "?", "🙂🙂"] * 30 + ["?"]
    labels = ["p", "q", "p", "q"] * 30 + ["q"]  # only the last row contradicts the others ("?" is p elsewhere)
    issues = find_label_issues(texts, labels)
    contradicted = {row["row"] for row in issues.rows if "the same text is labelled" in row["reason"]}
    assert contradicted == {row for row in range(1, len(texts) + 1) if texts[row - 1] == "?"}


def test_a_seed_out_of_range_is_a_message():
    texts, labels = keyword_rows(60)
    for seed in (-1, 2**32, "0", True):
        with pytest.raises(DataError, match="seed: expected a whole number from 0 to 4294967295"):
            find_label_issues(texts, labels, seed=seed)


def test_too_few_rows_of_a_class_is_a_message():
    with pytest.raises(DataError, match="two or more classes with two or more rows each"):
        find_label_issues(["a b", "c d", "e f"], ["x", "x", "y"])


def test_the_command_writes_the_most_suspect_rows_first(noisy, tmp_path, capsys):
    texts, labels, truth, flipped = noisy
    (tmp_path / "data.jsonl").write_text("".join(json.dumps({"text": t, "label": l}) + "\n"
                                                 for t, l in zip(texts, labels)))
    assert main(["suspects", str(tmp_path / "data.jsonl"), "--rows", "20", "--out", str(tmp_path / "s.csv")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "s.csv")))
    assert all(r["row"].startswith("line ") for r in rows)  # where the row is in the file (JSONL: line = row)
    assert len(rows) == 20 and all(int(r["row"].split()[1]) - 1 in flipped for r in rows[:15])
    assert "rows look mislabelled" in capsys.readouterr().err


def test_multi_label_rows_are_judged_label_by_label():
    """A label removed from a row is "missing", a label added is "wrong"; both are found and undone."""
    texts, labels = keyword_rows(900, seed=1)
    sets = [(label,) for label in labels]
    rng = np.random.default_rng(1)
    removed, added = rng.choice(len(sets), 20, replace=False), rng.choice(len(sets), 20, replace=False)
    noisy = list(sets)
    for i in removed:
        noisy[i] = ()
    for i in set(added) - set(removed):
        noisy[i] = tuple(sorted(set(sets[i]) | {next(c for c in KEYWORDS if c not in sets[i])}))
    issues = find_label_issues(texts, noisy)
    assert issues.multi_label and issues.probabilities.shape == (len(texts), 3)
    planted = {int(i) for i in removed} | {int(i) for i in added}
    found = {row["row"] - 1 for row in issues.rows}
    assert len(found & planted) >= 0.6 * len(planted) and len(found & planted) >= 0.9 * len(found)
    for row in issues.rows:
        if row["row"] - 1 in planted:
            assert row["suggested"] == ", ".join(sets[row["row"] - 1])
            assert ("missing" if row["row"] - 1 in removed else "wrong") in row["reason"]
            break


def test_folds_must_be_two_or_more():
    texts, labels = keyword_rows(60)
    for folds in (1, 0, 2.5, True):
        with pytest.raises(DataError, match="folds: expected a whole number of 2 or more"):
            find_label_issues(texts, labels, folds=folds)


def test_a_training_run_says_which_of_its_rows_look_mislabelled(noisy, tmp_path, capsys):
    """Judged on the training part (the validation rows held out), each row placed by its line in the file."""
    texts, labels, truth, flipped = noisy
    with open(tmp_path / "train.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([("text", "label"), *zip(texts, labels)])
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(tmp_path / "train.csv"), "--out", str(out), "--val-size", "0.2",
                 "--embed-dim", "4", "--hidden-size", "4", "--epochs", "1", "--no-verbose"]) == 0
    issues = json.loads((out / "metrics.json").read_text())["label_issues"]
    written = list(csv.DictReader(open(out / "suspects.csv")))
    assert issues["flagged"] == len(written) > 0 and issues["folds"] == 2 and len(issues["first"]) == 10
    assert issues["rows"] == 720
    index = {row["row"]: int(row["row"].removeprefix("line ")) - 2 for row in written}  # line 2: the first row
    assert all(texts[index[row["row"]]] == row["text"] and labels[index[row["row"]]] == row["label"] for row in written)
    found = set(index.values())  # a fifth of the flips are among the validation rows, which are not judged
    assert len(found & flipped) >= 0.55 * len(flipped) and len(found & flipped) >= 0.8 * len(found)
    assert f"{len(written):,} training rows look mislabelled: see {out / 'suspects.csv'}" in capsys.readouterr().err
    assert "Training rows that look mislabelled" in (out / "report.html").read_text()


def test_out_of_fold_probabilities_are_cross_val_predicts_and_report_each_fit(noisy):
    """The fold loop gives what scikit-learn's cross_val_predict gives (the same folds, the same model), and
    reports each of the k fits (in a log: one line per fit)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline

    from textrnn.evaluation.baseline import C_WITHOUT_VALIDATION, logistic_regression, tfidf_vectorizer

    texts, labels, _, _ = noisy
    lines = []
    issues = find_label_issues(texts, labels, folds=3, progress=lines.append)
    model = make_pipeline(tfidf_vectorizer(texts), logistic_regression(C_WITHOUT_VALIDATION, 0))
    expected = cross_val_predict(model, texts, labels, cv=StratifiedKFold(3, shuffle=True, random_state=0),
                                 method="predict_proba")
    assert np.allclose(issues.probabilities, expected, atol=1e-6)
    assert [line.split(" done")[0] for line in lines[1:]] == [f"label issues: fit {k} of 3" for k in (1, 2, 3)]


def test_the_network_can_judge_the_rows_and_gives_cross_val_predicts_probabilities(noisy):
    """Any scikit-learn classifier of texts can give the out-of-fold probabilities; the network's are exactly
    those of cross_val_predict with the same folds (one thread: bit-identical fits), and the rows are judged by
    their mean with the bag of words'."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from textrnn import TextRNNClassifier

    texts, labels, _, _ = noisy
    texts, labels = texts[:300], labels[:300]
    network = TextRNNClassifier(embed_dim=8, hidden_size=8, epochs=2, threads=1)
    issues = find_label_issues(texts, labels, folds=2, classifier=network)
    classes = sorted(set(labels))
    expected = cross_val_predict(network, texts, [classes.index(label) for label in labels],
                                 cv=StratifiedKFold(2, shuffle=True, random_state=0), method="predict_proba")
    bag_of_words = find_label_issues(texts, labels, folds=2).probabilities
    assert np.allclose(issues.probabilities, (expected + bag_of_words) / 2, atol=1e-6)
    assert not np.allclose(expected, bag_of_words, atol=0.05)  # so the mean is a mean of two different judges
    assert "TextRNNClassifier and bag-of-words (averaged) probabilities" in issues.summary(300)
    with pytest.raises(DataError, match="multi_label=True"):
        find_label_issues(texts, [(label,) for label in labels], classifier=network)


def test_the_command_judges_by_the_network_when_asked(noisy, tmp_path, capsys):
    texts, labels, _, _ = noisy
    path = tmp_path / "data.csv"
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows([("text", "label"), *zip(texts[:200], labels[:200])])
    out = str(tmp_path / "s.csv")
    assert main(["suspects", str(path), "--network", "--folds", "2", "--epochs", "1", "--threads", "1",
                 "--out", out]) == 0
    assert "out-of-fold TextRNNClassifier and bag-of-words (averaged) probabilities" in capsys.readouterr().err
    assert main(["suspects", str(path), "--epochs", "1", "--out", out]) == 2
    assert "--epochs sets the network: add --network" in capsys.readouterr().err
