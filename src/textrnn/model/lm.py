"""Language-model pretraining, ULMFiT style: learn to predict the next word, then fine-tune as a classifier.

:func:`pretrain` trains a recurrent language model (embedding -> recurrent layers -> adaptive softmax) on
unlabeled texts; for a bidirectional classifier it trains a second one on the texts read backwards. The
backward model reads the forward model's embedding, frozen: the classifier has one embedding for both
directions, so its reverse direction must start from weights that learned to read that embedding. The
saved directory (``lm.safetensors``, ``lm.json``, ``vectorizer.json``) is what
``TextRNNClassifier(init_from=LM_DIR)`` starts from: the classifier takes the language model's vocabulary,
embedding and recurrent weights (forward model -> forward direction, backward model -> reverse
direction), and only its pooling and head start from scratch. :func:`generate` samples text from the
forward model, a quick look at what it learned.

Each text is its own sequence (padding is masked out of the loss); a held-out 5% of the texts gives the
perplexity after every epoch.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from torch import nn
from tqdm.auto import tqdm

from ..artifacts import read_artifact, write_artifact
from ..errors import DataError, ModelFileError
from ..files import json_bytes
from ..params import ClassifierParams
from ..text.batching import EncodedTexts, inference_batches, training_batches
from ..text.vectorizer import PAD_ID, UNK_ID, TextVectorizer
from ..train.adaptive import punctuation_for_texts
from ..train.distributed import log
from .network import RECURRENT_LAYERS, LockedDropout

LM_FORMAT = "textrnn.lm/1"
LM_FILES = ("lm.safetensors", "vectorizer.json")


class LanguageModel(nn.Module):
    """Embedding -> recurrent layers (one direction) -> adaptive softmax over the vocabulary."""

    def __init__(self, vocab_size: int, embed_dim: int, cell: str, hidden_size: int, num_layers: int,
                 dropout: float = 0.1) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD_ID)
        self.dropout = LockedDropout(dropout)
        self.rnn = RECURRENT_LAYERS[cell](embed_dim, hidden_size, num_layers=num_layers, batch_first=True,
                                          dropout=dropout if num_layers > 1 else 0.0)
        # Frequent words get a full-size softmax, rarer ones smaller clusters: several times cheaper on a CPU.
        cutoffs = [c for c in (2_000, 8_000) if c < vocab_size - 1] or [max(1, vocab_size // 2)]
        self.decoder = nn.AdaptiveLogSoftmaxWithLoss(hidden_size, vocab_size, cutoffs=cutoffs, div_value=4.0)
        nn.init.uniform_(self.embedding.weight, -0.05, 0.05)

    def hidden_states(self, ids: torch.Tensor, state=None):
        outputs, state = self.rnn(self.dropout(self.embedding(ids)), state)
        return self.dropout(outputs), state

    def loss(self, ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Mean negative log-likelihood of each next token, over real (non-padding) positions; and their count.

        Batches are length-bucketed, so most have no padding; the recurrent layer runs over padding after a
        text's end only, which never feeds a prediction that is scored.
        """
        targets = ids[:, 1:]
        scored = torch.arange(targets.shape[1])[None, :] < (lengths[:, None] - 1)
        if not bool(scored.any()):  # a batch of one-word texts (length bucketing makes them): nothing to predict
            return torch.zeros(()), 0
        outputs, _ = self.hidden_states(ids[:, :-1])
        result = self.decoder(outputs[scored], targets[scored])
        return result.loss, int(scored.sum())


def reverse_texts(encoded: EncodedTexts) -> EncodedTexts:
    """The same texts with their tokens in reverse order, for the backward language model."""
    out = EncodedTexts([])
    out.lengths, out.offsets = encoded.lengths.copy(), encoded.offsets.copy()
    out.flat = np.concatenate([encoded.flat[a:b][::-1] for a, b in zip(encoded.offsets[:-1], encoded.offsets[1:])]
                              or [np.zeros(0, dtype=np.int64)])
    return out


