"""The run report: one self-contained HTML file (images inlined) plus the same figures as PNG files.

Sections: configuration, data (rows, class balance, text lengths, vocabulary coverage), training
curves, test metrics with the confusion matrix, the most confident mistakes with the words that drove
them (occlusion), and timing. ``textrnn train`` writes it at the end of every run; ``textrnn report``
rebuilds it for an existing run directory.
"""

from __future__ import annotations

import base64
from collections import Counter
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import __version__
from ..artifacts import read_json
from ..data.dataset import Dataset, label_names
from ..data.sources import load_run_data, training_and_validation
from ..errors import DataError
from ..estimator import TextRNNClassifier
from ..files import write_bytes_atomic
from ..model.bag_of_words import WithBagOfWords
from .baseline import composition, figure_name
from ..rundir import read_run_config
from ..text.vectorizer import UNK_ID
from . import report_multilabel
from .explain import explain, to_html
from .metrics import top_confusions
from .plots import plot_confusion, plot_curves, plot_data, plot_reliability

FIGURES = ("curves.png", "confusion_matrix.png", "data.png", "reliability.png")
PLOTTED_MATRIX_CLASSES = 12  # a matrix with a count in every cell is unreadable beyond this (28 was, measured)


def coverage(clf: TextRNNClassifier, texts: Sequence[str]) -> float:
    """Share of the tokens of ``texts`` that are in the vocabulary (not out-of-vocabulary)."""
    ids = clf.vectorizer_.encode(texts)
    total = sum(len(seq) for seq in ids)
    return 1.0 - sum(seq.count(UNK_ID) for seq in ids) / total if total else 0.0


def confident_mistakes(clf: TextRNNClassifier, test: Dataset, count: int,
                       probabilities: np.ndarray | None = None) -> list[dict]:
    """The ``count`` test rows predicted wrong with the highest probability, each explained; ``probabilities``:
    the model's on the test rows, when the caller has them."""
    probabilities = clf.predict_proba(test.texts) if probabilities is None else probabilities
    predicted = probabilities.argmax(axis=1)
    truth = np.array([clf.class_names_.index(label) for label in test.labels])
    wrong = np.flatnonzero(predicted != truth)
    wrong = wrong[np.argsort(-probabilities[wrong, predicted[wrong]], kind="stable")][:count]
    return [
        {"row": int(i) + 1, "text": test.texts[i], "true": test.labels[i], "predicted": clf.class_names_[predicted[i]],
         "probability": float(probabilities[i, predicted[i]]), "explanation": explain(clf, test.texts[i])}
        for i in wrong
    ]


