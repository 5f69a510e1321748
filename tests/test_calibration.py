"""Temperature scaling: fitted on the validation rows, saved with the model, applied by PyTorch, the ONNX
export, the torch-free runtime and the server alike."""

import json

import numpy as np
import pytest

from conftest import synthetic_corpus
from textrnn import TextRNNClassifier
from textrnn.deploy.export import export_onnx
from textrnn.deploy.runtime import OnnxClassifier
from textrnn.train.calibration import fit_temperature, negative_log_likelihood, reliability


def test_the_fitted_temperature_recovers_the_true_one():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, size=(4000, 5))
    scaled = np.exp(logits / 2.5 - (logits / 2.5).max(axis=1, keepdims=True))
    true = scaled / scaled.sum(axis=1, keepdims=True)  # the labels follow the logits divided by 2.5: the raw logits are over-confident
    labels = np.array([rng.choice(5, p=p) for p in true])
    temperature = fit_temperature(logits, labels)
    assert temperature == pytest.approx(2.5, rel=0.1)
    assert negative_log_likelihood(logits, labels, temperature) < negative_log_likelihood(logits, labels, 1.0)
    assert reliability(logits, labels, temperature)["ece"] < reliability(logits, labels)["ece"]
    # Computed in chunks of rows: the same figures as from the whole softmax at once.
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    expected = -np.log(probabilities[np.arange(len(labels)), labels]).mean()
    assert negative_log_likelihood(logits, labels, 1.0) == pytest.approx(expected, rel=1e-9)


@pytest.fixture(scope="module")
def overfit(tmp_path_factory):
    """A model that learns noisy labels (40% random) for 12 epochs: over-confident, as the report used to show."""
    texts, labels = synthetic_corpus(1500, seed=3)
    rng = np.random.default_rng(0)
    noisy = [rng.choice(["sport", "money", "tech"]) if rng.random() < 0.4 else label for label in labels]
    # The network alone (bag_of_words none): its own temperature is the one tested here.
    clf = TextRNNClassifier(embed_dim=64, hidden_size=64, epochs=12, patience=None, val_size=0.3, lr=1e-2,
                            batch_size=16, dropout=0.0, monitor="accuracy", bag_of_words=None).fit(texts, noisy)
    return clf, texts, tmp_path_factory.mktemp("calibrated")


def test_fit_calibrates_on_the_validation_rows(overfit):
    clf, _, _ = overfit
    calibration = clf.fit_info_["calibration"]
    assert calibration["temperature"] == clf.temperature_ > 1.0  # it was over-confident
    assert calibration["nll_after"] < calibration["nll_before"]
    assert calibration["ece_after"] < calibration["ece_before"]
    assert sum(b["rows"] for b in calibration["bins_after"]) == calibration["validation_rows"] == 450


def test_the_saved_model_the_export_and_the_runtime_apply_the_temperature(overfit):
    clf, texts, directory = overfit
    probabilities = clf.predict_proba(texts[:50])
    assert probabilities.max() < 0.999  # no longer "(100%)" for everything
    saved = clf.save(directory / "model")
    assert json.loads((saved / "config.json").read_text())["temperature"] == clf.temperature_
    loaded = TextRNNClassifier.load(saved)
    np.testing.assert_allclose(loaded.predict_proba(texts[:50]), probabilities, atol=1e-6)
    export, agreement = export_onnx(saved, directory / "onnx", check_texts=texts[:200])
    assert agreement["max_probability_difference"] < 1e-4
    assert json.loads((export / "export.json").read_text())["temperature"] == clf.temperature_
    np.testing.assert_allclose(OnnxClassifier(export).predict_proba(texts[:50]), probabilities, atol=1e-4)


def test_the_server_applies_the_temperature(overfit):
    from fastapi.testclient import TestClient

    from textrnn.deploy.serve import ServeSettings, create_app

    clf, texts, directory = overfit
    saved = directory / "model"
    if not saved.exists():
        clf.save(saved)
    expected = clf.predict_proba(texts[:3])
    with TestClient(create_app(ServeSettings(model_path=str(saved)))) as client:
        reply = client.post("/v1/predict", json={"texts": texts[:3], "top_k": 3}).json()
    for row, p in zip(reply["predictions"], expected):
        assert row["probability"] == pytest.approx(float(p.max()), abs=1e-5)
