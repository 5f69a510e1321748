"""Hyperparameter search with Optuna, on the validation split only, within a wall-time budget.

:func:`tune` samples parameters from :data:`SEARCH_SPACE` (TPE, seeded), trains each trial on the
training part, and scores it by its best validation accuracy; the test data is never read. A trial that
trails the median of earlier trials at the same epoch is pruned. The budget holds: no trial starts after
it, and a running trial is stopped at its next epoch end once it is spent, so the search overruns by at
most one epoch. The result is a YAML config that ``textrnn train --config`` runs as it is.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from .errors import ConfigError
from .extras import missing_extra
from .files import write_bytes_atomic
from .params import CLASSIFIER_PARAM_NAMES, RunConfig
from .train.distributed import log

# name -> (kind, choices or (low, high)); the ranges around the default model that matter most on AG News.
SEARCH_SPACE: dict[str, tuple[str, Any]] = {
    "cell": ("categorical", ["gru", "lstm"]),
    "embed_dim": ("categorical", [64, 128]),
    "hidden_size": ("categorical", [64, 128]),
    "pooling": ("categorical", ["max", "concat", "attention"]),
    "dropout": ("float", (0.1, 0.5)),
    "word_dropout": ("float", (0.0, 0.2)),
    "lr": ("log", (5e-4, 5e-3)),
    "batch_size": ("categorical", [32, 64, 128]),
    "lr_schedule": ("categorical", ["constant", "warmup-linear"]),
    "label_smoothing": ("float", (0.0, 0.2)),
}


class BudgetSpent(Exception):
    """Raised inside a trial when the search's time is up."""


def tune(
    config: RunConfig,
    budget_seconds: float,
    *,
    fixed: Sequence[str] = (),
    trials: int | None = None,
    out: str | Path = "tuned.yaml",
    search_space: dict[str, tuple[str, Any]] | None = None,
    load_data: Callable | None = None,
) -> dict:
    """Search, write the best configuration to ``out`` (YAML) and the trials next to it (JSON); return both.

    ``fixed`` names the parameters the user set (flags, config file): the search leaves them as they are.
    """
    try:
        import optuna
    except ModuleNotFoundError as error:
        raise ConfigError(f"tune: {missing_extra(error)}") from None

    from .data.sources import load_run_data, training_and_validation

    if budget_seconds <= 0:
        raise ConfigError(f"budget: expected a positive number of minutes, got {budget_seconds / 60:g}")
    if config.val_size != "auto" and config.val_size <= 0 and not config.validation_data:
        raise ConfigError("val_size: tune scores trials on the validation split, so it must be above 0")
    space = {name: kind for name, kind in (search_space or SEARCH_SPACE).items() if name not in set(fixed)}
    if not space:
        raise ConfigError("tune: every searched parameter is fixed by a flag or the config file; nothing to search")
    train_all, _, classes = (load_data or load_run_data)(config)  # the test part is not used
    train, val = training_and_validation(config, train_all)
    base = {name: getattr(config, name) for name in CLASSIFIER_PARAM_NAMES}
    deadline = time.monotonic() + budget_seconds
    log(f"tune: {len(train):,} training rows, {len(val):,} validation rows ({train_all.source}); "
        f"budget {budget_seconds / 60:.1f} min" + (f", at most {trials} trials" if trials else "")
        + f"; searching {', '.join(space)}")

    objective = _objective(space, base, (train, val, classes), deadline)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=config.seed),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1))
    started = time.monotonic()
    study.optimize(objective, n_trials=trials, timeout=budget_seconds)
    finished = [t for t in study.trials if t.value is not None]
    if not finished:
        raise ConfigError("tune: no trial finished within the budget; give it more time")
    summary = _summary(study, time.monotonic() - started, budget_seconds, val.source)
    _write_results(config, study.best_trial.params, summary, Path(out))
    return summary


def _summary(study, seconds: float, budget_seconds: float, validation: str) -> dict:
    best = study.best_trial
    return {
        "best_validation_accuracy": best.value,
        "best_params": best.params,
        "seconds": seconds,
        "budget_seconds": budget_seconds,
        "validation": validation,
        "trials": [{"number": t.number, "state": t.state.name, "validation_accuracy": t.value, "params": t.params,
                    "seconds": t.user_attrs.get("seconds"), "stopped": t.user_attrs.get("stopped")}
                   for t in study.trials],
    }


def _write_results(config: RunConfig, best_params: dict, summary: dict, out: Path) -> None:
    """The tuned configuration (the user's, with the searched parameters' best values) and the trials."""
    import yaml

    tuned = {**{k: v for k, v in config.model_dump().items() if k not in ("out", "verbose")}, **best_params}
    write_bytes_atomic(out, yaml.safe_dump(tuned, sort_keys=False).encode())
    write_bytes_atomic(out.with_suffix(".trials.json"), json.dumps(summary, indent=2).encode())
    log(f"tune: best validation accuracy {summary['best_validation_accuracy']:.4f} "
        f"({len(summary['trials'])} trials, {summary['seconds'] / 60:.1f} min); config written to {out}; "
        f"train it with: textrnn train --config {out}")


def _objective(space: dict, base: dict, data: tuple, deadline: float):
    """One trial: train the sampled configuration, report each epoch's validation accuracy for pruning."""
    import optuna

    from .estimator import TextRNNClassifier

    train, val, classes = data

    def objective(trial) -> float:
        sampled = {name: _suggest(trial, name, kind, values) for name, (kind, values) in space.items()}
        params = {**base, **sampled, "verbose": False}
        best = 0.0

        def after_epoch(record: dict, model) -> None:
            nonlocal best
            best = max(best, record["val_accuracy"])
            trial.report(record["val_accuracy"], record["epoch"])
            if time.monotonic() > deadline:
                raise BudgetSpent
            if trial.should_prune():
                raise optuna.TrialPruned

        started = time.monotonic()
        try:
            TextRNNClassifier(**params).fit(train.texts, train.labels, validation_data=(val.texts, val.labels),
                                            classes=classes, on_epoch_end=after_epoch)
        except BudgetSpent:
            trial.set_user_attr("stopped", "budget")
        trial.set_user_attr("seconds", time.monotonic() - started)
        log(f"  trial {trial.number}: validation accuracy {best:.4f} in {time.monotonic() - started:.0f} s  {sampled}")
        return best

    return objective


def _suggest(trial, name: str, kind: str, values: Any):
    if kind == "categorical":
        return trial.suggest_categorical(name, values)
    if kind == "log":
        return trial.suggest_float(name, *values, log=True)
    return trial.suggest_float(name, *values)
