"""Token-id sequences in memory, and the order in which they are cut into padded batches.

Training batches are bucketed by length: the data is shuffled, cut into chunks of ``bucket_batches``
batches, each chunk is sorted by length and cut into batches, and the batches are shuffled. Texts in
a batch then have nearly the same length, so little time goes into padding, while each epoch still
sees a new random order. Prediction sorts all texts by length, which changes no result (the model is
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

    def batch(self, index: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ids, lengths)`` for the texts at ``index``: ids right-padded with 0 to the longest of them."""
        lengths = self.lengths[index]
        ids = np.zeros((len(index), max(1, int(lengths.max()))), dtype=np.int64)
        for row, i in enumerate(index):
            ids[row, : lengths[row]] = self.flat[self.offsets[i] : self.offsets[i + 1]]
        return torch.from_numpy(ids), torch.from_numpy(lengths)


def training_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator, bucketed: bool = True, bucket_batches: int = 50
) -> list[np.ndarray]:
    """One epoch of batches (arrays of row indices) in a random order, bucketed by length when asked."""
    order = rng.permutation(len(lengths))
    if not bucketed:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    batches = []
    chunk_size = batch_size * bucket_batches
    for start in range(0, len(order), chunk_size):
        chunk = order[start : start + chunk_size]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def inference_batches(lengths: np.ndarray, batch_size: int, sort: bool = True) -> list[np.ndarray]:
    """Batches for prediction: by length when ``sort`` (padding-invariant models), else in input order."""
    order = np.argsort(lengths, kind="stable") if sort else np.arange(len(lengths))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
