"""Plain PyTorch as most tutorials write it: random batches padded to their longest text, pack_padded_sequence,
the lesson's 2-layer bidirectional LSTM(64) over a 128-dim embedding, last hidden state, Adam."""

import json
import re
import sys
import time
from collections import Counter

from common import emit, latency_ms, load, throughput

args = json.loads(sys.argv[1])
train_texts, train_labels, test_texts, test_labels = load(args["data_dir"], args["quick"])
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence  # noqa: E402

torch.manual_seed(0)
tokenize = lambda text: re.findall(r"\w+", text.lower())  # noqa: E731
counts = Counter(word for text in train_texts for word in tokenize(text))
vocabulary = {word: i + 2 for i, (word, _) in enumerate(counts.most_common(20_000 - 2))}
encode = lambda text: torch.tensor([vocabulary.get(w, 1) for w in tokenize(text)] or [1])  # noqa: E731


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(20_000, 128, padding_idx=0)
        self.lstm = nn.LSTM(128, 64, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Linear(128, 4)

    def forward(self, ids, lengths):
        packed = pack_padded_sequence(self.embedding(ids), lengths, batch_first=True, enforce_sorted=False)
        _, (hidden, _) = self.lstm(packed)
        return self.head(torch.cat([hidden[-2], hidden[-1]], dim=1))


def batch(texts):
    sequences = [encode(t) for t in texts]
    return pad_sequence(sequences, batch_first=True), torch.tensor([len(s) for s in sequences])


model, loss_fn = Model(), nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
labels = torch.tensor(train_labels)
epochs = []


@torch.no_grad()
def predict_batch(texts):
    model.eval()
    return torch.softmax(model(*batch(texts)), dim=1).numpy()


for epoch in range(1, args["epochs"] + 1):
    model.train()
    started = time.perf_counter()
    order = torch.randperm(len(train_texts))
    for i in range(0, len(order), args["batch_size"]):
        index = order[i : i + args["batch_size"]]
        ids, lengths = batch([train_texts[j] for j in index])
        loss = loss_fn(model(ids, lengths), labels[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - started
    predicted = np.concatenate([predict_batch(test_texts[i : i + 256]) for i in range(0, len(test_texts), 256)])
    accuracy = float((predicted.argmax(axis=1) == np.array(test_labels)).mean())
    previous = epochs[-1]["cumulative_seconds"] if epochs else 0.0
    epochs.append({"epoch": epoch, "train_seconds": seconds, "cumulative_seconds": previous + seconds,
                   "samples_per_second": len(train_texts) / seconds, "test_accuracy": accuracy})
    print(epochs[-1], file=sys.stderr, flush=True)

emit({"epochs": epochs, "inference_docs_per_second": throughput(predict_batch, test_texts),
      "latency_ms": latency_ms(lambda t: predict_batch([t]), test_texts)})