def write_report(run_dir: str | Path, train: Dataset | None = None, test: Dataset | None = None,
                 mistakes: int = 10, *, clf: TextRNNClassifier | None = None,
                 test_probabilities: np.ndarray | None = None) -> Path:
    """Write ``report.html`` and the PNG figures into ``run_dir``; returns the HTML file's path.

    Without ``train``/``test``, the run's own data is loaded again when it is still where the run
    found it; if not, the report leaves out what needs it and says so. A training run passes what it has
    computed already: the fitted ``clf`` (else the saved model is loaded) and its ``test_probabilities``.
    """
    run_dir = Path(run_dir)
    clf = TextRNNClassifier.load(run_dir) if clf is None else clf
    metrics = read_json(run_dir / "metrics.json")
    config = read_run_config(run_dir)
    train, test, missing_data = _run_data(config, train, test)

    # Most looked-at first: the curves and the test results; the full configuration last.
    sections, images = [], {}
    if metrics.get("history"):
        images["curves.png"] = plot_curves(metrics["history"], run_dir / "curves.png",
                                           (metrics.get("choices") or {}).get("monitor", "accuracy"))
        sections.append(_section_curves(metrics, images["curves.png"]))
    multi_label = clf.multi_label
    if metrics.get("test") and multi_label:
        sections.append(report_multilabel.section_test(metrics["test"], test, _table))
    elif metrics.get("test"):
        sections.append(_section_test(metrics["test"], run_dir, images))
    if (metrics.get("baseline") or {}).get("skipped"):
        sections.append(f"<h2>Against a bag-of-words baseline</h2><p class=note>Not fitted: "
                        f"{escape(metrics['baseline']['skipped'])}</p>")
    elif metrics.get("baseline"):
        sections.append(_section_baseline(metrics))
    if metrics.get("calibration"):
        images["reliability.png"] = plot_reliability(metrics["calibration"], run_dir / "reliability.png")
        sections.append(_section_calibration(metrics["calibration"], images["reliability.png"]))
    if test is not None and multi_label:
        sections.append(report_multilabel.section_wrong_labels(clf, test, mistakes, _table))
    elif test is not None:
        sections.append(_section_mistakes(confident_mistakes(clf, test, mistakes, test_probabilities)))
    if (metrics.get("label_issues") or {}).get("first") is not None:
        sections.append(_section_label_issues(metrics["label_issues"]))
    if train is not None:
        lengths = np.array([len(ids) for ids in clf.vectorizer_.encode(train.texts)])
        counts = Counter(name for label in train.labels for name in label_names(label))
        class_counts = {label: counts.get(label, 0) for label in clf.class_names_}
        images["data.png"] = plot_data(class_counts, lengths, clf.params_.max_length, run_dir / "data.png")
        sections.append(_section_data(metrics, clf, (train, test), (class_counts, lengths), images["data.png"]))
    elif missing_data:
        sections.append(f"<h2>Data</h2><p class=note>The training data could not be read again: {escape(missing_data)}</p>")
    sections.append(_section_timing(metrics))
    sections.append(_section_config(clf, config, metrics))
    sections.insert(0, _summary(clf, metrics))

    title = f"textrnn run {run_dir.name}"
    html = _PAGE.format(title=escape(title), style=_STYLE, body="\n".join(sections),
                        footer=f"textrnn {__version__}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    path = run_dir / "report.html"
    write_bytes_atomic(path, html.encode("utf-8"))
    return path


def _run_data(config, train: Dataset | None, test: Dataset | None) -> tuple:
    """The run's training and test rows (those given, else read again), and why they could not be, if so."""
    if config is not None and config.stream:
        return train, test, "the run streamed its data, so the figures that need every text in memory are left out"
    if (train is None or test is None) and config is not None:
        try:
            train_all, loaded_test, _ = load_run_data(config)
            train = train if train is not None else training_and_validation(config, train_all)[0]
            test = test if test is not None else loaded_test
        except DataError as error:
            return train, test, str(error)
    return train, test, None


# ------------------------------------------------------------------------------------------- sections


def _image(data: bytes, alt: str) -> str:
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _summary(clf: TextRNNClassifier, metrics: dict) -> str:
    test, data = metrics.get("test"), metrics.get("data", {})
    parameters = sum(p.numel() for p in clf.model_.parameters())
    direction = "bidirectional " if clf.bidirectional else ""
    layers = f"{clf.num_layers}-layer " if clf.num_layers > 1 else ""
    model = f"{layers}{direction}{clf.cell.upper()}({clf.hidden_size}), {clf.pooling} pooling, {parameters:,} parameters"
    if isinstance(clf.model_, WithBagOfWords):
        model += f"; {composition(float(clf.model_.weight))[1]}"
    headline = "micro_f1" if clf.multi_label else "accuracy"
    result = (f"test {figure_name(headline)} <b>{test[headline]:.2%}</b> · macro-F1 <b>{test['macro_f1']:.2%}</b> "
              f"on {test['rows']:,} rows · " if test else "")
    baseline = (metrics.get("baseline") or {}).get("test")
    if test and baseline:
        figure = "macro_f1" if clf.multi_label else "accuracy"
        result += f"bag-of-words baseline {figure_name(figure)} {baseline[figure]:.2%} · "
    return (f"<p class=headline>{result}trained on {data.get('train_rows', 0):,} rows in "
            f"{metrics.get('timing', {}).get('train_seconds', 0):.0f} s</p><p>{escape(model)} · training data: "
            f"{escape(str(data.get('train_source')))}</p>")


def _section_baseline(metrics: dict) -> str:
    """The RNN beside the bag-of-words baseline fitted on the same rows: is the network worth its cost?"""
    baseline = metrics["baseline"]
    rows = []
    # Multi-label: judged on macro-F1 (every label alike), micro-F1 beside it.
    main, other = ("macro_f1", "micro_f1") if (metrics.get("test") or {}).get("multi_label") else ("accuracy", "macro_f1")
    for split in ("validation", "test"):
        rnn, bow = metrics.get(split), baseline.get(split)
        if rnn and bow:
            points = 100 * (rnn[main] - bow[main])
            rows.append((split, f"{rnn[main]:.2%}", f"{bow[main]:.2%}", f"{points:+.1f}",
                         f"{rnn[other]:.2%}", f"{bow[other]:.2%}"))
    seconds = metrics.get("timing", {}).get("fit_seconds", 0)
    kind = ("NBSVM: binarised word 1-2-grams scaled by naive-Bayes log-count ratios, a linear SVM"
            if baseline.get("name") == "nbsvm-bigram" else "TF-IDF of word 1-2-grams + logistic regression")
    note = (f"{kind} (C {baseline['C']:g}, {escape(baseline['C_chosen_on'])}), "
            f"trained on the same rows in {baseline['seconds']:.1f} s; the RNN took {seconds:.0f} s.")
    mix = metrics.get("bag_of_words") or {}
    alone = (mix.get("network_alone") or {}).get("test")
    if alone:
        sentence = composition(mix.get("weight"))[1]
        note += (f" The model (the model column): {escape(sentence)}, chosen on the validation rows; the RNN alone: "
                 f"{alone['accuracy']:.2%} test accuracy, {alone['macro_f1']:.2%} macro-F1.")
    name = lambda figure: figure.replace("_f1", "-F1")
    table = _table(["rows", f"model {name(main)}", f"baseline {name(main)}", "model − baseline (points)",
                    f"model {name(other)}", f"baseline {name(other)}"], rows)
    return f"<h2>Against a bag-of-words baseline</h2><p>{note}</p>{table}"


def _section_calibration(calibration: dict, image: bytes) -> str:
    note = (f"After training, the logits are divided by a temperature of {calibration['temperature']:.2f}, fitted "
            f"on the {calibration['validation_rows']:,} validation rows, so that a probability of 80% is right "
            f"about 80% of the time. Expected calibration error {calibration['ece_before']:.3f} before, "
            f"{calibration['ece_after']:.3f} after; predictions themselves do not change.")
    return f"<h2>Calibration</h2><p>{note}</p>{_image(image, 'reliability diagram')}"


def _section_config(clf: TextRNNClassifier, config, metrics: dict) -> str:
    """Every parameter as the model was trained with it: a value decided from the data shows what it became
    (``5 (auto)``), not ``auto``."""
    params, decided = clf.get_params(), clf.params_.model_dump()
    parameters = sum(p.numel() for p in clf.model_.parameters())
    shown = lambda k, v: f"{decided[k]} (auto)" if v == "auto" and decided.get(k, "auto") != "auto" else str(v)
    rows = [(escape(k), escape(shown(k, v))) for k, v in params.items()]
    if config is not None:
        rows = [("preset", escape(str(config.preset)))] + rows + [
            ("dataset", escape(config.dataset)), ("text_column", escape(", ".join(config.text_column)))]
    summary = (f"<p>{escape(params['cell'].upper())} classifier, {parameters:,} parameters, "
               f"{len(clf.class_names_)} classes: {escape(', '.join(clf.class_names_))}.</p>")
    return f"<h2>Configuration</h2>{summary}{_table(('parameter', 'value'), rows)}"


def _section_data(metrics: dict, clf: TextRNNClassifier, datasets: tuple, counts: tuple, image: bytes) -> str:
    """Rows, lengths, vocabulary coverage and class balance; ``datasets`` is (train, test), ``counts``
    (rows per class, token lengths of the training texts)."""
    (train, test), (_, lengths) = datasets, counts
    data = metrics.get("data", {})
    rows = [
        ("training data", escape(str(data.get("train_source", train.source)))),
        ("rows used for training", f"{data.get('train_rows', len(train)):,}"),
        ("validation rows", f"{data.get('validation_rows', 0):,}"),
        ("test data", escape(str(data.get("test_source")))),
        ("test rows", f"{data.get('test_rows', 0):,}"),
        ("bad rows skipped", f"{data.get('skipped_rows', 0):,}"),
        ("text length (tokens), median / 99th percentile / max",
         f"{np.median(lengths):.0f} / {np.percentile(lengths, 99):.0f} / {lengths.max():,}" if len(lengths) else "-"),
        ("texts cut to max_length (training / test)",
         f"{data.get('truncated_train_texts', 0):,} / {data.get('truncated_test_texts', 0):,}"),
        ("vocabulary", f"{clf.vectorizer_.vocab_size:,} tokens"),
        ("tokens in the vocabulary (training / test)",
         f"{coverage(clf, train.texts):.1%} / " + (f"{coverage(clf, test.texts):.1%}" if test is not None else "-")),
    ]
    notes = "".join(f"<p class=note>{escape(note)}</p>" for note in data.get("notes", []))
    return f"<h2>Data</h2>{_table(('', ''), rows)}{notes}{_image(image, 'class balance and text lengths')}"


def _section_curves(metrics: dict, image: bytes) -> str:
    """The curves, and a row per epoch with the figure that chose the kept epoch (the monitor) beside the rest."""
    monitor = (metrics.get("choices") or {}).get("monitor", "accuracy")
    chosen = f"val_{monitor}" if monitor != "accuracy" else None
    figure = lambda r, key, fmt: format(r[key], fmt) if key in r else "-"
    rows = [
        (f"{r['member']}.{r['epoch']}" if "member" in r else r["epoch"], f"{r['train_loss']:.4f}",
         f"{r['train_accuracy']:.2%}", figure(r, "val_loss", ".4f"), figure(r, "val_accuracy", ".2%"),
         *([figure(r, chosen, ".2%")] if chosen else []), f"{r['seconds']:.1f} s")
        for r in metrics["history"]
    ]
    best = metrics.get("timing", {}).get("best_epoch")
    kept = (f"an ensemble of {len(best)} models; each keeps the weights of its best epoch: "
            + ", ".join(f"member {i} epoch {epoch}" for i, epoch in enumerate(best, start=1))
            if isinstance(best, list) else f"Weights kept from epoch {best}")
    kept += f", the best by validation {figure_name(monitor)}"
    header = ("member.epoch" if isinstance(best, list) else "epoch", "training loss", "training accuracy",
              "validation loss", "validation accuracy", *([f"validation {figure_name(monitor)}"] if chosen else []),
              "time")
    return (f"<h2>Training</h2>{_image(image, 'loss and accuracy per epoch')}"
            f"<p>{kept[0].upper() + kept[1:]}.</p>" + _table(header, rows))


def _section_test(test: dict, run_dir: Path, images: dict) -> str:
    """Per-class figures beside the confusion matrix, or with too many classes for a readable matrix, beside
    the commonest confusions."""
    image = None
    if len(test["labels"]) <= PLOTTED_MATRIX_CLASSES:
        image = images["confusion_matrix.png"] = plot_confusion(test, run_dir / "confusion_matrix.png")
    rows = [(escape(label), f"{v['precision']:.2%}", f"{v['recall']:.2%}", f"{v['f1']:.2%}", f"{v['support']:,}")
            for label, v in test["per_class"].items()]
    table = _table(("class", "precision", "recall", "F1", "rows"), rows)
    if image is None:
        confusions = _table(("true class", "predicted", "test rows"),
                            [(escape(c["true"]), escape(c["predicted"]), f"{c['count']:,}")
                             for c in top_confusions(test)])
        return f"<h2>Test</h2><div class=side>{table}<div><h3>Most frequent confusions</h3>{confusions}</div></div>"
    return f"<h2>Test</h2><div class=side>{_image(image, 'confusion matrix')}{table}</div>"


def _section_mistakes(mistakes: list[dict]) -> str:
    if not mistakes:
        return "<h2>Most confident mistakes</h2><p>None: every test text was classified correctly.</p>"
    rows = [
        (m["row"], escape(m["true"]), f"{escape(m['predicted'])} ({m['probability']:.0%})",
         to_html(m["explanation"]))
        for m in mistakes
    ]
    return ("<h2>Most confident mistakes</h2><p>Test texts the model got wrong with the highest confidence. Words "
            "shaded <span style='background:rgba(22,163,74,.6)'>green</span> pushed towards the wrong prediction, "
            "<span style='background:rgba(220,38,38,.6)'>red</span> against it (occlusion: the drop in probability "
            "when the word is left out); [?] marks words outside the vocabulary.</p>"
            + _table(("test row", "true", "predicted", "text, as the model reads it"), rows))


def _section_label_issues(issues: dict) -> str:
    """The training rows whose label the bag-of-words model, trained without them, doubts most."""
    rows = [(row["row"], escape(row["text"][:160]), escape(row["label"]), escape(row["suggested"]),
             f"{row['score']:.2f}") for row in issues["first"]]
    return (f"<h2>Training rows that look mislabelled</h2><p>{issues['flagged']:,} of {issues['rows']:,} training "
            f"rows ({issues['duplicates']:,} of them texts repeated with another label). Each row was judged by a "
            f"bag-of-words model trained on the other half of the rows ({issues['folds']} folds; confident learning "
            f"estimates how many labels are wrong, and the rows whose label has the lowest probability are "
            f"flagged). All of them, most suspect first: <code>{escape(issues['file'])}</code> in the run "
            f"directory; <code>textrnn suspects</code> ranks them with 5 folds. The first ten:</p>"
            + _table(("training row", "text", "label", "suggested", "probability of the label"), rows))


def _section_timing(metrics: dict) -> str:
    timing = metrics.get("timing", {})
    rows = [
        ("training time", f"{timing.get('train_seconds', 0):.1f} s"),
        ("whole run (data, training, evaluation)", f"{timing.get('wall_seconds', 0):.1f} s"),
        ("training throughput", (f"{timing.get('samples_per_second', 0):,.0f} texts/s, "
                                 f"{timing.get('tokens_per_second', 0):,.0f} tokens/s")),
        ("epochs run (best)", f"{timing.get('epochs_run')} ({timing.get('best_epoch')})"),
    ]
    return f"<h2>Timing</h2>{_table(('', ''), rows)}"


_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #1f2933; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #d9e2ec; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .8em 0; } td, th { padding: .25em .7em; border-bottom: 1px solid #e4e7eb;
text-align: left; vertical-align: top; } th { background: #f0f4f8; } img { max-width: 100%; margin: .5em 0; }
.headline { font-size: 1.2em; } .side { display: flex; gap: 2em; align-items: flex-start; flex-wrap: wrap; }
.side img { max-width: 560px; } .note { color: #8d2b0b; } footer { margin-top: 3em; color: #7b8794; font-size: .85em; }
"""

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title><style>{style}</style></head>
<body><h1>{title}</h1>
{body}
<footer>{footer}</footer></body></html>
"""
