"""Defaults decided from the training data: each ``auto`` parameter gets a value and a reason; a given value wins."""

import json

import numpy as np

from conftest import synthetic_corpus

from textrnn import TextRNNClassifier
from textrnn.params import ClassifierParams
from textrnn.train.adaptive import DataProfile, resolve
from textrnn.train.preparation import training_rows


def decided(params: ClassifierParams, profile: DataProfile, validation_given: bool = False) -> dict:
    return {c["name"]: c["value"] for c in resolve(params, profile, validation_given)[1]}


def test_small_and_large_data_get_different_passes_and_word_vectors():
    small = decided(ClassifierParams(), DataProfile(rows=2_000, smallest_class=500, p99_words=60, longest_words=90))
    assert small == {"epochs": 15, "patience": 3, "val_size": 0.2, "max_length": None, "embeddings": None,
                     "punctuation": "token", "adversarial": 0.1}  # 400 validation rows
    large = decided(ClassifierParams(), DataProfile(rows=45_000, smallest_class=11_000, p99_words=60, longest_words=90))
    assert large == {"epochs": 5, "patience": 2, "val_size": 0.05, "max_length": None, "embeddings": "word2vec",
                     "punctuation": "space", "adversarial": 0.0}
    few_thousand = decided(ClassifierParams(), DataProfile(rows=3_400, smallest_class=1_700, p99_words=40,
                                                           longest_words=90))
    assert few_thousand["epochs"] == 15 and few_thousand["embeddings"] == "word2vec"  # small, but text enough


