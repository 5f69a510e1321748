"""Token-id sequences in memory, and the order in which they are cut into padded batches.

Training batches are bucketed by length: texts of the same length are batched together (in a new
random order every epoch) and the batches are shuffled, so little or no time goes into padding. Prediction sorts all texts by length, which changes no result (the model is
padding-invariant) and puts the original order back afterwards.
"""

from __future__ import annotations

from itertools import chain
from typing import Sequence

import numpy as np
import torch


class EncodedTexts:
    """Many token-id sequences stored as one flat array plus offsets (no per-text Python objects)."""

    def __init__(self, sequences: Sequence[Sequence[int]]) -> None:
        self.lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)])
        self.flat = np.fromiter(chain.from_iterable(sequences), dtype=np.int64, count=int(self.offsets[-1]))

    def __len__(self) -> int:
        return len(self.lengths)

    @classmethod
    def encode(cls, encode, texts: Sequence[str], chunk: int = 4096) -> "EncodedTexts":
        """``EncodedTexts(encode(texts))``, encoding ``chunk`` texts at a time: the tokenizer's Python lists
        of ids are several times larger than the arrays kept, so only one chunk of them exists at once."""
        parts = [cls(encode(texts[i : i + chunk])) for i in range(0, len(texts), chunk)] or [cls([])]
        out = cls([])
        out.lengths = np.concatenate([p.lengths for p in parts])
        out.offsets = np.concatenate([[0], np.cumsum(out.lengths)])
        out.flat = np.concatenate([p.flat for p in parts])
        return out

    def batch(self, index: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ids, lengths)`` for the texts at ``index``: ids right-padded with 0 to the longest of them."""
        lengths = self.lengths[index]
        ids = np.zeros((len(index), max(1, int(lengths.max()))), dtype=np.int64)
        for row, i in enumerate(index):
            ids[row, : lengths[row]] = self.flat[self.offsets[i] : self.offsets[i + 1]]
        return torch.from_numpy(ids), torch.from_numpy(lengths)


def training_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator, bucketed: bool = True
) -> list[np.ndarray]:
    """One epoch of batches (arrays of row indices) in a random order.

    Bucketed, most batches hold texts of exactly one length, so the recurrent layer runs its plain
    kernel with no padding at all (packing a batch of mixed lengths costs 1.4-2x per step on a CPU).
    The rows left over after cutting each length into full batches are sorted by length and batched
    together, so every batch but the last is full.
    """
    order = rng.permutation(len(lengths))
    if not bucketed:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    order = order[np.argsort(lengths[order], kind="stable")]  # by length, random within a length
    batches, leftovers = [], []
    boundaries = np.flatnonzero(np.diff(lengths[order])) + 1
    for same_length in np.split(order, boundaries):
        full = len(same_length) - len(same_length) % batch_size
        batches.extend(np.split(same_length[:full], full // batch_size) if full else [])
        leftovers.append(same_length[full:])
    leftover = np.concatenate(leftovers)  # still sorted by length, so these batches are nearly even too
    batches.extend(leftover[i : i + batch_size] for i in range(0, len(leftover), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def inference_batches(lengths: np.ndarray, batch_size: int, sort: bool = True,
                      max_tokens: int | None = None) -> list[np.ndarray]:
    """Batches for prediction: by length when ``sort`` (padding-invariant models), else in input order.

    Sorted, a batch also stops before its padded size (texts x longest) passes ``max_tokens``, so that long
    documents go a few at a time: memory stays bounded and the activations stay in cache. A text longer
    than ``max_tokens`` is a batch of its own.
    """
    if not sort:
        return [np.arange(i, min(i + batch_size, len(lengths))) for i in range(0, len(lengths), batch_size)]
    order = np.argsort(lengths, kind="stable")
    if max_tokens is None:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    batches, start = [], 0
    sorted_lengths = np.maximum(lengths[order], 1)
    while start < len(order):
        # Sorted ascending, a batch's last text is its longest, so its padded size (texts x last length)
        # grows with its end: the largest end that fits, and at least one text.
        window = sorted_lengths[start : start + batch_size]
        padded = np.arange(1, len(window) + 1) * window
        end = start + max(1, int(np.searchsorted(padded, max_tokens, side="right")))
        batches.append(order[start:end])
        start = end
    return batches
