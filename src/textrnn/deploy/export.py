"""Export a trained model to ONNX (optionally int8-quantized), checked against PyTorch before it is written.

The export directory holds ``model.onnx`` (or ``model.int8.onnx``: inputs ``ids``, right-padded, and
``lengths``, longest first; dynamic batch size and sequence length), ``vectorizer.json``, ``labels.json`` and ``export.json`` (what it is, where it came
from, how well it agreed with PyTorch, and a SHA-256 of each file). :class:`textrnn.deploy.runtime.OnnxClassifier`
predicts from it without torch.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .. import __version__
from ..artifacts import write_artifact
from ..errors import DataError, ExportError
from ..estimator import TextRNNClassifier
from ..files import json_bytes, remove_stale, temporary_prefix
from ..multilabel import decide
from .runtime import EXPORT_FORMAT, OnnxClassifier

# The export is refused when it agrees with the PyTorch model on fewer predicted labels than this.
MIN_AGREEMENT = {None: 0.999, "int8": 0.97}
MAX_PROBABILITY_DIFFERENCE = 1e-4  # float exports only: int8 changes probabilities by design
OPSET = 18


@contextlib.contextmanager
def _quiet_logging():
    """No chatter from the exporter: Python's logging, and PyTorch's C++ warnings, which go straight to file
    descriptor 2 (``shape inference of prim::PackPadded type is missing``: harmless, since the graph's
    agreement with PyTorch is checked after)."""
    logging.disable(logging.WARNING)
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
        logging.disable(logging.NOTSET)


class _Exported(torch.nn.Module):
    """The graph that is exported: right-padded ids and lengths (longest first) in, class probabilities out
    (multi-label: each label's sigmoid; the thresholds are applied by the runtime, from export.json)."""

    def __init__(self, model: torch.nn.Module, temperature: float = 1.0, multi_label: bool = False) -> None:
        super().__init__()
        self.model, self.temperature, self.multi_label = model, temperature, multi_label

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        logits = self.model.forward_packed(ids, lengths)
        if self.multi_label:
            return torch.sigmoid(logits)
        if self.temperature != 1.0:  # the calibration, inside the graph: every runtime applies it
            logits = logits / self.temperature
        return torch.softmax(logits, dim=1)


def sample_texts(clf: TextRNNClassifier, texts: Sequence[str] | None, count: int, seed: int = 0) -> list[str]:
    """Texts to compare the export on: given ones first, then random word sequences from the vocabulary."""
    rng = np.random.default_rng(seed)
    vocabulary = clf.vectorizer_.vocabulary[2:]
    sample = list(texts or [])[:count] + ["", "zzzz qqqq"]
    while len(sample) < count:
        length = int(rng.integers(1, 80))
        sample.append(" ".join(vocabulary[i] for i in rng.integers(0, len(vocabulary), length)))
    return sample


def export_onnx(
    run_dir: str | Path,
    out: str | Path | None = None,
    quantize: str | None = None,
    check_texts: Sequence[str] | None = None,
    check_count: int = 2000,
) -> tuple[Path, dict]:
    """Export the model of ``run_dir``; returns the export directory and the agreement report.

    The export is compared with the PyTorch model on ``check_count`` texts (``check_texts`` first,
    then random ones) and refused with :class:`ExportError` when they disagree.
    """
    if quantize not in (None, "int8"):
        raise ExportError(f"quantize: expected int8 or nothing, got {quantize!r}")
    run_dir = Path(run_dir)
    clf = TextRNNClassifier.load(run_dir)
    if not clf.mask:
        raise ExportError("mask: an unmasked model's predictions depend on how texts are padded in a batch, "
                          "so it cannot be exported; export a model trained with mask on")
    out = Path(out) if out else run_dir / ("onnx-int8" if quantize else "onnx")
    out.mkdir(parents=True, exist_ok=True)
    model_file = "model.int8.onnx" if quantize else "model.onnx"

    remove_stale(out)  # the scratch of an export that was killed
    # The scratch lies beside the export (not in the system's temporary directory), named after this process.
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=temporary_prefix(out), suffix=".tmp") as scratch:
        onnx_path = _write_graph(clf, Path(scratch), quantize)
        files = {
            model_file: onnx_path.read_bytes(),
            "vectorizer.json": json_bytes(clf.vectorizer_.to_dict()),
            "labels.json": json_bytes(list(clf.class_names_)),
        }
        manifest = {
            "format": EXPORT_FORMAT, "model_file": model_file, "quantize": quantize, "opset": OPSET,
            "textrnn_version": __version__, "source_run": str(run_dir.resolve()), "params": clf.get_params(),
            "temperature": clf.temperature_,
        }
        if clf.multi_label:
            manifest["thresholds"] = [float(t) for t in clf.thresholds_]
        # Check exactly the files that will be written, alone in a directory, through the runtime that reads them.
        staged = write_artifact(Path(scratch) / "staged", files, "export.json", manifest)
        texts = sample_texts(clf, check_texts, check_count)
        agreement = compare(clf, OnnxClassifier(staged), texts)
        difference = agreement["max_probability_difference"]
        if (not agreement["label_agreement"] >= MIN_AGREEMENT[quantize] or not np.isfinite(difference)
                or (quantize is None and not difference <= MAX_PROBABILITY_DIFFERENCE)):  # NaN fails every test
            raise ExportError(f"the ONNX export disagrees with the PyTorch model ({describe(agreement)}); not written")
        write_artifact(out, files, "export.json", {**manifest, "agreement": agreement})
    return out, agreement


