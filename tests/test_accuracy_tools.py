"""Accuracy tools: pretrained embeddings (files, coverage, freezing), pooling and regularisation options, schedules."""

import csv
import json
import warnings

import numpy as np
import pytest
import torch
from conftest import synthetic_corpus

from textrnn import TextRNNClassifier
from textrnn.cli import main
from textrnn.params import ConfigError
from textrnn.errors import DataError
from textrnn.text.embeddings import initialise_embedding, load_vectors, train_vectors
from textrnn.model.network import EnsembleClassifier, RNNClassifier
from textrnn.train.optimizer import clip_gradients_with_sparse, lr_schedule

WORDS = ["match", "goal", "stock", "market", "chip", "robot"]


@pytest.fixture(scope="module")
def vectors():
    rng = np.random.default_rng(0)
    return {word: rng.normal(size=4).astype(np.float32) for word in WORDS}


def write_vector_file(path, vectors, kind: str):
    from gensim.models import KeyedVectors

    if kind == "word2vec-binary":
        keyed = KeyedVectors(vector_size=4)
        keyed.add_vectors(list(vectors), np.stack(list(vectors.values())))
        keyed.save_word2vec_format(str(path), binary=True)
        return
    lines = [f"{word} " + " ".join(f"{x:.6f}" for x in vector) for word, vector in vectors.items()]
    header = [] if kind == "glove" else [f"{len(vectors)} 4"]
    path.write_text("\n".join(header + lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("kind, name", [("word2vec-binary", "v.bin"), ("word2vec-text", "v.txt"),
                                        ("glove", "glove.6B.4d.txt"), ("fasttext-vec", "cc.en.4.vec")])
def test_every_supported_file_format_loads_the_same_vectors(tmp_path, vectors, kind, name):
    path = tmp_path / name
    write_vector_file(path, vectors, kind)
    loaded = load_vectors(path)
    assert sorted(loaded.index_to_key) == sorted(WORDS)
    for word, vector in vectors.items():
        np.testing.assert_allclose(loaded[word], vector, atol=1e-5)


def test_bad_embedding_files_are_named(tmp_path):
    with pytest.raises(DataError, match="no such embeddings file"):
        load_vectors(tmp_path / "missing.vec")
    bad = tmp_path / "bad.vec"
    bad.write_text("2 4\nmatch 0.1 0.2\ngoal 0.1 0.2 0.3 0.4\n")
    with pytest.raises(DataError, match="bad.vec: not a readable word2vec/fastText text embeddings file"):
        load_vectors(bad)


def test_coverage_counts_words_and_tokens(tmp_path, vectors):
    path = tmp_path / "v.vec"
    write_vector_file(path, {**vectors, "Market": vectors["market"]}, "fasttext-vec")
    vocabulary = ["[PAD]", "[UNK]", "match", "goal", "weather", "stock"]
    embedding = torch.nn.Embedding(len(vocabulary), 4, padding_idx=0)
    counts = np.array([50, 10, 5, 5, 20, 10])  # padding is never counted as a token
    coverage = initialise_embedding(embedding, vocabulary, load_vectors(path), counts)
    assert coverage["words_found"] == 3 and coverage["vocabulary_words"] == 4
    assert coverage["word_coverage"] == pytest.approx(0.75)
    assert coverage["token_coverage"] == pytest.approx((5 + 5 + 10) / (10 + 5 + 5 + 20 + 10))
    np.testing.assert_allclose(embedding.weight[2].detach().numpy(), vectors["match"], atol=1e-6)
    with pytest.raises(DataError, match="set embed_dim=4"):
        initialise_embedding(torch.nn.Embedding(6, 8), vocabulary, load_vectors(path))


def fit_with_vectors(tmp_path, freeze: int, epochs: int = 2):
    texts, labels = synthetic_corpus(300)
    path = tmp_path / "vectors.bin"
    train_vectors(texts, path, dim=8, epochs=2, min_count=1, seed=0)
    clf = TextRNNClassifier(embeddings=str(path), freeze_embeddings=freeze, embed_dim=8, hidden_size=8,
                            epochs=epochs, val_size=0)  # no validation: the last epoch is kept
    clf.fit(texts, labels)
    loaded = load_vectors(path)
    vocabulary = clf.vectorizer_.vocabulary
    weight = clf.model_.embedding.weight.detach().numpy()
    return clf, [(weight[i], loaded[word]) for i, word in enumerate(vocabulary) if i >= 2 and word in loaded]


def test_frozen_embeddings_stay_frozen(tmp_path):
    clf, pairs = fit_with_vectors(tmp_path, freeze=5, epochs=2)
    assert clf.fit_info_["embeddings"]["word_coverage"] == 1.0  # every word of the vocabulary has a vector
    assert pairs and all(np.allclose(now, start, atol=1e-6) for now, start in pairs)


def test_embeddings_frozen_for_the_first_epoch_then_fine_tuned(tmp_path):
    _, pairs = fit_with_vectors(tmp_path, freeze=1, epochs=2)
    assert any(not np.allclose(now, start, atol=1e-4) for now, start in pairs)


def test_trained_vectors_are_reproducible_with_one_worker(tmp_path):
    texts, _ = synthetic_corpus(200)
    for name in ("a.bin", "b.bin"):
        train_vectors(texts, tmp_path / name, dim=8, epochs=2, min_count=1, seed=3)
    first, second = load_vectors(tmp_path / "a.bin"), load_vectors(tmp_path / "b.bin")
    np.testing.assert_array_equal(first.vectors, second.vectors)
    train_vectors(texts, tmp_path / "ft.bin", algorithm="fasttext", dim=8, epochs=1, min_count=1)
    assert load_vectors(tmp_path / "ft.bin").vector_size == 8


def test_embeddings_cli_writes_a_file_train_can_use(tmp_path):
    import csv

    from textrnn.cli import main

    texts, labels = synthetic_corpus(300)
    with open(tmp_path / "d.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([("text", "label"), *zip(texts, labels)])
    assert main(["embeddings", "train", "--dataset", str(tmp_path / "d.csv"), "--out", str(tmp_path / "v.bin"),
                 "--dim", "8", "--min-count", "1", "--epochs", "1"]) == 0
    assert main(["train", "--dataset", str(tmp_path / "d.csv"), "--embeddings", str(tmp_path / "v.bin"),
                 "--embed-dim", "8", "--hidden-size", "8", "--epochs", "1", "--out", str(tmp_path / "run")]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["data"]["embeddings"]["word_coverage"] > 0.9


# ------------------------------------------------------------------------------ model and training options


@pytest.mark.parametrize("pooling", ["concat", "last", "max", "mean", "attention"])
def test_pooling_is_padding_invariant(pooling):
    torch.manual_seed(0)
    model = RNNClassifier(vocab_size=30, num_classes=3, embed_dim=6, hidden_size=5, pooling=pooling,
                          cell="lstm").eval()
    ids = torch.tensor([[4, 5, 6, 0, 0], [7, 8, 9, 10, 11]])
    together = model(ids, torch.tensor([3, 5]))
    alone = model(ids[:1, :3], torch.tensor([3]))
    torch.testing.assert_close(together[:1], alone)
    assert together.shape == (2, 3)


def test_locked_dropout_uses_one_mask_per_text():
    torch.manual_seed(0)
    model = RNNClassifier(vocab_size=30, num_classes=3, embed_dim=64, hidden_size=5, dropout=0.5,
                          locked_dropout=True).train()
    dropped = model.embedding_dropout(torch.ones(2, 7, 64))
    assert torch.equal(dropped[:, :1].expand_as(dropped), dropped)  # the same features at every step
    assert (dropped == 0).any()
    assert torch.equal(model.eval().embedding_dropout(torch.ones(2, 7, 64)), torch.ones(2, 7, 64))


def test_word_dropout_drops_every_occurrence_of_a_word():
    torch.manual_seed(1)
    model = RNNClassifier(vocab_size=30, num_classes=3, embed_dim=8, hidden_size=5, word_dropout=0.5).train()
    ids = torch.tensor([[3, 3, 4, 4, 5, 5, 6, 6, 7, 7]])
    rows = model.embed(ids)[0]
    zero = (rows == 0).all(dim=1)
    assert zero.any() and not zero.all()
    assert torch.equal(zero[0::2], zero[1::2])  # both occurrences of each word share its fate
    torch.testing.assert_close(model.eval().embed(ids), model.embedding(ids))


def test_learning_rate_schedules():
    flat = lr_schedule("constant", 0.01, 100)
    assert flat(0) == flat(99) == 0.01
    for kind in ("warmup-linear", "warmup-cosine"):
        rate = lr_schedule(kind, 0.01, 100)
        rates = [rate(step) for step in range(100)]
        assert rates[0] < rates[5] == pytest.approx(0.01)  # warm-up over 6 steps
        assert all(a >= b for a, b in zip(rates[6:], rates[7:]))  # then it only falls
        assert rate(100) == pytest.approx(0.0)


def test_training_options_fit_and_round_trip(tmp_path):
    texts, labels = synthetic_corpus(300)
    clf = TextRNNClassifier(pooling="concat", locked_dropout=True, word_dropout=0.1, label_smoothing=0.1,
                            lr_schedule="warmup-cosine", embed_dim=8, hidden_size=8, epochs=6, lr=1e-2, batch_size=16)
    clf.fit(texts, labels)
    assert clf.score(*synthetic_corpus(150, seed=5)) > 0.8
    loaded = TextRNNClassifier.load(clf.save(tmp_path / "m"))
    np.testing.assert_allclose(loaded.predict_proba(texts[:20]), clf.predict_proba(texts[:20]), atol=1e-6)
    with pytest.raises(Exception, match="lr_schedule"):
        TextRNNClassifier(lr_schedule="sometimes").fit(texts, labels)


@pytest.mark.parametrize("kind", ["bpe", "wordpiece", "unigram"])
def test_subword_vocabularies_spell_unseen_words(kind, tmp_path):
    from textrnn.text.vectorizer import PAD_ID, UNK_ID, TextVectorizer

    texts, labels = synthetic_corpus(300)
    vectorizer = TextVectorizer(80, vocabulary_type=kind).adapt(texts)
    assert vectorizer.vocabulary[PAD_ID] == "[PAD]" and vectorizer.vocabulary[UNK_ID] == "[UNK]"
    assert vectorizer.vocab_size <= 80
    unseen = vectorizer.encode(["robotics marketplace"])[0]
    assert len(unseen) > 2 and UNK_ID not in unseen  # spelt in pieces, not one unknown id
    assert TextVectorizer(80).adapt(texts).encode(["robotics marketplace"])[0] == [UNK_ID, UNK_ID]
    again = TextVectorizer.from_dict(json.loads(json.dumps(vectorizer.to_dict())))
    assert again.vocabulary_type == kind and again.encode(texts[:20]) == vectorizer.encode(texts[:20])

    clf = TextRNNClassifier(vocabulary_type=kind, max_tokens=80, embed_dim=8, hidden_size=8, epochs=3,
                            batch_size=16, lr=1e-2).fit(texts, labels)
    loaded = TextRNNClassifier.load(clf.save(tmp_path / "m"))
    np.testing.assert_allclose(loaded.predict_proba(texts[:10]), clf.predict_proba(texts[:10]), atol=1e-6)

    # Explanations score each piece the model sees, named as it is spelt (this raised IndexError, and the
    # report put scores on the wrong words, while explanations assumed one id per word).
    from textrnn.evaluation.explain import explain

    text = "robotics marketplace after the match"
    explanation = explain(clf, text)
    ids = clf.vectorizer_.encode([text])[0]
    assert len(explanation.tokens) == len(explanation.scores) == len(ids) > 5
    pieces = {vectorizer_piece.lstrip("#▁") for vectorizer_piece in clf.vectorizer_.vocabulary}
    assert all(token.lstrip("#▁").removesuffix("[?]") in pieces or token.endswith("[?]")
               for token in explanation.tokens)
    assert len(explanation.ranked()) == len(ids)
    assert main(["explain", str(tmp_path / "m"), text, "--top-words", "3"]) == 0


# ------------------------------------------------------------------------------------------------ tune


def synthetic_csv(tmp_path, rows=400):
    import csv

    texts, labels = synthetic_corpus(rows)
    path = tmp_path / "d.csv"
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows([("text", "label"), *zip(texts, labels)])
    return path


SMALL_SPACE = {"hidden_size": ("categorical", [4, 8]), "lr": ("log", (1e-3, 1e-2))}


def test_tune_respects_its_budget_and_writes_a_trainable_config(tmp_path):
    import time

    from textrnn.params import RunConfig
    from textrnn.tune import tune

    config = RunConfig(dataset=str(synthetic_csv(tmp_path, 3000)), embed_dim=8, epochs=50, patience=None)
    started = time.monotonic()
    summary = tune(config, budget_seconds=8, out=tmp_path / "tuned.yaml", search_space=SMALL_SPACE)
    elapsed = time.monotonic() - started
    one_epoch = min(t["seconds"] for t in summary["trials"] if t["seconds"]) / 50 * 2  # generous: 2 epochs' time
    # No trial starts after the budget and a running one stops at an epoch end; 6 s for set-up on a busy machine.
    assert elapsed <= 8 + one_epoch + 6
    assert any(t["stopped"] == "budget" for t in summary["trials"])  # 50 epochs cannot fit in 8 s
    assert 0.3 < summary["best_validation"] <= 1.0 and summary["monitor"] == "accuracy"

    from textrnn.cli.config_file import read_yaml_config

    tuned = read_yaml_config(tmp_path / "tuned.yaml")
    assert tuned["hidden_size"] in (4, 8, 64)  # 64: trial 0, the default, is in the search
    assert tuned["hidden_size"] == summary["best_params"]["hidden_size"]
    RunConfig(**tuned)  # a valid training configuration
    assert json.loads((tmp_path / "tuned.trials.json").read_text())["trials"]


def test_tune_keeps_the_parameters_the_user_fixed(tmp_path):
    """--cell rnn used to be overridden: every trial and the written YAML took a searched cell instead."""
    import yaml

    from textrnn.cli import main

    assert main(["tune", "--dataset", str(synthetic_csv(tmp_path)), "--budget-minutes", "5", "--trials", "2",
                 "--epochs", "1", "--embed-dim", "4", "--cell", "rnn", "--hidden-size", "8",
                 "--out", str(tmp_path / "t.yaml")]) == 0
    trials = json.loads((tmp_path / "t.trials.json").read_text())["trials"]
    assert all("cell" not in t["params"] and "hidden_size" not in t["params"] for t in trials)
    assert all(t["params"] for t in trials)  # the rest of the space is still searched
    tuned = yaml.safe_load((tmp_path / "t.yaml").read_text())
    assert tuned["cell"] == "rnn" and tuned["hidden_size"] == 8 and tuned["embed_dim"] == 4


def test_tune_stops_after_the_trials_asked_for(tmp_path):
    from textrnn.cli import main

    assert main(["tune", "--dataset", str(synthetic_csv(tmp_path)), "--budget-minutes", "5", "--trials", "2",
                 "--epochs", "1", "--embed-dim", "4", "--tuned", str(tmp_path / "t.yaml")]) == 0
    trials = json.loads((tmp_path / "t.trials.json").read_text())["trials"]
    assert len(trials) == 2


def test_tune_starts_from_the_configuration_and_scores_what_ships(tmp_path, capsys):
    """Trial 0 is the starting configuration, every trial is scored by the run's monitor on the model that
    would ship (the network with its bag-of-words mix), and the result is never worse than trial 0."""
    from conftest import KEYWORDS, filler_words, insert_keywords
    import random

    from textrnn.params import RunConfig
    from textrnn.tune import tune

    rng, texts, labels = random.Random(1), [], []
    for i in range(900):  # imbalanced: 80% sport, so the monitor is macro-F1
        label = "sport" if i % 10 < 8 else ("money" if i % 2 else "tech")
        words = filler_words(rng, 20)
        insert_keywords(rng, words, KEYWORDS[label], 1)
        texts.append(" ".join(words))
        labels.append(label)
    path = tmp_path / "imbalanced.csv"
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows([("text", "label"), *zip(texts, labels)])
    config = RunConfig(dataset=str(path), embed_dim=8, hidden_size=8, epochs=2, threads=1)
    summary = tune(config, budget_seconds=120, trials=3, out=tmp_path / "t.yaml", search_space=SMALL_SPACE)
    assert summary["monitor"] == "macro_f1"
    first = summary["trials"][0]
    assert first["params"] == {"hidden_size": 8, "lr": config.lr}  # the starting configuration
    assert summary["starting_validation"] == first["validation"]
    assert summary["best_validation"] >= first["validation"]
    assert all(t["bag_of_words_weight"] is not None for t in summary["trials"] if t["state"] == "COMPLETE")
    err = capsys.readouterr().err
    assert "trial 0 (the starting configuration): validation macro-F1" in err
    assert err.count("  trial ") == len(summary["trials"])  # every trial printed


def test_tune_needs_a_validation_split(tmp_path):
    from textrnn.params import ConfigError, RunConfig
    from textrnn.tune import tune

    with pytest.raises(ConfigError, match="val_size"):
        tune(RunConfig(dataset=str(synthetic_csv(tmp_path)), val_size=0), budget_seconds=5)


# ------------------------------------------------------------------------------------ language models


@pytest.fixture(scope="module")
def language_model_dir(tmp_path_factory):
    from textrnn.model.lm import pretrain
    from textrnn.params import ClassifierParams

    texts, _ = synthetic_corpus(600)
    directory = tmp_path_factory.mktemp("lm") / "lm"
    params = ClassifierParams(cell="lstm", embed_dim=8, hidden_size=8, num_layers=2, bidirectional=True, epochs=3,
                              batch_size=16, lr=1e-2, verbose=False)
    pretrain(texts, directory, params)
    return directory


def test_language_model_perplexity_falls(language_model_dir):
    record = json.loads((language_model_dir / "lm.json").read_text())
    for direction in ("forward", "backward"):
        history = record["history"][direction]
        assert history[0]["epoch"] == 0
        perplexities = [h["held_out_perplexity"] for h in history]
        # The corpus is random filler words (12 of them) around keywords, so about 13 is the floor.
        assert perplexities[-1] < 0.85 * perplexities[0]  # well below the untrained model (about the vocabulary)
        assert perplexities[-1] < perplexities[1]


def test_fine_tuning_starts_from_the_language_model(language_model_dir):
    from textrnn.model.lm import load_lm

    texts, labels = synthetic_corpus(300)
    clf = TextRNNClassifier(init_from=str(language_model_dir), cell="lstm", embed_dim=8, hidden_size=8, num_layers=2,
                            epochs=1, gradual_unfreezing=True, discriminative_lr=2.6, val_size=0, batch_size=16)
    clf.fit(texts, labels)
    _, vectorizer, models = load_lm(language_model_dir)
    assert clf.vectorizer_.vocabulary == vectorizer.vocabulary  # the language model's vocabulary
    # Epoch 1 of gradual unfreezing trains the head alone, so the pretrained weights are exactly there.
    rnn = dict(clf.model_.rnn.named_parameters())
    torch.testing.assert_close(clf.model_.embedding.weight, models["forward"].embedding.weight)
    for direction, suffix in (("forward", ""), ("backward", "_reverse")):
        source = dict(models[direction].rnn.named_parameters())
        torch.testing.assert_close(rnn["weight_hh_l0" + suffix], source["weight_hh_l0"])
        torch.testing.assert_close(rnn["weight_ih_l0" + suffix], source["weight_ih_l0"])
        upper, half = rnn["weight_ih_l1" + suffix], source["weight_ih_l1"].shape[1]
        own = slice(0, half) if direction == "forward" else slice(half, 2 * half)
        other = slice(half, 2 * half) if direction == "forward" else slice(0, half)
        torch.testing.assert_close(upper[:, own], source["weight_ih_l1"])
        assert not upper[:, other].any()


def test_language_model_learns_from_data_with_one_word_texts(tmp_path):
    """Length bucketing puts one-word texts (MPQA has thousands) in batches of their own: nothing to predict."""
    from textrnn.model.lm import pretrain
    from textrnn.params import ClassifierParams

    texts = ["good", "bad", "fine", "awful"] * 40 + ["not good at all", "really bad one", "quite fine here"] * 20
    params = ClassifierParams(embed_dim=8, hidden_size=8, epochs=1, batch_size=16, verbose=False)
    record = pretrain(texts, tmp_path / "lm", params)
    assert all(np.isfinite(history[-1]["held_out_perplexity"]) for history in record["history"].values())


def test_backward_language_model_reads_the_forward_embedding(language_model_dir, monkeypatch):
    """The classifier has one embedding for both directions, so the backward model must learn on that one."""
    from textrnn.model import lm
    from textrnn.params import ClassifierParams
    from textrnn.train.pretrained import language_model

    record, lm_vectorizer, models = lm.load_lm(language_model_dir)
    assert record["shared_embedding"]
    torch.testing.assert_close(models["backward"].embedding.weight, models["forward"].embedding.weight)
    params = ClassifierParams(init_from=str(language_model_dir), cell="lstm", embed_dim=8, hidden_size=8,
                              num_layers=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        language_model(params)
    # A language model from before: its backward model learned an embedding of its own.
    earlier = {key: value for key, value in record.items() if key != "shared_embedding"}
    monkeypatch.setattr(lm, "load_lm", lambda directory: (earlier, lm_vectorizer, models))
    with pytest.warns(UserWarning, match="pretrain the language model again"):
        language_model(params)


def test_language_model_must_match_the_classifier(language_model_dir):
    from textrnn.params import ConfigError

    texts, labels = synthetic_corpus(100)
    with pytest.raises(ConfigError, match=r"init_from: .* hidden_size=8 \(here 16\)"):
        TextRNNClassifier(init_from=str(language_model_dir), cell="lstm", embed_dim=8, hidden_size=16,
                          num_layers=2).fit(texts, labels)


def test_generate_samples_known_words_reproducibly(language_model_dir):
    from textrnn.model.lm import generate, load_lm

    words = generate(language_model_dir, "the match", words=12, seed=1)
    vocabulary = set(load_lm(language_model_dir)[1].vocabulary) - {"[PAD]", "[UNK]"}
    assert len(words.split()) == 12 and set(words.split()) <= vocabulary
    assert generate(language_model_dir, "the match", words=12, seed=1) == words


def test_layer_groups_run_top_down():
    from textrnn.train.optimizer import layer_groups

    model = RNNClassifier(vocab_size=30, num_classes=3, embed_dim=4, hidden_size=5, num_layers=2, pooling="attention")
    groups = layer_groups(model)
    assert len(groups) == 4  # head and attention, layer 2, layer 1, embedding
    assert groups[0][0] is not model.embedding.weight and groups[-1] == [model.embedding.weight]
    assert any(p is model.rnn.weight_hh_l1_reverse for p in groups[1])
    assert sum(p.numel() for g in groups for p in g) == sum(p.numel() for p in model.parameters())


# ------------------------------------------------------------------------------ sparse embedding updates


def test_sparse_clipping_matches_dense_clipping():
    norms = []
    for sparse in (False, True):
        torch.manual_seed(0)
        embedding, head = torch.nn.Embedding(10, 4, sparse=sparse), torch.nn.Linear(4, 2)
        (head(embedding(torch.tensor([1, 2, 2, 5]))) ** 2).sum().backward()  # word 2 twice: repeats add up
        parameters = [*embedding.parameters(), *head.parameters()]
        if sparse:
            assert embedding.weight.grad.is_sparse
            clip_gradients_with_sparse(parameters, 0.1)
        else:
            torch.nn.utils.clip_grad_norm_(parameters, 0.1)
        grads = [p.grad.to_dense() if p.grad.is_sparse else p.grad for p in parameters]
        norms.append(grads)
        assert float(torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads]))) == pytest.approx(0.1, rel=1e-4)
    for dense, sparse in zip(*norms):
        torch.testing.assert_close(dense, sparse)


def test_sparse_embedding_trains_with_word_dropout_and_round_trips(tmp_path):
    texts, labels = synthetic_corpus(900)
    clf = TextRNNClassifier(sparse_embedding=True, word_dropout=0.1, embed_dim=16, hidden_size=16, epochs=6,
                            batch_size=16, val_size=0, seed=1).fit(texts[:600], labels[:600])
    assert clf.model_.embedding.sparse
    assert clf.score(texts[600:], labels[600:]) > 0.9
    assert not clf.model_.embedding.weight[0].any()  # padding never moves
    clf.save(tmp_path / "model")
    np.testing.assert_array_equal(TextRNNClassifier.load(tmp_path / "model").predict_proba(texts[600:]),
                                  clf.predict_proba(texts[600:]))


def test_sparse_embedding_respects_frozen_vectors(tmp_path):
    texts, labels = synthetic_corpus(300)
    train_vectors(texts, tmp_path / "v.bin", dim=8, epochs=2, min_count=1, seed=0)
    clf = TextRNNClassifier(embeddings=str(tmp_path / "v.bin"), freeze_embeddings=5, sparse_embedding=True,
                            embed_dim=8, hidden_size=8, epochs=2, val_size=0).fit(texts, labels)
    loaded, vocabulary = load_vectors(tmp_path / "v.bin"), clf.vectorizer_.vocabulary
    weight = clf.model_.embedding.weight.detach().numpy()
    pairs = [(weight[i], loaded[word]) for i, word in enumerate(vocabulary) if i >= 2 and word in loaded]
    assert pairs and all(np.allclose(now, start, atol=1e-6) for now, start in pairs)


def test_sparse_embedding_is_refused_data_parallel():
    texts, labels = synthetic_corpus(60)
    with pytest.raises(ConfigError, match="sparse_embedding: not with data-parallel"):
        TextRNNClassifier(sparse_embedding=True, devices=2, epochs=1).fit(texts, labels)


# ------------------------------------------------------------------------------ ensembles


def test_ensemble_output_is_the_average_of_its_members_probabilities():
    torch.manual_seed(0)
    members = [RNNClassifier(vocab_size=30, num_classes=3, embed_dim=6, hidden_size=5, cell=cell).eval()
               for cell in ("gru", "lstm")]
    ids, lengths = torch.tensor([[4, 5, 6, 0], [7, 8, 9, 10]]), torch.tensor([3, 4])
    average = torch.stack([torch.softmax(m(ids, lengths), dim=1) for m in members]).mean(dim=0)
    torch.testing.assert_close(torch.softmax(EnsembleClassifier(members)(ids, lengths), dim=1), average)


def test_ensemble_members_are_the_single_models_of_their_seeds(tmp_path):
    texts, labels = synthetic_corpus(400)
    options = dict(embed_dim=8, hidden_size=8, epochs=2, val_size=0)
    ensemble = TextRNNClassifier(ensemble=2, seed=4, **options).fit(texts, labels)
    assert isinstance(ensemble.model_, EnsembleClassifier) and len(ensemble.model_.members) == 2
    assert [r["member"] for r in ensemble.history_] == [1, 1, 2, 2] and ensemble.fit_info_["best_epoch"] == [2, 2]
    for member, seed in zip(ensemble.model_.members, (4, 5)):
        single = TextRNNClassifier(seed=seed, **options).fit(texts, labels)
        for name, tensor in single.model_.state_dict().items():
            torch.testing.assert_close(member.state_dict()[name], tensor, rtol=0, atol=0)
    ensemble.save(tmp_path / "model")
    np.testing.assert_array_equal(TextRNNClassifier.load(tmp_path / "model").predict_proba(texts),
                                  ensemble.predict_proba(texts))


def test_interrupted_ensemble_resumes_in_the_member_it_was_training(tmp_path):
    texts, labels = synthetic_corpus(400)
    options = dict(embed_dim=8, hidden_size=8, epochs=2, ensemble=2, embeddings="word2vec")
    for name in ("whole", "cut"):
        (tmp_path / name).mkdir()
    whole = TextRNNClassifier(**options).fit(texts, labels, checkpoint_dir=tmp_path / "whole")
    calls = []

    def stop_in_member_two(record, model):
        calls.append(record)
        if len(calls) == 3:  # the end of the second member's first epoch
            raise KeyboardInterrupt

    interrupted = TextRNNClassifier(**options)
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(texts, labels, checkpoint_dir=tmp_path / "cut", on_epoch_end=stop_in_member_two)
    assert (tmp_path / "cut" / "member-0.safetensors").is_file()
    interrupted.fit(texts, labels, checkpoint_dir=tmp_path / "cut", resume=True)
    np.testing.assert_array_equal(interrupted.predict_proba(texts), whole.predict_proba(texts))
    timed = ("seconds", "samples_per_second", "tokens_per_second")
    untimed = lambda history: [{k: v for k, v in r.items() if k not in timed} for r in history]
    assert untimed(interrupted.history_) == untimed(whole.history_)


def test_vectors_trained_in_the_fit_need_data_in_memory(tmp_path):
    from textrnn.data.stream import RowStream

    with pytest.raises(ConfigError, match="embeddings: word2vec vectors are trained on training data in memory"):
        TextRNNClassifier(embeddings="word2vec", epochs=1).fit_stream(RowStream(synthetic_csv(tmp_path)))


def test_a_language_model_reads_texts_with_the_punctuation_it_is_given(tmp_path):
    from textrnn.model.lm import pretrain
    from textrnn.params import ClassifierParams
    from textrnn.train.pretrained import language_model

    texts = ["U.S. stocks rally after the report", "the team won the match today"] * 20
    params = ClassifierParams(cell="gru", embed_dim=4, hidden_size=4, epochs=1, punctuation="delete", verbose=False)
    pretrain(texts, tmp_path / "lm", params)
    vectorizer = language_model(params.model_copy(update={"init_from": str(tmp_path / "lm")})).vectorizer
    assert vectorizer.punctuation == "delete" and vectorizer.standardize("U.S.") == ["us"]
    # auto: decided by the number of texts, as a classifier's fit decides it; the classifier then follows it
    pretrain(texts, tmp_path / "lm-auto", params.model_copy(update={"punctuation": "auto"}))
    auto = params.model_copy(update={"punctuation": "auto", "init_from": str(tmp_path / "lm-auto")})
    assert language_model(auto).vectorizer.punctuation == "token"  # 40 texts: fewer than 10,000
    from textrnn.train.adaptive import DataProfile, resolve

    follows = auto.model_copy(update={"init_from": str(tmp_path / "lm")})  # the "delete" model, 40 rows
    assert resolve(follows, DataProfile.of(texts, ["a", "b"] * 20), False)[0].punctuation == "delete"


def test_named_word_vectors_come_from_the_downloader_cache_or_say_how_to_get_them(tmp_path, monkeypatch):
    """A named set (glove-wiki-gigaword-50) is read from gensim's cache when it is there (here a small file in
    the format the downloader stores: word2vec text, gzipped); offline and not cached, the message says what to
    do. The downloader is never reached from the tests: its load is replaced."""
    import gzip

    from gensim import downloader

    from textrnn.text import embeddings

    texts, labels = synthetic_corpus(200)
    words = sorted({word for text in texts for word in text.split()})
    rng = np.random.default_rng(0)
    folder = tmp_path / "glove-wiki-gigaword-50"
    folder.mkdir()
    with gzip.open(folder / "glove-wiki-gigaword-50.gz", "wt") as out:
        out.write(f"{len(words)} 50\n")
        out.writelines(f"{word} {' '.join(f'{v:.4f}' for v in rng.normal(size=50))}\n" for word in words)
    (folder / "__init__.py").write_text("raise SystemExit('the downloader module must never be run')\n")
    monkeypatch.setattr(downloader, "BASE_DIR", str(tmp_path))

    def offline(name, return_path=False):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(downloader, "load", offline)
    clf = TextRNNClassifier(embeddings="glove-wiki-gigaword-50", embed_dim=50, hidden_size=8, epochs=1,
                            verbose=False).fit(texts, labels)
    assert clf.fit_info_["embeddings"]["word_coverage"] > 0.9
    with pytest.raises(DataError, match="glove-wiki-gigaword-100 is not in gensim's cache .* could not be downloaded "
                                        r"\(OSError: Network is unreachable\).*--embeddings FILE"):
        embeddings.load_vectors("glove-wiki-gigaword-100")
    with pytest.raises(ConfigError, match="glove-wiki-gigaword-50 has 50 dimensions; set embed_dim 50"):
        TextRNNClassifier(embeddings="glove-wiki-gigaword-50").fit(texts, labels)
