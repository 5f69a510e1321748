"""Fitting one model or an ensemble: build each network, initialise it (word vectors, a language model),
choose its callbacks, run the loop, and gather the results. :meth:`TextRNNClassifier.fit` and
``fit_stream`` prepare a :class:`FitContext` and hand it here whole.

An ensemble trains its members one after the other, member ``i`` with seed ``seed + i``; each finished
member is saved next to the checkpoint, so an interrupted ensemble resumes in the member it was training.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..errors import ConfigError, DataError, listed, quoted
from ..model.build import build_network
from ..model.network import EnsembleClassifier, RNNClassifier
from ..params import RESUME_MAY_CHANGE, ClassifierParams
from ..text.embeddings import ALGORITHMS
from ..text.vectorizer import TextVectorizer
from . import distributed
from .callbacks import (
    Callback,
    Checkpointing,
    EarlyStopping,
    EpochEndFunction,
    FreezeEmbeddings,
    GradualUnfreezing,
    ProgressBar,
    TensorBoard,
    ThreadWatch,
)
from ..rundir import CHECKPOINT_FILE
from .adversarial import AdversarialTraining
from .checkpoint import Checkpoint, read_member, write_member
from .loop import TrainResult, train_model
from .memory import check_memory, check_network_size
from .pretrained import PretrainedLM, initialise_from_lm



@dataclass(kw_only=True)
class FitContext:
    """Everything one fit needs, passed whole from the estimator to the members' training."""

    params: ClassifierParams
    classes: list[str]
    vectorizer: TextVectorizer
    train_data: Any  # InMemoryTrainingData or StreamTrainingData
    val_data: Any  # InMemoryEvaluationData, StreamEvaluationData or None
    longest: int  # tokens in the longest training text (for the memory check)
    train_rows: int
    val_rows: int
    started: float = field(default_factory=time.perf_counter)
    checkpoint_dir: Path | None = None
    checkpoint: Checkpoint | None = None  # the interrupted fit's state, when resuming
    tensorboard_dir: Path | None = None
    callbacks: Sequence[Callback] = ()
    on_epoch_end: Callable[[dict, torch.nn.Module], None] | None = None
    pretrained: PretrainedLM | None = None
    stream_found: dict | None = None  # what the first pass over a stream found (saved in checkpoints)
    class_weights: np.ndarray | None = None  # loss weight per class (class_weight), None: all 1
    train_digest: str | None = None  # SHA-256 of the training texts and labels (in memory), so resume can check them
    thread_changes: list[dict] = field(default_factory=list)  # what ThreadWatch changed (threads auto)


@dataclass
class FitOutcome:
    model: torch.nn.Module
    history: list[dict]
    info: dict


def fit_models(ctx: FitContext) -> FitOutcome:
    """Train ``params.ensemble`` models (finished members of an interrupted fit are read back, not retrained)."""
    params = ctx.params
    if params.embeddings in ALGORITHMS and not hasattr(ctx.train_data, "x"):
        raise ConfigError(f"embeddings: {params.embeddings} vectors are trained on training data in memory; "
                          "for streamed data, train them first with textrnn embeddings train")
    check_network_size(params, ctx.vectorizer.vocab_size, len(ctx.classes))  # before any member is built
    resume_member = ctx.checkpoint.extra.get("member", 0) if ctx.checkpoint is not None else 0
    members, results, coverages = [], [], []
    for member in range(params.ensemble):
        member_file = Path(ctx.checkpoint_dir) / f"member-{member}.safetensors" if ctx.checkpoint_dir else None
        if member < resume_member:  # finished before the interruption
            model = build_network(params, ctx.vectorizer.vocab_size, len(ctx.classes), single=True)
            weights, result = read_member(member_file)
            model.load_state_dict(weights)
            members.append(model.eval())
            results.append(TrainResult(**result))
            coverages.append(None)
            continue
        model, result, coverage = train_member(ctx, member, ctx.checkpoint if member == resume_member else None)
        if params.ensemble > 1 and member_file is not None and distributed.is_rank_zero():
            write_member(member_file, model.state_dict(), asdict(result))
        members.append(model.cpu().eval())
        results.append(result)
        coverages.append(coverage)
    model = members[0] if params.ensemble == 1 else EnsembleClassifier(members, params.multi_label).eval()
    history = [{**record, "member": i + 1} if params.ensemble > 1 else record
               for i, result in enumerate(results) for record in result.history]
    return FitOutcome(model, history, fit_info(ctx, results, coverages, len(history)))


