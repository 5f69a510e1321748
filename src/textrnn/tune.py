"""Hyperparameter search with Optuna, on the validation split only, within a wall-time budget.

:func:`tune` scores each trial by what would ship: the fitted model (the network, mixed with its bag-of-words
path and calibrated, as ``train`` saves it) on the validation rows, by the run's monitor (macro-F1 on
imbalanced data, else accuracy); the test data is never read. Trial 0 is the starting configuration itself
(the defaults, or the user's), so the search never hands back something worse than not tuning on the
validation rows, and a tie goes to it. Then parameters are sampled from :data:`SEARCH_SPACE` (TPE, seeded).
A trial whose network trails the median of earlier trials at the same epoch is pruned; every trial, pruned or
not, is printed and recorded. The budget holds: no trial starts after it, and a running trial ends at its
next epoch end once it is spent (its model is finished and scored as it stands), so the search overruns by
about one epoch. The result is a YAML config that ``textrnn train --config`` runs as it is.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from .errors import ConfigError
from .evaluation.baseline import figure_name
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

    space = _with_starting_values(space, base)
    objective = _objective(space, base, (train, val, classes), deadline)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=config.seed),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1))
    study.enqueue_trial({name: base[name] for name in space})  # trial 0: the configuration as it starts
    started = time.monotonic()
    study.optimize(objective, n_trials=trials, timeout=budget_seconds)
    finished = [t for t in study.trials if t.value is not None]
    if not finished:
        raise ConfigError("tune: no trial finished within the budget; give it more time")
    best = max(finished, key=lambda t: (t.value, -t.number))  # a tie goes to the earlier trial: trial 0 first
    summary = _summary(study, best, time.monotonic() - started, budget_seconds, val.source)
    _write_results(config, best.params, summary, Path(out))
    return summary


def _with_starting_values(space: dict, base: dict) -> dict:
    """The search space widened where needed so that it holds the starting configuration (trial 0)."""
    widened = {}
    for name, (kind, values) in space.items():
        start = base[name]
        if kind == "categorical":
            widened[name] = (kind, values if start in values else [*values, start])
        elif isinstance(start, (int, float)) and (kind == "float" or start > 0):
            widened[name] = (kind, (min(values[0], start), max(values[1], start)))
        else:
            raise ConfigError(f"tune: {name} starts at {start!r}, outside what the search can try ({values}); set it")
    return widened


def _summary(study, best, seconds: float, budget_seconds: float, validation: str) -> dict:
    starting = study.trials[0]
    return {
        "monitor": best.user_attrs.get("monitor"),
        "best_validation": best.value,
        "best_trial": best.number,
        "starting_validation": starting.value,  # trial 0: the configuration before tuning
        "best_params": best.params,
        "seconds": seconds,
        "budget_seconds": budget_seconds,
        "validation": validation,
        "trials": [{"number": t.number, "state": t.state.name, "validation": t.value, "params": t.params,
                    "network_validation": t.user_attrs.get("network"), "bag_of_words_weight": t.user_attrs.get("mix"),
                    "seconds": t.user_attrs.get("seconds"), "stopped": t.user_attrs.get("stopped")}
                   for t in study.trials],
    }


def _write_results(config: RunConfig, best_params: dict, summary: dict, out: Path) -> None:
    """The tuned configuration (the user's, with the searched parameters' best values) and the trials."""
    import yaml

    tuned = {**{k: v for k, v in config.model_dump().items() if k not in ("out", "verbose")}, **best_params}
    write_bytes_atomic(out, yaml.safe_dump(tuned, sort_keys=False).encode())
    write_bytes_atomic(out.with_suffix(".trials.json"), json.dumps(summary, indent=2).encode())
    name = figure_name(summary["monitor"] or "accuracy")
    start = summary["starting_validation"]
    versus = (f"trial 0, the starting configuration: {start:.4f}" if start is not None
              else "trial 0, the starting configuration, did not finish")
    log(f"tune: best validation {name} {summary['best_validation']:.4f} (trial {summary['best_trial']}; {versus}; "
        f"{len(summary['trials'])} trials, {summary['seconds'] / 60:.1f} min); config written to {out}; "
        f"train it with: textrnn train --config {out}")


def _objective(space: dict, base: dict, data: tuple, deadline: float):
    """One trial: fit the sampled configuration as ``train`` would (network, bag-of-words mix, calibration) and
    score the fitted model on the validation rows by the run's monitor; each epoch's network figure is reported
    for pruning, and the budget ends training at an epoch end."""
    import optuna

    from .estimator import TextRNNClassifier
    from .train.callbacks import Callback

    train, val, classes = data

    class Watch(Callback):
        def __init__(self, trial) -> None:
            self.trial, self.monitor, self.figure = trial, "accuracy", None

        def on_fit_start(self, loop) -> None:
            self.monitor = loop.params.monitor  # decided from the data by fit (macro_f1 when imbalanced)

        def on_epoch_end(self, loop, record: dict) -> None:
            self.figure = record[f"val_{self.monitor}"]
            self.trial.report(self.figure, record["epoch"])
            if time.monotonic() > deadline:
                self.trial.set_user_attr("stopped", "budget")
                loop.state.done = True  # the model is finished and scored as it stands
            elif self.trial.should_prune():
                raise optuna.TrialPruned

    def objective(trial) -> float:
        sampled = {name: _suggest(trial, name, kind, values) for name, (kind, values) in space.items()}
        watch, started = Watch(trial), time.monotonic()
        label = "trial 0 (the starting configuration)" if trial.number == 0 else f"trial {trial.number}"
        try:
            clf = TextRNNClassifier(**{**base, **sampled, "verbose": False}).fit(
                train.texts, train.labels, validation_data=(val.texts, val.labels), classes=classes,
                callbacks=[watch])
        except optuna.TrialPruned:
            log(f"  {label}: pruned after {time.monotonic() - started:.0f} s (network validation "
                f"{figure_name(watch.monitor)} {watch.figure:.4f}, below the median of earlier trials)  {sampled}")
            raise
        score = clf.evaluate(val.texts, val.labels, probabilities=clf.validation_probabilities_)[watch.monitor]
        trial.set_user_attr("seconds", time.monotonic() - started)
        trial.set_user_attr("monitor", watch.monitor)
        trial.set_user_attr("network", watch.figure)
        trial.set_user_attr("mix", clf.bag_of_words_weight_)
        log(f"  {label}: validation {figure_name(watch.monitor)} {score:.4f} (bag-of-words weight "
            f"{clf.bag_of_words_weight_:g}) in {time.monotonic() - started:.0f} s  {sampled}")
        return score

    return objective


def _suggest(trial, name: str, kind: str, values: Any):
    if kind == "categorical":
        return trial.suggest_categorical(name, values)
    if kind == "log":
        return trial.suggest_float(name, *values, log=True)
    return trial.suggest_float(name, *values)
