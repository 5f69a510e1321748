"""TextRNNClassifier is a real scikit-learn estimator: clone, Pipeline, cross_val_score, GridSearchCV, scorers
that need probabilities, and scikit-learn's own estimator checks.

scikit-learn runs none of its checks on an estimator whose input is text (its tags say so), because every check
makes numeric matrices. So the checks run twice: the few that need no data on TextRNNClassifier itself, and all
of them on ``NumbersAsWords``, TextRNNClassifier behind a front end that writes each numeric row as a text (one
word per feature and rounded value) after scikit-learn's own input validation. Everything else the checks test
(labels of every type, ``classes_``, probability columns, errors, pickling, idempotence, sample order) is
TextRNNClassifier's code."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.utils import estimator_checks
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import validate_data

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


class NumbersAsWords(TextRNNClassifier):
    """TextRNNClassifier on numeric matrices, for scikit-learn's estimator checks: row [0.3, -1.2] is the text
    "f0v0 f1v-3" (feature number and value rounded down to halves)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array, tags.input_tags.one_d_array, tags.input_tags.string = True, False, False
        return tags

    def fit(self, X, y=None, **kwargs):
        return super().fit(self._words(validate_data(self, X, reset=True)), y, **kwargs)

    def _texts(self, X):
        if isinstance(X, list) and all(isinstance(text, str) for text in X):  # already written as texts
            return X
        self._check_fitted()
        return self._words(validate_data(self, X, reset=False))

    @staticmethod
    def _words(X):
        return [" ".join(f"f{j}v{int(np.floor(value * 2))}" for j, value in enumerate(row)) for row in X]

    def predict_proba(self, X):
        return super().predict_proba(self._texts(X))

    def predict(self, X):
        return super().predict(self._texts(X))

    def score(self, X, y):
        return super().score(self._texts(X), y)


CHECKED = dict(embed_dim=16, hidden_size=16, epochs=10, batch_size=16, lr=1e-2, verbose=False, threads=1)


@parametrize_with_checks([NumbersAsWords(**CHECKED)])
def test_every_scikit_learn_check(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


def integer_topics(rows: int = 240):
    """Texts whose topic is an integer label (10, 2, 1): classes_ must be [1, 2, 10], not ['1', '10', '2']."""
    texts, labels = synthetic_corpus(rows)
    return np.asarray(texts, dtype=object), np.array([{"sport": 10, "money": 2, "tech": 1}[label] for label in labels])


def test_classes_are_the_labels_in_their_own_type_and_order():
    texts, labels = integer_topics()
    clf = TextRNNClassifier(**SMALL).fit(texts, labels)
    assert clf.classes_.tolist() == [1, 2, 10] and clf.classes_.dtype.kind == "i"
    probabilities = clf.predict_proba(texts)
    assert (clf.classes_[probabilities.argmax(axis=1)] == clf.predict(texts)).all()
    assert clf.score(texts, labels) > 0.9
    # On a model this accurate, the figures that read the columns by classes_ must say so too.
    assert roc_auc_score(labels, probabilities, multi_class="ovr") > 0.97
    assert log_loss(labels, probabilities) < 0.4
    for kind, converted in (("float", labels.astype(float)), ("bool", labels == 10)):
        fitted = TextRNNClassifier(**SMALL).fit(texts, converted)
        assert fitted.classes_.tolist() == np.unique(converted).tolist(), kind
        assert fitted.predict(texts[:3]).dtype == np.unique(converted).dtype, kind


def test_probability_scorers_in_cross_validation():
    texts, labels = integer_topics()
    auc = cross_val_score(TextRNNClassifier(**SMALL), texts, labels, cv=3, scoring="roc_auc_ovr")
    loss = cross_val_score(TextRNNClassifier(**SMALL), texts, labels, cv=3, scoring="neg_log_loss")
    assert auc.min() > 0.9 and loss.max() > -0.6, (auc, loss)  # scrambled columns gave 0.5 and -1.48


def test_continuous_targets_and_missing_labels_are_refused():
    texts, labels = integer_topics(30)
    with pytest.raises(ValueError, match="continuous"):
        TextRNNClassifier(**SMALL).fit(texts, labels + 0.25)
    with pytest.raises(ValueError, match="target y is None"):
        TextRNNClassifier(**SMALL).fit(texts, None)


def test_class_weight_keyed_by_integer_labels():
    texts, labels = integer_topics()
    clf = TextRNNClassifier(**{**SMALL, "class_weight": {10: 1000.0, 1: 0.001}}).fit(texts, labels)
    assert clf.params_.class_weight == {"10": 1000.0, "1": 0.001}


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
