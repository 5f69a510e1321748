"""Which words pushed a prediction: occlusion, one word left out at a time.

For a text whose predicted class has probability p, each token's score is p minus the probability of
the same class when that token is removed from the text. A positive score means the word pushed
towards the prediction, a negative one away from it. All the occluded variants of a text go through
the model in one batch, so explaining a text costs one forward pass over (tokens + 1) short texts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..estimator import TextRNNClassifier
from ..text.batching import EncodedTexts
from ..train.predict import predict_probabilities


@dataclass
class Explanation:
    text: str
    label: str
    probability: float
    tokens: list[str]  # the words as the model sees them (standardized); out-of-vocabulary ones marked
    scores: list[float]  # one per token: how much it raised the predicted class's probability

    def ranked(self) -> list[tuple[str, float]]:
        """Tokens with their scores, the most decisive first."""
        order = np.argsort(-np.asarray(self.scores), kind="stable")
        return [(self.tokens[i], self.scores[i]) for i in order]


def explain(clf: TextRNNClassifier, text: str, label: str | None = None) -> Explanation:
    """Occlusion scores of every token of ``text`` for ``label`` (default: the predicted class)."""
    clf._check_fitted()
    ids = clf.vectorizer_.encode([text])[0]
    tokens = clf.vectorizer_.tokens(text)  # one per id, also for a subword vocabulary
    variants = [ids] + [ids[:i] + ids[i + 1 :] for i in range(len(ids))]
    probabilities = predict_probabilities(clf.model_, EncodedTexts(variants), clf.params_,
                                          getattr(clf, "temperature_", 1.0))
    target = clf.class_names_.index(label) if label is not None else int(probabilities[0].argmax())
    full = float(probabilities[0, target])
    scores = [full - float(p) for p in probabilities[1:, target]]
    return Explanation(text, clf.class_names_[target], full, tokens, scores)


def to_terminal(explanation: Explanation) -> str:
    """The text with each word on a green (pushed for) or red (pushed against) background, ANSI colours."""
    peak = max((abs(s) for s in explanation.scores), default=0.0) or 1.0
    words = []
    for token, score in zip(explanation.tokens, explanation.scores):
        strength = min(int(abs(score) / peak * 5), 5)  # 0..5 on the 6-step axes of the 256-colour cube
        if strength == 0:
            words.append(token)
            continue
        pale = 5 - strength
        red, green, blue = (pale, 5, pale) if score > 0 else (5, pale, pale)
        words.append(f"\033[48;5;{16 + 36 * red + 6 * green + blue}m\033[30m{token}\033[0m")
    return " ".join(words)


def to_html(explanation: Explanation) -> str:
    """The text as HTML spans shaded green (for the prediction) or red (against it)."""
    from html import escape

    peak = max((abs(s) for s in explanation.scores), default=0.0) or 1.0
    spans = []
    for token, score in zip(explanation.tokens, explanation.scores):
        alpha = min(abs(score) / peak, 1.0) * 0.85
        colour = f"rgba(22,163,74,{alpha:.2f})" if score > 0 else f"rgba(220,38,38,{alpha:.2f})"
        spans.append(f'<span style="background:{colour}" title="{score:+.3f}">{escape(token)}</span>')
    return " ".join(spans)
