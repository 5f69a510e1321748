"""The training loop and batched prediction, on Lightning Fabric for device placement and precision.

Read top to bottom, :func:`train_model` is the whole recipe: AdamW (plain Adam when ``weight_decay`` is
0), length-bucketed batches in a seeded order, cross-entropy, optional gradient-norm clipping, one
validation pass per epoch, the best epoch's weights kept, early stopping after ``patience`` epochs
without a better validation accuracy.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .batching import EncodedTexts, inference_batches, training_batches
from .checkpoint import Checkpoint, TrainState, save_checkpoint
from .config import ClassifierParams, ConfigError
from .errors import MemoryBudgetError, TrainingInterrupted

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
        raise ConfigError(f"device: {device!r} was asked for, but PyTorch sees no CUDA device here")
    return device


def make_fabric(device: str, tensorboard_dir: Path | None = None):
    from lightning_fabric import Fabric  # imported here: it adds seconds to start-up that prediction does not need

    loggers = []
    if tensorboard_dir is not None:
        from lightning_fabric.loggers import TensorBoardLogger

        try:
            loggers.append(TensorBoardLogger(root_dir=str(tensorboard_dir), name="", version=""))
        except ModuleNotFoundError:
            raise ConfigError("tensorboard: needs the tensorboardX package: pip install 'textrnn[tensorboard]'") from None
    device = resolve_device(device)
    accelerator, _, index = device.partition(":")
    return Fabric(accelerator=accelerator, devices=[int(index)] if index else 1, precision="32-true", loggers=loggers)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def stop_signals(enabled: bool):
    """While training with checkpoints, SIGINT/SIGTERM only raise a flag; the loop saves and stops cleanly."""
    received: list[str] = []
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda number, frame: received.append(signal.Signals(number).name))
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def train_model(
    model: nn.Module,
    train_x: EncodedTexts,
    train_y: np.ndarray,
    val_x: EncodedTexts | None,
    val_y: np.ndarray | None,
    params: ClassifierParams,
    checkpoint_path: Path | None = None,
    checkpoint_extra: dict | None = None,
    resume: Checkpoint | None = None,
    tensorboard_dir: Path | None = None,
    on_epoch_end: Callable[[dict, nn.Module], None] | None = None,
) -> TrainResult:
    """Train ``model`` in place; on return it holds the weights of the best validation epoch.

    With ``checkpoint_path``, the full training state is saved there every ``checkpoint_every`` steps,
    at the end of every epoch, and on SIGINT/SIGTERM (then :class:`TrainingInterrupted` is raised).
    ``resume`` continues from such a checkpoint and ends exactly where an uninterrupted run would.
    With ``tensorboard_dir``, the training loss (every 50 steps) and the epoch figures are logged there.
    ``on_epoch_end(record, model)`` is called after each epoch's validation (outside the timed part).
    """
    fabric = make_fabric(params.device, tensorboard_dir)
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    state, best_weights = TrainState(), None
    if resume is not None:
        model.load_state_dict(resume.model)
        optimizer.load_state_dict(resume.optimizer)
        state, best_weights = resume.state, resume.best
    else:
        state.epoch_rng_state = np.random.default_rng(params.seed).bit_generator.state
    model, optimizer = fabric.setup(model, optimizer)
    if resume is not None:  # after setup, so that nothing between here and the first batch draws from it
        torch.set_rng_state(resume.torch_rng)
        if resume.cuda_rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(resume.cuda_rng)
    loss_fn = nn.CrossEntropyLoss()
    show_bar = params.verbose and sys.stderr.isatty()

    def save() -> None:
        if checkpoint_path is not None:
            save_checkpoint(checkpoint_path, state, model, optimizer, best_weights, checkpoint_extra or {})

    with stop_signals(checkpoint_path is not None) as stop_requests:
        while not state.done and state.epoch <= params.epochs:
            model.train()
            rng = np.random.default_rng()
            rng.bit_generator.state = state.epoch_rng_state
            batches = training_batches(train_x.lengths, params.batch_size, rng, bucketed=params.mask)
            next_epoch_rng_state = rng.bit_generator.state
            bar = tqdm(
                total=len(train_x), initial=state.seen, unit="text", unit_scale=True,
                desc=f"epoch {state.epoch}/{params.epochs}", disable=not show_bar, leave=False, dynamic_ncols=True,
            )
            resumed_at = time.perf_counter() - state.epoch_seconds
            for index in batches[state.step :]:
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

                state.loss_sum += loss.item() * len(index)
                state.correct += int((logits.argmax(dim=1) == targets).sum())
                state.seen += len(index)
                state.step += 1
                state.global_step += 1
                state.epoch_seconds = time.perf_counter() - resumed_at
                bar.update(len(index))
                bar.set_postfix(loss=f"{state.loss_sum / state.seen:.4f}", acc=f"{state.correct / state.seen:.4f}",
                                refresh=False)
                if stop_requests:
                    bar.close()
                    save()
                    raise TrainingInterrupted(stop_requests[0], state, checkpoint_path)
                if params.checkpoint_every and state.global_step % params.checkpoint_every == 0:
                    save()
                if state.global_step % 50 == 0:
                    fabric.log("train/loss", loss.item(), step=state.global_step)
            bar.close()

            record = {
                "epoch": state.epoch,
                "train_loss": state.loss_sum / state.seen,
                "train_accuracy": state.correct / state.seen,
                "seconds": state.epoch_seconds,
                "samples_per_second": state.seen / state.epoch_seconds,
            }
            if val_x is not None:
                probabilities = predict_probabilities(model, val_x, params)
                chosen = probabilities[np.arange(len(val_y)), val_y]
                record["val_loss"] = float(-np.log(np.maximum(chosen, 1e-12)).mean())
                record["val_accuracy"] = float((probabilities.argmax(axis=1) == val_y).mean())
            state.history.append(record)
            if on_epoch_end is not None:
                on_epoch_end(record, model)
            fabric.log_dict({f"epoch/{k}": v for k, v in record.items() if k != "epoch"}, step=state.epoch)
            if params.verbose:
                log(format_epoch(record, params.epochs))

            score = record.get("val_accuracy", state.epoch)  # without validation data the last epoch is kept
            if score > state.best_score:
                state.best_score, state.best_epoch, state.stale_epochs = score, state.epoch, 0
                best_weights = {name: t.detach().clone() for name, t in model.state_dict().items()}
            else:
                state.stale_epochs += 1
                if params.patience is not None and state.stale_epochs >= params.patience:
                    if params.verbose:
                        log(f"early stop: no better validation accuracy for {state.stale_epochs} epochs")
                    state.done = True
            state.epoch += 1
            state.step, state.seen, state.correct, state.loss_sum, state.epoch_seconds = 0, 0, 0, 0.0, 0.0
            state.epoch_rng_state = next_epoch_rng_state
            state.done = state.done or state.epoch > params.epochs
            save()

    for logger in fabric.loggers:
        logger.finalize("success")
    model.load_state_dict(best_weights)
    total_seconds = sum(r["seconds"] for r in state.history)
    return TrainResult(
        history=state.history,
        best_epoch=state.best_epoch,
        seconds=total_seconds,
        samples_per_second=sum(r["samples_per_second"] * r["seconds"] for r in state.history) / total_seconds,
    )


GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def available_memory_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_memory(model: nn.Module, params: ClassifierParams, batch: int, steps: int, training: bool) -> None:
    """Stop with advice, instead of being killed by the kernel, when a batch cannot fit in memory.

    The estimate is deliberately generous: parameters with their gradients and Adam moments (and the
    best-epoch copy), plus per step and text the embedding and, per layer and direction, the gate
    pre-activations and outputs that backpropagation keeps, three times over for workspace and copies.
    """
    budget = params.memory_budget_gb * 1e9 if params.memory_budget_gb else None
    if budget is None:
        available = available_memory_bytes()
        if available is None:
            return
        budget = 0.9 * available
    weights = sum(p.numel() for p in model.parameters()) * 4
    directions = 2 if params.bidirectional else 1
    per_step = params.embed_dim + params.num_layers * directions * params.hidden_size * (GATES[params.cell] + 2)
    activations = batch * max(steps, 1) * per_step * 4 * (3 if training else 1)
    needed = activations + weights * (6 if training else 1)
    if needed > budget:
        source = "memory_budget_gb" if params.memory_budget_gb else "90% of the memory available now"
        raise MemoryBudgetError(
            f"a {'training' if training else 'prediction'} batch of {batch:,} texts of up to {steps:,} tokens needs "
            f"about {needed / 1e9:.2f} GB, more than the budget of {budget / 1e9:.2f} GB ({source}); "
            f"lower batch_size or cap the text length with max_length (--max-length)"
        )


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
