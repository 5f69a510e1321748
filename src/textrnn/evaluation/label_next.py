"""What to label next: the unlabelled texts whose labels would teach a model most.

Uncertainty sampling (Lewis and Gale, 1994) with a diversity rule. A text is uncertain when the model cannot
choose: its two likeliest classes are close (``margin``: 1 - (p1 - p2)), or its probabilities are spread
(``entropy``, divided by its largest value so that both lie in [0, 1]); for a multi-label model, the label whose
probability is nearest its threshold decides. Uncertainty alone fills the top of the list with near-copies of
one confusing text, and labelling the tenth copy teaches nothing new; so the list is built greedily from the most
uncertain texts (ten times as many as asked for), each next text the one with the highest uncertainty times
(1 - its largest cosine similarity, over TF-IDF word counts, to a text already chosen), as in ranked batch-mode
sampling (Cardoso et al., 2017).

    chosen = texts_to_label(texts, model.predict_proba(texts), top=200)   # indices into texts, best first
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

UNCERTAINTIES = ("margin", "entropy")
COLUMNS = ("text", "label", "row", "guess", "probability", "uncertainty")  # label: empty, for the labeller
POOL_FACTOR = 10  # how many of the most uncertain texts (times ``top``) the diversity rule chooses among


def uncertainty(probabilities: np.ndarray, thresholds: np.ndarray | None = None, method: str = "margin"
                ) -> np.ndarray:
    """How unsure the model is about each row, in [0, 1] (1: cannot choose at all). ``thresholds``: a
    multi-label model's, one per label."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if method not in UNCERTAINTIES:
        raise ValueError(f"uncertainty: expected one of {', '.join(UNCERTAINTIES)}, got {method!r}")
    if thresholds is not None:
        # Each label: 1 at its threshold, 0 at certainty (probability 0 or 1); the most doubtful label counts.
        thresholds = np.asarray(thresholds, dtype=np.float64)[None, :]
        room = np.where(probabilities >= thresholds, 1 - thresholds, thresholds)
        return (1 - np.abs(probabilities - thresholds) / np.maximum(room, 1e-12)).max(axis=1)
    if probabilities.shape[1] < 2:
        return np.zeros(len(probabilities))
    if method == "margin":
        top_two = np.sort(probabilities, axis=1)[:, -2:]
        return 1 - (top_two[:, 1] - top_two[:, 0])
    clipped = np.clip(probabilities, 1e-12, 1)
    return -(clipped * np.log(clipped)).sum(axis=1) / np.log(probabilities.shape[1])


def texts_to_label(texts: Sequence[str], probabilities: np.ndarray, top: int, *,
                   thresholds: np.ndarray | None = None, method: str = "margin", pool: int = POOL_FACTOR
                   ) -> list[int]:
    """The indices of the ``top`` texts to label next, best first (see the module's docstring); the diversity
    rule chooses among the ``pool`` x ``top`` most uncertain (1: uncertainty alone)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    scores = uncertainty(probabilities, thresholds, method)
    top = min(int(top), len(texts))
    if top <= 0:
        return []
    candidates = np.argsort(-scores, kind="stable")[: top * pool]
    try:
        vectors = TfidfVectorizer(sublinear_tf=True).fit_transform([texts[i] for i in candidates])
    except ValueError:  # no words at all (empty or punctuation-only texts): nothing to be diverse about
        return candidates[:top].tolist()
    closest = np.zeros(len(candidates))  # each pooled text's largest similarity to a chosen one
    available = np.ones(len(candidates), dtype=bool)
    chosen = []
    for _ in range(top):
        value = np.where(available, scores[candidates] * (1 - closest), -np.inf)
        best = int(np.argmax(value))
        chosen.append(int(candidates[best]))
        available[best] = False
        closest = np.maximum(closest, (vectors @ vectors[best].T).toarray().ravel())
    return chosen


def rows_to_label(model, texts: Sequence[str], top: int = 100, *, method: str = "margin", pool: int = POOL_FACTOR
                  ) -> list[dict]:
    """The ``top`` texts to label next as rows (the keys of COLUMNS: an empty ``label`` to fill in, ``row``
    from 1, the model's ``guess``), best first. ``model``: anything with ``predict_proba`` and ``class_names_``
    (a fitted TextRNNClassifier, or a loaded run or export); a multi-label model's thresholds are used.
    ``pool``: as :func:`texts_to_label`'s."""
    from ..multilabel import given_labels

    texts = list(texts)
    probabilities = np.asarray(model.predict_proba(texts))
    thresholds = getattr(model, "thresholds_", None)
    names = list(model.class_names_)
    scores = uncertainty(probabilities, thresholds, method)
    chosen = texts_to_label(texts, probabilities, top, thresholds=thresholds, method=method, pool=pool)
    if thresholds is not None:
        guesses = {i: ",".join(names[j] for j in given)
                   for i, given in zip(chosen, given_labels(probabilities[chosen], thresholds))}
    else:
        guesses = {i: names[int(probabilities[i].argmax())] for i in chosen}
    return [{"text": texts[i], "label": "", "row": i + 1, "guess": guesses[i],
             "probability": round(float(probabilities[i].max()), 6), "uncertainty": round(float(scores[i]), 6)}
            for i in chosen]
