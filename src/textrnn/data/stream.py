"""Streaming datasets: train on labeled tables larger than memory.

A :class:`RowStream` is a dataset that is never loaded whole: one CSV/TSV/JSONL/Parquet file (optionally
gzipped) or a directory of such shard files, read lazily row by row with the same readers, row checks
and error messages as :func:`textrnn.data.tables.read_table` (Parquet in Arrow record batches). Memory stays
bounded by three fixed-size buffers, whatever the size of the data:

* shard shuffling: every epoch visits the files in a new seeded order;
* a shuffle buffer of ``shuffle_buffer`` rows: each incoming row replaces a randomly chosen one, which
  goes out (the usual bounded approximation of a full shuffle);
* a batching window of ``window_rows`` rows, cut into length-bucketed batches as in memory
  (:func:`textrnn.text.batching.training_batches`), so that the recurrent layer still sees equal-length batches.

The validation rows are picked by a hash of (seed, file, row number), so the split needs no memory and
is the same on every pass and every rank. With data parallelism each rank reads its own files (when
there are at least as many files as ranks) or its own blocks of rows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np
import torch

from ..errors import DataError, RowError
from ..text.batching import EncodedTexts, training_batches
from ..text.vectorizer import TextVectorizer
from .dataset import check_on_bad_rows
from .sources import file_rows, source_files, source_kind

SHUFFLE_BUFFER_ROWS = 32_768
WINDOW_ROWS = 32_768
BLOCK_ROWS = 256  # with fewer files than ranks, rows are dealt to ranks in blocks of this many
MAX_SKIPPED_LISTED = 1_000


@dataclass
class StreamSummary:
    """What one full pass over a stream found (the pass that also builds the vocabulary)."""

    train_rows: int = 0
    validation_rows: int = 0
    labels: set[str] = field(default_factory=set)
    skipped_count: int = 0
    skipped: list[RowError] = field(default_factory=list)  # the first MAX_SKIPPED_LISTED bad rows
    notes: list[str] = field(default_factory=list)
    longest_tokens: int = 0
    truncated: int = 0  # training texts longer than max_length tokens


def scan(stream: "RowStream", val_size: float, seed: int, summary: StreamSummary, vectorizer: TextVectorizer,
         max_length: int | None = None) -> Iterator[str]:
    """The training texts of one full pass, for building the vocabulary; counts and labels go to ``summary``
    (words counted as ``vectorizer`` splits them)."""
    for file_index, number, text, label in stream.rows(summary=summary):
        summary.labels.add(label)
        if is_validation_row(seed, file_index, number, val_size):
            summary.validation_rows += 1
            continue
        summary.train_rows += 1
        tokens = len(vectorizer.standardize(text))
        summary.longest_tokens = max(summary.longest_tokens, tokens)
        summary.truncated += max_length is not None and tokens > max_length
        yield text


class RowStream:
    """A labeled dataset read lazily: ``dataset`` is 'ag_news' (its training file), a table file, or a directory."""

    def __init__(
        self,
        dataset: str | os.PathLike,
        text_column: Sequence[str] = ("text",),
        label_column: str = "label",
        data_dir: str | os.PathLike | None = None,
        on_bad_rows: str = "error",
        split: str = "train",
    ) -> None:
        check_on_bad_rows(on_bad_rows)
        self.text_column, self.label_column, self.on_bad_rows = list(text_column), label_column, on_bad_rows
        self.kind, self.split = source_kind(str(dataset)), split
        self.files = source_files(str(dataset), split, data_dir)
        if self.kind == "ag_news":
            name = f"AG News {split} ({self.files[0].name}, "
        elif self.kind == "hf":
            name = f"{dataset} [{split}] ("
        else:
            name = f"{dataset} (" + (f"{len(self.files)} files, " if len(self.files) > 1 else "")
        self.source = name + "streamed)"

    def rows(self, file_order: Sequence[int] | None = None, summary: StreamSummary | None = None
             ) -> Iterator[tuple[int, int, str, str]]:
        """``(file index, row number, text, label)`` for every good row; bad rows stop or are skipped.

        With ``summary``, skipped rows and notes are recorded there (only the first pass does this).
        """
        for index in file_order if file_order is not None else range(len(self.files)):
            path = self.files[index]
            notes: list[str] = summary.notes if summary is not None else []
            rows = file_rows(self.kind, path, self.split, (self.text_column, self.label_column), notes)
            for number, (_, row) in enumerate(rows):
                if isinstance(row, RowError):
                    if self.on_bad_rows == "error":
                        raise row
                    if summary is not None:
                        summary.skipped_count += 1
                        if len(summary.skipped) < MAX_SKIPPED_LISTED:
                            summary.skipped.append(row)
                    continue
                yield index, number, row[0], row[1]


def is_validation_row(seed: int, file_index: int, row_number: int, val_size: float) -> bool:
    """A fixed pseudo-random choice per row (splitmix64 of seed, file and row): the same on every pass."""
    if val_size <= 0:
        return False
    z = (seed * 0x9E3779B97F4A7C15 + file_index * 0xBF58476D1CE4E5B9 + row_number + 1) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    z ^= z >> 31
    return z / 2.0**64 < val_size


def split_rows(
    stream: RowStream,
    part: str,
    val_size: float,
    seed: int,
    *,
    rng: np.random.Generator | None = None,
    rank: int = 0,
    world: int = 1,
    summary: StreamSummary | None = None,
) -> Iterator[tuple[str, str]]:
    """``(text, label)`` of the ``part`` ('train', 'validation' or 'all') that belongs to this rank.

    With ``rng``, the files are visited in a new random order (shard shuffling); ranks take whole files
    when there are enough of them, else blocks of rows.
    """
    order = list(range(len(stream.files)))
    if rng is not None:
        order = [int(i) for i in rng.permutation(len(order))]
    by_file = world > 1 and len(order) >= world
    if by_file:
        order = order[rank::world]
    taken = 0
    for file_index, number, text, label in stream.rows(order, summary):
        if part != "all" and is_validation_row(seed, file_index, number, val_size) != (part == "validation"):
            continue
        mine = by_file or world == 1 or (taken // BLOCK_ROWS) % world == rank
        taken += 1
        if mine:
            yield text, label


def shuffled(rows: Iterator, buffer_size: int, rng: np.random.Generator) -> Iterator:
    """Rows in a random order drawn from a buffer of ``buffer_size``: bounded memory, approximately uniform."""
    buffer: list = []
    for row in rows:
        if len(buffer) < buffer_size:
            buffer.append(row)
            continue
        slot = int(rng.integers(buffer_size))
        buffer[slot], row = row, buffer[slot]
        yield row
    for slot in rng.permutation(len(buffer)):
        yield buffer[slot]


def windows(rows: Iterator[tuple[str, str]], size: int) -> Iterator[tuple[list[str], list[str]]]:
    """Consecutive chunks of at most ``size`` rows, as (texts, labels)."""
    texts: list[str] = []
    labels: list[str] = []
    for text, label in rows:
        texts.append(text)
        labels.append(label)
        if len(texts) == size:
            yield texts, labels
            texts, labels = [], []
    if texts:
        yield texts, labels


@dataclass
class StreamTrainingData:
    """One rank's training batches from a stream, for :func:`textrnn.train.loop.train_model`."""

    stream: RowStream
    encode: object  # texts -> token-id lists (the fitted vectorizer's ``encode``)
    class_index: dict[str, int]
    batch_size: int
    val_size: float
    seed: int
    rank: int = 0
    world: int = 1
    rows: int | None = None  # expected rows per epoch on this rank, for the progress bar
    bucketed: bool = True
    shuffle_buffer: int = SHUFFLE_BUFFER_ROWS
    window_rows: int = WINDOW_ROWS
    uneven: bool = True  # ranks may get different numbers of batches: stop together when one runs out

    def epoch(self, rng: np.random.Generator, skip: int = 0):
        rows = split_rows(self.stream, "train", self.val_size, self.seed, rng=rng, rank=self.rank, world=self.world)
        count = 0
        for texts, labels in windows(shuffled(rows, self.shuffle_buffer, rng), self.window_rows):
            x = EncodedTexts.encode(self.encode, texts)
            y = np.array([self.class_index[label] for label in labels], dtype=np.int64)
            for index in training_batches(x.lengths, self.batch_size, rng, bucketed=self.bucketed):
                count += 1
                if count > skip:
                    yield (*x.batch(index), torch.from_numpy(y[index]))


@dataclass
class StreamEvaluationData:
    """One rank's validation (or test) rows from a stream, in chunks."""

    stream: RowStream
    encode: object
    class_index: dict[str, int]
    part: str = "validation"
    val_size: float = 0.0
    seed: int = 0
    rank: int = 0
    world: int = 1
    chunk_rows: int = WINDOW_ROWS

    def chunks(self) -> Iterator[tuple[EncodedTexts, np.ndarray]]:
        rows = split_rows(self.stream, self.part, self.val_size, self.seed, rank=self.rank, world=self.world)
        for texts, labels in windows(rows, self.chunk_rows):
            unknown = sorted(set(labels) - set(self.class_index))
            if unknown:
                raise DataError(f"{self.stream.source}: label(s) {', '.join(map(repr, unknown))} not among the "
                                f"training classes {', '.join(self.class_index)}")
            yield EncodedTexts.encode(self.encode, texts), np.array([self.class_index[label] for label in labels])
