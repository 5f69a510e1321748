"""Batched prediction with a PyTorch model, and the validation figures the training loop needs."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..params import ClassifierParams
from ..text.batching import EncodedTexts, inference_batches
from . import distributed
from .memory import check_memory

PREDICT_BATCH_SIZE = 256


@torch.no_grad()
def predict_probabilities(model: nn.Module, texts: EncodedTexts, params: ClassifierParams) -> np.ndarray:
    """Class probabilities (rows in input order) for every text.

    A masked model is padding-invariant, so texts go in length-sorted batches of 256. An unmasked
    one (the lesson's first model) sees the padding, so it is fed as Keras fed it: in input order, in
    training-size batches.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    batch_size = PREDICT_BATCH_SIZE if params.mask else params.batch_size
    batches = inference_batches(texts.lengths, batch_size, sort=params.mask)
    longest = max(batches, key=lambda index: len(index) * int(texts.lengths[index].max()))
    check_memory(model, params, batch=len(longest), steps=int(texts.lengths[longest].max()), training=False)
    out = None
    for index in batches:
        ids, lengths = texts.batch(index)
        logits = model(ids.to(device), lengths.to(device))
        probabilities = torch.softmax(logits.float(), dim=1).cpu().numpy()
        if out is None:
            out = np.empty((len(texts), probabilities.shape[1]), dtype=np.float32)
        out[index] = probabilities
    model.train(was_training)
    return out


def evaluate_loss_accuracy(model: nn.Module, data, params: ClassifierParams) -> dict:
    """Validation loss and accuracy over all ranks' shares of ``data`` (chunks of encoded texts and labels)."""
    loss_sum = correct = rows = 0.0
    for x, y in data.chunks():
        probabilities = predict_probabilities(model, x, params)
        chosen = probabilities[np.arange(len(y)), y]
        loss_sum += float(-np.log(np.maximum(chosen, 1e-12)).sum())
        correct += float((probabilities.argmax(axis=1) == y).sum())
        rows += len(y)
    loss_sum, correct, rows = distributed.sum_over_ranks(loss_sum, correct, rows)
    return {"val_loss": loss_sum / max(rows, 1), "val_accuracy": correct / max(rows, 1)}
