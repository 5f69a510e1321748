"""Property-based hardening (Hypothesis): any configuration, and any damage to a model directory's parameters,
labels, temperature or mix, ends in a working model or in one short message from textrnn, never a traceback from
a library, and never costs memory it did not announce.

The memory bound is checked on the process's peak resident size: a configuration that would allocate gigabytes
must be refused from its sizes before it allocates them.
"""

import json
import resource
import shutil

import numpy as np
import pytest
import torch
from conftest import synthetic_corpus
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from textrnn import TextRNNClassifier
from textrnn.errors import USER_ERRORS

TEXTS, LABELS = synthetic_corpus(90)
MEMORY_GROWTH_BOUND = 1.5 * 2**30  # bytes the whole property run may add to the process's peak

ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10), st.integers(10**4, 10**12), st.floats(allow_nan=True),
    st.text(max_size=30), st.sampled_from(["none", "auto", "null", "NaN", "1e11"]),
    st.lists(st.integers(0, 5), max_size=4), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
SIZES = ("hidden_size", "embed_dim", "num_layers", "ensemble", "batch_size", "max_tokens", "max_length",
         "bag_of_words", "epochs", "patience")
OTHERS = ("cell", "pooling", "dropout", "lr", "class_weight", "val_size", "monitor", "label_smoothing", "seed")


def peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@pytest.fixture(scope="module")
def peak_at_start():
    return peak_bytes()


def one_short_message(error: BaseException) -> None:
    assert isinstance(error, USER_ERRORS), f"{type(error).__name__}: {error}"
    assert len(str(error)) < 2000, str(error)[:300]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.dictionaries(st.sampled_from(SIZES + OTHERS), ODD_VALUES, min_size=1, max_size=3))
def test_any_configuration_trains_or_says_why(values, peak_at_start):
    # A million epochs (or networks) is a valid request that would take hours, not a fault to find here.
    assume(not any(isinstance(values.get(name), (int, float)) and values[name] > 50 for name in ("epochs", "ensemble")))
    params = {"embed_dim": 4, "hidden_size": 4, "epochs": 1, "verbose": False, "threads": 1, "embeddings": None,
              "memory_budget_gb": 2, **values}
    try:
        TextRNNClassifier(**params).fit(TEXTS, LABELS)
    except Exception as error:  # noqa: BLE001 - what is caught is what is checked
        one_short_message(error)
    assert peak_bytes() - peak_at_start < MEMORY_GROWTH_BOUND


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    """A network alone and a network mixed with its bag-of-words path, saved."""
    base = tmp_path_factory.mktemp("property-models")
    plain = TextRNNClassifier(embed_dim=8, hidden_size=8, epochs=1, bag_of_words=None, verbose=False)
    mixed = TextRNNClassifier(embed_dim=8, hidden_size=8, epochs=1, bag_of_words=2**10, val_size=0.3, verbose=False)
    return [plain.fit(TEXTS, LABELS).save(base / "plain"), mixed.fit(TEXTS, LABELS).save(base / "mixed")]


def damage(directory, part: str, key: str, value) -> None:
    """Change one thing in a saved model, re-hashing the file as anyone could."""
    import hashlib

    config = json.loads((directory / "config.json").read_text())
    if part == "params":
        config["params"][key] = value
    elif part == "manifest":
        config[key] = value
    elif part == "labels":
        (directory / "labels.json").write_text(json.dumps(value))
    elif part == "tensor":
        weights = load_safetensors((directory / "model.safetensors").read_bytes())
        name = key if key in weights else sorted(weights)[hash(key) % len(weights)]
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else float("nan")
        with np.errstate(over="ignore"):
            number = float(np.float32(number))  # what a float32 tensor can hold (past its range: infinite)
        weights[name] = torch.full_like(weights[name], float(number)) if weights[name].is_floating_point() \
            else weights[name]
        (directory / "model.safetensors").write_bytes(save_safetensors(weights))
    for name in ("labels.json", "model.safetensors"):
        config["sha256"][name] = hashlib.sha256((directory / name).read_bytes()).hexdigest()
    (directory / "config.json").write_text(json.dumps(config))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.integers(0, 1),
       change=st.one_of(
           st.tuples(st.just("params"), st.sampled_from(SIZES + OTHERS + ("pooling", "multi_label", "one_hot")),
                     ODD_VALUES),
           st.tuples(st.just("manifest"), st.sampled_from(["temperature", "label_kind", "vocab_size", "thresholds"]),
                     ODD_VALUES),
           st.tuples(st.just("labels"), st.just(""), st.one_of(ODD_VALUES, st.lists(st.text(max_size=4), max_size=5))),
           st.tuples(st.just("tensor"), st.sampled_from(["weight", "network_temperature", "bag_of_words_temperature",
                                                         "head.bias", "embedding.weight", "any"]),
                     st.one_of(st.floats(allow_nan=True), st.integers(-3, 3)))))
def test_any_damaged_model_loads_and_answers_or_says_why(which, change, saved_models, tmp_path_factory,
                                                         peak_at_start):
    directory = tmp_path_factory.mktemp("damaged") / "m"
    shutil.copytree(saved_models[which], directory)
    damage(directory, *change)
    try:
        model = TextRNNClassifier.load(directory)
    except Exception as error:  # noqa: BLE001
        one_short_message(error)
        return
    probabilities = model.predict_proba(["the team scored a late goal", ""])  # a model that loads can answer
    assert np.isfinite(probabilities).all() and probabilities.shape == (2, len(model.classes_))
    assert peak_bytes() - peak_at_start < MEMORY_GROWTH_BOUND
