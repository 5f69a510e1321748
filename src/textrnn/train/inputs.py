"""Training and validation data held in memory, in the shape the training loop reads (see also
:mod:`textrnn.data.stream` for the same shapes read from disk)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..text.batching import EncodedTexts, training_batches


@dataclass
class InMemoryTrainingData:
    """Training batches from encoded texts in memory; with several ranks, each takes every world-th batch."""

    x: EncodedTexts
    y: np.ndarray
    batch_size: int
    bucketed: bool = True
    rank: int = 0
    world: int = 1
    uneven: bool = False  # every rank gets the same number of batches (the remainder is dropped)

    @property
    def rows(self) -> int:
        return len(self.x) // self.world

    def epoch(self, rng: np.random.Generator, skip: int = 0):
        batches = training_batches(self.x.lengths, self.batch_size, rng, bucketed=self.bucketed)
        if self.world > 1:
            batches = batches[self.rank : len(batches) - len(batches) % self.world : self.world]
        for index in batches[skip:]:
            yield (*self.x.batch(index), torch.from_numpy(self.y[index]))


@dataclass
class InMemoryEvaluationData:
    """Validation texts in memory; with several ranks, each evaluates every world-th text."""

    x: EncodedTexts
    y: np.ndarray
    rank: int = 0
    world: int = 1

    def chunks(self):
        if self.world == 1:
            yield self.x, self.y
            return
        index = np.arange(self.rank, len(self.x), self.world)
        if len(index):
            yield EncodedTexts([self.x.flat[self.x.offsets[i] : self.x.offsets[i + 1]] for i in index]), self.y[index]