def fit_info(ctx: FitContext, results: list[TrainResult], coverages: list, epochs_run: int) -> dict:
    single = ctx.params.ensemble == 1
    seconds = sum(r.seconds for r in results)
    return {
        "train_rows": ctx.train_rows,
        "val_rows": ctx.val_rows,
        "best_epoch": results[0].best_epoch if single else [r.best_epoch for r in results],
        "epochs_run": epochs_run,
        "train_seconds": seconds,
        "fit_seconds": time.perf_counter() - ctx.started,
        "samples_per_second": sum(r.samples_per_second * r.seconds for r in results) / seconds,
        "tokens_per_second": sum(r.tokens_per_second * r.seconds for r in results) / seconds,
        "world_size": distributed.world_size(),
        "effective_batch_size": ctx.params.batch_size * distributed.world_size(),
        "rank_shares": results[-1].rank_shares,
        "embeddings": coverages[0] if single else coverages,
        "monitor": ctx.params.monitor,
        "class_weights": class_weight_record(ctx),
    }


def class_weight_record(ctx: FitContext) -> dict | None:
    """The loss weight of each class (multi-label: of each label's positives and negatives), for fit_info."""
    weights = ctx.class_weights
    if weights is None:
        return None
    if ctx.params.multi_label:
        return {name: {"negatives": float(n), "positives": float(p)} for name, n, p in zip(ctx.classes, *weights)}
    return dict(zip(ctx.classes, map(float, weights)))


def train_member(ctx: FitContext, member: int, checkpoint: Checkpoint | None):
    """One model, from its initial weights to its best epoch's; returns (model, result, embedding coverage)."""
    params = ctx.params.model_copy(update={"seed": ctx.params.seed + member})
    if params.verbose and params.ensemble > 1:
        distributed.log(f"ensemble member {member + 1} of {params.ensemble} (seed {params.seed})")
    torch.manual_seed(params.seed)  # the initial weights; dropout draws from the same generator later
    model = build_network(params, ctx.vectorizer.vocab_size, len(ctx.classes), single=True)
    coverage = None
    if params.embeddings and checkpoint is None:
        coverage = load_embeddings(model, params, ctx.vectorizer, getattr(ctx.train_data, "x", None))
    if ctx.pretrained is not None:
        initialise_from_lm(model, ctx.pretrained.models)
        if params.verbose:
            distributed.log(f"started from the language model in {params.init_from} (embedding and recurrent layers)")
    check_memory(model, params, batch=params.batch_size, steps=ctx.longest, training=True)
    result = train_model(model, ctx.train_data, ctx.val_data, params, callbacks=member_callbacks(ctx, params, member),
                         resume=checkpoint, class_weights=ctx.class_weights)
    return model, result, coverage


