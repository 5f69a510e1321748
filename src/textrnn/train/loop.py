"""The training loop: the common path only, on Lightning Fabric for device placement and precision.

Read top to bottom, :func:`train_model` is the whole recipe: the optimizers of
:func:`~textrnn.train.optimizer.build_optimizers`, length-bucketed batches in a seeded order,
cross-entropy, gradient-norm clipping, one validation pass per epoch, the best epoch's weights kept.
Everything optional (early stopping, checkpoints, frozen layers, progress, TensorBoard) is a
:mod:`callback <textrnn.train.callbacks>`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from ..params import ClassifierParams
from . import distributed
from .callbacks import Callback, DataShare, TrainLoop
from .checkpoint import Checkpoint, TrainState
from .optimizer import build_optimizers, clip_gradients, lr_schedule, set_learning_rate
from .predict import evaluate_loss_accuracy


@dataclass
class TrainResult:
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    seconds: float = 0.0
    samples_per_second: float = 0.0
    tokens_per_second: float = 0.0
    rank_shares: list[dict] = field(default_factory=list)  # per rank: texts and batches trained on, data digest


def train_model(
    model: nn.Module,
    train_data,
    val_data,
    params: ClassifierParams,
    *,
    callbacks: Sequence[Callback] = (),
    resume: Checkpoint | None = None,
    class_weights: np.ndarray | None = None,
) -> TrainResult:
    """Train ``model`` in place; on return it holds the weights of the best validation epoch.

    ``train_data`` gives each epoch's batches (:class:`~textrnn.train.inputs.InMemoryTrainingData` or a
    stream), ``val_data`` the validation rows in chunks. Data-parallel, both hold this rank's share, and
    the epoch figures are summed over all ranks before anything is decided. ``resume`` continues from a
    checkpoint and ends exactly where an uninterrupted run would. ``class_weights`` weight the loss per class
    (see :func:`loss_function`);
    ``params.monitor`` names the validation figure that picks the best epoch (accuracy or macro_f1).
    """
    loop = _set_up(model, train_data, val_data, params, resume, class_weights)
    share = DataShare()
    callbacks = [share, *callbacks]
    try:
        for callback in callbacks:
            callback.on_fit_start(loop)
        learning_rate = lr_schedule(params.lr_schedule, params.lr, total_steps=params.epochs * _steps_per_epoch(loop))
        while not loop.state.done and loop.state.epoch <= params.epochs:
            record = _run_epoch(loop, callbacks, learning_rate)
            _keep_if_best(loop, record)
            for callback in callbacks:
                callback.on_epoch_end(loop, record)
    finally:
        for callback in callbacks:
            callback.on_fit_end(loop)
    model.load_state_dict(loop.best_weights)
    history = loop.state.history
    seconds = sum(r["seconds"] for r in history)
    return TrainResult(history=history, best_epoch=loop.state.best_epoch, seconds=seconds,
                       samples_per_second=sum(r["samples_per_second"] * r["seconds"] for r in history) / seconds,
                       tokens_per_second=sum(r.get("tokens_per_second", 0) * r["seconds"] for r in history) / seconds,
                       rank_shares=share.shares(loop))


def loss_function(params: ClassifierParams, class_weights: np.ndarray | None, fabric) -> nn.Module:
    """Cross-entropy over the classes; multi-label, binary cross-entropy of each label's sigmoid (its
    ``class_weights`` are two rows: the weight of each label's negatives, then of its positives)."""
    weights = None if class_weights is None else fabric.to_device(torch.as_tensor(class_weights))
    if params.multi_label:
        if weights is None:
            return nn.BCEWithLogitsLoss()
        return nn.BCEWithLogitsLoss(weight=weights[0], pos_weight=weights[1] / weights[0])
    return nn.CrossEntropyLoss(weight=weights, label_smoothing=params.label_smoothing)


def correct_rows(logits: torch.Tensor, targets: torch.Tensor, multi_label: bool) -> int:
    """Texts the batch got right: the class, or (multi-label) every label at probability 0.5."""
    if multi_label:
        return int(((logits > 0) == (targets > 0.5)).all(dim=1).sum())
    return int((logits.argmax(dim=1) == targets).sum())


def _set_up(model: nn.Module, train_data, val_data, params: ClassifierParams, resume: Checkpoint | None,
            class_weights: np.ndarray | None) -> TrainLoop:
    """Optimizers, the state (fresh or resumed), Fabric's wrapping, the random generators and the loss."""
    fabric = distributed.get_fabric(params.device, params.devices, params.num_nodes)
    embedding_weight = model.embedding.weight  # the same tensor after setup
    optimizers = build_optimizers(model, params)
    state, best_weights = TrainState(), None
    if resume is not None:
        model.load_state_dict(resume.model)
        if set(resume.optimizers) != set(optimizers):
            raise ConfigError("sparse_embedding: must be the same as in the interrupted run")
        for name, optimizer in optimizers.items():
            optimizer.load_state_dict(resume.optimizers[name])
        state, best_weights = resume.state, resume.best
    else:
        state.epoch_rng_state = np.random.default_rng(params.seed).bit_generator.state
    model, *optimizer_list = fabric.setup(model, *optimizers.values())
    optimizers = dict(zip(optimizers, optimizer_list))
    if resume is not None:  # after setup, so that nothing between here and the first batch draws from it
        torch.set_rng_state(resume.torch_rng)
        if resume.cuda_rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(resume.cuda_rng)
    if fabric.world_size > 1:  # the weights are rank 0's everywhere now; dropout should differ per rank
        torch.manual_seed(params.seed * 1000 + fabric.global_rank + state.global_step)
    return TrainLoop(model=model, optimizers=optimizers, params=params, fabric=fabric, train_data=train_data,
                     val_data=val_data, state=state, best_weights=best_weights, embedding_weight=embedding_weight,
                     loss_fn=loss_function(params, class_weights, fabric))


