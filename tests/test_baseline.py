"""The baseline is the strongest of two simple linear models: NBSVM matches a direct reading of Wang and
Manning's method, and competes with TF-IDF logistic regression on the validation rows up to a size."""

import numpy as np
import pytest
from conftest import synthetic_corpus
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.svm import LinearSVC

from textrnn.evaluation.baseline import NAME, NBSVM_NAME, fit_baseline
from textrnn.evaluation.nbsvm import NBSVM


def test_nbsvm_is_the_published_method_with_the_ratio_folded_into_the_weights():
    texts, labels = synthetic_corpus(300)
    features = CountVectorizer(ngram_range=(1, 2)).fit_transform(texts)
    binary = (features > 0).astype(float)
    y = np.array(labels) == "sport"
    # The method read from the paper, for the one class against the rest: r, the SVM on r * x, interpolation.
    p, q = np.asarray(binary[y].sum(0)).ravel() + 1, np.asarray(binary[~y].sum(0)).ravel() + 1
    r = np.log((p / p.sum()) / (q / q.sum()))
    svm = LinearSVC(C=1.0, random_state=0, max_iter=2000).fit(binary.multiply(r).tocsr(), y)
    w = 0.75 * np.abs(svm.coef_.ravel()).mean() + 0.25 * svm.coef_.ravel()
    expected = binary.multiply(r).tocsr() @ w + 0.25 * svm.intercept_[0]
    two_classes = np.where(y, "sport", "other")
    model = NBSVM().fit(features, two_classes)
    np.testing.assert_allclose(model.decision_function(features), expected, rtol=1e-6, atol=1e-9)
    assert list(model.classes_) == ["other", "sport"] and (model.predict(features) == two_classes).mean() > 0.95
    three = NBSVM().fit(features, labels)  # one-vs-rest, each class with its own ratios
    assert three.coef_.shape == (3, features.shape[1]) and (three.predict(features) == np.array(labels)).mean() > 0.95


@pytest.mark.parametrize("limit, expected", [(0, {NAME}), (10_000, {NAME, NBSVM_NAME})])
def test_nbsvm_competes_only_up_to_its_row_limit_and_the_better_one_is_named(limit, expected):
    texts, labels = synthetic_corpus(500, seed=3)
    classes = sorted(set(labels))
    lines = []
    baseline = fit_baseline((texts[:400], labels[:400]), (texts[400:], labels[400:]), classes, nbsvm_rows=limit,
                            progress=lines.append)
    assert baseline.name in expected
    assert any(NBSVM_NAME in line for line in lines) == (limit > 0)
    assert baseline.evaluate(texts[400:], labels[400:])["accuracy"] > 0.9
    if baseline.name == NBSVM_NAME:
        assert "better than tfidf-logreg on the validation rows" in baseline.chosen_on


@pytest.mark.parametrize("limit", [0, 10_000])
def test_a_refit_baseline_keeps_its_settings_and_learns_from_the_rows_given(limit):
    from textrnn.evaluation.baseline import logistic_regression, refit_baseline

    texts, labels = synthetic_corpus(500, seed=3)
    classes = sorted(set(labels))
    chosen = fit_baseline((texts[:400], labels[:400]), (texts[400:], labels[400:]), classes, nbsvm_rows=limit)
    again = refit_baseline(chosen, (texts, labels))
    assert (again.name, again.C, again.chosen_on) == (chosen.name, chosen.C, chosen.chosen_on)
    assert again.seconds > chosen.seconds and len(again.vectorizer.vocabulary_) > len(chosen.vectorizer.vocabulary_)
    if again.name == NAME:
        direct = logistic_regression(chosen.C, 0).fit(again.vectorizer.transform(texts), labels)
        np.testing.assert_allclose(again.model.coef_, direct.coef_)


@pytest.mark.parametrize("limit", [0, 10_000])
def test_texts_of_one_character_words_get_a_baseline(limit):
    """scikit-learn's words have two characters or more: texts of digits, single letters or Chinese written a
    character at a time would leave it no words at all (the run used to stop there, after training)."""
    rows = [("我 爱 你", "a"), ("他 不 好", "b"), ("1 2 3", "a"), ("x y", "b")] * 50
    texts, labels = [t for t, _ in rows], [label for _, label in rows]
    baseline = fit_baseline((texts[:160], labels[:160]), (texts[160:], labels[160:]), ["a", "b"], nbsvm_rows=limit)
    assert baseline.evaluate(texts[160:], labels[160:])["accuracy"] == 1.0
    words = fit_baseline((texts[:160] + ["two letters"], labels[:160] + ["a"]), None, ["a", "b"], nbsvm_rows=0)
    assert "爱" not in words.vectorizer.vocabulary_  # one long word is enough for scikit-learn's own words
