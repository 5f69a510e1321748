"""Callbacks: the optional behaviours of training, plugged into the loop from outside (as in Keras).

A callback subclasses :class:`Callback` and overrides the hooks it needs; each hook gets the running
:class:`~textrnn.train.loop.TrainLoop` (model, optimizers, parameters, :class:`TrainState`). Writing a new
behaviour never means editing the loop: pass ``callbacks=[...]`` to ``TextRNNClassifier.fit``.

Hooks, in the order they run:

* ``on_fit_start(loop)``: once, before the first batch;
* ``on_epoch_start(loop)``;
* ``on_after_backward(loop)``: the gradients exist; edit them here (before clipping and the step);
  ``loop.batch`` and ``loop.loss_fn`` give the batch and its loss, to add a pass of one's own;
* ``on_batch_end(loop, batch, loss)``: after the step; ``batch`` is (ids, lengths, targets) on the CPU;
* ``on_epoch_end(loop, record)``: the epoch's figures (``record``: loss, accuracy, validation, time);
  ``loop.state`` already points at the next epoch, so a checkpoint written here resumes there;
* ``on_fit_end(loop)``: always, also when training stops with an error (release what you hold).
"""

from __future__ import annotations

import hashlib
import signal
import sys
import threading
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from tqdm.auto import tqdm

from ..errors import ConfigError, TrainingInterrupted
from ..evaluation.baseline import figure_name
from ..params import ClassifierParams
from ..threads import CpuReading, allowed_cpus, threads_for
from . import distributed
from .checkpoint import TrainState, save_checkpoint
from .optimizer import layer_groups

@dataclass(kw_only=True)
class TrainLoop:
    """What the callbacks see: the model and optimizers (set up by Fabric), the parameters and the state."""

    model: nn.Module
    optimizers: dict[str, torch.optim.Optimizer]
    params: ClassifierParams
    fabric: Any
    train_data: Any
    val_data: Any
    state: TrainState
    best_weights: dict[str, torch.Tensor] | None
    embedding_weight: nn.Parameter
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (logits, targets) -> the batch's loss
    batch: tuple | None = None  # the batch being trained on: (ids, lengths, targets) on the device


class Callback:
    """Does nothing at every hook; subclasses override the hooks they need."""

    def on_fit_start(self, loop: TrainLoop) -> None: ...
    def on_epoch_start(self, loop: TrainLoop) -> None: ...
    def on_after_backward(self, loop: TrainLoop) -> None: ...
    def on_batch_end(self, loop: TrainLoop, batch: tuple, loss: float) -> None: ...
    def on_epoch_end(self, loop: TrainLoop, record: dict) -> None: ...
    def on_fit_end(self, loop: TrainLoop) -> None: ...


class EarlyStopping(Callback):
    """Stop after ``patience`` epochs without a better validation score (the loop keeps the best weights)."""

    def __init__(self, patience: int, verbose: bool = False, monitor: str = "accuracy") -> None:
        self.patience, self.verbose, self.monitor = patience, verbose, monitor

    def on_epoch_end(self, loop: TrainLoop, record: dict) -> None:
        if loop.state.stale_epochs >= self.patience and not loop.state.done:
            if self.verbose:
                distributed.log(f"early stop: no better validation {figure_name(self.monitor)} for "
                                f"{loop.state.stale_epochs} epochs")
            loop.state.done = True


