"""The saved-model format: a directory that :meth:`TextRNNClassifier.save` writes and ``load`` reads.

    model.safetensors   the weights (safetensors: tensors only, nothing that runs)
    vectorizer.json     the tokenizer stages and the vocabulary
    labels.json         the class names, in the order of the probability columns
    config.json         the manifest: format, parameters, vocabulary size, SHA-256 of the other files

Format ``textrnn.model/2`` saves the vectorizer, model and training parameters only; runtime settings
(device, verbose, ...) belong to the process that loads it. ``textrnn.model/1`` directories (which also
held the runtime settings) still load.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from . import __version__
from .artifacts import read_artifact, read_json, write_artifact
from .errors import ConfigError, ModelFileError, quoted
from .files import json_bytes
from .multilabel import check_thresholds
from .params import RUNTIME_PARAM_NAMES, SAVED_PARAM_NAMES, ClassifierParams, validate
from .text.vectorizer import TextVectorizer
from .train.targets import LABEL_KINDS

MODEL_FORMAT = "textrnn.model/2"
READABLE_FORMATS = (MODEL_FORMAT, "textrnn.model/1")
MODEL_FILES = ("model.safetensors", "vectorizer.json", "labels.json")
MANIFEST = "config.json"


@dataclass
class SavedModel:
    """What a model directory holds, checked: parameters, classes, vectorizer and weights."""

    params: ClassifierParams
    classes: list[str]
    vectorizer: TextVectorizer
    weights: dict[str, torch.Tensor]
    label_kind: str = "str"
    temperature: float = 1.0
    thresholds: np.ndarray | None = None  # multi-label: each label's threshold
    given: dict | None = None  # the parameters as the user set them ("auto" included), for get_params


def save_model(directory: str | Path, params: ClassifierParams, classes: list[str], vectorizer: TextVectorizer,
               model: torch.nn.Module, *, label_kind: str = "str", temperature: float = 1.0,
               thresholds: np.ndarray | None = None, given: dict | None = None) -> Path:
    """Write a model directory; ``config.json`` is renamed into place last (see :mod:`textrnn.artifacts`).

    ``params`` are those the model was trained with (every ``auto`` decided): the network is rebuilt from
    them. ``given`` are the parameters as they were set, ``auto`` included, given back by ``get_params``."""
    tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    files = {
        "model.safetensors": save_safetensors(tensors, metadata={"format": MODEL_FORMAT}),
        "vectorizer.json": json_bytes(vectorizer.to_dict()),
        "labels.json": json_bytes(list(classes)),
    }
    manifest = {
        "format": MODEL_FORMAT,
        "textrnn_version": __version__,
        "vocab_size": vectorizer.vocab_size,
        "params": params.model_dump(include=set(SAVED_PARAM_NAMES)),
        "params_given": {k: v for k, v in (given or {}).items() if k in SAVED_PARAM_NAMES} or None,
        "label_kind": label_kind,  # "int", "float", "bool": the labels' type, which classes_ and predict give back
        "temperature": temperature,  # probabilities are softmax(logits / temperature): the calibration
    }
    if thresholds is not None:  # multi-label: a text gets each label whose probability reaches its threshold
        manifest["thresholds"] = [float(t) for t in thresholds]
    return write_artifact(directory, files, MANIFEST, manifest)


def _names_fit(classes: list[str], label_kind: str) -> bool:
    """Whether every class name is a label of ``label_kind`` (as :func:`~textrnn.train.targets.label_name`
    writes them), so that ``classes_`` can give them back in their type."""
    if label_kind == "int":
        return all(c.lstrip("-").isdigit() for c in classes)
    if label_kind == "bool":
        return set(classes) <= {"True", "False"}
    if label_kind == "float":
        try:
            return all(repr(float(c)) == c for c in classes)
        except ValueError:
            return False
    return True


def read_model(directory: str | Path) -> SavedModel:
    """Read and check a model directory. Only JSON and safetensors are parsed, so loading runs no code."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelFileError(f"{directory}: no such model directory")
    config = read_artifact(directory, MANIFEST, READABLE_FORMATS, MODEL_FILES)
    saved = {k: v for k, v in (config.get("params") or {}).items() if k not in RUNTIME_PARAM_NAMES}
    saved.setdefault("adversarial", 0.0)  # saved before the parameter existed: trained without it
    try:
        params = validate(ClassifierParams, saved)
    except ConfigError as error:
        raise ModelFileError(f"{directory / MANIFEST}: {error}") from None
    classes = read_json(directory / "labels.json")
    if not (isinstance(classes, list) and len(classes) >= 2 and all(isinstance(c, str) for c in classes)
            and len(set(classes)) == len(classes)):
        raise ModelFileError(f"{directory / 'labels.json'}: expected a list of at least two distinct class names")
    try:
        vectorizer = TextVectorizer.from_dict(read_json(directory / "vectorizer.json"),
                                              str(directory / "vectorizer.json"))
    except ValueError as error:
        raise ModelFileError(str(error)) from None
    if vectorizer.vocab_size != config.get("vocab_size"):
        raise ModelFileError(
            f"{directory}: the vectorizer has {vectorizer.vocab_size} tokens, config.json says {config.get('vocab_size')}"
        )
    weights_path = directory / "model.safetensors"
    try:
        weights = load_safetensors(weights_path.read_bytes())
    except Exception as error:  # safetensors raises its own error type for corrupt files
        raise ModelFileError(f"{weights_path}: not a readable safetensors file ({error})") from None
    label_kind = config.get("label_kind", "str")
    kinds = LABEL_KINDS if params.multi_label else tuple(kind for kind in LABEL_KINDS if kind != "indicator")
    if label_kind not in kinds or not _names_fit(classes, label_kind):
        raise ModelFileError(f"{directory / MANIFEST}: label_kind {label_kind!r} does not fit labels.json")
    thresholds = None
    if params.multi_label:
        try:
            thresholds = check_thresholds(config.get("thresholds"), classes, str(directory / MANIFEST))
        except ValueError as error:
            raise ModelFileError(str(error)) from None
    temperature = config.get("temperature", 1.0)  # format 1 had none
    if not isinstance(temperature, (int, float)) or isinstance(temperature, bool) or not 0.01 <= temperature <= 100:
        raise ModelFileError(f"{directory / MANIFEST}: temperature must be a number between 0.01 and 100, "
                             f"got {quoted(temperature)}")
    given = config.get("params_given")
    try:
        given = validate(ClassifierParams, given).model_dump(include=set(SAVED_PARAM_NAMES)) if given else None
    except ConfigError as error:
        raise ModelFileError(f"{directory / MANIFEST}: params_given: {error}") from None
    return SavedModel(params, classes, vectorizer, weights, label_kind, float(temperature), thresholds, given)


