"""Training rows whose label is probably wrong: the rows to look at first when cleaning a labelled file.

Every row gets a probability for each class from a model that never saw it: the bag-of-words baseline's model
(TF-IDF of word 1-2-grams, logistic regression), fitted k times on the other folds (out-of-fold
probabilities); with any scikit-learn classifier of texts given as ``classifier``, the network
(``TextRNNClassifier(...)``) included, the mean of its out-of-fold probabilities and the bag of words', at k
times its training time. How many rows are wrong is estimated by
confident learning (Northcutt, Jiang and Chuang, 2021, "Confident learning: estimating uncertainty in dataset
labels"): the rows that fall off the diagonal of the confident joint (see :func:`flag_rows`); that many rows
are flagged, those whose given label has the lowest probability (its "self-confidence"), which ranked planted
flips best (docs/data.md). The score of a row is that probability: the lowest first. Texts that appear more than once with different labels
are flagged too, whatever the model says.

Multi-label rows (label sets) are judged label by label: each label's yes/no is a two-class problem with its
own one-vs-rest probabilities, and a row is flagged when any of its labels looks missing or wrong.

    issues = find_label_issues(texts, labels)
    issues.rows[:10]          # [{"row": 812, "text": ..., "label": ..., "suggested": ..., "score": ..., ...}]
    find_label_issues(texts, labels, classifier=TextRNNClassifier(threads=2))   # judged by the network
"""

from __future__ import annotations

import re
import sys
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..data.dataset import is_multi_label
from ..errors import DataError, listed
from ..multilabel import indicator_matrix
from ..params import MAX_SEED
from .baseline import C_WITHOUT_VALIDATION, logistic_regression, tfidf_vectorizer

METHODS = ("confident_learning", "self_confidence")
COLUMNS = ("row", "text", "label", "suggested", "score", "reason")
# At the end of a training run: 2 folds, two fits on half the rows each (about 9 s on AG News' 45,593 rows, a
# little less precise than 5: docs/data.md); `textrnn suspects` takes 5.
RUN_FOLDS = 2
RUN_FILE = "suspects.csv"


@dataclass
class LabelIssues:
    """What :func:`find_label_issues` found: the flagged rows, most suspect first, and how they were found."""

    rows: list[dict]  # one dict per flagged row, with the keys of COLUMNS
    classes: list[str]
    probabilities: np.ndarray  # out-of-fold, one row per input row, columns in the order of ``classes``
    method: str
    folds: int
    seconds: float
    duplicates: int = 0  # rows flagged because the same text carries another label elsewhere
    counts: dict = field(default_factory=dict)  # rows per class
    multi_label: bool = False
    model: str = "bag-of-words"  # what gave the probabilities: the bag of words, or the classifier's and it

    def summary(self, total: int) -> str:
        """One line: how many rows look mislabelled, and how that was decided."""
        return (f"{len(self.rows):,} of {total:,} rows look mislabelled ({self.method.replace('_', ' ')} on "
                f"{self.folds}-fold out-of-fold {self.model} probabilities; {self.duplicates:,} share their text "
                f"with rows of another label)")


