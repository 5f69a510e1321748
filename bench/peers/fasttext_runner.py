"""fastText supervised on the same rows, normalised as fastText's own AG News example script does
(lower-case, punctuation split off as tokens, quotes, semicolons and colons dropped)."""

import json
import sys
import tempfile
import time

from common import emit, latency_ms, load, throughput

args = json.loads(sys.argv[1])
train_texts, train_labels, test_texts, test_labels = load(args["data_dir"], args["quick"])
import fasttext  # noqa: E402
import numpy as np  # noqa: E402

PUNCTUATION = str.maketrans({"'": " ' ", '"': "", ".": " . ", ",": " , ", "(": " ( ", ")": " ) ", "!": " ! ",
                              "?": " ? ", ";": " ", ":": " "})


def clean(text: str) -> str:
    return " ".join(text.lower().replace("<br />", " ").translate(PUNCTUATION).split())
with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as out:
    out.writelines(f"__label__{label} {clean(text)}\n" for text, label in zip(train_texts, train_labels))
started = time.perf_counter()
model = fasttext.train_supervised(out.name, dim=10, lr=0.25, wordNgrams=args["word_ngrams"], epoch=args["epochs"],
                                  bucket=10_000_000, minCount=1, thread=2, seed=0, verbose=0)
seconds = time.perf_counter() - started
predicted, _ = model.predict([clean(t) for t in test_texts])
accuracy = float(np.mean([int(p[0].replace("__label__", "")) == y for p, y in zip(predicted, test_labels)]))
emit({"epochs": [{"epoch": args["epochs"], "train_seconds": seconds, "cumulative_seconds": seconds,
                  "samples_per_second": args["epochs"] * len(train_texts) / seconds, "test_accuracy": accuracy}],
      "inference_docs_per_second": throughput(lambda ts: model.predict([clean(t) for t in ts]), test_texts),
      "latency_ms": latency_ms(lambda t: model.predict(clean(t)), test_texts)})