def load_network(saved: SavedModel, directory: str | Path) -> torch.nn.Module:
    """The saved network with its weights, in eval mode. The sizes ``config.json`` declares are checked against
    the weights before the network is built (so a config edited to huge sizes fails at once, allocating
    nothing), then every tensor's name and shape."""
    from .model.build import build_network

    weights_file = Path(directory) / "model.safetensors"
    check_declared_sizes(saved.params, saved.weights, weights_file, saved.vectorizer.vocab_size)
    model = build_network(saved.params, saved.vectorizer.vocab_size, len(saved.classes))
    check_shapes(model.state_dict(), saved.weights, weights_file)
    damaged = [name for name, tensor in saved.weights.items()
               if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if damaged:
        raise ModelFileError(f"{weights_file}: {', '.join(damaged[:5])} hold values that are not numbers (NaN or "
                             "infinite); the weights are damaged")
    mix = {name: float(saved.weights[name]) for name in ("weight", "network_temperature", "bag_of_words_temperature")
           if name in saved.weights}
    if mix and not (0 <= mix["weight"] <= 1 and all(0.01 <= mix[t] <= 100 for t in mix if t != "weight")):
        raise ModelFileError(f"{weights_file}: the bag-of-words mix needs a weight in [0, 1] and temperatures in "
                             f"[0.01, 100], got {mix}")
    model.load_state_dict(saved.weights)
    return model.eval()


def check_declared_sizes(params: ClassifierParams, weights: dict[str, torch.Tensor], source: Path,
                         vocab_size: int | None = None) -> None:
    """Before any network is built: the recurrent layers and ensemble members ``config.json`` declares must be
    the ones the weights hold, so a config edited to ``num_layers: 100000`` fails at once instead of building
    them. (Every tensor's shape is compared next, on a network that allocates nothing: see ``load``.)"""
    layers = {int(m.group(1)) for name in weights if (m := re.search(r"rnn\.weight_ih_l(\d+)$", name))}
    members = {m.group(1) for name in weights if (m := re.match(r"(?:network\.)?members\.(\d+)\.", name))}
    if len(layers) != params.num_layers:
        raise ModelFileError(f"{source} does not fit config.json: it declares num_layers {params.num_layers}, the weights hold "
                             f"{len(layers)} recurrent layer(s)")
    sizes = {"embed_dim": (r"embedding\.weight$", 1), "hidden_size": (r"rnn\.weight_hh_l0$", 1)}
    if params.one_hot:  # the embedding is as wide as the vocabulary, whatever embed_dim says
        del sizes["embed_dim"]
    for name, (pattern, axis) in sizes.items():
        held = next((tensor.shape[axis] for key, tensor in weights.items() if re.search(pattern, key)), None)
        if held is not None and held != getattr(params, name):
            raise ModelFileError(f"{source} does not fit config.json: it declares {name} {getattr(params, name)}, the weights hold {held}")
    idf = weights.get("bag_of_words.idf")
    if isinstance(params.bag_of_words, int) and vocab_size is not None and (
            idf is None or idf.ndim != 1 or idf.shape[0] != vocab_size + params.bag_of_words):
        held = "no bag-of-words path" if idf is None else f"{idf.shape[0] - vocab_size} slots"
        raise ModelFileError(f"{source} does not fit config.json: it declares bag_of_words {params.bag_of_words}, the "
                             f"weights hold {held}")
    if params.ensemble > 1 and len(members) != params.ensemble:
        raise ModelFileError(f"{source} does not fit config.json: it declares an ensemble of {params.ensemble}, the weights hold "
                             f"{len(members) or 1} model(s)")


def check_shapes(expected: dict[str, torch.Tensor], weights: dict[str, torch.Tensor], source: Path) -> None:
    """Names and shapes of ``weights`` against ``expected`` (a state dict), one message for every mismatch."""
    problems = [f"missing {name}" for name in expected if name not in weights]
    problems += [f"unexpected {name}" for name in weights if name not in expected]
    problems += [
        f"{name} has shape {tuple(weights[name].shape)}, the config needs {tuple(tensor.shape)}"
        for name, tensor in expected.items()
        if name in weights and weights[name].shape != tensor.shape
    ]
    if problems:
        raise ModelFileError(f"{source} does not fit config.json: " + "; ".join(problems))
