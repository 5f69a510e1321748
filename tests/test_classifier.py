import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from textrnn import ConfigError, DataError, ModelFileError, TextRNNClassifier
from textrnn.model.network import RNNClassifier
from textrnn.presets import PRESETS

SMALL = dict(embed_dim=16, hidden_size=16, epochs=3, batch_size=32, lr=5e-3, val_size=0.1, seed=0)


@pytest.fixture(scope="module")
def fitted(synthetic):
    texts, labels = synthetic
    return TextRNNClassifier(**SMALL).fit(texts, labels)


def test_fit_learns_the_synthetic_topics(fitted, synthetic):
    texts, labels = synthetic
    assert fitted.classes_.tolist() == ["money", "sport", "tech"]
    assert fitted.score(texts, labels) > 0.95
    assert list(fitted.predict(["the stock market rallied", "a late goal for the team"])) == ["money", "sport"]
    probabilities = fitted.predict_proba(["chip", ""])
    assert probabilities.shape == (2, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert fitted.fit_info_["val_rows"] == 60 and fitted.fit_info_["train_rows"] == 540
    assert [r["epoch"] for r in fitted.history_] == [1, 2, 3]


def test_same_seed_same_model_other_seed_other_model(synthetic, fitted):
    texts, labels = synthetic
    again = TextRNNClassifier(**SMALL).fit(texts, labels)
    assert again.threads_ == fitted.threads_  # the same bits need the same thread count (see conftest.py)
    probe = texts[:50]
    np.testing.assert_array_equal(again.predict_proba(probe), fitted.predict_proba(probe))
    assert again.history_ == [
        {**record, "seconds": again.history_[i]["seconds"], "samples_per_second": again.history_[i]["samples_per_second"],
         "tokens_per_second": again.history_[i]["tokens_per_second"]}
        for i, record in enumerate(fitted.history_)
    ]
    other = TextRNNClassifier(**{**SMALL, "seed": 1}).fit(texts, labels)
    assert not np.array_equal(other.predict_proba(probe), fitted.predict_proba(probe))


def test_save_then_load_gives_identical_probabilities(fitted, synthetic, tmp_path):
    fitted.save(tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        "config.json", "labels.json", "model.safetensors", "vectorizer.json"]
    loaded = TextRNNClassifier.load(tmp_path / "model")
    probe = synthetic[0][:100] + ["", "completely unseen words"]
    np.testing.assert_array_equal(loaded.predict_proba(probe), fitted.predict_proba(probe))
    assert loaded.classes_.tolist() == fitted.classes_.tolist() and loaded.get_params() == fitted.get_params()


def test_predictions_do_not_depend_on_the_other_texts_in_the_call(fitted):
    text = "the coach says the team will score"
    alone = fitted.predict_proba([text])
    crowded = fitted.predict_proba(["market " * 200, text, "data " * 90] + ["short"] * 300)
    np.testing.assert_allclose(crowded[1], alone[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "params,name",
    [({"cell": "lsmt"}, "cell"), ({"hidden_size": 0}, "hidden_size"), ({"dropout": 1.5}, "dropout"),
     ({"pooling": "sum"}, "pooling"), ({"device": "tpu"}, "device"), ({"val_size": -0.1}, "val_size"),
     ({"seed": 2**32}, "seed"), ({"num_layers": 1000}, "num_layers")],
)
def test_bad_parameter_values_are_named_at_fit_time(params, name, synthetic):
    clf = TextRNNClassifier(**params)  # no check yet: scikit-learn style
    with pytest.raises(ConfigError, match=rf"{name}: "):
        clf.fit(*synthetic)


def test_unknown_parameter_is_refused_with_its_name():
    # A TypeError, as for any Python function: scikit-learn requires that __init__ never raises anything else.
    with pytest.raises(TypeError, match="hiden_size"):
        TextRNNClassifier(hiden_size=3)
    with pytest.raises(ValueError, match="Invalid parameter 'hiden_size'"):
        TextRNNClassifier().set_params(hiden_size=3)


def test_bad_training_data(synthetic):
    texts, labels = synthetic
    with pytest.raises(DataError, match="600 texts but 599 labels"):
        TextRNNClassifier().fit(texts, labels[:-1])
    with pytest.raises(DataError, match="at least two classes"):
        TextRNNClassifier().fit(texts[:5], ["a"] * 5)
    with pytest.raises(DataError, match="row 2: expected a string"):
        TextRNNClassifier().fit(["a", 3], ["x", "y"])
    with pytest.raises(DataError, match="single string"):
        TextRNNClassifier().fit("just one text", ["x"])
    with pytest.raises(NotFittedError, match="not fitted"):
        TextRNNClassifier().predict(["x"])


def test_unknown_label_at_evaluation_names_the_row(fitted):
    with pytest.raises(DataError, match=r"row 2: label 'weather' is not one of the classes"):
        fitted.evaluate(["goal", "rain"], ["sport", "weather"])


def test_broken_model_directories_are_refused(fitted, tmp_path):
    directory = fitted.save(tmp_path / "m")
    (directory / "labels.json").write_text('["only-one"]')
    with pytest.raises(ModelFileError, match="labels.json"):
        TextRNNClassifier.load(directory)
    fitted.save(directory)
    config = (directory / "config.json").read_text()
    (directory / "config.json").write_text(config.replace('"hidden_size": 16', '"hidden_size": 17'))
    with pytest.raises(ModelFileError, match="does not fit config.json"):
        TextRNNClassifier.load(directory)
    (directory / "config.json").write_text(config.replace('"hidden_size": 16', '"hidden_size": 16, "evil": 1'))
    with pytest.raises(ModelFileError, match="evil: unknown parameter"):
        TextRNNClassifier.load(directory)
    (directory / "config.json").write_text(config)
    (directory / "vectorizer.json").unlink()
    with pytest.raises(ModelFileError, match="missing vectorizer.json"):
        TextRNNClassifier.load(directory)


def keras_parameter_count(preset):
    """Trainable parameters of the lesson's Keras model (Keras has one bias per gate, PyTorch two)."""
    embed, hidden, gates = preset["embed_dim"], preset["hidden_size"], {"rnn": 1, "lstm": 4}[preset["cell"]]
    directions = 2 if preset["bidirectional"] else 1
    total, inputs = 20_000 * embed, embed
    for _ in range(preset["num_layers"]):
        total += directions * gates * (hidden * (inputs + hidden) + hidden)
        inputs = directions * hidden
    return total + inputs * 4 + 4


@pytest.mark.parametrize("name", [n for n in PRESETS if n.startswith("lesson-")])
def test_lesson_presets_have_the_lesson_architecture(name):
    preset = PRESETS[name]
    architecture = ("embed_dim", "cell", "hidden_size", "num_layers", "bidirectional", "pooling", "dropout", "mask")
    model = RNNClassifier(vocab_size=20_000, num_classes=4, **{k: preset[k] for k in architecture})
    extra_pytorch_biases = sum(p.numel() for n, p in model.rnn.named_parameters() if n.startswith("bias_hh"))
    total = sum(p.numel() for p in model.parameters())
    assert total - extra_pytorch_biases == keras_parameter_count(preset)
    assert preset["pooling"] == "last" and preset["epochs"] == 1 and preset["batch_size"] == 16


def test_on_epoch_end_sees_every_epoch_record_and_the_model(synthetic):
    texts, labels = synthetic
    seen = []
    clf = TextRNNClassifier(**SMALL)
    clf.fit(texts, labels, on_epoch_end=lambda record, model: seen.append((record["epoch"], model.training)))
    assert [epoch for epoch, _ in seen] == [r["epoch"] for r in clf.history_] == [1, 2, 3]
