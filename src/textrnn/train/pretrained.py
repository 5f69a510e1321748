"""Starting a classifier from a language model made by ``textrnn pretrain`` (ULMFiT-style)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from ..errors import ConfigError
from ..model.network import RNNClassifier
from ..params import ClassifierParams
from ..text.vectorizer import TextVectorizer


@dataclass
class PretrainedLM:
    vectorizer: TextVectorizer  # with the classifier's max_length
    models: dict  # direction -> textrnn.model.lm.LanguageModel


def language_model(params: ClassifierParams) -> PretrainedLM:
    """The language model ``params.init_from`` names, checked against the classifier's architecture."""
    from ..model.lm import load_lm

    record, vectorizer, models = load_lm(params.init_from)
    wanted = {"cell": params.cell, "embed_dim": params.embed_dim, "hidden_size": params.hidden_size,
              "num_layers": params.num_layers}
    different = [f"{name}={record[name]!r} (here {value!r})" for name, value in wanted.items() if record[name] != value]
    if params.bidirectional and "backward" not in record["directions"]:
        different.append("a backward model for bidirectional=True (pretrain it with --bidirectional)")
    if different:
        raise ConfigError(f"init_from: {params.init_from} was pretrained with " + ", ".join(different)
                          + "; give the classifier the same architecture")
    if params.bidirectional and not record.get("shared_embedding"):
        warnings.warn(f"init_from: {params.init_from} was pretrained by an earlier textrnn, whose backward model "
                      "learned its own embedding: the classifier's reverse direction starts out reading the forward "
                      "one's, which it was not trained on; pretrain the language model again", stacklevel=2)
    vectorizer.max_length = params.max_length
    return PretrainedLM(vectorizer, models)


def initialise_from_lm(model: RNNClassifier, models: dict) -> None:
    """Copy embedding and recurrent weights: forward model -> forward direction, backward -> reverse direction.

    Above the first layer a bidirectional classifier's layer reads both directions (2 x hidden inputs);
    the language model's read one. The columns for the same direction get its weights, the others zeros,
    so each direction starts as exactly the pretrained stack.
    """
    with torch.no_grad():
        model.embedding.weight.copy_(models["forward"].embedding.weight)
        targets = dict(model.rnn.named_parameters())
        for direction, suffix in (("forward", ""), ("backward", "_reverse")):
            if direction not in models or (suffix and not model.rnn.bidirectional):
                continue
            for name, source in models[direction].rnn.named_parameters():
                target = targets[name + suffix]
                if target.shape == source.shape:
                    target.copy_(source)
                else:  # weight_ih of a layer above the first: (gates, 2 * hidden) from (gates, hidden)
                    hidden = source.shape[1]
                    target.zero_()
                    offset = 0 if direction == "forward" else hidden
                    target[:, offset : offset + hidden].copy_(source)
