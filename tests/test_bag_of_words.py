"""The bag-of-words path: the in-graph features equal the NumPy ones it is fitted on, the mix is chosen on the
validation rows and recorded, and a mixed model saves, loads, exports and serves as it predicts."""

import json

import numpy as np
import pytest
import torch

from textrnn import TextRNNClassifier
from textrnn.deploy.export import export_onnx
from textrnn.deploy.runtime import OnnxClassifier
from textrnn.errors import ConfigError, ExportError, ModelFileError
from textrnn.model.bag_of_words import BagOfWords, WithBagOfWords, feature_matrix, tfidf
from textrnn.train import bag_of_words as fitting
from textrnn.train.bag_of_words import choose_buckets, inverse_document_frequency

SMALL = {"embed_dim": 16, "hidden_size": 16, "epochs": 2, "batch_size": 32}


def test_the_graph_computes_the_features_the_linear_model_is_fitted_on():
    rng = np.random.default_rng(0)
    lengths = np.array([0, 1, 2, 7, 12, 3])
    ids = np.zeros((len(lengths), lengths.max()), dtype=np.int64)
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(1, 50, length)
    ids[4, 3:6] = ids[4, 0:3]  # repeated words and bigrams count once per occurrence
    flat = np.concatenate([ids[row, :length] for row, length in enumerate(lengths)])
    counts = feature_matrix(flat, lengths, vocab_size=50, buckets=64)
    assert counts.shape == (6, 114) and counts.sum() == lengths.sum() + np.maximum(lengths - 1, 0).sum()
    idf = inverse_document_frequency(counts)
    bag = BagOfWords(50, 64, 3)
    with torch.no_grad():
        bag.idf.copy_(torch.from_numpy(idf))
        bag.weight.normal_()
        bag.bias.normal_()
    expected = tfidf(counts, idf) @ bag.weight.detach().numpy().astype(np.float64) + bag.bias.detach().numpy()
    got = bag(torch.from_numpy(ids), torch.from_numpy(lengths)).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[0], bag.bias.detach().numpy())  # an empty text: the intercept alone


def test_buckets_follow_the_bigrams_and_shrink_for_many_classes():
    rng = np.random.default_rng(0)
    flat, lengths = rng.integers(2, 300, 40_000), np.full(1000, 40)
    buckets = choose_buckets(flat, lengths, 300, 4)
    assert buckets & (buckets - 1) == 0 and fitting.MIN_BUCKETS <= buckets <= fitting.MAX_BUCKETS
    assert choose_buckets(np.array([2, 3]), np.array([2]), 300, 4) == fitting.MIN_BUCKETS
    assert choose_buckets(flat, lengths, 300, 4000) < buckets


def test_accuracy_chooses_the_weight_by_log_loss_and_macro_f1_by_itself_ties_toward_an_even_mix():
    weights = fitting.MIX_WEIGHTS
    figures = {w: 0.9 if 0.2 <= w <= 0.7 else 0.8 for w in weights}  # 0.2 to 0.7 tie
    loss = {w: abs(w - 0.3) for w in weights}
    assert fitting._best_weight(figures, loss, "accuracy") == 0.3
    assert fitting._best_weight(figures, loss, "macro_f1") == 0.5


def test_the_mix_is_chosen_on_the_validation_rows_and_recorded(synthetic):
    clf = TextRNNClassifier(**SMALL).fit(*synthetic)
    record = clf.fit_info_["bag_of_words"]
    assert record["weight"] in fitting.MIX_WEIGHTS and set(record["validation_by_weight"]) == {
        str(w) for w in fitting.MIX_WEIGHTS}
    figures, loss = record["validation_by_weight"], record["validation_loss_by_weight"]
    assert record["monitor"] == "accuracy" and loss[str(record["weight"])] == min(loss.values())
    assert figures[str(record["weight"])] == record["validation"]["mixed"]
    assert (figures["0.0"], figures["1.0"]) == (record["validation"]["network"], record["validation"]["bag_of_words"])
    choice = next(c for c in clf.fit_info_["auto"] if c["name"] == "bag_of_words")
    mixed = record["weight"] > 0
    assert isinstance(clf.model_, WithBagOfWords) == mixed and choice["value"] == clf.params_.bag_of_words
    assert (clf.params_.bag_of_words == record["buckets"]) if mixed else clf.params_.bag_of_words is None
    assert "validation rows prefer" in choice["reason"]


