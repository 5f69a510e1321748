"""Multi-label classification end to end, on small synthetic data: a text carries any number of labels."""

import json
import random

import numpy as np
import pytest
from conftest import KEYWORDS, filler_words, insert_keywords

from textrnn import TextRNNClassifier
from textrnn.data.tables import TableOptions, read_table
from textrnn.errors import DataError, RowError
from textrnn.evaluation.multilabel import multilabel_metrics
from textrnn.multilabel import best_threshold, choose_thresholds, decide, f1_scores

LABELS = list(KEYWORDS)  # sport, money, tech


def multi_label_corpus(rows: int, seed: int = 0) -> tuple[list[str], list[list[str]]]:
    """Texts with zero to three topics; each topic present puts two of its keywords in the text."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(rows):
        topics = [label for label in LABELS if rng.random() < 0.4]
        words = filler_words(rng, 20)
        for topic in topics:
            insert_keywords(rng, words, KEYWORDS[topic], 2)
        texts.append(" ".join(words))
        labels.append(topics)
    return texts, labels


@pytest.fixture(scope="module")
def corpus():
    return multi_label_corpus(900)


@pytest.fixture(scope="module")
def fitted(corpus):
    texts, labels = corpus
    return TextRNNClassifier(multi_label=True, embed_dim=16, hidden_size=16, epochs=6, lr=5e-3,
                             val_size=0.2).fit(texts, labels)


# ------------------------------------------------------------------------------------------- data


def test_label_cells_are_read_from_joined_text_and_from_lists(tmp_path):
    (tmp_path / "d.tsv").write_text("text\tlabel\nsome goal\tsport|money\nno topic here\t\nchip\ttech| tech \n")
    read = read_table(tmp_path / "d.tsv", options=TableOptions(label_separator="|"))
    assert read.labels == [("sport", "money"), (), ("tech",)]  # empty cell: no label; repeats and spaces dropped
    (tmp_path / "d.jsonl").write_text('{"text": "some goal", "label": ["sport", "money"]}\n'
                                      '{"text": "nothing", "label": []}\n{"text": "x", "label": [3, "tech"]}\n')
    read = read_table(tmp_path / "d.jsonl", options=TableOptions(label_separator=","))
    assert read.labels == [("sport", "money"), (), ("3", "tech")]
    (tmp_path / "d.txt").write_text("__label__sport __label__money some goal\nchip __label__tech\n")
    assert read_table(tmp_path / "d.txt", options=TableOptions(label_separator=",")).labels == [("sport", "money"),
                                                                                                ("tech",)]


def test_bad_label_cells_name_the_file_row_and_field(tmp_path):
    (tmp_path / "d.jsonl").write_text('{"text": "a", "label": ["x"]}\n{"text": "b", "label": [{"no": 1}]}\n')
    with pytest.raises(RowError, match=r"d.jsonl, line 2.*label.*a label list holds dict"):
        read_table(tmp_path / "d.jsonl", options=TableOptions(label_separator=","))
    with pytest.raises(RowError, match=r"line 1.*got list.*--multi-label"):
        read_table(tmp_path / "d.jsonl")  # several labels without multi-label: refused, with the way out


def test_headerless_tsv_without_quoting_reads_quotes_as_text(tmp_path):
    """GoEmotions' layout: no header, text<TAB>label ids<TAB>id, and quotes that are not CSV quoting."""
    (tmp_path / "g.tsv").write_text('"Quoted" start and a "middle\t0,7\tid1\nplain\t27\tid2\n')
    read = read_table(tmp_path / "g.tsv", ["0"], "1",
                      options=TableOptions(header=False, quoting="none", label_separator=","))
    assert read.texts == ['"Quoted" start and a "middle', "plain"]
    assert read.labels == [("0", "7"), ("27",)]
    with pytest.raises(DataError, match=r"no column 'text'; without a header the columns are 0, 1, 2"):
        read_table(tmp_path / "g.tsv", ["text"], "1", options=TableOptions(header=False, quoting="none"))


# ------------------------------------------------------------------------------------ thresholds


def test_best_threshold_is_the_best_cut_tried_by_brute_force():
    rng = np.random.default_rng(0)
    scores, truth = rng.random(200), rng.random(200) < 0.2
    threshold, f1 = best_threshold(scores, truth)
    brute = max(f1_scores(truth[:, None], (scores >= t)[:, None])[0] for t in np.unique(scores))
    assert f1 == pytest.approx(brute)
    assert f1_scores(truth[:, None], (scores >= threshold)[:, None])[0] == pytest.approx(brute)


