"""The strongest simple thing that could work, fitted in every run: a linear model on word 1-2-grams.

A recurrent model costs far more compute than a bag of words; the baseline shows, on the user's own rows,
whether it earned its place. It trains on the same training rows as the network, chooses its inverse
regularisation ``C`` on the same validation rows, and is scored on the same validation and test rows. Two
models compete: TF-IDF with logistic regression, and up to ``NBSVM_MAX_ROWS`` training rows NBSVM
(:mod:`textrnn.evaluation.nbsvm`), stronger on every small set we measured; the better on the validation rows
is the baseline, and its name says which.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..errors import MemoryBudgetError
from ..multilabel import choose_thresholds, decide, f1_scores, indicator_matrix
from .metrics import classification_metrics
from .multilabel import multilabel_metrics

NAME = "tfidf-logreg"
NBSVM_NAME = "nbsvm-bigram"
# NBSVM's SVMs took 40 to 150 s on AG News' 43,000 training rows (TF-IDF's four fits 10 to 35 s), for 0.2 points:
# above this many rows the TF-IDF model alone is the baseline.
NBSVM_MAX_ROWS = 20_000
NBSVM_TOKENS = r"(?u)\b\w+\b|[^\w\s]"  # words and single punctuation marks ("!" and "?" carry sentiment)
TFIDF_TOKENS = r"(?u)\b\w\w+\b"  # scikit-learn's default: words of two characters or more
TWO_CHARACTER_WORD = re.compile(TFIDF_TOKENS)
C_GRID = (0.25, 1.0, 4.0, 16.0)
C_WITHOUT_VALIDATION = 4.0  # the best C on AG News' validation split; used when there is nothing to choose on


@dataclass
class Baseline:
    vectorizer: object  # sklearn TfidfVectorizer (NBSVM: CountVectorizer)
    model: object  # sklearn LogisticRegression (or NBSVM)
    classes: list[str]
    C: float
    seconds: float
    chosen_on: str  # "validation accuracy" (or macro_f1: the figure C maximised), or why C was not chosen
    thresholds: np.ndarray | None = None  # multi-label: chosen on the validation rows like the network's
    name: str = NAME

    def evaluate(self, texts: Sequence[str], labels: Sequence) -> dict:
        features = self.vectorizer.transform(texts)
        if self.thresholds is not None:
            probabilities = self.model.predict_proba(features)
            return multilabel_metrics(indicator_matrix(labels, self.classes), decide(probabilities, self.thresholds),
                                      self.classes, probabilities)
        return score(self.model.predict(features), labels, self.classes)


def fit_baseline(train: tuple[Sequence[str], Sequence[str]], validation: tuple[Sequence[str], Sequence[str]] | None,
                 classes: Sequence[str], *, seed: int = 0, class_weight=None, monitor: str = "accuracy",
                 threshold: str | float | None = None, progress: Callable[[str], None] | None = None,
                 memory_budget: float | None = None, nbsvm_rows: int = NBSVM_MAX_ROWS) -> Baseline:
    """Fit on ``train`` (texts, labels); choose ``C`` on ``validation`` (when given) by ``monitor`` (accuracy
    or macro_f1), with the network's ``class_weight`` (none, balanced or a mapping), so the two compare fairly.
    Multi-label (``threshold``: the network's threshold rule), one logistic regression per label.
    ``progress`` gets a line for each C fitted (the fits take seconds to minutes on large data). A fit that would
    hold more than ``memory_budget`` bytes raises :class:`MemoryBudgetError` before it starts. Up to
    ``nbsvm_rows`` training rows (0: never) NBSVM competes, and the better on the validation rows is returned
    (without validation rows, NBSVM)."""
    started = time.perf_counter()
    texts, labels = train
    if threshold is not None:
        return _fit_one_vs_rest(train, validation, classes, seed=seed, class_weight=class_weight, threshold=threshold,
                                progress=progress)
    vectorizer = tfidf_vectorizer(texts)
    features = vectorizer.fit_transform(texts)
    needed = linear_fit_bytes(features.shape[0], features.shape[1], len(classes))
    if memory_budget is not None and needed > memory_budget:
        raise MemoryBudgetError(f"the baseline's logistic regression over {features.shape[1]:,} features and "
                                f"{len(classes):,} classes would need about {needed / 1e6:,.1f} MB, more than the "
                                f"{memory_budget / 1e6:,.1f} MB budget")
    weight = None if class_weight in (None, "none") else class_weight
    if validation is None:
        model = logistic_regression(C_WITHOUT_VALIDATION, seed, weight).fit(features, labels)
        tfidf = Baseline(vectorizer, model, list(classes), C_WITHOUT_VALIDATION, time.perf_counter() - started,
                         "not chosen: no validation rows")
        return _fit_nbsvm(train, classes, seed, weight, started) if len(texts) <= nbsvm_rows else tfidf
    val_features = vectorizer.transform(validation[0])
    figure = lambda model: score(model.predict(val_features), validation[1], classes)[monitor]
    model, C, _ = fit_over_C(logistic_regression(C_GRID[0], seed, weight), features, labels, figure, C_GRID,
                             progress=progress and _progress_line(progress, monitor, started))
    best = Baseline(vectorizer, model, list(classes), C, time.perf_counter() - started, f"validation {monitor}")
    if len(texts) <= nbsvm_rows:
        nbsvm = _fit_nbsvm(train, classes, seed, weight, started)
        nbsvm_figure, tfidf_figure = score(nbsvm.model.predict(nbsvm.vectorizer.transform(validation[0])),
                                           validation[1], classes)[monitor], figure(model)
        if progress:
            progress(f"  baseline {NBSVM_NAME}: validation {figure_name(monitor)} {nbsvm_figure:.4f} "
                     f"({time.perf_counter() - started:.0f} s so far)")
        if nbsvm_figure > tfidf_figure:
            nbsvm.chosen_on = f"better than {NAME} on the validation rows ({figure_name(monitor)} {nbsvm_figure:.4f} " \
                              f"vs {tfidf_figure:.4f}); C 1, interpolation 0.25 as published"
            best = nbsvm
    best.seconds = time.perf_counter() - started
    return best


def refit_baseline(baseline: Baseline, train: tuple[Sequence[str], Sequence[str]], *, seed: int = 0,
                   class_weight=None) -> Baseline:
    """The same model with the settings chosen, fitted again on ``train`` (the training and validation rows
    together, as the model's bag-of-words path is once its weight is chosen). Single-label only."""
    started = time.perf_counter()
    weight = None if class_weight in (None, "none") else class_weight
    if baseline.name == NBSVM_NAME:
        nbsvm = _fit_nbsvm(train, baseline.classes, seed, weight, started)
        vectorizer, model = nbsvm.vectorizer, nbsvm.model
    else:
        vectorizer = tfidf_vectorizer(train[0])
        model = logistic_regression(baseline.C, seed, weight).fit(vectorizer.fit_transform(train[0]), train[1])
    return dataclasses.replace(baseline, vectorizer=vectorizer, model=model,
                               seconds=baseline.seconds + time.perf_counter() - started)


def _fit_nbsvm(train, classes, seed: int, class_weight, started: float) -> Baseline:
    """NBSVM-bigram with the published settings (C 1, interpolation 0.25); any class weighting becomes
    "balanced" within each one-vs-rest problem."""
    from sklearn.feature_extraction.text import CountVectorizer

    from .nbsvm import NBSVM

    texts, labels = train
    # Every n-gram, the ones seen once too, as published: dropping those cost 1.4 points on MPQA (texts of two or
    # three words), and gained or lost 0.2-0.4 on MR, CR and SUBJ (10 folds; docs/accuracy.md).
    vectorizer = CountVectorizer(ngram_range=(1, 2), binary=True, token_pattern=NBSVM_TOKENS)
    features = vectorizer.fit_transform(texts)
    model = NBSVM(C=1.0, beta=0.25, class_weight="balanced" if class_weight else None, seed=seed)
    model.fit(features, np.asarray(labels))
    return Baseline(vectorizer, model, list(classes), 1.0, time.perf_counter() - started,
                    "not chosen: no validation rows; C 1, interpolation 0.25 as published", name=NBSVM_NAME)


def linear_fit_bytes(rows: int, features: int, classes: int) -> int:
    """About what fitting a multinomial logistic regression with saga holds: the coefficients, their running
    gradient sum and the best C's copy (features x classes each), and saga's gradient memory (one row of class
    gradients per training row), in float64. 10,000 classes over 20,000 words and 30,000 rows: about 8 GB."""
    return 8 * classes * (3 * features + rows)


def fit_over_C(model, features, labels, figure, grid: Sequence[float], *, stop_when_worse: bool = False,
               progress: Callable[[float, float], None] | None = None):
    """Fit the logistic regression ``model`` for each C of ``grid`` in turn, each fit starting from the previous
    one's solution (the same optimum, sooner); returns the model whose validation ``figure(model)`` is best (the
    first on a tie), its C, and every C's figure. ``stop_when_worse``: end at the first C that scores lower.
    ``progress(C, figure)`` is called after each fit."""
    model.warm_start = True
    best, by_C = None, {}
    for C in grid:
        model.set_params(C=C).fit(features, labels)
        by_C[str(C)] = value = figure(model)
        if progress:
            progress(C, value)
        if best is not None and stop_when_worse and value < best[0]:
            break
        if best is None or value > best[0]:
            best = (value, C, copy.deepcopy(model))  # a copy: the next C's fit goes on in place
    return best[2], best[1], by_C


def _fit_one_vs_rest(train, validation, classes: Sequence[str], *, seed: int, class_weight, threshold,
                     progress=None) -> Baseline:
    """Multi-label: one logistic regression per label (one-vs-rest) on the same TF-IDF features; C and the
    thresholds are chosen on the validation rows by macro-F1, with the network's threshold rule."""
    from sklearn.multiclass import OneVsRestClassifier

    started = time.perf_counter()
    classes = list(classes)
    vectorizer = tfidf_vectorizer(train[0])
    features, truth = vectorizer.fit_transform(train[0]), indicator_matrix(train[1], classes)
    weight = "balanced" if class_weight == "balanced" else None  # per label's yes/no problem, as the network's
    fit = lambda C: OneVsRestClassifier(logistic_regression(C, seed, weight, solver="liblinear")).fit(features, truth)
    if validation is None:
        model = fit(C_WITHOUT_VALIDATION)
        thresholds, _ = choose_thresholds(np.zeros((0, len(classes))), np.zeros((0, len(classes))), threshold)
        return Baseline(vectorizer, model, classes, C_WITHOUT_VALIDATION, time.perf_counter() - started,
                        "not chosen: no validation rows", thresholds)
    val_features, val_truth = vectorizer.transform(validation[0]), indicator_matrix(validation[1], classes)
    best = None
    for C in C_GRID:
        model = fit(C)
        probabilities = model.predict_proba(val_features)
        thresholds, _ = choose_thresholds(probabilities, val_truth, threshold)
        figure = f1_scores(val_truth, decide(probabilities, thresholds)).mean()
        if progress:
            _progress_line(progress, "macro_f1", started)(C, figure)
        if best is None or figure > best[0]:
            best = (figure, C, model, thresholds)
    _, C, model, thresholds = best
    return Baseline(vectorizer, model, classes, C, time.perf_counter() - started, "validation macro_f1", thresholds)


def _progress_line(progress: Callable[[str], None], monitor: str, started: float) -> Callable[[float, float], None]:
    return lambda C, figure: progress(f"  baseline C {C:g}: validation {figure_name(monitor)} {figure:.4f} "
                                      f"({time.perf_counter() - started:.0f} s so far)")


def figure_name(monitor: str) -> str:
    """``accuracy``, ``macro-F1``: a metric's name as the summaries print it."""
    return monitor.replace("macro_f1", "macro-F1").replace("micro_f1", "micro-F1")


def tfidf_vectorizer(texts: Sequence[str]):
    """Word 1-2-grams, sublinear term frequency; words seen once are dropped from 1,000 rows up. Words are
    scikit-learn's (two characters or more) unless no text has one (digits, single letters, Chinese written a
    character at a time: scikit-learn would find no words at all); then every word and punctuation mark counts."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    words = TFIDF_TOKENS if any(TWO_CHARACTER_WORD.search(text) for text in texts) else NBSVM_TOKENS
    return TfidfVectorizer(ngram_range=(1, 2), min_df=2 if len(texts) >= 1000 else 1, sublinear_tf=True,
                           token_pattern=words)


def score(predicted: Sequence[str], labels: Sequence[str], classes: Sequence[str]) -> dict:
    """The project's classification metrics for predicted and true class names."""
    position = {name: i for i, name in enumerate(classes)}
    indices = lambda names: np.array([position[name] for name in names], dtype=np.int64)
    return classification_metrics(indices(labels), indices(predicted), classes)


def logistic_regression(C: float, seed: int, class_weight=None, solver: str = "saga", tol: float = 1e-3):
    from sklearn.linear_model import LogisticRegression

    # saga: 5x faster than lbfgs on 200k sparse features, the same accuracy on AG News (measured);
    # liblinear for the many small yes/no problems of multi-label.
    return LogisticRegression(C=C, solver=solver, max_iter=1000, tol=tol, random_state=seed,
                              class_weight=class_weight)


def comparison_line(rnn: dict, baseline: dict, split: str = "test", name: str = "RNN") -> str:
    """``RNN 90.7% vs bag-of-words 91.1%: -0.4 points (test accuracy)``; multi-label, the macro-F1."""
    figure = "macro_f1" if rnn.get("multi_label") else "accuracy"
    difference = 100 * (rnn[figure] - baseline[figure])
    return (f"{name} {rnn[figure]:.1%} vs bag-of-words {baseline[figure]:.1%}: {difference:+.1f} points "
            f"({split} {figure_name(figure)})")


def composition(weight: float | None) -> tuple[str, str]:
    """What a model with this mix weight is: a short name for tables and summaries, and one sentence saying it.
    The one place that words it, so the summary, the report and ``compare`` say the same."""
    if not weight:
        return "RNN", "the model is the RNN alone (the bag-of-words path got no weight, or was not used)"
    if weight >= 1:
        return ("bag of words", "the network adds nothing on this data: this model is its bag-of-words path "
                "(the validation rows gave the path all the weight)")
    return "RNN + bag of words", f"the model mixes its RNN with a bag-of-words path, weight {weight:g}"