@pytest.fixture(scope="module")
def mixed(synthetic, tmp_path_factory):
    """A model forced to mix half and half (the weights tried are patched to 0.5 alone)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fitting, "MIX_WEIGHTS", (0.5,))
        clf = TextRNNClassifier(**SMALL, seed=3).fit(*synthetic)
    directory = clf.save(tmp_path_factory.mktemp("mixed") / "model")
    return clf, directory


def test_a_mixed_model_predicts_the_weighted_mean_of_its_two_parts(mixed, synthetic):
    clf, _ = mixed
    assert isinstance(clf.model_, WithBagOfWords) and float(clf.model_.weight) == 0.5
    texts = synthetic[0][:50]
    ids, lengths = clf.vectorizer_.encode(texts), None
    lengths = torch.tensor([len(x) for x in ids])
    padded = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)
    for row, x in enumerate(ids):
        padded[row, : len(x)] = torch.tensor(x)
    with torch.no_grad():
        network = torch.log_softmax(clf.model_.network(padded, lengths) / clf.model_.network_temperature, dim=1)
        words = torch.log_softmax(clf.model_.bag_of_words(padded, lengths) / clf.model_.bag_of_words_temperature, dim=1)
        expected = torch.softmax((0.5 * network + 0.5 * words) / clf.temperature_, dim=1).numpy()
    np.testing.assert_allclose(clf.predict_proba(texts), expected, atol=1e-5)
    calibration = clf.fit_info_["calibration"]
    assert calibration["ece_after"] <= calibration["ece_before"] + 1e-9


def test_a_mixed_model_saves_loads_exports_and_runs_without_torch(mixed, synthetic, tmp_path):
    clf, directory = mixed
    texts = synthetic[0][:200]
    loaded = TextRNNClassifier.load(directory)
    assert loaded.params_.bag_of_words == clf.params_.bag_of_words
    np.testing.assert_array_equal(loaded.predict_proba(texts), clf.predict_proba(texts))
    out, agreement = export_onnx(directory, out=tmp_path / "onnx", check_texts=texts)
    assert agreement["label_agreement"] == 1.0 and agreement["max_probability_difference"] < 1e-4
    np.testing.assert_allclose(OnnxClassifier(out).predict_proba(texts), clf.predict_proba(texts), atol=1e-4)


def test_declared_buckets_are_checked_against_the_weights(mixed, tmp_path):
    _, directory = mixed
    copy = tmp_path / "model"
    copy.mkdir()
    for path in directory.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    config = json.loads((copy / "config.json").read_text())
    config["params"]["bag_of_words"] = 10**12
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="bag_of_words"):
        TextRNNClassifier.load(copy)


def test_where_no_mix_is_tried_the_choice_says_why(synthetic):
    texts, labels = synthetic
    cases = [({"bag_of_words": None}, "off"), ({"val_size": 0}, "no validation rows"),
             ({"vocabulary_type": "char"}, "character tokens")]
    for params, reason in cases:
        clf = TextRNNClassifier(**{**SMALL, "epochs": 1, **params}).fit(texts[:200], labels[:200])
        assert not isinstance(clf.model_, WithBagOfWords) and clf.params_.bag_of_words is None
        choices = [c for c in clf.fit_info_["auto"] if c["name"] == "bag_of_words"]
        assert (choices == []) if "bag_of_words" in params else reason in choices[0]["reason"]
    multi = TextRNNClassifier(**{**SMALL, "epochs": 1}, multi_label=True).fit(texts[:200], [[x] for x in labels[:200]])
    assert "multi-label" in next(c for c in multi.fit_info_["auto"] if c["name"] == "bag_of_words")["reason"]
    with pytest.raises(ConfigError, match="bag_of_words"):
        TextRNNClassifier(multi_label=True, bag_of_words=4096).fit(texts[:50], [[x] for x in labels[:50]])


def test_the_server_applies_the_mix(mixed, synthetic):
    from fastapi.testclient import TestClient

    from textrnn.deploy.serve import ServeSettings, create_app

    clf, directory = mixed
    texts = synthetic[0][:3]
    expected = clf.predict_proba(texts)
    with TestClient(create_app(ServeSettings(model_path=str(directory)))) as client:
        reply = client.post("/v1/predict", json={"texts": texts, "top_k": 3}).json()
    for row, probabilities in zip(reply["predictions"], expected):
        assert row["probability"] == pytest.approx(float(probabilities.max()), abs=1e-5)


def test_an_ensemble_with_the_mix_saves_and_loads(synthetic, tmp_path, monkeypatch):
    monkeypatch.setattr(fitting, "MIX_WEIGHTS", (0.5,))
    texts, labels = synthetic
    clf = TextRNNClassifier(**{**SMALL, "epochs": 1}, ensemble=2).fit(texts[:300], labels[:300])
    loaded = TextRNNClassifier.load(clf.save(tmp_path / "model"))
    assert isinstance(loaded.model_, WithBagOfWords) and len(loaded.model_.network.members) == 2
    np.testing.assert_array_equal(loaded.predict_proba(texts[:100]), clf.predict_proba(texts[:100]))


def test_a_network_that_adds_nothing_is_said_so_everywhere(synthetic, tmp_path, capsys):
    """A network that learns nothing (a learning rate of 1e-7) leaves the whole weight to the path: the fitted
    attribute, the closing summary, the report and compare must say the model is its bag-of-words path, not
    credit an "RNN + bag of words" with the path's accuracy."""
    import csv

    from textrnn.cli import main
    from textrnn.evaluation.compare import compare_runs

    texts, labels = synthetic
    for name, rows in (("train.csv", slice(0, 500)), ("test.csv", slice(500, None))):
        with open(tmp_path / name, "w", newline="") as handle:
            csv.writer(handle).writerows([("text", "label"), *zip(texts[rows], labels[rows])])
    run = tmp_path / "run"
    assert main(["train", "--dataset", str(tmp_path / "train.csv"), "--test-data", str(tmp_path / "test.csv"),
                 "--out", str(run), "--embed-dim", "4", "--hidden-size", "4", "--epochs", "1", "--lr", "1e-7",
                 "--embeddings", "none", "--val-size", "0.3", "--threads", "1"]) == 0
    err = capsys.readouterr().err
    assert TextRNNClassifier.load(run).bag_of_words_weight_ == 1.0
    assert "the network adds nothing on this data" in err and "RNN + bag of words" not in err
    assert "bag of words " in err.split("vs bag-of-words")[0].splitlines()[-1]  # the summary's name for the model
    assert "the network adds nothing on this data" in (run / "report.html").read_text()
    rows, _, _ = compare_runs([run])
    assert rows[0]["model"] == "bag of words"