def test_per_label_thresholds_reach_at_least_the_global_ones_macro_f1():
    rng = np.random.default_rng(1)
    truth = rng.random((300, 4)) < [0.5, 0.2, 0.1, 0.01]
    probabilities = np.clip(truth * rng.uniform(0.1, 0.6, (300, 4)) + rng.uniform(0, 0.4, (300, 4)), 0, 1)
    per_label, record = choose_thresholds(probabilities, truth, "per_label")
    global_, _ = choose_thresholds(probabilities, truth, "global")
    macro = lambda t: f1_scores(truth, decide(probabilities, t)).mean()
    assert macro(per_label) >= macro(global_)
    assert record["labels_with_own_threshold"] == 3  # the 1% label has too few positives for its own
    assert per_label[3] == global_[3]
    fixed, _ = choose_thresholds(probabilities, truth, 0.3)
    assert (fixed == np.float32(0.3)).all()


# --------------------------------------------------------------------------------------- metrics


def test_metrics_agree_with_scikit_learn():
    from sklearn import metrics as sk

    rng = np.random.default_rng(2)
    truth, chosen = rng.random((120, 5)) < 0.3, rng.random((120, 5)) < 0.3
    truth[:, 4] = False  # a label without positives: zero_division=0, as ours
    ours = multilabel_metrics(truth, chosen, list("abcde"))
    for average in ("micro", "macro"):
        assert ours[f"{average}_f1"] == pytest.approx(sk.f1_score(truth, chosen, average=average, zero_division=0))
        assert ours[f"{average}_precision"] == pytest.approx(
            sk.precision_score(truth, chosen, average=average, zero_division=0))
        assert ours[f"{average}_recall"] == pytest.approx(sk.recall_score(truth, chosen, average=average, zero_division=0))
    assert ours["subset_accuracy"] == pytest.approx(sk.accuracy_score(truth, chosen))
    assert ours["hamming_loss"] == pytest.approx(sk.hamming_loss(truth, chosen))
    per_label = sk.f1_score(truth, chosen, average=None, zero_division=0)
    assert [ours["per_class"][name]["f1"] for name in "abcde"] == pytest.approx(list(per_label))
    assert [ours["per_class"][name]["support"] for name in "abcde"] == truth.sum(axis=0).tolist()


# ------------------------------------------------------------------------------- model and fit


def test_sigmoid_head_and_binary_cross_entropy(fitted, corpus):
    import torch

    from textrnn.train.loop import loss_function

    probabilities = fitted.predict_proba(corpus[0][:50])
    assert probabilities.shape == (50, 3) and ((0 <= probabilities) & (probabilities <= 1)).all()
    assert not np.allclose(probabilities.sum(axis=1), 1.0)  # independent labels, not a softmax
    loss = loss_function(fitted.params_, None, type("F", (), {"to_device": staticmethod(lambda t: t)}))
    assert isinstance(loss, torch.nn.BCEWithLogitsLoss)
    assert fitted.history_[-1]["val_macro_f1"] > 0.9  # the topics are learnable


def test_predict_gives_label_sets_in_the_form_fit_got(fitted, corpus):
    texts, labels = corpus
    predicted = fitted.predict(texts[:200])
    assert all(isinstance(p, tuple) for p in predicted)
    assert np.mean([set(p) == set(t) for p, t in zip(predicted, labels[:200])]) > 0.85
    assert fitted.score(texts[:200], labels[:200]) > 0.85  # subset accuracy
    indicator = np.array([[int(name in row) for name in LABELS] for row in labels])
    clf = TextRNNClassifier(multi_label=True, embed_dim=8, hidden_size=8, epochs=1).fit(texts[:200], indicator[:200])
    assert clf.classes_.tolist() == [0, 1, 2]  # the indicator columns, as scikit-learn numbers them
    assert clf.predict(texts[:5]).shape == (5, 3) and set(np.unique(clf.predict(texts[:5]))) <= {0, 1}


def test_single_label_mode_refuses_label_lists_with_the_way_out(corpus):
    with pytest.raises(DataError, match="row 1: a list of labels.*multi_label=True"):
        TextRNNClassifier(epochs=1).fit(corpus[0][:20], corpus[1][:20])


def test_texts_without_labels_train_and_are_counted(corpus):
    texts, labels = corpus
    empty = sum(1 for row in labels if not row)
    assert empty > 0
    metrics = multilabel_metrics(np.array([[0, 1], [0, 0]]), np.array([[0, 1], [1, 0]]), ["a", "b"])
    assert metrics["rows_without_labels"] == 1


