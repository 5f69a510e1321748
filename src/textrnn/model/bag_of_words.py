"""A bag-of-words path beside the recurrent network: a linear model on TF-IDF of word 1-2-grams, whose
class probabilities are mixed with the network's.

On small training sets a TF-IDF logistic regression beats a recurrent network trained from scratch, and on
large ones the two make different mistakes: averaging their log-probabilities, with the weight chosen on the
validation rows, was better than either alone on every dataset of ``bench/datasets.py`` (``docs/adaptive.md``).
The features are computed from the same token ids the network reads, inside the graph, so the saved model,
the ONNX export, the runtime and the server all apply the mix with nothing else to ship.

The features of a text: each token's id (a unigram) and each pair of neighbouring ids (a bigram, hashed into
``buckets`` slots after the vocabulary), each occurrence weighted by its feature's inverse document frequency,
divided by the root of the sum of those weights squared. :func:`feature_matrix` computes the same numbers
with NumPy for fitting the linear model (:mod:`textrnn.train.bag_of_words`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    import scipy.sparse

HASH_MULTIPLIER = 1_000_003  # a prime: (left * prime + right) mod buckets spreads id pairs over the buckets


def bigram_starts(flat: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions in ``flat`` (texts' ids end to end, their ``lengths``) whose token and the next one are
    in the same text: where a bigram starts."""
    starts = np.ones(max(len(flat) - 1, 0), dtype=bool)
    ends = np.cumsum(lengths)[np.asarray(lengths) > 0] - 1  # each text's last token starts no bigram
    starts[ends[ends < len(starts)]] = False
    return np.flatnonzero(starts)


def feature_matrix(flat: np.ndarray, lengths: np.ndarray, vocab_size: int, buckets: int) -> "scipy.sparse.csr_matrix":
    """Occurrence counts of each text's features (texts as one flat id array and their lengths), shape
    (texts, vocab_size + buckets). (SciPy is imported here: training needs it, prediction does not.)"""
    import scipy.sparse

    lengths = np.asarray(lengths, dtype=np.int64)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    flat = np.asarray(flat, dtype=np.int64)
    starts = bigram_starts(flat, lengths)
    bigrams = vocab_size + (flat[starts] * HASH_MULTIPLIER + flat[starts + 1]) % buckets
    columns = np.concatenate([flat, bigrams])
    rows = np.concatenate([rows, rows[starts]])
    counts = scipy.sparse.csr_matrix((np.ones(len(columns), dtype=np.float64), (rows, columns)),
                                     shape=(len(lengths), vocab_size + buckets))
    counts.sum_duplicates()
    return counts


def tfidf(counts: "scipy.sparse.csr_matrix", idf: np.ndarray) -> "scipy.sparse.csr_matrix":
    """Counts weighted by ``idf``, each row divided by the root of its occurrences' squared weights (as
    :class:`BagOfWords` computes it, one occurrence at a time)."""
    import scipy.sparse

    weighted = counts.multiply(idf[None, :]).tocsr()
    squares = np.asarray(counts.multiply((idf ** 2)[None, :]).sum(axis=1)).ravel()
    norms = np.sqrt(squares)
    norms[norms == 0] = 1.0
    return scipy.sparse.diags(1.0 / norms) @ weighted


class BagOfWords(nn.Module):
    """Class logits of a linear model on the TF-IDF features of the token ids (see the module's docstring)."""

    def __init__(self, vocab_size: int, buckets: int, num_classes: int) -> None:
        super().__init__()
        self.vocab_size, self.buckets = vocab_size, buckets
        self.register_buffer("idf", torch.zeros(vocab_size + buckets))
        self.weight = nn.Parameter(torch.zeros(vocab_size + buckets, num_classes))
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)[None, :]
        unigram_valid = positions < lengths[:, None]
        bigrams = self.vocab_size + torch.remainder(ids[:, :-1] * HASH_MULTIPLIER + ids[:, 1:], self.buckets)
        features = torch.cat([ids, bigrams], dim=1)
        valid = torch.cat([unigram_valid, unigram_valid[:, 1:]], dim=1)  # a bigram ends on a real token
        weights = self.idf[features] * valid
        norms = weights.square().sum(dim=1, keepdim=True).sqrt().clamp(min=1e-12)
        return torch.einsum("bt,btc->bc", weights / norms, self.weight[features]) + self.bias


class WithBagOfWords(nn.Module):
    """The network's log-probabilities and the bag of words', each calibrated by its own temperature (fitted on
    the validation rows), mixed as ``(1 - weight) * network + weight * bag_of_words``: a weighted geometric
    mean of the two distributions, returned as logits (the softmax every caller applies normalises it).
    Calibrating each first matters: otherwise the more over-confident of the two dominates any mix."""

    def __init__(self, network: nn.Module, bag_of_words: BagOfWords) -> None:
        super().__init__()
        self.network, self.bag_of_words = network, bag_of_words
        self.register_buffer("weight", torch.zeros(()))
        self.register_buffer("network_temperature", torch.ones(()))
        self.register_buffer("bag_of_words_temperature", torch.ones(()))

    def mix(self, network_logits: torch.Tensor, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        network = torch.log_softmax(network_logits.float() / self.network_temperature, dim=1)
        words = torch.log_softmax(self.bag_of_words(ids, lengths) / self.bag_of_words_temperature, dim=1)
        return (1 - self.weight) * network + self.weight * words

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.mix(self.network(ids, lengths), ids, lengths)

    def forward_packed(self, ids: torch.Tensor, lengths: torch.Tensor, enforce_sorted: bool = True) -> torch.Tensor:
        return self.mix(self.network.forward_packed(ids, lengths, enforce_sorted), ids, lengths)


def network_of(model: nn.Module) -> nn.Module:
    """The recurrent network (or ensemble) itself, with or without a bag-of-words path around it."""
    return model.network if isinstance(model, WithBagOfWords) else model


def mix_weight(model: nn.Module) -> float:
    """The weight of the bag-of-words path in ``model``'s probabilities: 0 for the network alone, 1 when the
    network adds nothing (the validation rows gave the path all the weight)."""
    return float(model.weight) if isinstance(model, WithBagOfWords) else 0.0

