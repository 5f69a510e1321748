"""What happens between the last epoch and the fitted estimator, on the validation rows: calibrate the
network's probabilities, mix in the bag-of-words path when it helps, calibrate the mix; for multi-label,
choose each label's threshold instead."""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from ..evaluation.baseline import figure_name, linear_fit_bytes
from ..model.bag_of_words import WithBagOfWords
from . import distributed
from .bag_of_words import MIN_BUCKETS, add_bag_of_words
from .calibration import calibrate
from .inputs import InMemoryTrainingData
from .memory import memory_budget_bytes, size
from .predict import validation_logits
from .thresholds import describe_thresholds, fit_thresholds


@dataclass
class Finished:
    model: torch.nn.Module
    temperature: float = 1.0
    thresholds: np.ndarray | None = None
    bag_of_words: int | None = None  # the hash buckets of the bag-of-words path in the model, None: no path
    info: dict = field(default_factory=dict)  # fit_info_ entries: calibration, thresholds, bag_of_words
    choices: list[dict] = field(default_factory=list)  # automatic choices made here, as adaptive.resolve's
    # The finished model's probabilities on the validation rows (in their order) as judged before its
    # bag-of-words path was refit on them: the run's honest validation figures. None: no validation rows.
    validation_probabilities: np.ndarray | None = None


def finish(model: torch.nn.Module, ctx, history: list[dict] = ()) -> Finished:
    params = ctx.params
    diverged = [r["epoch"] for r in history if not np.isfinite(r.get("train_loss", 0.0))]
    if diverged:  # the path may still give a sound model; the network's training did not work, and must say so
        warnings.warn(f"training diverged: the training loss was not a number from epoch {diverged[0]} on; lower "
                      f"lr (now {params.lr:g}) or keep clip_grad_norm on; the network's weights are those of the "
                      "best epoch before", stacklevel=3)
    if params.multi_label:
        thresholds, record = fit_thresholds(model, ctx.val_data, params, len(ctx.classes))
        if params.verbose:
            distributed.log(describe_thresholds(record))
        return Finished(model, thresholds=thresholds, info={"thresholds": record, "calibration": None},
                        choices=_not_tried(params, "multi-label: each label has its own threshold instead"))
    # The network's validation logits, computed once: its calibration and the mix both start from them.
    validation = validation_logits(model, ctx.val_data, params) if ctx.val_data is not None else None
    if validation is not None and len(validation[1]):
        _warn_if_nothing_learned(validation, params.lr)
    calibration = calibrate(*validation) if validation is not None else None
    temperature = calibration["temperature"] if calibration else 1.0
    done = Finished(model, temperature, info={"calibration": calibration, "bag_of_words": None})
    reason = _why_not(ctx)
    if reason:
        done.choices = _not_tried(params, reason)
    else:
        done.model, record, mixed_logits = add_bag_of_words(model, ctx, temperature, validation)
        done.info["bag_of_words"] = record
        if done.model is not model:  # mixed: calibrate the mix itself (the network's temperature is inside it)
            done.bag_of_words = record["buckets"]
            done.info["calibration"] = calibration = calibrate(mixed_logits, validation[1])
            done.temperature = calibration["temperature"]
        if params.bag_of_words == "auto":
            done.choices = [{"name": "bag_of_words", "value": done.bag_of_words, "reason": _mix_reason(record)}]
    if validation is not None and len(validation[1]):
        final_logits = mixed_logits if done.model is not model else validation[0]
        done.validation_probabilities = _in_input_order(
            torch.softmax(torch.from_numpy(final_logits) / done.temperature, dim=1).numpy(), ctx.val_data)
    if params.verbose:
        for choice in done.choices:
            distributed.log(f"{choice['name']} {choice['value']}: {choice['reason']}")
        if calibration:
            distributed.log(f"calibration: temperature {done.temperature:.2f}; expected calibration error on the "
                            f"validation rows {calibration['ece_before']:.3f} -> {calibration['ece_after']:.3f}")
    return done


def _in_input_order(rows: np.ndarray, val_data) -> np.ndarray:
    """Rows gathered from the ranks (each held every world-th validation text) put back in the texts' order."""
    world = getattr(val_data, "world", 1)
    if world == 1:
        return rows
    ordered = np.empty_like(rows)
    ordered[np.concatenate([np.arange(rank, len(rows), world) for rank in range(world)])] = rows
    return ordered


def _warn_if_nothing_learned(validation: tuple, lr: float) -> None:
    """Say so when the network does no better on the validation rows than naming their commonest class: training
    that diverged or learned nothing must not hide behind a bag-of-words path that takes the whole weight."""
    logits, labels = validation
    accuracy = float((np.asarray(logits).argmax(axis=1) == labels).mean())
    commonest = float(np.bincount(labels).max() / len(labels))
    if accuracy <= commonest + 0.005:
        warnings.warn(f"the network learned nothing: {accuracy:.1%} validation accuracy, no better than naming the "
                      f"commonest class ({commonest:.1%}); a smaller lr (now {lr:g}), more epochs or more rows may "
                      "help", stacklevel=4)


def _why_not(ctx) -> str | None:
    """Why the bag-of-words path is not tried in this fit (None: it is)."""
    params = ctx.params
    if params.bag_of_words is None:
        return "off: bag_of_words none"
    if params.vocabulary_type == "char":
        return "character tokens: a bag of words needs words"
    if not isinstance(ctx.train_data, InMemoryTrainingData):
        return "streamed data: the linear model needs every training text in memory"
    if ctx.val_data is None or not len(ctx.val_data.x):
        return "no validation rows to choose its weight on"
    if len(np.unique(ctx.train_data.y)) < len(ctx.classes):
        return "some classes have no training rows"
    # The fit's memory, with the fewest hash slots it could have: a trained network is never lost to it.
    needed = linear_fit_bytes(len(ctx.train_data.y), ctx.vectorizer.vocab_size + MIN_BUCKETS, len(ctx.classes))
    budget = memory_budget_bytes(params.memory_budget_gb)
    if budget is not None and needed > budget:
        return (f"its linear model for {len(ctx.classes):,} classes would need about {size(needed)}, more than the "
                f"{size(budget)} the memory budget allows")
    return None


def _not_tried(params, reason: str) -> list[dict]:
    return [{"name": "bag_of_words", "value": None, "reason": reason}] if params.bag_of_words == "auto" else []


def _mix_reason(record: dict) -> str:
    figures, name = record["validation"], figure_name(record["monitor"])
    alone = f"network alone {figures['network']:.1%}, bag of words alone {figures['bag_of_words']:.1%}"
    if record["weight"] == 0:
        return f"the validation rows prefer the network alone (validation {name}: {alone})"
    if record["weight"] >= 1:
        return (f"the network adds nothing on this data: the validation rows prefer the bag-of-words path alone "
                f"(all the weight), so this model is its bag-of-words path (validation {name}: {alone})")
    return (f"the validation rows prefer a mix, {record['weight']:g} bag of words (validation {name} "
            f"{figures['mixed']:.1%}; {alone})")


def without_bag_of_words(clf):
    """A shallow copy of a fitted estimator whose model mixes in a bag-of-words path, with the network alone
    (and its own temperature); None when the model has no such path."""
    if not isinstance(clf.model_, WithBagOfWords):
        return None
    alone = copy.copy(clf)
    alone.model_, alone.temperature_ = clf.model_.network, float(clf.model_.network_temperature)
    return alone
