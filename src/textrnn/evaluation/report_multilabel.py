"""The multi-label sections of the run report: the test figures with a per-label table (most frequent
labels first), which labels occur together, and the most confident wrong labels with the words behind them."""

from __future__ import annotations

from html import escape

import numpy as np

from ..data.dataset import Dataset
from ..estimator import TextRNNClassifier
from ..multilabel import decide, indicator_matrix
from .explain import explain, to_html
from .multilabel import PUBLISHED_THRESHOLD, co_occurrence


def section_test(test: dict, data: Dataset | None, table) -> str:
    """Headline figures, the per-label table sorted by support, and the commonest label pairs."""
    at_published = test.get(f"macro_f1_at_{PUBLISHED_THRESHOLD}")
    headline = (f"<p>macro-F1 <b>{test['macro_f1']:.2%}</b> · micro-F1 {test['micro_f1']:.2%} · subset accuracy "
                f"{test['subset_accuracy']:.2%} · Hamming loss {test['hamming_loss']:.4f}"
                + (f" · macro-F1 at a fixed {PUBLISHED_THRESHOLD} threshold {at_published:.2%}" if at_published else "")
                + f" · {test['rows']:,} texts, {test['rows_without_labels']:,} without labels</p>")
    per_label = sorted(test["per_class"].items(), key=lambda item: -item[1]["support"])
    rows = [(escape(label), f"{v['precision']:.2%}", f"{v['recall']:.2%}", f"{v['f1']:.2%}", f"{v['support']:,}")
            for label, v in per_label]
    html = f"<h2>Test</h2>{headline}" + table(("label", "precision", "recall", "F1", "texts"), rows)
    if data is not None:
        pairs = co_occurrence(indicator_matrix(data.labels, test["labels"]), test["labels"])
        if pairs:
            html += ("<h3>Labels that occur together (test texts)</h3>"
                     + table(("labels", "texts"), [(escape(" + ".join(p["labels"])), f"{p['texts']:,}") for p in pairs]))
    return html


def confident_wrong_labels(clf: TextRNNClassifier, test: Dataset, count: int) -> list[dict]:
    """The labels given to test texts that do not carry them, the most confident first, each explained."""
    probabilities = clf.predict_proba(test.texts)
    truth = indicator_matrix(test.labels, clf.class_names_).astype(bool)
    wrong = decide(probabilities, clf.thresholds_) & ~truth
    rows, columns = np.nonzero(wrong)
    order = np.argsort(-probabilities[rows, columns], kind="stable")[:count]
    return [
        {"row": int(rows[i]) + 1, "text": test.texts[rows[i]], "true": ", ".join(test.labels[rows[i]]) or "(none)",
         "predicted": clf.class_names_[columns[i]], "probability": float(probabilities[rows[i], columns[i]]),
         "explanation": explain(clf, test.texts[rows[i]], clf.class_names_[columns[i]])}
        for i in order
    ]


def section_wrong_labels(clf: TextRNNClassifier, test: Dataset, count: int, table) -> str:
    mistakes = confident_wrong_labels(clf, test, count)
    if not mistakes:
        return "<h2>Most confident wrong labels</h2><p>None: no test text got a label it does not carry.</p>"
    rows = [(m["row"], escape(m["true"]), f"{escape(m['predicted'])} ({m['probability']:.0%})",
             to_html(m["explanation"])) for m in mistakes]
    return ("<h2>Most confident wrong labels</h2><p>Labels given to test texts that do not carry them, the most "
            "confident first. Words shaded <span style='background:rgba(22,163,74,.6)'>green</span> pushed towards "
            "the wrong label, <span style='background:rgba(220,38,38,.6)'>red</span> against it (occlusion).</p>"
            + table(("test row", "true labels", "wrong label", "text, as the model reads it"), rows))
