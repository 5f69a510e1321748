"""Calibrated probabilities: temperature scaling fitted on the validation rows after training.

A network trained to minimise cross-entropy becomes over-confident as it fits its training rows: its
mistakes come with probabilities near 100%. Dividing its logits by one number ``T`` (Guo et al., 2017)
keeps every prediction as it is and makes the probabilities honest; ``T`` is chosen to minimise the
negative log-likelihood of the validation rows. The expected calibration error (ECE: the gap between
confidence and accuracy, averaged over 15 confidence bins) is reported before and after.
"""

from __future__ import annotations

import numpy as np

BINS = 15
LOG_T_RANGE = (-3.0, 3.0)  # T between 0.05 and 20


CELLS_PER_CHUNK = 2**21  # float64 work on this many (row, class) cells at once: 16 MB per array


def _scaled_chunks(logits: np.ndarray, temperature: float):
    """``(start, z, log-normalizer)`` per chunk of rows: ``z = logits / T`` in float64 and each row's logsumexp."""
    rows = max(1, CELLS_PER_CHUNK // max(logits.shape[1], 1))
    for start in range(0, len(logits), rows):
        z = logits[start : start + rows].astype(np.float64) / temperature
        top = z.max(axis=1)
        yield start, z, top + np.log(np.exp(z - top[:, None]).sum(axis=1))


def negative_log_likelihood(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    total = 0.0
    for start, z, normalizer in _scaled_chunks(logits, temperature):
        chosen = z[np.arange(len(z)), labels[start : start + len(z)]]
        total += float(np.minimum(normalizer - chosen, -np.log(1e-12)).sum())
    return total / max(len(labels), 1)


def confidence_and_prediction(logits: np.ndarray, temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The top class's probability under ``softmax(logits / T)`` and the top class, per row."""
    confidence, prediction = np.empty(len(logits)), np.empty(len(logits), dtype=np.int64)
    for start, z, normalizer in _scaled_chunks(logits, temperature):
        prediction[start : start + len(z)] = z.argmax(axis=1)
        confidence[start : start + len(z)] = np.exp(z.max(axis=1) - normalizer)
    return confidence, prediction


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the validation NLL: a golden-section search over log T (the NLL is
    convex in 1/T, so the search finds its minimum; it needs no random start and no learning rate)."""
    low, high = LOG_T_RANGE
    ratio = (np.sqrt(5) - 1) / 2
    nll = lambda log_t: negative_log_likelihood(logits, labels, float(np.exp(log_t)))
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    fa, fb = nll(a), nll(b)
    for _ in range(60):
        if fa < fb:
            high, b, fb = b, a, fa
            a = high - ratio * (high - low)
            fa = nll(a)
        else:
            low, a, fa = a, b, fb
            b = low + ratio * (high - low)
            fb = nll(b)
    return float(np.exp((low + high) / 2))


def reliability(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0, bins: int = BINS) -> dict:
    """Expected calibration error of ``softmax(logits / T)`` and the reliability diagram's bins (confidence,
    accuracy, rows per bin)."""
    confidence, prediction = confidence_and_prediction(logits, temperature)
    correct = prediction == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        members = which == b
        if not members.any():
            continue
        mean_confidence, accuracy = float(confidence[members].mean()), float(correct[members].mean())
        ece += members.mean() * abs(mean_confidence - accuracy)
        table.append({"confidence": mean_confidence, "accuracy": accuracy, "rows": int(members.sum())})
    return {"ece": float(ece), "bins": table}


def calibrate(logits: np.ndarray, labels: np.ndarray) -> dict | None:
    """Fit the temperature on the validation rows' logits (:func:`textrnn.train.predict.validation_logits`);
    returns its record (None without validation rows)."""
    if not len(labels):
        return None
    temperature = fit_temperature(logits, labels)
    before, after = reliability(logits, labels), reliability(logits, labels, temperature)
    return {"temperature": temperature, "validation_rows": int(len(labels)),
            "nll_before": negative_log_likelihood(logits, labels, 1.0),
            "nll_after": negative_log_likelihood(logits, labels, temperature),
            "ece_before": before["ece"], "ece_after": after["ece"],
            "bins_before": before["bins"], "bins_after": after["bins"]}
