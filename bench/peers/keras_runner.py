"""The lesson's Keras model: TextVectorization -> Embedding(mask_zero) -> 2 x Bidirectional LSTM(64) -> softmax."""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from common import emit, latency_ms, load, throughput  # noqa: E402

args = json.loads(sys.argv[1])
train_texts, train_labels, test_texts, test_labels = load(args["data_dir"], args["quick"])
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow import keras  # noqa: E402

keras.utils.set_random_seed(0)
vectorizer = keras.layers.TextVectorization(max_tokens=20_000)
vectorizer.adapt(tf.data.Dataset.from_tensor_slices(train_texts).batch(1024))
model = keras.Sequential([
    keras.Input(shape=(1,), dtype=tf.string),
    vectorizer,
    keras.layers.Embedding(20_000, 128, mask_zero=True),
    keras.layers.Bidirectional(keras.layers.LSTM(64, return_sequences=True)),
    keras.layers.Bidirectional(keras.layers.LSTM(64)),
    keras.layers.Dense(4, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
train = tf.data.Dataset.from_tensor_slices((train_texts, train_labels)).shuffle(len(train_texts), seed=0)
train = train.batch(args["batch_size"]).map(lambda x, y: (tf.expand_dims(x, -1), y))
test_input = tf.constant([[text] for text in test_texts])
epochs = []
for epoch in range(1, args["epochs"] + 1):
    started = time.perf_counter()
    model.fit(train, epochs=1, verbose=0)
    seconds = time.perf_counter() - started
    accuracy = float((model.predict(test_input, batch_size=256, verbose=0).argmax(axis=1) == np.array(test_labels)).mean())
    previous = epochs[-1]["cumulative_seconds"] if epochs else 0.0
    epochs.append({"epoch": epoch, "train_seconds": seconds, "cumulative_seconds": previous + seconds,
                   "samples_per_second": len(train_texts) / seconds, "test_accuracy": accuracy})
    print(epochs[-1], file=sys.stderr, flush=True)


serve_one = tf.function(lambda x: model(x, training=False))  # traced once: Keras' fastest one-document path


def predict_batch(texts):
    return model.predict(tf.constant([[text] for text in texts]), batch_size=256, verbose=0)


emit({"epochs": epochs, "inference_docs_per_second": throughput(predict_batch, test_texts),
      "latency_ms": latency_ms(lambda t: serve_one(tf.constant([[t]])), test_texts),
      "versions": {"tensorflow": tf.__version__, "keras": keras.__version__}})
