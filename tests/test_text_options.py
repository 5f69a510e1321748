"""Characters as tokens, one-hot inputs, punctuation as spaces and HTML stripping, end to end."""

import random
import warnings

import numpy as np
import pytest
import torch
from conftest import synthetic_corpus

from textrnn import TextRNNClassifier
from textrnn.deploy.export import export_onnx
from textrnn.deploy.runtime import OnnxClassifier
from textrnn.errors import ConfigError

SMALL = {"embed_dim": 8, "hidden_size": 8, "epochs": 2, "val_size": 0.2, "verbose": False}


def test_a_character_model_with_one_hot_inputs_trains_saves_and_exports(tmp_path):
    texts, labels = synthetic_corpus(300)
    clf = TextRNNClassifier(vocabulary_type="char", one_hot=True, **SMALL).fit(texts, labels)
    vocab_size = clf.vectorizer_.vocab_size
    assert vocab_size < 40  # letters and the space, not words
    weight = clf.model_.embedding.weight
    # The one-hot table is fixed: still the identity after training (padding, masked, all zeros).
    expected = torch.eye(vocab_size)
    expected[0, 0] = 0
    torch.testing.assert_close(weight.detach(), expected)
    assert not weight.requires_grad and clf.params_.embeddings is None
    run = clf.save(tmp_path / "run")
    again = TextRNNClassifier.load(run)
    np.testing.assert_array_equal(again.predict_proba(texts[:50]), clf.predict_proba(texts[:50]))
    out, agreement = export_onnx(run, check_texts=texts[:100])
    assert agreement["label_agreement"] == 1.0
    np.testing.assert_allclose(OnnxClassifier(out).predict_proba(texts[:20]), clf.predict_proba(texts[:20]), atol=1e-4)


def test_punctuation_tokens_reach_the_network_the_saved_model_and_the_onnx_export(tmp_path):
    texts, labels = synthetic_corpus(300)
    marked = [f"{text} {'!' if label == labels[0] else '?'}" for text, label in zip(texts, labels)]
    clf = TextRNNClassifier(punctuation="token", **SMALL).fit(marked, labels)
    assert {"!", "?"} <= set(clf.vectorizer_.vocabulary)
    run = clf.save(tmp_path / "run")
    again = TextRNNClassifier.load(run)
    assert again.vectorizer_.punctuation == "token"
    np.testing.assert_array_equal(again.predict_proba(marked[:50]), clf.predict_proba(marked[:50]))
    out, agreement = export_onnx(run, check_texts=marked[:100])
    assert agreement["label_agreement"] == 1.0
    np.testing.assert_allclose(OnnxClassifier(out).predict_proba(marked[:20]), clf.predict_proba(marked[:20]),
                               atol=1e-4)


def test_one_hot_is_refused_for_a_large_vocabulary_and_with_word_vectors():
    rng = random.Random(0)
    texts = [" ".join(f"w{rng.randrange(5000)}" for _ in range(10)) for _ in range(400)]
    labels = ["a", "b"] * 200
    with pytest.raises(ConfigError, match="one_hot: the vocabulary has"):
        TextRNNClassifier(one_hot=True, **SMALL).fit(texts, labels)
    with pytest.raises(ConfigError, match="embeddings: one_hot"):
        TextRNNClassifier(one_hot=True, embeddings="word2vec", **SMALL).fit(texts, labels)


def test_markup_in_the_training_texts_is_warned_about_unless_stripped():
    texts, labels = synthetic_corpus(300)
    marked = [f"{text}<br /><br />" if i % 10 == 0 else text for i, text in enumerate(texts)]
    with pytest.warns(UserWarning, match="10% of the training texts hold HTML markup"):
        TextRNNClassifier(**SMALL).fit(marked, labels)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*HTML markup")
        clf = TextRNNClassifier(strip_html=True, punctuation="space", **SMALL).fit(marked, labels)
    assert "br" not in clf.vectorizer_.vocabulary


def test_word_vectors_trained_apart_split_words_as_the_classifier_will(tmp_path):
    from gensim.models import KeyedVectors

    from textrnn.text.embeddings import train_vectors

    texts = ["U.S. stocks rally", "great.<br />I loved it"] * 20
    for punctuation, expected, absent in (("space", {"u", "s", "br"}, "us"), ("delete", {"us", "greatbr"}, "u"),
                                          ("token", {"u", ".", "<", "br"}, "great.")):
        out = tmp_path / f"{punctuation}.bin"
        train_vectors(texts, out, dim=8, epochs=1, min_count=1, punctuation=punctuation)
        words = set(KeyedVectors.load_word2vec_format(str(out), binary=True).index_to_key)
        assert expected <= words and absent not in words