def find_label_issues(texts: Sequence[str], labels: Sequence, *, folds: int = 5, seed: int = 0,
                      method: str = "confident_learning", places: Sequence[str] | None = None,
                      classifier=None, progress: Callable[[str], None] | None = None) -> LabelIssues:
    """Rows whose label looks wrong (see the module's docstring), most suspect first. ``labels``: one per text,
    or a tuple of labels per text (multi-label). ``method``: confident_learning, or self_confidence (every row
    whose given label is not the likeliest class). Each row's ``row`` is its position from 1, or where it is
    in its file when ``places`` says (a :class:`~textrnn.data.dataset.Dataset`'s ``places``: "line 813").
    ``classifier``: an unfitted scikit-learn classifier of raw texts with ``predict_proba`` (cloned for each
    fold; multi-label: one that takes an indicator matrix, such as ``TextRNNClassifier(multi_label=True)``),
    whose out-of-fold probabilities are averaged with the bag of words' (the mean judged planted errors more
    precisely than either alone: docs/data.md); None: the bag-of-words model alone."""
    started = time.perf_counter()
    if method not in METHODS:
        raise DataError(f"method: expected one of {', '.join(METHODS)}, got {method!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
        raise DataError(f"seed: expected a whole number from 0 to {MAX_SEED}, got {seed!r}")
    texts, labels = list(texts), list(labels)
    if len(texts) != len(labels):
        raise DataError(f"{len(texts):,} texts but {len(labels):,} labels")
    multi_label = is_multi_label(labels)
    labels = [tuple(map(str, row)) for row in labels] if multi_label else [str(label) for label in labels]
    classes = sorted({name for row in labels for name in row}) if multi_label else sorted(set(labels))
    counts = {name: 0 for name in classes}
    for row in labels:
        for name in (row if multi_label else (row,)):
            counts[name] += 1
    folds = _check_folds(folds, counts, len(texts), multi_label)
    if multi_label and getattr(classifier, "multi_label", None) is False:
        raise DataError("these rows carry label sets, and the classifier given is single-label: give one with "
                        "multi_label=True (--multi-label)")
    sources = [None] if classifier is None else [classifier, None]  # None: the bag of words
    probabilities = np.zeros((len(texts), len(classes)))
    for source in sources:
        if progress:
            progress(f"label issues: out-of-fold probabilities from {folds} fits of the {_name(source)} model on "
                     f"{len(texts):,} rows")
        probabilities += out_of_fold_probabilities(texts, labels, classes, folds=folds, seed=seed,
                                                   multi_label=multi_label, classifier=source, progress=progress)
    probabilities /= len(sources)
    model = " and ".join(map(_name, sources)) + (" (averaged)" if classifier is not None else "")
    judge = _multi_label_judgement if multi_label else _single_label_judgement
    flagged, scores, describe = judge(labels, classes, probabilities, method)
    conflicting = _conflicting_duplicates(texts, labels)
    rows = []
    for i in sorted(set(np.flatnonzero(flagged).tolist()) | set(conflicting)):
        suggested, reason = describe(i)
        if i in conflicting:  # whatever the model says: the same text carries another label elsewhere
            repeated = f"the same text is labelled {conflicting[i]} elsewhere"
            reason = f"{reason}; {repeated}" if flagged[i] else repeated
        rows.append({"row": i + 1, "text": texts[i], "label": _shown(labels[i]), "suggested": suggested,
                     "score": round(float(scores[i]), 6), "reason": reason})
    rows.sort(key=lambda row: (row["score"], row["row"]))
    if places is not None:
        for row in rows:
            row["row"] = places[row["row"] - 1]
    return LabelIssues(rows, classes, probabilities, method, folds, time.perf_counter() - started,
                       duplicates=len(conflicting), counts=counts, multi_label=multi_label, model=model)


def check_run_rows(dataset, run_dir, *, seed: int = 0, progress: Callable[[str], None] | None = None) -> dict:
    """The rows of a run's training part (a :class:`~textrnn.data.dataset.Dataset`) that look mislabelled, written
    to ``run_dir/suspects.csv`` (most suspect first, each placed in its file);
    returns what metrics.json keeps: counts, the file's name and the first ten rows (for the report), or
    ``{"skipped": why}``."""
    from ..deploy.batch_predict import write_table

    try:
        issues = find_label_issues(dataset.texts, dataset.labels, folds=RUN_FOLDS, seed=seed, places=dataset.places,
                                   progress=progress)
    except DataError as error:
        return {"skipped": str(error)}
    write_table(Path(run_dir) / RUN_FILE, issues.rows, COLUMNS)
    return {"flagged": len(issues.rows), "rows": len(dataset), "method": issues.method, "folds": issues.folds,
            "duplicates": issues.duplicates, "seconds": round(issues.seconds, 1), "file": RUN_FILE,
            "first": issues.rows[:10]}


def out_of_fold_probabilities(texts: list[str], labels: list, classes: list[str], *, folds: int, seed: int,
                              multi_label: bool, classifier=None, progress: Callable[[str], None] | None = None
                              ) -> np.ndarray:
    """Each row's class probabilities from ``classifier`` (None: the bag-of-words model) fitted on the other
    folds (multi-label: each column a label's own probability; the bag of words fits one logistic regression
    per label). With ``progress``, a bar on a terminal, else a line after each fit (for logs)."""
    from sklearn.base import clone
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline
    from tqdm.auto import tqdm

    if multi_label:
        bag_of_words = OneVsRestClassifier(logistic_regression(C_WITHOUT_VALIDATION, seed, solver="liblinear"))
        targets, splits = indicator_matrix(labels, classes), KFold(folds, shuffle=True, random_state=seed)
    else:
        bag_of_words = logistic_regression(C_WITHOUT_VALIDATION, seed)
        targets = np.array([classes.index(label) for label in labels])
        splits = StratifiedKFold(folds, shuffle=True, random_state=seed)
    model = make_pipeline(tfidf_vectorizer(texts), bag_of_words) if classifier is None else classifier
    probabilities = np.zeros((len(texts), len(classes)))
    started = time.perf_counter()
    bar = tqdm(total=folds, desc="label issues", unit="fit", leave=False,
               disable=not (progress and sys.stderr.isatty()))
    for fold, (fit_rows, held_out) in enumerate(splits.split(np.zeros(len(texts)), targets), start=1):
        with warnings.catch_warnings():  # a rare label absent from a fold's training part: predicted never
            warnings.filterwarnings("ignore", message="Label .* is present in all training examples")
            warnings.filterwarnings("ignore", message="Label not .* is present in all training examples")
            fitted = clone(model).fit([texts[i] for i in fit_rows], targets[fit_rows])
        predicted = fitted.predict_proba([texts[i] for i in held_out])
        columns = slice(None) if multi_label else fitted.classes_
        probabilities[np.ix_(held_out, np.arange(len(classes))[columns])] = predicted
        bar.update()
        if progress and bar.disable:
            progress(f"label issues: fit {fold} of {folds} done ({time.perf_counter() - started:.0f} s)")
    bar.close()
    return probabilities


def flag_rows(probabilities: np.ndarray, given: np.ndarray, method: str = "confident_learning") -> np.ndarray:
    """Which rows look mislabelled (a boolean mask), from out-of-fold ``probabilities`` and ``given`` class indices.

    confident_learning: as many rows as :func:`confidently_other` estimates are wrong, those with the lowest
    probability of their given label (cleanlab's ``filter_by="low_self_confidence"``). self_confidence: every
    row whose given class is not its likeliest."""
    if method == "self_confidence":
        return probabilities.argmax(axis=1) != given
    self_confidence = probabilities[np.arange(len(given)), given]
    return _lowest(self_confidence, int(confidently_other(probabilities, given).sum()))


def confidently_other(probabilities: np.ndarray, given: np.ndarray) -> np.ndarray:
    """The off-diagonal of the confident joint (Northcutt et al. 2021): class j's threshold is the mean
    probability of j over the rows labelled j; a row is confidently of class j when j is its likeliest class
    among those reaching their threshold; these are the rows confidently of a class other than their label.
    Their count estimates how many labels are wrong (cleanlab's calibration of it overestimated on AG News)."""
    classes = probabilities.shape[1]
    present = np.bincount(given, minlength=classes) > 0
    thresholds = np.array([probabilities[given == j, j].mean() if present[j] else np.inf for j in range(classes)])
    confident = probabilities >= thresholds[None, :]
    likeliest_confident = np.where(confident, probabilities, -np.inf).argmax(axis=1)
    return confident.any(axis=1) & (likeliest_confident != given)


def _lowest(scores: np.ndarray, count: int) -> np.ndarray:
    flagged = np.zeros(len(scores), dtype=bool)
    flagged[np.argsort(scores, kind="stable")[:count]] = True
    return flagged


def _single_label_judgement(labels, classes, probabilities, method):
    """Which rows are flagged, each row's score (the probability of its label) and its description: the
    suggested class (the likeliest other than the given one) and what the model said."""
    given = np.array([classes.index(label) for label in labels])
    scores = probabilities[np.arange(len(given)), given]
    others = probabilities.copy()
    others[np.arange(len(given)), given] = -np.inf
    suggested = others.argmax(axis=1)

    def describe(i: int) -> tuple[str, str]:
        return classes[suggested[i]], (f"a model trained without this row gives {labels[i]} {scores[i]:.2f} and "
                                       f"{classes[suggested[i]]} {probabilities[i, suggested[i]]:.2f}")

    return flag_rows(probabilities, given, method), scores, describe


def _multi_label_judgement(labels, classes, probabilities, method):
    """Each label's yes/no is a two-class problem: a row's agreement with a label is the probability of its given
    yes/no, and its score is its lowest agreement. As many rows are flagged as have a label confidently the
    other way (:func:`confidently_other` on each label, the model's probability past 0.5), the lowest scores
    (cleanlab's multi-label rule, with the lowest agreement for its average); each names the labels the model
    disagrees with."""
    truth = indicator_matrix(labels, classes).astype(int)
    agreement = np.where(truth == 1, probabilities, 1 - probabilities)
    scores = agreement.min(axis=1)
    if method == "self_confidence":
        flagged = scores < 0.5
    else:
        other = np.zeros(len(labels), dtype=bool)
        for j in range(len(classes)):  # confidently the other way, and on the other side of 0.5 (as cleanlab counts)
            two_classes = np.column_stack([1 - probabilities[:, j], probabilities[:, j]])
            other |= confidently_other(two_classes, truth[:, j]) & (agreement[:, j] < 0.5)
        flagged = _lowest(scores, int(other.sum()))

    def describe(i: int) -> tuple[str, str]:
        doubtful = np.flatnonzero(agreement[i] < 0.5)
        doubtful = doubtful if len(doubtful) else [int(agreement[i].argmin())]
        suggested = truth[i].copy()
        suggested[doubtful] = 1 - suggested[doubtful]
        return (_shown(tuple(classes[j] for j in np.flatnonzero(suggested))),
                "; ".join(f"{classes[j]} looks {'wrong' if truth[i, j] else 'missing'} ({probabilities[i, j]:.2f})"
                          for j in doubtful))

    return flagged, scores, describe


def _check_folds(folds: int, counts: dict, rows: int, multi_label: bool) -> int:
    if not isinstance(folds, int) or isinstance(folds, bool) or folds < 2:
        raise DataError(f"folds: expected a whole number of 2 or more, got {folds!r}")
    if multi_label:
        if len(counts) < 1 or rows < 2 * folds:
            raise DataError(f"finding mislabelled rows with {folds} folds needs {2 * folds} or more rows "
                            f"with labels; got {rows:,}")
        return folds
    smallest = min(counts.values()) if counts else 0
    if len(counts) < 2 or smallest < 2:
        raise DataError(f"finding mislabelled rows needs two or more classes with two or more rows each; "
                        f"{listed([c for c in counts if counts[c] < 2]) or 'one class'} has fewer")
    return min(folds, smallest)


def _conflicting_duplicates(texts: list[str], labels: list) -> dict[int, str]:
    """Rows whose text (lower-cased, punctuation and spacing ignored) appears elsewhere with another label:
    row index -> the other labels, said ("sport", or "(joy, love) or (joy)" for label sets). A text of nothing
    but marks ("?", an emoji) is compared as written: ignoring its marks would make every such text the same."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, text in enumerate(texts):
        words = " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())
        groups[words or "marks: " + " ".join(text.split())].append(i)
    conflicting: dict[int, str] = {}
    for members in groups.values():
        names = {_shown(labels[i]) for i in members}
        if len(names) > 1:
            for i in members:
                others = sorted(names - {_shown(labels[i])})
                shown = [f"({name})" if "," in name else name for name in others[:12]]
                conflicting[i] = " or ".join(shown) + (f" or {len(others) - 12} more" if len(others) > 12 else "")
    return conflicting


def _name(classifier) -> str:
    return "bag-of-words" if classifier is None else type(classifier).__name__


def _shown(label) -> str:
    """A label as written in the output: a label set as "a, b" ("(none)" when empty)."""
    if isinstance(label, tuple):
        return ", ".join(label) if label else "(none)"
    return label