def _write_graph(clf: TextRNNClassifier, scratch: Path, quantize: str | None) -> Path:
    """The ONNX graph of ``clf`` (calibration included), int8-quantized if asked; returns its path."""
    float_path = scratch / "model.onnx"
    example = (torch.randint(2, max(3, clf.vectorizer_.vocab_size), (3, 9)), torch.tensor([9, 5, 2]))
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), _quiet_logging():
        warnings.simplefilter("ignore")  # the exporter's progress and deprecation chatter
        # The TorchScript exporter turns packing into the recurrent operators' sequence_lens input, so
        # ONNX Runtime can batch texts of different lengths exactly as PyTorch does.
        torch.onnx.export(
            _Exported(clf.model_.eval(), clf.temperature_, clf.multi_label), example, str(float_path), input_names=["ids", "lengths"],
            output_names=["probabilities"], opset_version=OPSET, dynamo=False,
            dynamic_axes={"ids": {0: "batch", 1: "steps"}, "lengths": {0: "batch"}, "probabilities": {0: "batch"}},
        )
    if quantize != "int8":
        return float_path
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantized = scratch / "model.int8.onnx"
    with _quiet_logging():  # quantize_dynamic advises pre-processing, meant for image models
        quantize_dynamic(str(float_path), str(quantized), weight_type=QuantType.QInt8)
    return quantized


def compare(clf: TextRNNClassifier, exported: OnnxClassifier, texts: Sequence[str]) -> dict:
    """How often the two give the same labels (multi-label: the same label set), and the largest probability gap."""
    reference = clf.predict_proba(texts)
    candidate = exported.predict_proba(texts)
    if clf.multi_label:
        same = (decide(reference, clf.thresholds_) == decide(candidate, exported.thresholds_)).all(axis=1)
    else:
        same = reference.argmax(axis=1) == candidate.argmax(axis=1)
    return {
        "texts": len(texts),
        "label_agreement": float(same.mean()),
        "max_probability_difference": float(np.abs(reference - candidate).max()),
    }


def describe(agreement: dict) -> str:
    return (f"same label on {agreement['label_agreement']:.2%} of {agreement['texts']:,} texts, probabilities "
            f"within {agreement['max_probability_difference']:.1e}")


def agreement_on_labeled(clf: TextRNNClassifier, exported: OnnxClassifier, texts: Sequence[str],
                         labels: Sequence[str]) -> dict:
    """Agreement and the accuracy of both on labeled texts (the accuracy change an export costs)."""
    reference = clf.predict(texts)
    candidate = exported.predict(texts)
    labels = np.asarray(labels, dtype=object)
    return {
        "texts": len(texts),
        "label_agreement": float((reference == candidate).mean()),
        "pytorch_accuracy": float((reference == labels).mean()),
        "onnx_accuracy": float((candidate == labels).mean()),
    }


def load_check_texts(run_dir: Path) -> list[str] | None:
    """The run's test texts, when its data can still be read: the most faithful sample to check on."""
    from ..data.sources import evaluation_data

    try:
        return evaluation_data(run_dir).texts
    except (DataError, json.JSONDecodeError):
        return None
