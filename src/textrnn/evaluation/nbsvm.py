"""NBSVM (Wang and Manning, 2012, "Baselines and bigrams: simple, good sentiment and topic classification"): a
linear SVM on binarised word 1-2-grams, each feature scaled by its naive-Bayes log-count ratio, the weights
interpolated towards their mean magnitude. On short texts it is the strongest cheap bag of words we measured
(docs/accuracy.md): it beats TF-IDF with logistic regression on MR, CR, SUBJ, MPQA and AG News.

Several classes are one-vs-rest, each class with its own ratios; the ratio scaling is folded into the weights,
so ``decision_function`` is a plain linear model on the binarised features.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

ALPHA = 1.0  # add-one smoothing of the feature counts, as the paper


class NBSVM(ClassifierMixin, BaseEstimator):
    """``C``: the SVM's inverse regularisation (the paper's 1); ``beta``: the interpolation weight (0.25), ``w =
    (1 - beta) * mean(|w|) + beta * w``. ``fit`` and ``predict`` take (sparse) feature counts; any count above
    0 is read as 1 (``binary=False``: the features as given, e.g. counts divided by their L2 norm, which scored
    the same; the ratios always come from presence). ``class_weight``: as scikit-learn's (None or "balanced"),
    per one-vs-rest problem."""

    def __init__(self, C: float = 1.0, beta: float = 0.25, class_weight=None, seed: int = 0, binary: bool = True
                 ) -> None:
        self.C, self.beta, self.class_weight, self.seed, self.binary = C, beta, class_weight, seed, binary

    def fit(self, features, labels) -> "NBSVM":
        from sklearn.svm import LinearSVC

        present = _binary(features)
        values = present if self.binary else features.tocsr()  # binarised once, not twice
        labels = np.asarray(labels)
        self.classes_ = np.unique(labels)
        targets = self.classes_[1:] if len(self.classes_) == 2 else self.classes_
        coefficients, intercepts = [], []
        for name in targets:
            positive = labels == name
            ratio = _log_count_ratio(present, positive)
            svm = LinearSVC(C=self.C, class_weight=self.class_weight, random_state=self.seed, max_iter=2000)
            svm.fit(values.multiply(ratio).tocsr(), positive)
            weights = svm.coef_.ravel()
            weights = (1 - self.beta) * np.abs(weights).mean() + self.beta * weights
            coefficients.append(ratio * weights)
            intercepts.append(self.beta * svm.intercept_[0])
        self.coef_, self.intercept_ = np.array(coefficients), np.array(intercepts)
        return self

    def decision_function(self, features) -> np.ndarray:
        scores = (_binary(features) if self.binary else features) @ self.coef_.T + self.intercept_
        return scores.ravel() if len(self.classes_) == 2 else scores

    def predict(self, features) -> np.ndarray:
        scores = self.decision_function(features)
        chosen = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[chosen]


def _binary(features):
    present = features.copy().tocsr().astype(np.float64)
    present.data[:] = 1.0
    return present


def _log_count_ratio(present, positive: np.ndarray) -> np.ndarray:
    """log((p / |p|_1) / (q / |q|_1)): p and q the smoothed counts of each feature in the positive and the
    other rows."""
    p = np.asarray(present[positive].sum(axis=0)).ravel() + ALPHA
    q = np.asarray(present[~positive].sum(axis=0)).ravel() + ALPHA
    return np.log((p / p.sum()) / (q / q.sum()))