class FreezeEmbeddings(Callback):
    """Keep pretrained embeddings unchanged for the first ``epochs`` epochs (AdamW skips a missing gradient)."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def on_fit_start(self, loop: TrainLoop) -> None:
        self.weight = loop.embedding_weight

    def on_after_backward(self, loop: TrainLoop) -> None:
        if loop.state.epoch <= self.epochs:
            self.weight.grad = None


class GradualUnfreezing(Callback):
    """Epoch 1 trains the head alone; each later epoch unfreezes one more layer, top down (ULMFiT)."""

    def on_fit_start(self, loop: TrainLoop) -> None:
        self.groups = layer_groups(loop.model)

    def on_after_backward(self, loop: TrainLoop) -> None:
        for group in self.groups[loop.state.epoch :]:
            for parameter in group:
                parameter.grad = None


class ProgressBar(Callback):
    """Progress on stderr (rank 0 only): a bar with throughput and ETA on a terminal; in a log (no terminal),
    a plain line every ``every_seconds`` with the same figures; and one line per epoch either way."""

    def __init__(self, every_seconds: float = 30.0) -> None:
        self.every_seconds = every_seconds

    def on_epoch_start(self, loop: TrainLoop) -> None:
        self.terminal = sys.stderr.isatty()
        show = self.terminal and distributed.is_rank_zero()
        self.bar = tqdm(total=loop.train_data.rows, initial=loop.state.seen, unit="text", unit_scale=True,
                        desc=f"epoch {loop.state.epoch}/{loop.params.epochs}", disable=not show, leave=False,
                        dynamic_ncols=True)
        self.last_line = time.monotonic()

    def on_batch_end(self, loop: TrainLoop, batch: tuple, loss: float) -> None:
        state = loop.state
        self.bar.update(len(batch[2]))
        self.bar.set_postfix(loss=f"{state.loss_sum / state.seen:.4f}", acc=f"{state.correct / state.seen:.4f}",
                             refresh=False)
        if not self.terminal and time.monotonic() - self.last_line >= self.every_seconds:
            self.last_line = time.monotonic()
            distributed.log(progress_line(loop))

    def on_epoch_end(self, loop: TrainLoop, record: dict) -> None:
        self.bar.close()
        distributed.log(format_epoch(record, loop.params.epochs))

    def on_fit_end(self, loop: TrainLoop) -> None:
        if hasattr(self, "bar"):
            self.bar.close()


class ThreadWatch(Callback):
    """With ``threads="auto"``: every ``every_seconds`` of training, measure the cores other processes use and
    compute with the cores they leave free (spinning threads beside a busy process collapse throughput; see
    :mod:`textrnn.threads`). Each change is logged and appended to ``changes``."""

    def __init__(self, changes: list[dict], every_seconds: float = 2.0, verbose: bool = False) -> None:
        self.changes, self.every_seconds, self.verbose = changes, every_seconds, verbose

    def on_fit_start(self, loop: TrainLoop) -> None:
        self.reading = CpuReading()

    def on_batch_end(self, loop: TrainLoop, batch: tuple, loss: float) -> None:
        if time.monotonic() - self.reading.wall < self.every_seconds:
            return
        others = self.reading.cores_used_by_others()
        self.reading = CpuReading()
        count, reason = threads_for(allowed_cpus(), others)
        if count != torch.get_num_threads():
            torch.set_num_threads(count)
            self.changes.append({"epoch": loop.state.epoch, "step": loop.state.step, "threads": count,
                                 "reason": reason})
            if self.verbose:
                distributed.log(f"threads {count}: {reason}")


class Checkpointing(Callback):
    """Save the full training state every ``every`` steps, after every epoch, and on SIGINT/SIGTERM.

    While it runs, SIGINT and SIGTERM only raise a flag; at the end of the batch the state is saved and
    :class:`TrainingInterrupted` raised, so ``fit(..., resume=True)`` continues exactly there.
    """

    def __init__(self, path: Path, extra: dict, every: int | None) -> None:
        self.path, self.extra, self.every = path, extra, every
        self.received: list[str] = []
        self.previous: dict = {}

    def save(self, loop: TrainLoop) -> None:
        if distributed.is_rank_zero():
            save_checkpoint(self.path, loop.state, loop.model, loop.optimizers, loop.best_weights, self.extra)

    def on_fit_start(self, loop: TrainLoop) -> None:
        if threading.current_thread() is threading.main_thread():
            self.previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
            for sig in self.previous:
                signal.signal(sig, lambda number, frame: self.received.append(signal.Signals(number).name))

    def on_batch_end(self, loop: TrainLoop, batch: tuple, loss: float) -> None:
        if self.received:
            self.save(loop)
            raise TrainingInterrupted(self.received[0], loop.state, self.path)
        if self.every and loop.state.global_step % self.every == 0:
            self.save(loop)

    def on_epoch_end(self, loop: TrainLoop, record: dict) -> None:
        self.save(loop)

    def on_fit_end(self, loop: TrainLoop) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


class TensorBoard(Callback):
    """The training loss every 50 steps and the epoch figures, for TensorBoard (needs ``tensorboardX``)."""

    def __init__(self, directory: Path) -> None:
        from lightning_fabric.loggers import TensorBoardLogger

        try:
            self.logger = TensorBoardLogger(root_dir=str(directory), name="", version="")
        except ModuleNotFoundError:
            raise ConfigError("tensorboard: needs the tensorboardX package: pip install 'textrnn[tensorboard]'") from None

    def on_batch_end(self, loop: TrainLoop, batch: tuple, loss: float) -> None:
        if loop.state.global_step % 50 == 0:
            self.logger.log_metrics({"train/loss": loss}, step=loop.state.global_step)

    def on_epoch_end(self, loop: TrainLoop, record: dict) -> None:
        self.logger.log_metrics({f"epoch/{k}": v for k, v in record.items() if k != "epoch"}, step=record["epoch"])

    def on_fit_end(self, loop: TrainLoop) -> None:
        self.logger.finalize("success")


class DataShare(Callback):
    """Counts what this rank trained on, with a digest of the token ids: proof that ranks saw different data."""

    def __init__(self) -> None:
        self.texts = self.batches = 0
        self.digest = hashlib.blake2b(digest_size=8)

    def on_batch_end(self, loop: TrainLoop, batch: tuple, loss: float) -> None:
        if loop.fabric.world_size > 1:
            self.digest.update(batch[0].numpy().tobytes())
        self.texts += len(batch[2])
        self.batches += 1

    def shares(self, loop: TrainLoop) -> list[dict]:
        mine = {"rank": loop.fabric.global_rank, "texts": self.texts, "batches": self.batches,
                "digest": self.digest.hexdigest() if loop.fabric.world_size > 1 else None}
        return distributed.all_gather_objects(mine)


class EpochEndFunction(Callback):
    """Calls ``function(record, model)`` after every epoch (benchmarks follow test accuracy this way)."""

    def __init__(self, function: Callable) -> None:
        self.function = function

    def on_epoch_end(self, loop: TrainLoop, record: dict) -> None:
        self.function(record, loop.model)


def progress_line(loop: TrainLoop) -> str:
    """``epoch 2/5: 12,800 of 43,314 texts (30%), loss 0.2104, 2,650 texts/s, about 12 s left in the epoch``."""
    state, total = loop.state, loop.train_data.rows
    speed = state.seen / state.epoch_seconds if state.epoch_seconds else 0.0
    done = f"{state.seen:,} of {total:,} texts ({state.seen / total:.0%})" if total else f"{state.seen:,} texts"
    left = f", about {(total - state.seen) / speed:.0f} s left in the epoch" if total and speed else ""
    return (f"epoch {state.epoch}/{loop.params.epochs}: {done}, loss {state.loss_sum / max(state.seen, 1):.4f}, "
            f"{speed:,.0f} texts/s{left}")


def format_epoch(record: dict, epochs: int) -> str:
    line = (
        f"epoch {record['epoch']}/{epochs}: loss {record['train_loss']:.4f}, accuracy {record['train_accuracy']:.4f}"
    )
    if "val_accuracy" in record:
        line += f"; validation loss {record['val_loss']:.4f}, accuracy {record['val_accuracy']:.4f}"
        if "val_macro_f1" in record:
            line += f", macro-F1 {record['val_macro_f1']:.4f}"
    line += f"; {record['seconds']:.1f} s, {record['samples_per_second']:,.0f} texts/s"
    return line + (f", {record['tokens_per_second']:,.0f} tokens/s" if "tokens_per_second" in record else "")
