"""The network a set of parameters describes, built untrained: for training, and for loading saved weights."""

from __future__ import annotations

from ..errors import ConfigError
from ..params import ClassifierParams
from .bag_of_words import BagOfWords, WithBagOfWords
from .network import EnsembleClassifier, RNNClassifier

MAX_ONE_HOT_TOKENS = 1_024  # a one-hot input as wide as a 20,000-word vocabulary would be 300x a 64-wide embedding


def build_network(params: ClassifierParams, vocab_size: int, num_classes: int, single: bool = False):
    """The untrained network ``params`` describe; an :class:`EnsembleClassifier` of ``params.ensemble`` of
    them unless ``single``; inside a :class:`WithBagOfWords` when ``bag_of_words`` holds its buckets."""
    if params.one_hot and vocab_size > MAX_ONE_HOT_TOKENS:
        raise ConfigError(f"one_hot: the vocabulary has {vocab_size:,} tokens; one-hot vectors are for small "
                          f"vocabularies (at most {MAX_ONE_HOT_TOKENS:,}): use vocabulary_type char or a smaller "
                          "max_tokens")
    if isinstance(params.bag_of_words, int) and not single:  # a fitted model's path (training adds it at the end)
        network = build_network(params.model_copy(update={"bag_of_words": None}), vocab_size, num_classes)
        return WithBagOfWords(network, BagOfWords(vocab_size, params.bag_of_words, num_classes))
    if params.ensemble > 1 and not single:
        return EnsembleClassifier([build_network(params, vocab_size, num_classes, True) for _ in range(params.ensemble)],
                                  params.multi_label)
    return RNNClassifier(
        vocab_size=vocab_size, num_classes=num_classes, embed_dim=params.embed_dim, cell=params.cell,
        hidden_size=params.hidden_size, num_layers=params.num_layers, bidirectional=params.bidirectional,
        pooling=params.pooling, dropout=params.dropout, mask=params.mask, locked_dropout=params.locked_dropout,
        word_dropout=params.word_dropout, sparse_embedding=params.sparse_embedding, one_hot=params.one_hot,
    )
