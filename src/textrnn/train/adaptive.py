"""Defaults decided from the training data: a parameter left at ``auto`` gets its value from what the data looks
like (rows, classes, text lengths), with the reason, printed and recorded (``fit_info_["choices"]``, and so
``metrics.json``); any value the user gives wins.

The rules were chosen by measurement on five datasets that differ in size, length and balance
(``bench/datasets.py``; the table and the reasoning are in ``docs/adaptive.md``).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..params import ClassifierParams

AUTO = "auto"
SMALL_DATA_ROWS = 10_000  # below this, more passes and steadier stopping (validation figures are noisier),
# and punctuation marks as tokens ("!", "?" and quotes carry the label on a few thousand short texts)
ADVERSARIAL_SHARE = 0.1  # the step of adversarial training, relative to a text's word vectors (docs/accuracy.md)
WORD_VECTOR_MIN_ROWS = 2_500  # in-fit word2vec needs enough text to learn from: it hurt on 1,600 rows, helped on 2,900
LONG_TEXT_WORDS = 300  # texts whose 99th percentile is longer than this get a max_length
LONG_TEXT_CHARACTERS = 2_000  # the same for character tokens (300 words of about 6 characters with spaces)
OUTLIER_FACTOR = 10  # otherwise a text this many times the 99th percentile (at least the floor below) is cut there
OUTLIER_FLOOR_WORDS, OUTLIER_FLOOR_CHARACTERS = 100, 600  # so short-text corpora keep texts of 1,000 words
MIN_VALIDATION_ROWS_PER_CLASS = 10
MIN_VALIDATION_ROWS = 500
MAX_VAL_SIZE = 0.2  # never more than a fifth of the training rows, however small the data


@dataclass
class DataProfile:
    """What the training rows look like, as far as the defaults care."""

    rows: int
    smallest_class: int | None  # rows of the rarest class (None: multi-label)
    p99_words: int
    longest_words: int
    p99_characters: int = 0
    longest_characters: int = 0

    @classmethod
    def of(cls, texts: Sequence[str], labels: Sequence) -> "DataProfile":
        words = np.fromiter((len(text.split()) for text in texts), dtype=np.int64, count=len(texts))
        characters = np.fromiter((len(text) for text in texts), dtype=np.int64, count=len(texts))
        p99 = lambda lengths: int(np.percentile(lengths, 99)) if len(lengths) else 0
        longest = lambda lengths: int(lengths.max()) if len(lengths) else 0
        return cls(len(texts), _smallest_class(labels), p99(words), longest(words), p99(characters),
                   longest(characters))


def _smallest_class(labels: Sequence) -> int | None:
    """Rows of the rarest class (None: multi-label, label sets)."""
    single = labels and not isinstance(labels[0], (list, tuple, set, frozenset, np.ndarray))
    return min(Counter(str(label) for label in labels).values()) if single else None


def resolve(params: ClassifierParams, data: DataProfile | None, validation_given: bool
            ) -> tuple[ClassifierParams, list[dict]]:
    """``params`` with every ``auto`` replaced, and one ``{name, value, reason}`` per decision.
    ``data`` None: the rows are streamed and not looked at first (the fixed fallbacks apply)."""
    choices = []

    def choose(name: str, value, reason: str) -> None:
        if getattr(params, name) == AUTO:
            choices.append({"name": name, "value": value, "reason": reason})

    if data is None:
        reason = "streamed data is not profiled before training"
        for name, value in (("epochs", 5), ("patience", 2), ("val_size", 0.05), ("max_length", None),
                            ("embeddings", None), ("punctuation", "space"), ("adversarial", 0.0)):
            choose(name, value, reason)
    else:
        small = data.rows < SMALL_DATA_ROWS
        size = f"{data.rows:,} training rows"
        choose("epochs", 15 if small else 5, f"{size}: {'fewer' if small else 'more'} than {SMALL_DATA_ROWS:,}")
        choose("patience", 3 if small else 2, f"{size}: {'fewer' if small else 'more'} than {SMALL_DATA_ROWS:,}")
        if not validation_given:  # with validation rows given, no share is held out: nothing to decide
            choose("val_size", *validation_share(data, validation_given))
        characters = params.vocabulary_type == "char"
        choose("max_length", *(_max_length_characters(data) if characters else _max_length(data)))
        choose("embeddings", *_word_vectors(data, params))
        choose("punctuation", *_punctuation(data, params))
        choose("adversarial", *_adversarial(data))
    return params.model_copy(update={c["name"]: c["value"] for c in choices}), choices


def held_out_share(params, labels: Sequence) -> tuple:
    """``params`` (classifier or run parameters) with ``val_size`` auto decided from every row's label (their
    number, the rarest class's), and the choice record (None when ``val_size`` was given): for ``fit`` and
    ``textrnn train``, which hold the validation rows out before the other rules count the rows left to train
    on. The text lengths play no part, so the texts are not read."""
    if params.val_size != AUTO:
        return params, None
    value, reason = validation_share(DataProfile(len(labels), _smallest_class(labels), 0, 0), False)
    return params.model_copy(update={"val_size": value}), {"name": "val_size", "value": value, "reason": reason}


def validation_share(data: DataProfile, validation_given: bool) -> tuple[float, str]:
    """The share of training rows to hold out for validation, and why: 5%, more when that would give the rarest
    class fewer than 10 rows or the whole set fewer than 500 (the epoch and the bag-of-words mix are chosen on
    them: on 100 rows the choice was often wrong), never more than a fifth."""
    if validation_given:
        return 0.05, "not used: validation rows are given"
    if data.smallest_class is None:
        return 0.05, "multi-label: a random 5% of the rows"
    for_class = MIN_VALIDATION_ROWS_PER_CLASS / data.smallest_class
    share = round(min(max(0.05, for_class, MIN_VALIDATION_ROWS / data.rows), MAX_VAL_SIZE), 3)
    if share == 0.05:
        return share, (f"5% gives {round(0.05 * data.rows):,} validation rows, the rarest class "
                       f"({data.smallest_class:,} rows) {MIN_VALIDATION_ROWS_PER_CLASS}+")
    if for_class >= MIN_VALIDATION_ROWS / data.rows:
        return share, (f"the rarest class has {data.smallest_class:,} rows: {share:.0%} gives it about "
                       f"{round(share * data.smallest_class)} validation rows (at most {MAX_VAL_SIZE:.0%})")
    return share, (f"{data.rows:,} training rows: {share:.0%} gives {round(share * data.rows):,} validation rows "
                   f"(at least {MIN_VALIDATION_ROWS} wanted, at most {MAX_VAL_SIZE:.0%})")


def _max_length(data: DataProfile) -> tuple[int | None, str]:
    return _cut(data.p99_words, data.longest_words, LONG_TEXT_WORDS, 50, "words", OUTLIER_FLOOR_WORDS)


def _max_length_characters(data: DataProfile) -> tuple[int | None, str]:
    return _cut(data.p99_characters, data.longest_characters, LONG_TEXT_CHARACTERS, 100, "characters",
                OUTLIER_FLOOR_CHARACTERS)


def _cut(p99: int, longest: int, long_text: int, step: int, unit: str, floor: int) -> tuple[int | None, str]:
    """Long texts are cut at their 99th percentile (rounded up to ``step``); short texts are left whole unless
    a few outliers are far longer than the rest (one 100,000-word text would make its batch 1,000 times the
    cost of the others, or not fit in memory at all)."""
    if p99 > long_text:
        cut = int(np.ceil(p99 / step) * step)
        return cut, f"99% of training texts have at most {p99:,} {unit} (the longest {longest:,})"
    ceiling = OUTLIER_FACTOR * max(p99, floor)
    if longest > ceiling:
        return ceiling, (f"the longest training text has {longest:,} {unit}, more than {OUTLIER_FACTOR} times the "
                         f"99th percentile ({p99:,}): the few that long are cut at {ceiling:,}")
    return None, f"no text needs cutting: 99% of training texts have at most {p99:,} {unit}"


def _word_vectors(data: DataProfile, params: ClassifierParams) -> tuple[str | None, str]:
    if params.one_hot:
        return None, "one_hot: tokens go in as one-hot vectors, not through an embedding"
    if params.vocabulary_type == "char":
        return None, "character tokens: word vectors are for words"
    if data.rows >= WORD_VECTOR_MIN_ROWS:
        return "word2vec", f"{data.rows:,} training rows: enough text to train word vectors on first"
    return None, f"{data.rows:,} training rows: too little text for word vectors of its own"


def _adversarial(data: DataProfile) -> tuple[float, str]:
    """Adversarial training below ``SMALL_DATA_ROWS`` rows: on the four sets of short sentences (ten folds) it
    gave the model +0.2 to +0.8 points and the network alone up to +1.8, for 2.1 to 2.6 times the training time
    (docs/accuracy.md); above, on AG News titles and GoEmotions, +0.2 and -1.5 points of macro-F1 (one seed)."""
    if data.rows < SMALL_DATA_ROWS:
        return ADVERSARIAL_SHARE, (f"{data.rows:,} training rows: fewer than {SMALL_DATA_ROWS:,}, so each batch is "
                                   "trained on again with its word vectors moved against the model (twice the time)")
    return 0.0, (f"{data.rows:,} training rows: {SMALL_DATA_ROWS:,} or more, where a second pass per batch costs "
                 "minutes and gained nothing measured")


def _punctuation(data: DataProfile, params: ClassifierParams) -> tuple[str, str]:
    if params.init_from:
        return _language_model_punctuation(params.init_from), "init_from: as the language model's vocabulary"
    if params.vocabulary_type != "word":
        return "space", f"{params.vocabulary_type} tokens: marks as tokens were measured with word tokens only"
    return punctuation_for(data.rows)


def punctuation_for(rows: int) -> tuple[str, str]:
    """Punctuation marks as tokens below ``SMALL_DATA_ROWS`` texts, else as spaces. On the four sets of short
    sentences (2,900 to 9,100 training rows) tokens gave the model +0.1 to +0.7 points and on 1,600 and 4,500 AG
    News rows 0.0 and +0.2 (three seeds); on the large sets they changed little against the seeds' spread and
    made every text longer (AG News: 14% more time), so large data keeps spaces (docs/text.md)."""
    if rows < SMALL_DATA_ROWS:
        return "token", f"{rows:,} training rows: fewer than {SMALL_DATA_ROWS:,}, so every mark (\"!\", \"?\") counts"
    return "space", f"{rows:,} training rows: {SMALL_DATA_ROWS:,} or more, marks become spaces (shorter texts)"


def punctuation_for_texts(punctuation: str, texts: int) -> str:
    """``punctuation`` as given, or ``auto`` decided by a number of texts: for the commands that build a
    vocabulary without a classifier's fit (``pretrain``, ``embeddings train``)."""
    return punctuation_for(texts)[0] if punctuation == AUTO else punctuation


def _language_model_punctuation(directory: str) -> str:
    """The punctuation setting of a pretrained language model's vocabulary (``init_from``): the classifier reads
    texts with it. An unreadable directory gives ``space`` here; loading the model says what is wrong with it."""
    try:
        saved = json.loads((Path(directory) / "vectorizer.json").read_text(encoding="utf-8"))
        return saved.get("punctuation", "delete")  # a vectorizer file without the field predates it: delete
    except (OSError, ValueError, AttributeError):
        return "space"


def describe(choices: list[dict]) -> list[str]:
    """One line per automatic choice, for the log."""
    return [f"{c['name']} {c['value']}: {c['reason']}" for c in choices]