def pretrain(texts: Sequence[str], out: str | Path, params: ClassifierParams, dropout: float = 0.1) -> dict:
    """Train the language model(s) on ``texts`` and save them to ``out``; returns the record of ``lm.json``.

    ``params`` gives the architecture a classifier will take over (``cell``, ``embed_dim``,
    ``hidden_size``, ``num_layers``, ``bidirectional``: a backward model too), the vocabulary (``max_tokens``,
    ``punctuation``, ``strip_html``; ``punctuation`` auto: by the number of texts, as for a classifier) and the
    training (``epochs``, ``batch_size``, ``lr``, ``seed``, ``verbose``).
    """
    rng = np.random.default_rng(params.seed)
    texts = [t for t in texts if t.strip()]
    if len(texts) < 20:
        raise DataError(f"pretrain needs at least 20 non-empty texts, got {len(texts)}")
    held_out = rng.permutation(len(texts))[: max(1, len(texts) // 20)]
    is_held_out = np.zeros(len(texts), dtype=bool)
    is_held_out[held_out] = True
    train_texts = [t for t, h in zip(texts, is_held_out) if not h]
    vectorizer = TextVectorizer(params.max_tokens, punctuation=punctuation_for_texts(params.punctuation, len(texts)),
                                strip_html=params.strip_html).adapt(train_texts)
    train_x = EncodedTexts.encode(vectorizer.encode, train_texts)
    val_x = EncodedTexts.encode(vectorizer.encode, [t for t, h in zip(texts, is_held_out) if h])
    record = {"format": LM_FORMAT, "cell": params.cell, "embed_dim": params.embed_dim,
              "hidden_size": params.hidden_size, "num_layers": params.num_layers, "vocab_size": vectorizer.vocab_size,
              "dropout": dropout, "directions": ["forward", "backward"] if params.bidirectional else ["forward"],
              "train_texts": len(train_texts), "held_out_texts": len(val_x),
              "train_tokens": int(train_x.lengths.sum()), "history": {},
              "shared_embedding": True}  # the backward model reads the forward model's embedding
    tensors, forward_embedding = {}, None
    for direction in record["directions"]:
        torch.manual_seed(params.seed + (direction == "backward"))
        model = LanguageModel(vectorizer.vocab_size, params.embed_dim, params.cell, params.hidden_size,
                              params.num_layers, dropout)
        if forward_embedding is not None:
            # With an embedding of its own, the classifier's reverse direction would start out reading vectors
            # it was never trained on (the classifier keeps the forward one's).
            model.embedding.weight.data.copy_(forward_embedding)
            model.embedding.weight.requires_grad_(False)
        data = (train_x, val_x) if direction == "forward" else (reverse_texts(train_x), reverse_texts(val_x))
        record["history"][direction] = _train_lm(model, data, params, rng, direction)
        tensors.update({f"{direction}/{name}": t.contiguous() for name, t in model.state_dict().items()})
        if direction == "forward":
            forward_embedding = model.embedding.weight.detach().clone()
    files = {"lm.safetensors": save_safetensors(tensors, metadata={"format": LM_FORMAT}),
             "vectorizer.json": json_bytes(vectorizer.to_dict())}
    write_artifact(out, files, "lm.json", record)
    return record


def _train_lm(model: LanguageModel, data: tuple[EncodedTexts, EncodedTexts], params: ClassifierParams,
              rng: np.random.Generator, direction: str) -> list[dict]:
    train_x, val_x = data
    epochs = 5 if params.epochs == "auto" else params.epochs  # a language model's passes do not depend on labels
    batch_size, lr, verbose = params.batch_size, params.lr, params.verbose
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    history = [{"epoch": 0, "held_out_perplexity": perplexity(model, val_x)}]  # untrained: about the vocabulary size
    for epoch in range(1, epochs + 1):
        model.train()
        started, loss_sum, tokens = time.perf_counter(), 0.0, 0
        batches = training_batches(train_x.lengths, batch_size, rng)
        bar = tqdm(batches, desc=f"{direction} LM epoch {epoch}/{epochs}", unit="batch", leave=False,
                   disable=not verbose, dynamic_ncols=True)
        for index in bar:
            ids, lengths = train_x.batch(index)
            loss, count = model.loss(ids, lengths)
            if not count:
                continue
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            loss_sum, tokens = loss_sum + loss.item() * count, tokens + count
        record = {"epoch": epoch, "train_perplexity": math.exp(loss_sum / max(tokens, 1)),
                  "held_out_perplexity": perplexity(model, val_x), "seconds": time.perf_counter() - started,
                  "tokens_per_second": tokens / (time.perf_counter() - started)}
        history.append(record)
        if verbose:
            log(f"{direction} LM epoch {epoch}/{epochs}: perplexity {record['train_perplexity']:.1f} (training), "
                f"{record['held_out_perplexity']:.1f} (held out); {record['seconds']:.0f} s, "
                f"{record['tokens_per_second']:,.0f} tokens/s")
    return history


@torch.no_grad()
def perplexity(model: LanguageModel, texts: EncodedTexts) -> float:
    model.eval()
    loss_sum, tokens = 0.0, 0
    for index in inference_batches(texts.lengths, 256):
        loss, count = model.loss(*texts.batch(index))
        loss_sum, tokens = loss_sum + loss.item() * count, tokens + count
    model.train()
    return math.exp(loss_sum / max(tokens, 1))


def load_lm(directory: str | Path) -> tuple[dict, TextVectorizer, dict[str, LanguageModel]]:
    """The record, vectorizer and language model(s) of a pretrained directory (JSON and safetensors only)."""
    directory = Path(directory)
    if not (directory / "lm.json").is_file():
        raise ModelFileError(f"{directory}: not a textrnn language model (no lm.json); "
                             f"make one with: textrnn pretrain --out {directory}")
    record = read_artifact(directory, "lm.json", (LM_FORMAT,), LM_FILES)
    vectorizer = TextVectorizer.load(directory / "vectorizer.json")
    tensors = load_safetensors((directory / "lm.safetensors").read_bytes())
    models = {}
    for direction in record["directions"]:
        model = LanguageModel(record["vocab_size"], record["embed_dim"], record["cell"], record["hidden_size"],
                              record["num_layers"], record["dropout"])
        prefix = f"{direction}/"
        model.load_state_dict({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)})
        models[direction] = model.eval()
    return record, vectorizer, models


@torch.no_grad()
def generate(directory: str | Path, prompt: str, words: int = 20, temperature: float = 0.8, seed: int = 0) -> str:
    """Continue ``prompt`` with ``words`` words sampled from the forward language model."""
    _, vectorizer, models = load_lm(directory)
    model = models["forward"]
    generator = torch.Generator().manual_seed(seed)
    ids = vectorizer.encode([prompt])[0] or [UNK_ID]
    outputs, state = model.hidden_states(torch.tensor([ids]))
    vocabulary = vectorizer.vocabulary
    produced = []
    for _ in range(words):
        log_probs = model.decoder.log_prob(outputs[:, -1]) / max(temperature, 1e-6)
        log_probs[:, [PAD_ID, UNK_ID]] = -math.inf  # never emit padding or the unknown-word marker
        token = int(torch.multinomial(torch.softmax(log_probs, dim=-1), 1, generator=generator))
        produced.append(vocabulary[token])
        outputs, state = model.hidden_states(torch.tensor([[token]]), state)
    return " ".join(produced)
