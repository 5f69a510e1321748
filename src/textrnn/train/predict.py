"""Batched prediction with a PyTorch model, and the validation figures the training loop needs."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..evaluation.metrics import class_counts, confusion_pairs, f1_from_counts
from ..multilabel import sigmoid, validation_macro_f1
from ..params import ClassifierParams
from ..text.batching import EncodedTexts, inference_batches
from . import distributed
from .memory import check_memory

PREDICT_BATCH_SIZE = 256
PREDICT_BATCH_TOKENS = 16_384  # 256 texts of 64 tokens; long documents go fewer at a time (see inference_batches)


@torch.no_grad()
def predict_probabilities(model: nn.Module, texts: EncodedTexts, params: ClassifierParams,
                          temperature: float = 1.0) -> np.ndarray:
    """Class probabilities (rows in input order) for every text; the logits are divided by ``temperature``
    first (the calibration fitted after training, see :mod:`textrnn.train.calibration`). Multi-label: each
    label's own probability (a sigmoid), so a row need not sum to 1."""
    if params.multi_label:
        return _forward(model, texts, params, lambda logits: torch.sigmoid(logits.float()))
    return _forward(model, texts, params, lambda logits: torch.softmax(
        logits.float() if temperature == 1.0 else logits.float() / temperature, dim=1))


@torch.no_grad()
def predict_logits(model: nn.Module, texts: EncodedTexts, params: ClassifierParams) -> np.ndarray:
    """The logits (an ensemble's: the log of its averaged probabilities) for every text, in input order."""
    return _forward(model, texts, params, lambda logits: logits.float())


def _forward(model: nn.Module, texts: EncodedTexts, params: ClassifierParams, finish) -> np.ndarray:
    """``finish(logits)`` of every text, in input order.

    A masked model is padding-invariant, so texts go in length-sorted batches of up to 256 texts and
    16,384 (padded) tokens. An unmasked
    one (the lesson's first model) sees the padding, so it is fed as Keras fed it: in input order, in
    training-size batches.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    batch_size = PREDICT_BATCH_SIZE if params.mask else params.batch_size
    batches = inference_batches(texts.lengths, batch_size, sort=params.mask,
                                max_tokens=PREDICT_BATCH_TOKENS if params.mask else None)
    longest = max(batches, key=lambda index: len(index) * int(texts.lengths[index].max()))
    check_memory(model, params, batch=len(longest), steps=int(texts.lengths[longest].max()), training=False)
    out = None
    for index in batches:
        ids, lengths = texts.batch(index)
        values = finish(model(ids.to(device), lengths.to(device))).cpu().numpy()
        if out is None:
            out = np.empty((len(texts), values.shape[1]), dtype=np.float32)
        out[index] = values
    model.train(was_training)
    return out


@torch.no_grad()
def validation_logits(model: nn.Module, val_data, params: ClassifierParams) -> tuple[np.ndarray, np.ndarray]:
    """The model's logits (an ensemble's: log of its averaged probabilities) and the labels of every
    validation row, gathered from all ranks."""
    logits, labels = [], []
    for x, y in val_data.chunks():
        logits.append(predict_logits(model, x, params))
        labels.append(np.asarray(y))
    shares = distributed.all_gather_objects((logits, labels))
    logits = [part for share in shares for part in share[0]]
    labels = [part for share in shares for part in share[1]]
    if not logits:
        return np.zeros((0, 0), dtype=np.float32), np.zeros(0, dtype=np.int64)
    return np.concatenate(logits), np.concatenate(labels)


def evaluate_loss_accuracy(model: nn.Module, data, params: ClassifierParams) -> dict:
    """Validation loss, accuracy and macro-F1 over all ranks' shares of ``data`` (chunks of encoded texts and
    labels); the counts are summed over the ranks first, so every rank gets the same figures."""
    if params.multi_label:
        return _evaluate_label_sets(model, data, params)
    size = model.head.out_features  # a rank without validation rows still adds counts of the same shape
    loss_sum, counts = 0.0, np.zeros((3, size), dtype=np.int64)
    for x, y in data.chunks():
        probabilities = predict_probabilities(model, x, params)
        chosen = probabilities[np.arange(len(y)), y]
        loss_sum += float(-np.log(np.maximum(chosen, 1e-12)).sum())
        counts += class_counts(*confusion_pairs(y, probabilities.argmax(axis=1), size), size)
    loss_sum, *summed = distributed.sum_over_ranks(loss_sum, *counts.ravel().tolist())
    counts = np.asarray(summed, dtype=np.int64).reshape(3, size)
    rows = max(counts[1].sum(), 1)
    return {"val_loss": loss_sum / rows, "val_accuracy": float(counts[0].sum() / rows),
            "val_macro_f1": float(f1_from_counts(counts).mean())}


def _evaluate_label_sets(model: nn.Module, data, params: ClassifierParams) -> dict:
    """Multi-label validation figures over all ranks: mean binary cross-entropy, subset accuracy at 0.5, and
    the macro-F1 the thresholds of ``params.threshold`` reach (what model selection maximises)."""
    logits, truth = validation_logits(model, data, params)
    if not len(truth):
        return {"val_loss": 0.0, "val_accuracy": 0.0, "val_macro_f1": 0.0}
    probabilities = sigmoid(logits)
    p = np.clip(probabilities.astype(np.float64), 1e-7, 1 - 1e-7)
    loss = -(truth * np.log(p) + (1 - truth) * np.log(1 - p)).mean()
    return {"val_loss": float(loss), "val_accuracy": float(((probabilities >= 0.5) == (truth > 0.5)).all(axis=1).mean()),
            "val_macro_f1": validation_macro_f1(probabilities, truth, params.threshold)}
