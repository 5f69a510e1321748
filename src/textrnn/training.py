"""The training loop and batched prediction, on Lightning Fabric for device placement and precision.

Read top to bottom, :func:`train_model` is the whole recipe: AdamW (plain Adam when ``weight_decay`` is
0), length-bucketed batches in a seeded order, cross-entropy, optional gradient-norm clipping, one
validation pass per epoch, the best epoch's weights kept, early stopping after ``patience`` epochs
without a better validation accuracy.
"""

from __future__ import annotations

import hashlib
import math
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

from . import distributed
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
    rank_shares: list[dict] = field(default_factory=list)  # per rank: texts and batches trained on, data digest


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


def log(message: str) -> None:
    """Progress messages go to stderr, from rank 0 only."""
    if distributed.is_rank_zero():
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
    train_data: InMemoryTrainingData,
    val_data: InMemoryEvaluationData | None,
    params: ClassifierParams,
    checkpoint_path: Path | None = None,
    checkpoint_extra: dict | None = None,
    resume: Checkpoint | None = None,
    tensorboard_dir: Path | None = None,
    on_epoch_end: Callable[[dict, nn.Module], None] | None = None,
) -> TrainResult:
    """Train ``model`` in place; on return it holds the weights of the best validation epoch.

    ``train_data`` gives each epoch's batches (in memory, or :class:`textrnn.stream.StreamTrainingData`),
    ``val_data`` the validation rows in chunks. Data-parallel, both hold this rank's share, and the
    epoch figures are summed over all ranks before anything is decided.
    With ``checkpoint_path``, the full training state is saved there every ``checkpoint_every`` steps,
    at the end of every epoch, and on SIGINT/SIGTERM (then :class:`TrainingInterrupted` is raised).
    ``resume`` continues from such a checkpoint and ends exactly where an uninterrupted run would.
    With ``tensorboard_dir``, the training loss (every 50 steps) and the epoch figures are logged there.
    ``on_epoch_end(record, model)`` is called after each epoch's validation (outside the timed part).
    """
    fabric = distributed.get_fabric(params.device, params.devices, params.num_nodes)
    logger = tensorboard_logger(tensorboard_dir) if tensorboard_dir is not None and fabric.is_global_zero else None
    groups = layer_groups(model)  # top down: the head first, the embedding last
    if params.discriminative_lr == 1.0:  # one group: the plain optimizer, step for step
        param_groups = [{"params": list(model.parameters()), "lr_scale": 1.0}]
    else:
        param_groups = [{"params": group, "lr_scale": params.discriminative_lr**-depth}
                        for depth, group in enumerate(groups)]
    embedding_weight = model.embedding.weight  # the same tensor after setup; frozen epochs drop its gradient
    optimizers = {}
    if params.sparse_embedding:
        # The embedding's sparse gradient goes to SparseAdam (lazy Adam: only the rows a batch used move,
        # and their moments only advance then); every other parameter to AdamW as usual.
        scale = next(g["lr_scale"] for g in param_groups if any(p is embedding_weight for p in g["params"]))
        param_groups = [{**g, "params": [p for p in g["params"] if p is not embedding_weight]} for g in param_groups]
        optimizers["sparse_optimizer"] = torch.optim.SparseAdam(
            [{"params": [embedding_weight], "lr_scale": scale}], lr=params.lr)
    optimizers["optimizer"] = torch.optim.AdamW(param_groups, lr=params.lr, weight_decay=params.weight_decay)
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
    loss_fn = nn.CrossEntropyLoss(label_smoothing=params.label_smoothing)
    steps_per_epoch = max(1, -(-(train_data.rows or 1) // params.batch_size))
    learning_rate = lr_schedule(params.lr_schedule, params.lr, total_steps=params.epochs * steps_per_epoch)
    # What this rank trained on (since the start or the resumption): proof that ranks saw different data.
    share = {"rank": fabric.global_rank, "texts": 0, "batches": 0}
    share_digest = hashlib.blake2b(digest_size=8)
    show_bar = params.verbose and sys.stderr.isatty() and fabric.is_global_zero

    def save() -> None:
        if checkpoint_path is not None and fabric.is_global_zero:
            save_checkpoint(checkpoint_path, state, model, optimizers, best_weights, checkpoint_extra or {})

    with stop_signals(checkpoint_path is not None) as stop_requests:
        while not state.done and state.epoch <= params.epochs:
            model.train()
            rng = np.random.default_rng()
            rng.bit_generator.state = state.epoch_rng_state
            batches = train_data.epoch(rng, skip=state.step)
            bar = tqdm(
                total=train_data.rows, initial=state.seen, unit="text", unit_scale=True,
                desc=f"epoch {state.epoch}/{params.epochs}", disable=not show_bar, leave=False, dynamic_ncols=True,
            )
            resumed_at = time.perf_counter() - state.epoch_seconds
            while True:
                batch = next(batches, None)
                if train_data.uneven and fabric.world_size > 1 and not distributed.all_have_batch(batch is not None):
                    break
                if batch is None:
                    break
                if fabric.world_size > 1:
                    share_digest.update(batch[0].numpy().tobytes())
                share["texts"] += len(batch[2])
                share["batches"] += 1
                ids, lengths, targets = fabric.to_device(batch)
                for optimizer in optimizers.values():
                    for group in optimizer.param_groups:
                        group["lr"] = learning_rate(state.global_step) * group["lr_scale"]
                logits = model(ids, lengths)
                loss = loss_fn(logits, targets)
                for optimizer in optimizers.values():
                    optimizer.zero_grad(set_to_none=True)
                fabric.backward(loss)
                if params.embeddings and state.epoch <= params.freeze_embeddings:
                    embedding_weight.grad = None  # AdamW leaves a parameter without a gradient untouched
                if params.gradual_unfreezing:
                    for group in groups[state.epoch :]:  # epoch 1: the head alone; each epoch one layer more
                        for parameter in group:
                            parameter.grad = None
                if params.clip_grad_norm is not None and params.sparse_embedding:
                    clip_gradients_with_sparse(model.parameters(), params.clip_grad_norm)
                elif params.clip_grad_norm is not None:
                    fabric.clip_gradients(model, optimizers["optimizer"], max_norm=params.clip_grad_norm)
                for optimizer in optimizers.values():
                    optimizer.step()

                state.loss_sum += loss.item() * len(targets)
                state.correct += int((logits.argmax(dim=1) == targets).sum())
                state.seen += len(targets)
                state.step += 1
                state.global_step += 1
                state.epoch_seconds = time.perf_counter() - resumed_at
                bar.update(len(targets))
                bar.set_postfix(loss=f"{state.loss_sum / state.seen:.4f}", acc=f"{state.correct / state.seen:.4f}",
                                refresh=False)
                if stop_requests:
                    bar.close()
                    batches.close()
                    save()
                    raise TrainingInterrupted(stop_requests[0], state, checkpoint_path)
                if params.checkpoint_every and state.global_step % params.checkpoint_every == 0:
                    save()
                if logger is not None and state.global_step % 50 == 0:
                    logger.log_metrics({"train/loss": loss.item()}, step=state.global_step)
            bar.close()
            batches.close()
            next_epoch_rng_state = rng.bit_generator.state

            loss_sum, correct, seen = distributed.sum_over_ranks(state.loss_sum, state.correct, state.seen)
            if not seen:
                raise ConfigError(f"batch_size: no full batch of {params.batch_size} for each of the "
                                  f"{fabric.world_size} ranks; use fewer devices or a smaller batch_size")
            record = {
                "epoch": state.epoch,
                "train_loss": loss_sum / seen,
                "train_accuracy": correct / seen,
                "seconds": state.epoch_seconds,
                "samples_per_second": seen / state.epoch_seconds,
            }
            if val_data is not None:
                record.update(evaluate_loss_accuracy(model, val_data, params))
            state.history.append(record)
            if on_epoch_end is not None:
                on_epoch_end(record, model)
            if logger is not None:
                logger.log_metrics({f"epoch/{k}": v for k, v in record.items() if k != "epoch"}, step=state.epoch)
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

    if logger is not None:
        logger.finalize("success")
    model.load_state_dict(best_weights)
    total_seconds = sum(r["seconds"] for r in state.history)
    return TrainResult(
        history=state.history,
        best_epoch=state.best_epoch,
        seconds=total_seconds,
        samples_per_second=sum(r["samples_per_second"] * r["seconds"] for r in state.history) / total_seconds,
        rank_shares=distributed.all_gather_objects(
            {**share, "digest": share_digest.hexdigest() if fabric.world_size > 1 else None}),
    )


@torch.no_grad()
def clip_gradients_with_sparse(parameters, max_norm: float) -> None:
    """``clip_grad_norm_`` for a model whose embedding gradient is sparse, which ``clip_grad_norm_`` cannot
    take: the total norm counts the rows the batch used (repeats summed first), as the dense gradient would."""
    grads = []
    for parameter in parameters:
        if parameter.grad is not None and parameter.grad.is_sparse:
            parameter.grad = parameter.grad.coalesce()
            grads.append(parameter.grad)
        elif parameter.grad is not None:
            grads.append(parameter.grad)
    if not grads:
        return
    total = torch.linalg.vector_norm(torch.stack(
        [torch.linalg.vector_norm(g._values() if g.is_sparse else g) for g in grads]))
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for grad in grads:
        (grad._values() if grad.is_sparse else grad).mul_(scale)


def layer_groups(model: nn.Module) -> list[list[nn.Parameter]]:
    """The model's parameters by depth, top down: head (with attention), each recurrent layer, the embedding."""
    recurrent: dict[int, list[nn.Parameter]] = {}
    for name, parameter in model.rnn.named_parameters():
        layer = int(name.split("_l")[-1].split("_")[0])  # weight_ih_l1_reverse -> 1
        recurrent.setdefault(layer, []).append(parameter)
    inner = {id(p) for p in model.rnn.parameters()} | {id(p) for p in model.embedding.parameters()}
    top = [p for p in model.parameters() if id(p) not in inner]
    return [top, *(recurrent[layer] for layer in sorted(recurrent, reverse=True)), list(model.embedding.parameters())]


WARMUP_SHARE = 0.06


def lr_schedule(kind: str, peak: float, total_steps: int) -> Callable[[int], float]:
    """The learning rate at each step: a function of the step alone, so a resumed run continues the curve.

    The warm-up schedules rise linearly to ``peak`` over the first 6% of the steps, then fall to 0 at the
    last step of the last epoch, linearly or along a half cosine. Early stopping may end training before.
    """
    if kind == "constant":
        return lambda step: peak
    warmup = max(1, round(WARMUP_SHARE * total_steps))

    def rate(step: int) -> float:
        if step < warmup:
            return peak * (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return peak * (1 - progress if kind == "warmup-linear" else 0.5 * (1 + math.cos(math.pi * progress)))

    return rate


def tensorboard_logger(directory: Path):
    from lightning_fabric.loggers import TensorBoardLogger

    try:
        return TensorBoardLogger(root_dir=str(directory), name="", version="")
    except ModuleNotFoundError:
        raise ConfigError("tensorboard: needs the tensorboardX package: pip install 'textrnn[tensorboard]'") from None


def evaluate_loss_accuracy(model: nn.Module, data: InMemoryEvaluationData, params: ClassifierParams) -> dict:
    """Validation loss and accuracy over all ranks' shares of ``data``."""
    loss_sum = correct = rows = 0.0
    for x, y in data.chunks():
        probabilities = predict_probabilities(model, x, params)
        chosen = probabilities[np.arange(len(y)), y]
        loss_sum += float(-np.log(np.maximum(chosen, 1e-12)).sum())
        correct += float((probabilities.argmax(axis=1) == y).sum())
        rows += len(y)
    loss_sum, correct, rows = distributed.sum_over_ranks(loss_sum, correct, rows)
    return {"val_loss": loss_sum / max(rows, 1), "val_accuracy": correct / max(rows, 1)}


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
