"""Predict with a saved model's PyTorch network, without the estimator (and so without scikit-learn).

``textrnn predict RUN_DIR`` and ``textrnn serve RUN_DIR`` only predict: importing scikit-learn (through the
estimator's base classes) would double the time to the first answer. :class:`TorchClassifier` reads the model
directory with the same checks as :meth:`TextRNNClassifier.load <textrnn.estimator.TextRNNClassifier.load>` and
predicts with the same function, so the two give the same probabilities.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .. import saved_model
from ..data.dataset import check_texts
from ..errors import ModelFileError
from ..multilabel import decide, label_sets
from ..params import SAVED_PARAM_NAMES
from ..text.batching import EncodedTexts
from ..threads import resolve_threads, torch_threads
from ..train.predict import predict_probabilities
from .probe import check_answers


class TorchClassifier:
    """A saved model, for prediction: ``predict_proba``, ``predict``, ``class_names_``, ``thresholds_``."""

    def __init__(self, directory: str | Path, threads: int | None = None) -> None:
        saved = saved_model.read_model(directory)
        self.params_, self.vectorizer_, self.temperature_ = saved.params, saved.vectorizer, saved.temperature
        self.class_names_ = self.classes_ = list(saved.classes)
        self.thresholds_ = saved.thresholds if saved.params.multi_label else None
        self.given_params = saved.given or saved.params.model_dump(include=set(SAVED_PARAM_NAMES))
        self.model_ = saved_model.load_network(saved, directory)
        self.threads = threads
        check_answers(self, str(directory), ModelFileError)

    def get_params(self) -> dict:
        return dict(self.given_params)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape (texts, classes), columns in the order of ``class_names_``."""
        texts = check_texts(texts, "texts")
        if not texts:
            return np.zeros((0, len(self.class_names_)), dtype=np.float32)
        encoded = EncodedTexts.encode(self.vectorizer_.encode, texts)
        with torch_threads(resolve_threads(self.threads or "auto", wait=False)[0]):
            return predict_probabilities(self.model_, encoded, self.params_, self.temperature_)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Each text's class name; multi-label, its tuple of names (those that reach their thresholds)."""
        probabilities = self.predict_proba(texts)
        if self.thresholds_ is None:
            return np.asarray(self.class_names_, dtype=object)[probabilities.argmax(axis=1)]
        out = np.empty(len(probabilities), dtype=object)
        out[:] = label_sets(decide(probabilities, self.thresholds_), self.class_names_)
        return out
