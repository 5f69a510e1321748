"""textrnn with a preset: train epoch by epoch (test accuracy after each), then PyTorch and ONNX inference."""

import json
import sys
import tempfile
import time

from common import emit, latency_ms, load, throughput

args = json.loads(sys.argv[1])
train_texts, train_labels, test_texts, test_labels = load(args["data_dir"], args["quick"])
import numpy as np  # noqa: E402

from textrnn import TextRNNClassifier  # noqa: E402
from textrnn.text.batching import EncodedTexts  # noqa: E402
from textrnn.deploy.export import export_onnx  # noqa: E402
from textrnn.presets import PRESETS  # noqa: E402
from textrnn.deploy.runtime import OnnxClassifier  # noqa: E402
from textrnn.train.predict import predict_probabilities  # noqa: E402

params = {k: v for k, v in PRESETS[args["preset"]].items() if k != "text_column"}
as_preset = args.get("as_preset", False)  # the preset as a user runs it: its own epochs, validation, stopping
if not as_preset:  # the same epochs, batch size and data for every system, all rows trained on
    params.update(epochs=args["epochs"], batch_size=args["batch_size"], patience=None, val_size=0.0, seed=0)
params["threads"] = 2  # every system in this benchmark uses the machine's 2 cores (Keras, fastText thread=2)
params.update(args.get("params", {}))  # a variant of the preset, e.g. sparse_embedding
clf = TextRNNClassifier(**params)
labels = np.array(test_labels)
epochs = []
testing_seconds = []  # inside fit, but not the model's: the test accuracy after each epoch


def on_epoch_end(record, model):
    started = time.perf_counter()
    encoded = EncodedTexts(clf.vectorizer_.encode(test_texts))
    predicted = predict_probabilities(model, encoded, clf.params_).argmax(axis=1)
    classes = [clf.classes_.index(str(c)) for c in range(4)]
    accuracy = float((predicted == np.array(classes)[labels]).mean())
    previous = epochs[-1]["cumulative_seconds"] if epochs else 0.0
    epochs.append({"epoch": record["epoch"], "train_seconds": record["seconds"],
                   "cumulative_seconds": previous + record["seconds"],
                   "samples_per_second": record["samples_per_second"], "test_accuracy": accuracy})
    print(epochs[-1], file=sys.stderr, flush=True)
    testing_seconds.append(time.perf_counter() - started)


if as_preset:  # one figure at the end, for the whole fit (word vectors, every member, validation included)
    clf.fit(train_texts, [str(label) for label in train_labels])
    info = clf.fit_info_
    epochs.append({"epoch": info["epochs_run"], "train_seconds": info["fit_seconds"],
                   "cumulative_seconds": info["fit_seconds"], "samples_per_second": info["samples_per_second"],
                   "test_accuracy": clf.score(test_texts, [str(label) for label in test_labels])})
else:
    clf.fit(train_texts, [str(label) for label in train_labels], on_epoch_end=on_epoch_end)
# what the fit did besides its epochs and this script's testing: vocabulary, word vectors, calibration
outside_epochs = clf.fit_info_["fit_seconds"] - sum(e["train_seconds"] for e in epochs) - sum(testing_seconds)
result = {"epochs": epochs, "fit_seconds_outside_epochs": 0.0 if as_preset else outside_epochs,
          "inference_docs_per_second": throughput(clf.predict_proba, test_texts),
          "latency_ms": latency_ms(lambda t: clf.predict_proba([t]), test_texts)}
with tempfile.TemporaryDirectory() as scratch:
    clf.save(f"{scratch}/run")
    for quantize in (None, "int8"):
        out, agreement = export_onnx(f"{scratch}/run", quantize=quantize, check_texts=test_texts[:2000])
        onnx = OnnxClassifier(out, threads=None)
        name = "onnx_int8" if quantize else "onnx"
        result[name] = {"inference_docs_per_second": throughput(onnx.predict_proba, test_texts),
                        "latency_ms": latency_ms(lambda t: onnx.predict_proba([t]), test_texts),
                        "agreement": agreement}
emit(result)