def test_the_mix_weight_is_a_fitted_attribute(mixed):
    clf, directory = mixed
    assert clf.bag_of_words_weight_ == 0.5 and TextRNNClassifier.load(directory).bag_of_words_weight_ == 0.5


@pytest.mark.parametrize("buffer,value", [("weight", 5.0), ("weight", -0.5), ("network_temperature", 0.0),
                                          ("bag_of_words_temperature", float("nan"))])
def test_a_mix_outside_its_range_is_refused_at_load(mixed, tmp_path, buffer, value):
    """A mix weight of 5 still gives probabilities that sum to 1, so only the load-time check can catch it."""
    import hashlib
    import shutil

    from safetensors.torch import load as load_safetensors
    from safetensors.torch import save as save_safetensors

    _, directory = mixed
    copy = shutil.copytree(directory, tmp_path / "model")
    weights = load_safetensors((copy / "model.safetensors").read_bytes())
    weights[buffer] = torch.tensor(value)
    (copy / "model.safetensors").write_bytes(save_safetensors(weights))
    config = json.loads((copy / "config.json").read_text())
    config["sha256"]["model.safetensors"] = hashlib.sha256((copy / "model.safetensors").read_bytes()).hexdigest()
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="bag-of-words mix needs a weight in|not numbers"):
        TextRNNClassifier.load(copy)


