"""The network: embedding -> recurrent encoder -> pooling over time -> linear head (softmax in the loss).

Padding never reaches the recurrent state when ``mask`` is on (the default). A batch whose texts differ
in length is right-padded; the forward direction reads each text from its first token, so its outputs at
real steps never saw padding; the backward direction reads each text reversed within its own length
(padding still at the end), so it starts at the text's last real token. Pooling looks only at real steps.
This gives what ``pack_padded_sequence`` gives, at the cost of the plain kernel: on a CPU, PyTorch's
packed recurrent backward pass costs time quadratic in the text length (each step's gradient is added
into a zero-filled copy of the whole input): a training step on 450-token texts was 5.5x slower packed
(``bench/long_texts.py``). A batch of equal lengths needs no reversal and takes the plain path. The
exported ONNX graph keeps packing, where it becomes the recurrent operator's ``sequence_lens``.
``mask=False`` runs the recurrent layer over the padding, as the lesson's first Keras model did; it exists
to reproduce that model, not for real use.

Weights start as Keras starts them (uniform embeddings, Glorot input weights, orthogonal recurrent
weights, zero biases but a forget-gate bias of 1), so the lesson presets begin where the lesson did.
"""

from __future__ import annotations

import torch
from torch import _VF, nn
from torch.nn.functional import dropout as dropout_between_layers
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

RECURRENT_LAYERS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
# The kernels nn.RNN/LSTM/GRU call: one layer in one direction at a time, with that layer's own weights.
RECURRENT_KERNELS = {"rnn": _VF.rnn_tanh, "lstm": _VF.lstm, "gru": _VF.gru}