def _steps_per_epoch(loop: TrainLoop) -> int:
    return max(1, -(-(loop.train_data.rows or 1) // loop.params.batch_size))


def _run_epoch(loop: TrainLoop, callbacks: Sequence[Callback], learning_rate) -> dict:
    """One pass over this rank's batches (from where a resumed epoch stopped); returns the epoch's record."""
    state, fabric, model = loop.state, loop.fabric, loop.model
    model.train()
    rng = np.random.default_rng()
    rng.bit_generator.state = state.epoch_rng_state
    batches = loop.train_data.epoch(rng, skip=state.step)
    for callback in callbacks:
        callback.on_epoch_start(loop)
    resumed_at = time.perf_counter() - state.epoch_seconds
    try:
        while (batch := _next_batch(loop, batches)) is not None:
            ids, lengths, targets = loop.batch = fabric.to_device(batch)
            set_learning_rate(loop.optimizers, learning_rate(state.global_step))
            logits = model(ids, lengths)
            loss = loop.loss_fn(logits, targets)
            for optimizer in loop.optimizers.values():
                optimizer.zero_grad(set_to_none=True)
            fabric.backward(loss)
            for callback in callbacks:
                callback.on_after_backward(loop)
            clip_gradients(fabric, model, loop.optimizers, loop.params)
            for optimizer in loop.optimizers.values():
                optimizer.step()
            state.loss_sum += loss.item() * len(targets)
            state.correct += correct_rows(logits, targets, loop.params.multi_label)
            state.seen += len(targets)
            state.tokens += int(batch[1].sum())  # the lengths on the CPU: no wait for the device
            state.step += 1
            state.global_step += 1
            state.epoch_seconds = time.perf_counter() - resumed_at
            for callback in callbacks:
                callback.on_batch_end(loop, batch, loss.item())
    finally:
        batches.close()
        loop.batch = None
    next_epoch_rng_state = rng.bit_generator.state
    record = _epoch_record(loop)
    state.history.append(record)
    _advance_epoch(state, next_epoch_rng_state, loop.params.epochs)
    return record


def _next_batch(loop: TrainLoop, batches):
    """The next batch, or None at the end; data-parallel ranks with uneven shares stop together."""
    batch = next(batches, None)
    if loop.train_data.uneven and loop.fabric.world_size > 1 and not distributed.all_have_batch(batch is not None):
        return None
    return batch


def _epoch_record(loop: TrainLoop) -> dict:
    """The epoch's figures, summed over every rank, with the validation loss and accuracy."""
    state = loop.state
    loss_sum, correct, seen, tokens = distributed.sum_over_ranks(state.loss_sum, state.correct, state.seen,
                                                                 state.tokens)
    if not seen:
        raise ConfigError(f"batch_size: no full batch of {loop.params.batch_size} for each of the "
                          f"{loop.fabric.world_size} ranks; use fewer devices or a smaller batch_size")
    record = {
        "epoch": state.epoch,
        "train_loss": loss_sum / seen,
        "train_accuracy": correct / seen,
        "seconds": state.epoch_seconds,
        "samples_per_second": seen / state.epoch_seconds,
        "tokens_per_second": tokens / state.epoch_seconds,
    }
    if loop.val_data is not None:
        record.update(evaluate_loss_accuracy(loop.model, loop.val_data, loop.params))
    return record


def _keep_if_best(loop: TrainLoop, record: dict) -> None:
    """Keep a copy of the weights of the best validation epoch (without validation data: the last epoch)."""
    state = loop.state
    monitor = "accuracy" if loop.params.monitor == "auto" else loop.params.monitor
    score = record.get(f"val_{monitor}", record["epoch"])
    if score > state.best_score:
        state.best_score, state.best_epoch, state.stale_epochs = score, record["epoch"], 0
        loop.best_weights = {name: t.detach().clone() for name, t in loop.model.state_dict().items()}
    else:
        state.stale_epochs += 1


def _advance_epoch(state: TrainState, rng_state: dict, epochs: int) -> None:
    state.epoch += 1
    state.step, state.seen, state.tokens, state.correct, state.loss_sum, state.epoch_seconds = 0, 0, 0, 0, 0.0, 0.0
    state.epoch_rng_state = rng_state
    state.done = state.done or state.epoch > epochs
