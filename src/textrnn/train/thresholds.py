"""Multi-label thresholds, chosen after training on the validation rows (the rule: ``params.threshold``).

The choice itself is :func:`textrnn.multilabel.choose_thresholds` (numpy only, shared with the runtime's
tests); this module feeds it the trained model's validation probabilities.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from ..multilabel import DEFAULT_THRESHOLD, choose_thresholds, sigmoid
from ..params import ClassifierParams
from .predict import validation_logits


def fit_thresholds(model: nn.Module, val_data, params: ClassifierParams, labels: int) -> tuple[np.ndarray, dict]:
    """One threshold for each of the ``labels`` outputs, and the record of how they were chosen."""
    if val_data is None:
        rule = params.threshold if not isinstance(params.threshold, str) else DEFAULT_THRESHOLD
        thresholds, record = choose_thresholds(np.zeros((0, labels)), np.zeros((0, labels)), rule)
        return thresholds, {**record, "validation_rows": 0, "note": "no validation rows: threshold " f"{rule}"}
    logits, truth = validation_logits(model, val_data, params)
    thresholds, record = choose_thresholds(sigmoid(logits), truth, params.threshold)
    return thresholds, {**record, "validation_rows": int(len(truth)), "thresholds": thresholds.tolist()}


def describe_thresholds(record: dict) -> str:
    """One line for the log: the rule and what it chose."""
    if record["rule"] == "fixed" or not record.get("validation_rows"):
        return f"thresholds: {record['global']:g} for every label" + (f" ({record['note']})" if "note" in record else "")
    line = f"thresholds ({record['rule']}, on {record['validation_rows']:,} validation rows): global {record['global']:g}"
    if record["rule"] == "per_label":
        line += (f", {record['labels_with_own_threshold']} labels with their own; validation macro-F1 "
                 f"{record['validation_macro_f1_global']:.3f} (global) -> {record['validation_macro_f1_per_label']:.3f}")
    return line