def member_callbacks(ctx: FitContext, params: ClassifierParams, member: int) -> list[Callback]:
    """The optional behaviours this member's training needs, in the order they must run (checkpoint last)."""
    # Adversarial training first: its second pass adds to the gradients that the later callbacks may edit.
    callbacks: list[Callback] = [AdversarialTraining(params.adversarial)] if params.adversarial else []
    callbacks += [ProgressBar()] if params.verbose else []
    if ctx.tensorboard_dir is not None and distributed.is_rank_zero():
        directory = Path(ctx.tensorboard_dir)
        callbacks.append(TensorBoard(directory / f"member-{member + 1}" if params.ensemble > 1 else directory))
    if params.threads == "auto":
        callbacks.append(ThreadWatch(ctx.thread_changes, verbose=params.verbose))
    callbacks += list(ctx.callbacks)
    if ctx.on_epoch_end is not None:
        callbacks.append(EpochEndFunction(ctx.on_epoch_end))
    if params.patience is not None:
        callbacks.append(EarlyStopping(params.patience, params.verbose, params.monitor))
    if params.embeddings and params.freeze_embeddings:
        callbacks.append(FreezeEmbeddings(params.freeze_embeddings))
    if params.gradual_unfreezing:
        callbacks.append(GradualUnfreezing())
    if ctx.checkpoint_dir is not None:
        extra = {"params": {**params.model_dump(), "seed": params.seed - member}, "classes": ctx.classes,
                 "train_rows": ctx.train_rows, "train_digest": ctx.train_digest,
                 "vectorizer": ctx.vectorizer.to_dict(), "member": member}
        if ctx.stream_found is not None:
            extra["stream"] = ctx.stream_found
        callbacks.append(Checkpointing(Path(ctx.checkpoint_dir) / CHECKPOINT_FILE, extra, params.checkpoint_every))
    return callbacks


def load_embeddings(model: RNNClassifier, params: ClassifierParams, vectorizer: TextVectorizer, train_x) -> dict:
    """Start the embedding from word vectors (a file, or trained here on the training texts); returns coverage."""
    from ..text.embeddings import initialise_embedding, load_vectors, vectors_for_vocabulary

    vocabulary = vectorizer.vocabulary
    if params.embeddings in ALGORITHMS:  # trained here, on this fit's training texts
        vectors = vectors_for_vocabulary(train_x, vocabulary, params.embeddings, params.embed_dim, params.seed)
    else:
        vectors = load_vectors(params.embeddings)
    counts = None if train_x is None else np.bincount(train_x.flat, minlength=vectorizer.vocab_size)
    coverage = initialise_embedding(model.embedding, vocabulary, vectors, counts)
    if params.verbose:
        found = f"{coverage['words_found']:,} of {coverage['vocabulary_words']:,} vocabulary words"
        tokens = f", {coverage['token_coverage']:.1%} of training tokens" if "token_coverage" in coverage else ""
        source = (f"{params.embeddings} vectors trained on the training texts" if params.embeddings in ALGORITHMS
                  else f"embeddings {params.embeddings}")
        distributed.log(f"{source}: {found} ({coverage['word_coverage']:.1%}){tokens}; "
                        + (f"frozen for {params.freeze_embeddings} epoch(s)" if params.freeze_embeddings else "fine-tuned"))
    return coverage


def training_digest(texts: Sequence[str], labels: Sequence, validation: tuple | None = None) -> str:
    """A SHA-256 of the training rows and the validation rows: resuming on data whose content changed (not only
    its row count), a validation file included, is refused."""
    digest = hashlib.sha256()
    rows = [*zip(texts, labels), *(zip(*validation) if validation is not None else ())]
    for text, label in rows:
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00" + repr(label).encode("utf-8", "surrogatepass") + b"\x01")
    return digest.hexdigest()


def check_resumable(extra: dict, params: ClassifierParams, classes: list[str], train_rows: int,
                    train_digest: str | None = None) -> None:
    """Refuse to resume a checkpoint made with other parameters, classes or training data."""
    saved = extra.get("params", {})
    changed = [
        f"{name}={quoted(saved.get(name))} there, {quoted(value)} now"
        for name, value in params.model_dump().items()
        if name not in RESUME_MAY_CHANGE and saved.get(name) != value
    ]
    if changed:
        raise ConfigError("resume: the checkpoint was made with other parameters: " + "; ".join(changed))
    if extra.get("classes") != classes or extra.get("train_rows") != train_rows:
        raise DataError(
            f"resume: the checkpoint was trained on {extra.get('train_rows')} rows of classes "
            f"{listed(extra.get('classes') or [])}; this data has {train_rows} rows of classes {listed(classes)}"
        )
    if train_digest and extra.get("train_digest") and extra["train_digest"] != train_digest:
        raise DataError(f"resume: the training or validation rows changed since the checkpoint was made (same "
                        f"{train_rows} training rows, other content); resume with the data it was trained on, or "
                        "start a new run")