class AttentionPooling(nn.Module):
    """A learned weighted average over time: score_t = v . tanh(W h_t), softmax over the real steps."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.project = nn.Linear(size, size)
        self.score = nn.Linear(size, 1, bias=False)

    def forward(self, outputs: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        scores = self.score(torch.tanh(self.project(outputs))).squeeze(-1)
        weights = torch.softmax(scores.masked_fill(~valid, float("-inf")), dim=1)
        return torch.bmm(weights.unsqueeze(1), outputs).squeeze(1)


class RNNClassifier(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        *,
        embed_dim: int = 128,
        cell: str = "gru",
        hidden_size: int = 128,
        num_layers: int = 1,
        bidirectional: bool = True,
        pooling: str = "max",
        dropout: float = 0.0,
        mask: bool = True,
        locked_dropout: bool = False,
        word_dropout: float = 0.0,
        sparse_embedding: bool = False,
        one_hot: bool = False,
    ) -> None:
        super().__init__()
        self.one_hot = one_hot
        if one_hot:  # a fixed identity table: each token is its one-hot vector (padding, when masked, all zeros)
            embed_dim = vocab_size
        self.pooling = pooling
        self.mask = mask
        self.word_dropout = word_dropout
        self.cell = cell
        self.num_directions = 2 if bidirectional else 1
        # Without masking, id 0 is an ordinary trainable token, as in Keras without mask_zero.
        # sparse: the backward pass yields a gradient for the rows a batch used only (for a lazy optimizer).
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0 if mask else None, sparse=sparse_embedding)
        self.embedding.weight.requires_grad_(not one_hot)
        self.embedding_dropout = LockedDropout(dropout) if locked_dropout else nn.Dropout(dropout)
        self.rnn = RECURRENT_LAYERS[cell](
            embed_dim,
            hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        features = hidden_size * self.num_directions * (3 if pooling == "concat" else 1)
        self.attention = AttentionPooling(features) if pooling == "attention" else None
        self.head_dropout = nn.Dropout(dropout)
        self.head = nn.Linear(features, num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.one_hot:
            nn.init.eye_(self.embedding.weight)
        else:
            nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
        if self.embedding.padding_idx is not None:
            with torch.no_grad():
                self.embedding.weight[self.embedding.padding_idx].zero_()
        for name, weight in self.rnn.named_parameters():
            # Whole matrices, all gates at once, as Keras initialises its (input, gates * units) kernels.
            if name.startswith("weight_ih"):
                nn.init.xavier_uniform_(weight)
            elif name.startswith("weight_hh"):
                nn.init.orthogonal_(weight)
            else:
                nn.init.zeros_(weight)
                # PyTorch LSTM gates are ordered (input, forget, cell, output); it adds bias_ih and bias_hh,
                # so setting the forget bias in bias_ih alone gives Keras' unit_forget_bias.
                if isinstance(self.rnn, nn.LSTM) and name.startswith("bias_ih"):
                    weight.data[self.rnn.hidden_size : 2 * self.rnn.hidden_size] = 1.0
        for layer in [self.head] + ([self.attention.project, self.attention.score] if self.attention else []):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Class logits for a batch: ``ids`` is (batch, time), right-padded with 0; ``lengths`` is (batch,)."""
        lengths = lengths.clamp(min=1)  # an empty text is read as a single padding step
        if not self.mask or not bool((lengths != ids.shape[1]).any()):
            return self.forward_unpadded(ids)
        return self.forward_masked(ids, lengths)

    def forward_masked(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Class logits for right-padded texts of different ``lengths`` (each at least 1), the padding kept out
        of the state by reading each text backwards within its own length (see the module's docstring)."""
        steps = ids.shape[1]
        positions = torch.arange(steps, device=ids.device)[None, :]
        valid = positions < lengths[:, None]
        # Reversing each row within its length, padding left in place; applied twice it is the identity.
        reverse = torch.where(valid, lengths[:, None] - 1 - positions, positions)
        outputs = self.embedding_dropout(self.embed(ids))
        for layer in range(self.rnn.num_layers):
            if layer > 0:
                outputs = dropout_between_layers(outputs, self.rnn.dropout, self.training)
            directions = [self._run_layer(outputs, layer, "")]
            if self.num_directions == 2:
                backwards = self._run_layer(reverse_rows(outputs, reverse), layer, "_reverse")
                directions.append(reverse_rows(backwards, reverse))
            outputs = torch.cat(directions, dim=2)
        size = self.rnn.hidden_size
        rows = torch.arange(ids.shape[0], device=ids.device)
        # The final states pool_last wants: forward at each text's last token, backward at its first.
        final = [outputs[rows, lengths - 1, :size]] + ([outputs[:, 0, size:]] if self.num_directions == 2 else [])
        return self._pool_and_classify(outputs, torch.stack(final), valid)

    def _run_layer(self, inputs: torch.Tensor, layer: int, direction: str) -> torch.Tensor:
        """The outputs of one layer of ``self.rnn`` in one direction ("" or "_reverse"), read left to right."""
        weights = [getattr(self.rnn, f"{name}_l{layer}{direction}")
                   for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        state = inputs.new_zeros(1, inputs.shape[0], self.rnn.hidden_size)
        state = (state, state) if self.cell == "lstm" else state
        return RECURRENT_KERNELS[self.cell](inputs, state, weights, True, 1, 0.0, self.training, False, True)[0]

    def forward_packed(self, ids: torch.Tensor, lengths: torch.Tensor, enforce_sorted: bool = True) -> torch.Tensor:
        """Class logits for right-padded texts of different ``lengths`` (each at least 1), packed so that no
        padding reaches the state. With ``enforce_sorted`` the batch must be sorted longest first: that is
        the graph exported to ONNX, where packing becomes the recurrent operator's ``sequence_lens``."""
        steps = ids.shape[1]
        embedded = self.embedding_dropout(self.embed(ids))
        sequence = pack_padded_sequence(embedded, lengths.cpu(), batch_first=True, enforce_sorted=enforce_sorted)
        outputs, state = self.rnn(sequence)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=steps)
        valid = torch.arange(steps, device=ids.device)[None, :] < lengths[:, None]
        return self._pool_and_classify(outputs, state, valid)

    def forward_unpadded(self, ids: torch.Tensor) -> torch.Tensor:
        """Class logits for a batch in which every row is a whole text: no padding, so no packing and no mask
        (the fast path for equal-length batches)."""
        outputs, state = self.rnn(self.embedding_dropout(self.embed(ids)))
        return self._pool_and_classify(outputs, state, None)

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """Look up the embeddings; in training with ``word_dropout``, some words of the vocabulary are dropped
        whole for this batch (every occurrence becomes zeros; the rest are scaled up to compensate)."""
        if not (self.training and self.word_dropout > 0):
            return self.embedding(ids)
        keep = torch.empty(self.embedding.num_embeddings, 1, device=ids.device).bernoulli_(1 - self.word_dropout)
        # Masking the looked-up vectors (not the whole table) keeps the embedding's gradient sparse-capable.
        return self.embedding(ids) * keep[ids] / (1 - self.word_dropout)

    def _pool_and_classify(self, outputs: torch.Tensor, state, valid: torch.Tensor | None) -> torch.Tensor:
        """Pool the per-step ``outputs`` over the ``valid`` steps (None: all of them), then apply the head."""
        if self.pooling == "attention":
            if valid is None:
                valid = torch.ones(outputs.shape[:2], dtype=torch.bool, device=outputs.device)
            pooled = self.attention(outputs, valid)
        elif self.pooling == "concat":
            pooled = torch.cat([pool_last(state, self.num_directions), pool_max(outputs, valid),
                                pool_mean(outputs, valid)], dim=1)
        else:
            pooled = POOLING[self.pooling](outputs, valid) if self.pooling != "last" else pool_last(
                state, self.num_directions)
        return self.head(self.head_dropout(pooled))


class EnsembleClassifier(nn.Module):
    """Several classifiers voting: their class probabilities averaged. It returns the average's logarithm, so
    that the softmax every caller applies to a model's output gives the average back exactly (multi-label:
    each label's probabilities averaged, returned as a logit for the sigmoid)."""

    def __init__(self, members: list[RNNClassifier], multi_label: bool = False) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.multi_label = multi_label

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self._average([member(ids, lengths) for member in self.members], self.multi_label)

    def forward_packed(self, ids: torch.Tensor, lengths: torch.Tensor, enforce_sorted: bool = True) -> torch.Tensor:
        return self._average([member.forward_packed(ids, lengths, enforce_sorted) for member in self.members],
                             self.multi_label)

    @staticmethod
    def _average(logits: list[torch.Tensor], multi_label: bool = False) -> torch.Tensor:
        if multi_label:
            return torch.logit(torch.stack([torch.sigmoid(x.float()) for x in logits]).mean(dim=0), eps=1e-7)
        return torch.log(torch.stack([torch.softmax(x.float(), dim=1) for x in logits]).mean(dim=0))


def reverse_rows(x: torch.Tensor, reverse: torch.Tensor) -> torch.Tensor:
    """``x`` (batch, time, features) with each row's steps reordered by ``reverse`` (batch, time)."""
    return torch.gather(x, 1, reverse[..., None].expand(-1, -1, x.shape[2]))


def pool_last(state, num_directions: int) -> torch.Tensor:
    """The final layer's state, one per direction; packing makes each the state at the last real token."""
    hidden = state[0] if isinstance(state, tuple) else state  # an LSTM returns (h, c)
    return torch.cat(list(hidden[-num_directions:]), dim=1)


def pool_max(outputs: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    return (outputs if valid is None else outputs.masked_fill(~valid[..., None], float("-inf"))).amax(dim=1)


def pool_mean(outputs: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    if valid is None:
        return outputs.mean(dim=1)
    return (outputs * valid[..., None]).sum(dim=1) / valid.sum(dim=1, keepdim=True)


POOLING = {"max": pool_max, "mean": pool_mean}


class LockedDropout(nn.Module):
    """Dropout with one mask per text, the same at every time step (variational dropout, Gal & Ghahramani):
    a feature is dropped for the whole text instead of flickering from word to word."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, time, features)
        if not self.training or self.p == 0:
            return x
        mask = x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - self.p) / (1 - self.p)
        return x * mask
