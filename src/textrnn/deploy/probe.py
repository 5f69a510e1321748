"""A model that loads must be able to answer: the probe every loader runs before it says it is ready."""

from __future__ import annotations

import numpy as np

PROBE_TEXTS = ["", "a probe text of a few words", "[UNK] [PAD] 123 é"]


def check_answers(model, source: str, error: type[Exception]) -> None:
    """A model that loads must be able to answer: on a few probe texts its probabilities must have a column per
    class, be finite and within [0, 1], and (single-label) sum to 1. Damaged weights (NaN, infinities, a
    temperature of 0, a mix weight outside [0, 1]) fail here, at load time, not at the first request."""
    probabilities = np.asarray(model.predict_proba(PROBE_TEXTS), dtype=np.float64)
    problem = None
    if probabilities.shape != (len(PROBE_TEXTS), len(model.class_names_)):
        problem = f"gives {probabilities.shape[-1]} probabilities a text for {len(model.class_names_)} classes"
    elif not np.isfinite(probabilities).all():
        problem = "gives probabilities that are not numbers (NaN or infinite): its weights are damaged"
    elif probabilities.min() < -1e-6 or probabilities.max() > 1 + 1e-6:
        problem = f"gives probabilities outside [0, 1] ({probabilities.min():g} to {probabilities.max():g})"
    elif getattr(model, "thresholds_", None) is None and not np.allclose(probabilities.sum(axis=1), 1, atol=1e-3):
        problem = "gives class probabilities that do not sum to 1"
    if problem:
        raise error(f"{source}: the model loads but cannot answer: it {problem}")