def test_an_export_whose_labels_do_not_fit_its_graph_is_refused(mixed, tmp_path):
    import hashlib
    import shutil

    _, directory = mixed
    out, _ = export_onnx(shutil.copytree(directory, tmp_path / "run"))
    labels = json.loads((out / "labels.json").read_text())
    (out / "labels.json").write_text(json.dumps(labels + ["extra"]))
    manifest = json.loads((out / "export.json").read_text())
    manifest["sha256"]["labels.json"] = hashlib.sha256((out / "labels.json").read_bytes()).hexdigest()
    (out / "export.json").write_text(json.dumps(manifest))
    with pytest.raises(ExportError, match="4 labels, but the graph gives 3 probabilities|cannot answer"):
        OnnxClassifier(out)


def test_a_network_that_learned_nothing_or_diverged_is_warned_about(synthetic):
    """The path may take the whole weight and give a sound model; the network's failure is still said."""
    import warnings

    from textrnn.train.callbacks import Callback

    class Poison(Callback):  # from epoch 2 on, the weights become NaN, as a diverging training's do
        def on_batch_end(self, loop, batch, loss):
            if loop.state.epoch == 2:
                with torch.no_grad():
                    for parameter in loop.model.parameters():
                        parameter.fill_(float("nan"))

    texts, labels = synthetic
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        TextRNNClassifier(**{**SMALL, "epochs": 3, "patience": None}).fit(texts, labels, callbacks=[Poison()])
        # adversarial off: a second pass per batch can leave the wrecked network a few rows above chance
        TextRNNClassifier(**{**SMALL, "lr": 1e6, "clip_grad_norm": None, "adversarial": 0}).fit(texts, labels)
    said = [str(w.message) for w in caught]
    assert any("training diverged: the training loss was not a number from epoch 2" in m for m in said), said
    assert any("the network learned nothing" in m for m in said), said


def test_the_path_is_refit_on_every_labelled_row_and_validation_figures_come_from_before(synthetic, monkeypatch):
    """Once the weight is chosen, the NBSVM path learns from the training and validation rows together; the
    validation probabilities the estimator keeps are those of the model before (the figures the weight was
    chosen on), not of a path that has since seen those rows."""
    from textrnn.evaluation.nbsvm import NBSVM

    monkeypatch.setattr(fitting, "MIX_WEIGHTS", (0.5,))
    texts, labels = synthetic
    train, val = (texts[:500], labels[:500]), (texts[500:], labels[500:])
    clf = TextRNNClassifier(**SMALL).fit(*train, validation_data=val)
    record = clf.fit_info_["bag_of_words"]
    assert record["linear_model"] == "nbsvm" and record["refit_rows"] == len(texts)

    ids = clf.vectorizer_.encode(train[0] + val[0])
    counts = feature_matrix(np.concatenate(ids), np.array([len(x) for x in ids]), clf.vectorizer_.vocab_size,
                            record["buckets"])
    presence = (np.bincount(counts.indices, minlength=counts.shape[1]) > 0).astype(np.float32)
    every_row = NBSVM(seed=0, binary=False).fit(tfidf(counts, presence), [clf.class_names_.index(y) for y in
                                                                          train[1] + val[1]])
    bag = clf.model_.bag_of_words
    np.testing.assert_array_equal(bag.idf.numpy(), presence)
    np.testing.assert_allclose(bag.weight.detach().numpy(), every_row.coef_.T, rtol=1e-5, atol=1e-6)

    kept = clf.validation_probabilities_
    assert kept.shape == (len(val[0]), len(clf.classes_)) and np.allclose(kept.sum(axis=1), 1, atol=1e-5)
    assert clf.evaluate(*val, probabilities=kept)["accuracy"] == record["validation"]["mixed"]
