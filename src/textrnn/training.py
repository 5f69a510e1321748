"""The training loop and batched prediction, on Lightning Fabric for device placement and precision.

Read top to bottom, :func:`train_model` is the whole recipe: AdamW (plain Adam when ``weight_decay`` is
0), length-bucketed batches in a seeded order, cross-entropy, optional gradient-norm clipping, one
validation pass per epoch, the best epoch's weights kept, early stopping after ``patience`` epochs
without a better validation accuracy.
"""

from __future__ import annotations

import copy
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .batching import EncodedTexts, inference_batches, training_batches
from .config import ClassifierParams

PREDICT_BATCH_SIZE = 256


@dataclass
class TrainResult:
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0
    samples_per_second: float = 0.0


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r} was asked for, but PyTorch sees no CUDA device here")
    return device


def make_fabric(device: str):
    from lightning_fabric import Fabric  # imported here: it adds seconds to start-up that prediction does not need

    device = resolve_device(device)
    accelerator, _, index = device.partition(":")
    return Fabric(accelerator=accelerator, devices=[int(index)] if index else 1, precision="32-true")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def train_model(
    model: nn.Module,
    train_x: EncodedTexts,
    train_y: np.ndarray,
    val_x: EncodedTexts | None,
    val_y: np.ndarray | None,
    params: ClassifierParams,
) -> TrainResult:
    """Train ``model`` in place; on return it holds the weights of the best validation epoch."""
    fabric = make_fabric(params.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    model, optimizer = fabric.setup(model, optimizer)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(params.seed)
    result = TrainResult()
    best_accuracy, best_state, stale_epochs = -1.0, None, 0
    started = time.perf_counter()
    trained_samples = 0
    show_bar = params.verbose and sys.stderr.isatty()

    for epoch in range(1, params.epochs + 1):
        model.train()
        epoch_start = time.perf_counter()
        batches = training_batches(train_x.lengths, params.batch_size, rng, bucketed=params.mask)
        total_loss, total_correct, seen = 0.0, 0, 0
        bar = tqdm(
            total=len(train_x), unit="text", unit_scale=True, desc=f"epoch {epoch}/{params.epochs}",
            disable=not show_bar, leave=False, dynamic_ncols=True,
        )
        for index in batches:
            ids, lengths = train_x.batch(index)
            targets = torch.from_numpy(train_y[index])
            ids, lengths, targets = fabric.to_device((ids, lengths, targets))
            logits = model(ids, lengths)
            loss = loss_fn(logits, targets)
            optimizer.zero_grad(set_to_none=True)
            fabric.backward(loss)
            if params.clip_grad_norm is not None:
                fabric.clip_gradients(model, optimizer, max_norm=params.clip_grad_norm)
            optimizer.step()

            total_loss += loss.item() * len(index)
            total_correct += int((logits.argmax(dim=1) == targets).sum())
            seen += len(index)
            bar.update(len(index))
            bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{total_correct / seen:.4f}", refresh=False)
        bar.close()
        epoch_seconds = time.perf_counter() - epoch_start
        trained_samples += seen

        record = {
            "epoch": epoch,
            "train_loss": total_loss / seen,
            "train_accuracy": total_correct / seen,
            "seconds": epoch_seconds,
            "samples_per_second": seen / epoch_seconds,
        }
        if val_x is not None:
            probabilities = predict_probabilities(model, val_x, params)
            record["val_loss"] = float(-np.log(np.maximum(probabilities[np.arange(len(val_y)), val_y], 1e-12)).mean())
            record["val_accuracy"] = float((probabilities.argmax(axis=1) == val_y).mean())
        result.history.append(record)
        if params.verbose:
            log(format_epoch(record, params.epochs))

        score = record.get("val_accuracy", epoch)  # without validation data the last epoch is kept
        if score > best_accuracy:
            best_accuracy, result.best_epoch, stale_epochs = score, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale_epochs += 1
            if params.patience is not None and stale_epochs >= params.patience:
                if params.verbose:
                    log(f"early stop: no better validation accuracy for {stale_epochs} epochs")
                break

    model.load_state_dict(best_state)
    result.seconds = time.perf_counter() - started
    result.samples_per_second = trained_samples / sum(r["seconds"] for r in result.history)
    return result


def format_epoch(record: dict, epochs: int) -> str:
    line = (
        f"epoch {record['epoch']}/{epochs}: loss {record['train_loss']:.4f}, accuracy {record['train_accuracy']:.4f}"
    )
    if "val_accuracy" in record:
        line += f"; validation loss {record['val_loss']:.4f}, accuracy {record['val_accuracy']:.4f}"
    return line + f"; {record['seconds']:.1f} s, {record['samples_per_second']:,.0f} texts/s"


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
    out = None
    for index in inference_batches(texts.lengths, batch_size, sort=params.mask):
        ids, lengths = texts.batch(index)
        logits = model(ids.to(device), lengths.to(device))
        probabilities = torch.softmax(logits.float(), dim=1).cpu().numpy()
        if out is None:
            out = np.empty((len(texts), probabilities.shape[1]), dtype=np.float32)
        out[index] = probabilities
    model.train(was_training)
    return out
