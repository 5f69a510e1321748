"""Predict from an ONNX export with ONNX Runtime and the tokenizer alone: this module never imports torch.

    from textrnn.deploy.runtime import OnnxClassifier
    clf = OnnxClassifier("runs/my-run/onnx")
    clf.predict(["Stocks slide as oil jumps"])

Texts go through the graph in batches sorted longest first, right-padded, with their lengths; the
graph's recurrent operators stop each text at its own length (ONNX ``sequence_lens``), so padding never
reaches a state and the results equal the PyTorch model's (checked at export time).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..artifacts import is_plain_name, read_artifact
from ..errors import ExportError
from ..multilabel import check_thresholds, decide, label_sets
from ..text.vectorizer import PAD_ID, TextVectorizer
from .probe import check_answers

EXPORT_FORMAT = "textrnn.onnx/1"
BATCH_SIZE = 64  # ONNX Runtime's recurrent kernels ran AG News test texts 1.1-1.4x faster at 64 than at 256
MIN_FILL = 0.7


class OnnxClassifier:
    """The prediction half of :class:`textrnn.TextRNNClassifier`, on ONNX Runtime."""

    def __init__(self, directory: str | os.PathLike, threads: int | None = None) -> None:
        import onnxruntime as ort

        directory = Path(directory)
        if not (directory / "export.json").is_file():
            raise ExportError(f"{directory}: no export.json, so not a textrnn ONNX export (see textrnn export)")
        manifest = read_artifact(directory, "export.json", (EXPORT_FORMAT,), ("vectorizer.json", "labels.json"),
                                 error=ExportError)
        if not is_plain_name(manifest.get("model_file")) or manifest["model_file"] not in manifest.get("sha256", {}):
            raise ExportError(f"{directory / 'export.json'}: model_file must name a file of this export")
        self.manifest = manifest
        self.classes_ = json.loads((directory / "labels.json").read_text(encoding="utf-8"))
        self.class_names_ = self.classes_  # the classes by name, as TextRNNClassifier.class_names_
        self.multi_label = bool((manifest.get("params") or {}).get("multi_label"))
        self.thresholds_ = None  # multi-label: a text gets each label whose probability reaches its threshold
        if self.multi_label:
            try:
                self.thresholds_ = check_thresholds(manifest.get("thresholds"), self.classes_,
                                                    str(directory / "export.json"))
            except ValueError as error:
                raise ExportError(str(error)) from None
        self.vectorizer_ = TextVectorizer.load(directory / "vectorizer.json")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(directory / manifest["model_file"]), options,
                                                providers=["CPUExecutionProvider"])
        except Exception as error:  # ONNX Runtime raises its own types (InvalidProtobuf, Fail, ...) for bad graphs
            raise ExportError(f"{directory / manifest['model_file']}: not a loadable ONNX graph "
                              f"({str(error).splitlines()[0][:300]})") from None
        names = [i.name for i in self.session.get_inputs()]
        if names != ["ids", "lengths"]:
            raise ExportError(f"{directory / manifest['model_file']}: inputs {names}, expected ids and lengths "
                              "(not a graph textrnn exported)")
        outputs = self.session.get_outputs()[0].shape[-1]
        if isinstance(outputs, int) and outputs != len(self.classes_):
            raise ExportError(f"{directory / 'labels.json'}: {len(self.classes_)} labels, but the graph gives "
                              f"{outputs} probabilities; the export's files do not belong together")
        check_answers(self, str(directory), ExportError)

    def predict_encoded(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        """Probabilities for token-id sequences, in batches sorted longest first, as the graph expects.

        ONNX Runtime's recurrent operators still spend time on a batch's padded steps, so a batch also
        ends where texts get shorter than ``MIN_FILL`` of its longest (measured: 2x the documents/s of
        plain batches of 256 on AG News test texts). Batches of 64 beat 128 and 256 there (interleaved
        rounds, the lesson BiLSTM and the default model): the recurrent step's small matrices stay in cache.
        """
        lengths = np.fromiter((max(len(s), 1) for s in sequences), dtype=np.int64, count=len(sequences))
        out = np.empty((len(sequences), len(self.classes_)), dtype=np.float32)
        order = np.argsort(-lengths, kind="stable")
        start = 0
        while start < len(order):
            longest = int(lengths[order[start]])
            end = min(start + BATCH_SIZE, len(order))
            end = start + int(np.searchsorted(-lengths[order[start:end]], -MIN_FILL * longest, side="right"))
            rows = order[start:end]
            ids = np.full((len(rows), longest), PAD_ID, dtype=np.int64)
            for row, i in enumerate(rows):
                ids[row, : len(sequences[i])] = sequences[i]  # an empty text stays a single padding step
            out[rows] = self.session.run(None, {"ids": ids, "lengths": lengths[rows]})[0]
            start = end
        return out

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("predict_proba takes a list of texts, not a single string")
        return self.predict_encoded(self.vectorizer_.encode(texts))

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Each text's label; multi-label, its tuple of labels (those that reach their thresholds)."""
        probabilities = self.predict_proba(texts)
        if not self.multi_label:
            return np.asarray(self.classes_, dtype=object)[probabilities.argmax(axis=1)]
        out = np.empty(len(probabilities), dtype=object)
        out[:] = label_sets(decide(probabilities, self.thresholds_), self.classes_)
        return out


def load_predictor(path: str | os.PathLike, threads: int | str | None = None):
    """An ONNX export (runs without torch) or a run directory (loads torch, not scikit-learn): whatever ``path``
    holds. A run directory with a float export of its own (``RUN/onnx``, written by ``textrnn export``) is
    answered by that export: the same answers, a fraction of the time to start, and no torch needed.

    ``threads``: a number, ``auto`` (the cores other processes leave free), or None (the library's default).
    """
    from ..threads import resolve_threads

    path = Path(path)
    # Not waiting to measure the load: one text from the command line would wait longer than it computes.
    threads = resolve_threads(threads, wait=False)[0] if threads is not None else None
    if (path / "export.json").is_file():
        return OnnxClassifier(path, threads=threads)
    own_export = _float_export(path / "onnx", threads)
    if own_export is not None:  # the run's float export: the same answers (checked when written), no torch to load
        return own_export
    from .torch_runtime import TorchClassifier

    return TorchClassifier(path, threads)  # computes with ``threads``, then gives PyTorch's setting back


def _float_export(directory: Path, threads: int | None) -> OnnxClassifier | None:
    """A run directory's own ONNX export (``textrnn export RUN``) when it is a float one: its agreement with
    the PyTorch model was checked when it was written (same labels, probabilities within 1e-4). An int8
    export answers a little differently, so it is only used when asked for by its own path."""
    if not (directory / "export.json").is_file():
        return None
    try:
        exported = OnnxClassifier(directory, threads=threads)
    except ModuleNotFoundError:  # no ONNX Runtime: PyTorch answers
        return None
    return exported if exported.manifest.get("quantize") is None else None