def test_padding_does_not_change_multi_label_probabilities(fitted):
    short, long_ = "goal for the team", " ".join(["the market and the chip"] * 30)
    alone = fitted.predict_proba([short])
    beside_a_long_text = fitted.predict_proba([long_, short])[1:]
    np.testing.assert_allclose(alone, beside_a_long_text, atol=1e-6)


def test_save_load_round_trip_keeps_thresholds(fitted, corpus, tmp_path):
    fitted.save(tmp_path / "m")
    loaded = TextRNNClassifier.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.thresholds_, fitted.thresholds_)
    assert list(loaded.predict(corpus[0][:100])) == list(fitted.predict(corpus[0][:100]))
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert len(config["thresholds"]) == 3 and config["params"]["multi_label"] is True


# --------------------------------------------------------------- export, runtime, server, CLI


@pytest.fixture(scope="module")
def exported(fitted, tmp_path_factory):
    from textrnn.deploy.export import export_onnx

    directory = tmp_path_factory.mktemp("ml-export")
    # Thresholds far from the learned ones, so that the runtime must read them from the export to agree.
    fitted.thresholds_ = np.array([0.3, 0.5, 0.7], dtype=np.float32)
    fitted.save(directory / "run")
    export_onnx(directory / "run", directory / "onnx")
    return directory


def test_thresholds_apply_alike_in_pytorch_onnx_runtime_and_server(exported, corpus):
    from fastapi.testclient import TestClient

    from textrnn.deploy.runtime import OnnxClassifier
    from textrnn.deploy.serve import ServeSettings, create_app

    texts = corpus[0][:120]
    torch_sets = list(TextRNNClassifier.load(exported / "run").predict(texts))
    onnx = OnnxClassifier(exported / "onnx")
    np.testing.assert_allclose(onnx.thresholds_, [0.3, 0.5, 0.7], rtol=1e-6)
    assert list(onnx.predict(texts)) == torch_sets
    with TestClient(create_app(ServeSettings(model_path=str(exported / "onnx"), max_texts=200))) as client:
        reply = client.post("/v1/predict", json={"texts": texts, "top_k": 3}).json()
        schema = client.get("/openapi.json").json()["components"]["schemas"]["Prediction"]
        info = client.get("/v1/model").json()
    order = onnx.classes_.index
    served = [tuple(sorted((c["label"] for c in p["labels"]), key=order)) for p in reply["predictions"]]
    assert served == torch_sets
    assert "labels" in schema["required"] and info["multi_label"] is True
    assert all(c["probability"] >= info["thresholds"][c["label"]] for p in reply["predictions"] for c in p["labels"])


def test_cli_trains_predicts_and_labels_files(tmp_path, corpus):
    from textrnn.cli import main

    texts, labels = corpus
    lines = [f"{t}\t{','.join(l)}\n" for t, l in zip(texts, labels)]
    (tmp_path / "train.tsv").write_text("text\tlabel\n" + "".join(lines[:700]))
    (tmp_path / "test.tsv").write_text("text\tlabel\n" + "".join(lines[700:]))
    run = tmp_path / "run"
    assert main(["train", "--dataset", str(tmp_path / "train.tsv"), "--test-data", str(tmp_path / "test.tsv"),
                 "--multi-label", "--embed-dim", "16", "--hidden-size", "16", "--epochs", "4", "--lr", "5e-3",
                 "--val-size", "0.2", "--out", str(run), "--no-verbose"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["multi_label"] and metrics["test"]["macro_f1"] > 0.8
    assert metrics["baseline"]["test"]["multi_label"] and metrics["baseline"]["test"]["macro_f1"] > 0.8
    assert "Most confident wrong labels" in (run / "report.html").read_text()
    assert main(["predict", str(run), "--input", str(tmp_path / "test.tsv"), "--out", str(tmp_path / "out.jsonl")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert rows[0]["label"] == ",".join(labels[700]) and isinstance(rows[0]["predicted_labels"], list)
    assert np.mean([set(r["predicted_labels"]) == set(l) for r, l in zip(rows, labels[700:])]) > 0.8


def test_works_inside_scikit_learn_cross_validation(corpus):
    from sklearn.model_selection import cross_val_score

    texts, labels = corpus
    indicator = np.array([[int(name in row) for name in sorted(LABELS)] for row in labels])
    scores = cross_val_score(TextRNNClassifier(multi_label=True, embed_dim=16, hidden_size=16, epochs=3, lr=5e-3),
                             texts[:400], indicator[:400], cv=2, scoring="f1_macro")
    assert scores.shape == (2,) and (scores > 0.3).all()
