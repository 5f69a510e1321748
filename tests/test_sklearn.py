"""TextRNNClassifier is a real scikit-learn estimator: clone, Pipeline, cross_val_score, GridSearchCV, and the
applicable parts of scikit-learn's own estimator checks (the others need numeric matrices, not texts)."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import estimator_checks

from conftest import synthetic_corpus
from textrnn import TextRNNClassifier
from textrnn.params import CLASSIFIER_PARAM_NAMES, ClassifierParams

SMALL = dict(embed_dim=8, hidden_size=8, epochs=4, batch_size=16, lr=1e-2, val_size=0.1)


@pytest.fixture(scope="module")
def data():
    texts, labels = synthetic_corpus(300)
    return np.asarray(texts, dtype=object), np.asarray(labels, dtype=object)


APPLICABLE_CHECKS = ["check_parameters_default_constructible", "check_no_attributes_set_in_init",
                     "check_get_params_invariance", "check_set_params", "check_estimator_repr",
                     "check_estimator_cloneable", "check_valid_tag_types",
                     "check_do_not_raise_errors_in_init_or_set_params"]


@pytest.mark.parametrize("check", APPLICABLE_CHECKS)
def test_scikit_learn_estimator_checks(check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(estimator_checks, check)("TextRNNClassifier", TextRNNClassifier(**SMALL))


def test_parameters_defaults_and_clone():
    clf = TextRNNClassifier()
    assert sorted(clf.get_params()) == sorted(CLASSIFIER_PARAM_NAMES)
    assert clf.get_params() == ClassifierParams().model_dump()  # one source of defaults
    copy = clone(TextRNNClassifier(cell="lstm", hidden_size=7))
    assert copy.get_params()["cell"] == "lstm" and copy.get_params()["hidden_size"] == 7


def test_cross_val_score_and_integer_labels(data, tmp_path):
    texts, labels = data
    scores = cross_val_score(TextRNNClassifier(**SMALL), texts, labels, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.6  # three keyword-driven classes: chance is 0.33
    integers = np.array([{"sport": 0, "money": 1, "tech": 2}[label] for label in labels])
    f1 = cross_val_score(TextRNNClassifier(**SMALL), texts, integers, cv=3, scoring="f1_macro")
    assert f1.mean() > 0.6  # predict gives integers back when fit was given integers
    fitted = TextRNNClassifier(**SMALL).fit(texts, integers)
    assert fitted.predict(texts[:5]).dtype.kind == "i"
    loaded = TextRNNClassifier.load(fitted.save(tmp_path / "m"))  # the saved model remembers the labels' kind
    assert loaded.predict(texts[:5]).tolist() == fitted.predict(texts[:5]).tolist()


def test_grid_search_and_pipeline(data):
    texts, labels = data
    search = GridSearchCV(TextRNNClassifier(**SMALL), {"hidden_size": [4, 8]}, cv=2).fit(texts, labels)
    assert search.best_params_["hidden_size"] in (4, 8) and search.best_score_ > 0.5
    pipeline = Pipeline([("upper", FunctionTransformer(lambda x: [t.upper() for t in x])),
                         ("rnn", TextRNNClassifier(**SMALL))]).fit(texts, labels)
    assert pipeline.score(texts, labels) > 0.6