def test_punctuation_marks_are_tokens_on_small_data_and_follow_a_language_model(tmp_path):
    profile = lambda rows: DataProfile(rows=rows, smallest_class=rows // 2, p99_words=20, longest_words=30)
    assert decided(ClassifierParams(), profile(9_999))["punctuation"] == "token"
    assert decided(ClassifierParams(), profile(10_000))["punctuation"] == "space"
    assert decided(ClassifierParams(vocabulary_type="char"), profile(3_000))["punctuation"] == "space"
    assert "punctuation" not in decided(ClassifierParams(punctuation="delete"), profile(3_000))  # given: kept
    # init_from: the classifier reads texts with the language model's vocabulary, so the record says what it is
    (tmp_path / "vectorizer.json").write_text(json.dumps({"punctuation": "delete"}))
    from_lm = resolve(ClassifierParams(init_from=str(tmp_path)), profile(3_000), False)[1]
    assert [(c["value"], c["reason"]) for c in from_lm if c["name"] == "punctuation"] == [
        ("delete", "init_from: as the language model's vocabulary")]


def test_a_small_fit_reads_marks_as_tokens_and_saves_that(tmp_path):
    texts, labels = synthetic_corpus(200)
    clf = TextRNNClassifier(embed_dim=8, hidden_size=8, epochs=2, verbose=False).fit(
        [f"{text}!" for text in texts], labels)
    assert clf.get_params()["punctuation"] == "auto" and clf.params_.punctuation == "token"
    assert clf.vectorizer_.punctuation == "token" and "!" in clf.vectorizer_.vocabulary
    clf.save(tmp_path / "m")
    loaded = TextRNNClassifier.load(tmp_path / "m")
    assert loaded.vectorizer_.punctuation == "token" and loaded.get_params()["punctuation"] == "auto"
    assert (loaded.predict_proba(["a text!"]) == clf.predict_proba(["a text!"])).all()


def test_python_counts_the_rows_the_network_trains_on_as_the_command_line_does():
    # 10,200 rows: 5% held out for validation leaves 9,690, under the 10,000 of the small-data rules. textrnn
    # train holds the share out before deciding; fit(X, y) must decide the same (it once counted all 10,200).
    texts, labels = [f"text {i}!" for i in range(10_200)], ["a", "b"] * 5_100
    rows = training_rows(texts, labels, None, None, ClassifierParams(verbose=False))
    assert len(rows.texts) == 9_690 and len(rows.validation_data[0]) == 510
    decided = {c["name"]: c["value"] for c in rows.choices}
    assert decided["val_size"] == 0.05 and "10,200" not in str(rows.choices)
    assert (decided["epochs"], decided["punctuation"]) == (15, "token")
    assert "9,690 training rows" in [c["reason"] for c in rows.choices if c["name"] == "epochs"][0]


def test_long_texts_get_a_max_length_and_a_rare_class_a_larger_validation_share():
    long_texts = decided(ClassifierParams(), DataProfile(rows=4_000, smallest_class=1_000, p99_words=551,
                                                         longest_words=3_000))
    assert long_texts["max_length"] == 600
    rare = decided(ClassifierParams(), DataProfile(rows=20_000, smallest_class=80, p99_words=20, longest_words=30))
    assert rare["val_size"] == 0.125  # 10 validation rows for the rarest class
    rarest = decided(ClassifierParams(), DataProfile(rows=20_000, smallest_class=20, p99_words=20, longest_words=30))
    assert rarest["val_size"] == 0.2  # never more than a fifth
    few = decided(ClassifierParams(), DataProfile(rows=4_000, smallest_class=1_000, p99_words=20, longest_words=30))
    assert few["val_size"] == 0.125  # 500 validation rows: enough to choose an epoch and a mix on
    given = decided(ClassifierParams(), DataProfile(rows=3_000, smallest_class=20, p99_words=20, longest_words=30),
                    validation_given=True)
    assert "val_size" not in given  # validation rows given: no share is held out, nothing is decided


def test_a_value_the_user_gives_wins_and_streamed_data_gets_the_fallbacks():
    params, choices = resolve(ClassifierParams(epochs=2, embeddings=None), DataProfile(50_000, 10_000, 30, 50), False)
    assert params.epochs == 2 and params.embeddings is None
    assert {c["name"] for c in choices} == {"patience", "val_size", "max_length", "punctuation", "adversarial"}
    streamed, choices = resolve(ClassifierParams(), None, False)
    assert (streamed.epochs, streamed.embeddings, streamed.max_length, streamed.punctuation) == (5, None, None, "space")
    assert streamed.adversarial == 0.0
    assert all("streamed" in c["reason"] for c in choices)


def test_fit_records_its_choices_and_the_saved_model_keeps_both(tmp_path):
    texts, labels = synthetic_corpus(300)
    clf = TextRNNClassifier(embed_dim=8, hidden_size=8, patience=1).fit(texts, labels)
    auto = {c["name"]: c for c in clf.fit_info_["auto"]}
    assert auto["epochs"]["value"] == 15 and "fewer than 10,000" in auto["epochs"]["reason"]
    assert "patience" not in auto and clf.params_.patience == 1
    assert clf.get_params()["epochs"] == "auto"  # scikit-learn's rule: the parameter as given
    clf.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["params"]["epochs"] == 15 and config["params_given"]["epochs"] == "auto"
    loaded = TextRNNClassifier.load(tmp_path / "m")
    assert loaded.get_params() == clf.get_params() and loaded.params_.epochs == 15


def test_a_run_prints_and_records_every_automatic_choice(tmp_path, capsys):
    from textrnn.cli import main

    texts, labels = synthetic_corpus(300)
    (tmp_path / "train.csv").write_text("text,label\n" + "".join(f"{t},{l}\n" for t, l in zip(texts, labels)))
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(tmp_path / "train.csv"), "--out", str(out), "--embed-dim", "8",
                 "--hidden-size", "8", "--epochs", "2"]) == 0
    err = capsys.readouterr().err
    assert "val_size 0.2: 300 training rows: 20% gives 60 validation rows (at least 500 wanted" in err
    assert "patience 3: 240 training rows" in err  # decided on the rows left after the hold-out
    recorded = {c["name"] for c in json.loads((out / "run.json").read_text())["auto"]}
    assert recorded == {"val_size", "patience", "max_length", "embeddings", "punctuation", "adversarial",
                        "bag_of_words"}  # not epochs
    assert "bag_of_words " in err and "validation rows prefer" in err
    assert {c["name"] for c in json.loads((out / "metrics.json").read_text())["choices"]["auto"]} == recorded
    # fit(X, y) on the same rows holds out the same validation rows, decides the same, and trains the same model
    clf = TextRNNClassifier(embed_dim=8, hidden_size=8, epochs=2, verbose=False).fit(texts, labels)
    run_choices = json.loads((out / "run.json").read_text())["auto"]
    assert clf.fit_info_["auto"] == run_choices  # the reasons too: "240 training rows", the rows after the hold-out
    from_run = TextRNNClassifier.load(out).predict_proba(texts[:50])
    assert np.allclose(clf.predict_proba(texts[:50]), from_run, atol=1e-6)


def test_character_tokens_are_cut_by_characters_and_get_no_word_vectors():
    profile = DataProfile(rows=45_000, smallest_class=11_000, p99_words=400, longest_words=900,
                          p99_characters=2_430, longest_characters=5_000)
    chars = decided(ClassifierParams(vocabulary_type="char"), profile)
    assert chars["max_length"] == 2_500 and chars["embeddings"] is None
    one_hot = decided(ClassifierParams(one_hot=True), profile)
    assert one_hot["max_length"] == 400 and one_hot["embeddings"] is None


def test_a_few_outliers_far_longer_than_the_rest_are_cut():
    profile = DataProfile(rows=2_000, smallest_class=500, p99_words=50, longest_words=100_000)
    assert decided(ClassifierParams(), profile)["max_length"] == 1_000
    ordinary = DataProfile(rows=2_000, smallest_class=500, p99_words=80, longest_words=900)
    assert decided(ClassifierParams(), ordinary)["max_length"] is None
