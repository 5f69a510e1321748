"""A corpus of bad model directories: each is refused with a message naming the file and the problem, before
anything large is allocated, never with a traceback from inside a library.

The cases edit a saved model as a careless user or an attacker would; where the edited file is covered by the
manifest's SHA-256, the hash is recomputed too (anyone can do that), so the check behind it is what is tested.
"""

import hashlib
import json

import pytest
from conftest import synthetic_corpus
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from textrnn import TextRNNClassifier
from textrnn.errors import ModelFileError


def edit_json(directory, name, change, rehash=True):
    path = directory / name
    data = json.loads(path.read_text())
    data = change(data) or data
    path.write_text(json.dumps(data))
    if rehash and name != "config.json":
        rehash_file(directory, name)


def rehash_file(directory, name):
    config = json.loads((directory / "config.json").read_text())
    config["sha256"][name] = hashlib.sha256((directory / name).read_bytes()).hexdigest()
    (directory / "config.json").write_text(json.dumps(config))


def edit_params(**changes):
    return lambda d: edit_json(d, "config.json", lambda c: c["params"].update(changes))


def edit_weights(change):
    def apply(directory):
        path = directory / "model.safetensors"
        weights = load_safetensors(path.read_bytes())
        path.write_bytes(save_safetensors(change(weights) or weights))
        rehash_file(directory, "model.safetensors")
    return apply


def fill(tensor, value) -> None:
    tensor.fill_(value)


def set_vocabulary_id(directory):
    def change(data):
        vocab = data["tokenizer"]["model"]["vocab"]
        vocab[next(token for token, i in vocab.items() if i == 5)] = 50_000
    edit_json(directory, "vectorizer.json", change)


def truncate_weights(directory):
    path = directory / "model.safetensors"
    path.write_bytes(path.read_bytes()[:500])
    rehash_file(directory, "model.safetensors")


CASES = {
    "hidden_size far above the weights": (edit_params(hidden_size=20_000), r"does not fit config.json: it declares hidden_size 20000, the weights hold 8"),
    "hidden_size of a billion": (edit_params(hidden_size=10**9), r"does not fit config.json: it declares hidden_size 1000000000, the weights hold 8"),
    "num_layers 50": (edit_params(num_layers=50), r"does not fit config.json: it declares num_layers 50, the weights hold 1"),
    "num_layers 100000": (edit_params(num_layers=100_000), r"config.json: invalid parameters:\n  num_layers: Input should be less than or equal to 100"),
    "an ensemble the weights do not hold": (edit_params(ensemble=50), r"does not fit config.json: it declares an ensemble of 50, the weights hold 1"),
    "embed_dim changed": (edit_params(embed_dim=7), r"does not fit config.json: it declares embed_dim 7, the weights hold 8"),
    "cell changed": (edit_params(cell="lstm"), r"does not fit config.json: .*rnn.weight_ih_l0 has shape"),
    "pooling changed": (edit_params(pooling="attention"), r"does not fit config.json: missing attention"),
    "unknown parameter": (edit_params(hidden=3), r"config.json: invalid parameters:\s+hidden: unknown parameter"),
    "parameter out of range": (edit_params(num_layers=0), r"config.json: invalid parameters:\s+num_layers: Input should be greater"),
    "labels.json longer than the head": (
        lambda d: edit_json(d, "labels.json", lambda labels: labels + ["extra", "more"]), r"head.weight has shape"),
    "labels.json with one label": (lambda d: edit_json(d, "labels.json", lambda labels: labels[:1]),
                                   r"labels.json: expected a list of at least two distinct class names"),
    "labels.json with a repeated label": (lambda d: edit_json(d, "labels.json", lambda labels: [labels[0]] * 3),
                                          r"at least two distinct"),
    "a vocabulary id past the end": (set_vocabulary_id, r"vectorizer.json: token ids must run from 0 to"),
    "vocab_size disagrees with the vectorizer": (
        lambda d: edit_json(d, "config.json", lambda c: c.update(vocab_size=99)), r"config.json says 99"),
    "truncated weights": (truncate_weights, r"model.safetensors: not a readable safetensors file"),
    "an extra tensor": (edit_weights(lambda w: w.update(extra=w["head.bias"].clone())), r"unexpected extra"),
    "a missing tensor": (edit_weights(lambda w: {k: v for k, v in w.items() if k != "head.bias"}), r"missing head.bias"),
    "weights changed, hash not": (
        lambda d: (d / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes()[:-4] + b"\0\0\0\0"),
        r"SHA-256 differs"),
    "config.json not JSON": (lambda d: (d / "config.json").write_text("{not json"), r"config.json"),
    "config.json of another format": (
        lambda d: edit_json(d, "config.json", lambda c: c.update(format="other/9")), r"format 'other/9'"),
    "labels.json missing": (lambda d: (d / "labels.json").unlink(), r"missing labels.json"),
    "a pickle beside the weights": (lambda d: (d / "weights.pkl").write_bytes(b"\x80\x04K\x01."), r"runs code"),
    "a manifest naming a file outside": (
        lambda d: edit_json(d, "config.json", lambda c: c["sha256"].update({"../x": "0" * 64})), r"not a file in this"),
    "temperature of zero": (lambda d: edit_json(d, "config.json", lambda c: c.update(temperature=0)),
                            r"temperature must be a number between"),
    "integer label kind for names": (lambda d: edit_json(d, "config.json", lambda c: c.update(label_kind="int")),
                                     r"label_kind 'int' does not fit labels.json"),
    "multi-label without thresholds": (edit_params(multi_label=True), r"thresholds must be a list of 3 numbers"),
    "a NaN in the head": (edit_weights(lambda w: fill(w["head.bias"], float("nan"))),
                          r"head.bias hold values that are not numbers"),
    "an infinite embedding row": (edit_weights(lambda w: fill(w["embedding.weight"][3], float("inf"))),
                                  r"embedding.weight hold values that are not numbers"),
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    texts, labels = synthetic_corpus(200)
    # The network alone: its tensors are the ones named below (test_bag_of_words damages a mixed model's).
    clf = TextRNNClassifier(embed_dim=8, hidden_size=8, epochs=1, bag_of_words=None).fit(texts, labels)
    return clf.save(tmp_path_factory.mktemp("model") / "m")


@pytest.mark.parametrize("case", CASES)
def test_each_bad_model_directory_gets_its_own_message(case, saved, tmp_path):
    import shutil

    directory = tmp_path / "m"
    shutil.copytree(saved, directory)
    damage, message = CASES[case]
    damage(directory)
    with pytest.raises(ModelFileError, match=message):
        TextRNNClassifier.load(directory)


def test_the_corpus_is_wide():
    assert len(CASES) >= 15


@pytest.mark.parametrize("case", ["a NaN in the head", "an infinite embedding row"])
def test_predict_and_serve_refuse_a_model_that_cannot_answer(case, saved, tmp_path, capsys):
    """They load the network without the estimator: the same checks, one line, and the server never starts."""
    import shutil

    from textrnn.cli import main

    directory = tmp_path / "m"
    shutil.copytree(saved, directory)
    CASES[case][0](directory)
    assert main(["predict", str(directory), "some text"]) == 2
    assert main(["serve", str(directory), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("not numbers") == 2 and "Traceback" not in err
