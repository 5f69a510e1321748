import itertools

import pytest
import torch

from textrnn.model.network import RNNClassifier

CELLS = ("rnn", "lstm", "gru")
POOLINGS = ("last", "max", "mean", "attention")


def build(cell, bidirectional, pooling, mask=True, num_layers=1):
    torch.manual_seed(0)
    model = RNNClassifier(vocab_size=50, num_classes=3, embed_dim=8, cell=cell, hidden_size=6,
                          num_layers=num_layers, bidirectional=bidirectional, pooling=pooling, dropout=0.5, mask=mask)
    return model.eval()


def logits_alone_and_in_a_batch(model, short):
    """Logits of ``short`` on its own, and as the first row of a batch padded for much longer texts."""
    generator = torch.Generator().manual_seed(1)
    longer = [torch.randint(2, 50, (n,), generator=generator) for n in (30, 17, 45)]
    alone = model(short[None, :], torch.tensor([len(short)]))
    rows = [short] + longer
    ids = torch.zeros(len(rows), 45, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
    batched = model(ids, torch.tensor([len(r) for r in rows]))
    return alone[0], batched[0]


@pytest.mark.parametrize(
    "cell,bidirectional,pooling,num_layers",
    [(c, b, p, 1) for c, b, p in itertools.product(CELLS, (False, True), POOLINGS)]
    + [(c, True, "last", 2) for c in CELLS],
)
@torch.no_grad()
def test_prediction_does_not_change_when_batched_with_longer_texts(cell, bidirectional, pooling, num_layers):
    model = build(cell, bidirectional, pooling, num_layers=num_layers)
    short = torch.tensor([5, 9, 3, 17, 4])
    alone, batched = logits_alone_and_in_a_batch(model, short)
    torch.testing.assert_close(batched, alone, rtol=1e-5, atol=1e-6)


@torch.no_grad()
def test_without_masking_padding_does_change_the_prediction():
    # The control for the test above: the lesson's unmasked model lets padding into the state.
    model = build("rnn", False, "last", mask=False)
    alone, batched = logits_alone_and_in_a_batch(model, torch.tensor([5, 9, 3, 17, 4]))
    assert not torch.allclose(alone, batched, atol=1e-4)


@pytest.mark.parametrize("cell", CELLS)
@torch.no_grad()
def test_last_pooling_is_the_state_at_the_last_real_token_of_each_direction(cell):
    model = build(cell, True, "last")
    ids = torch.tensor([[4, 8, 15, 16, 0, 0, 0], [23, 42, 7, 7, 7, 7, 7]])
    lengths = torch.tensor([4, 7])
    # The same text, unpadded, through the raw recurrent layer: forward state after token 4 and
    # backward state after reading back to token 1 are what the head must see.
    outputs, _ = model.rnn(model.embedding(ids[:1, :4]))
    hidden = model.rnn.hidden_size
    expected = torch.cat([outputs[0, -1, :hidden], outputs[0, 0, hidden:]])
    head_input = []
    model.head.register_forward_hook(lambda module, args, out: head_input.append(args[0]))
    model(ids, lengths)
    torch.testing.assert_close(head_input[0][0], expected)


@pytest.mark.parametrize("cell,num_layers", [(c, n) for c in CELLS for n in (1, 2)])
def test_reversing_within_each_length_gives_what_packing_gives_forward_and_backward(cell, num_layers):
    # Training and prediction read mixed-length batches by reversing each row within its length; the ONNX
    # export keeps packing. Both must compute the same logits and the same gradients.
    torch.manual_seed(0)
    model = RNNClassifier(vocab_size=50, num_classes=3, embed_dim=8, cell=cell, hidden_size=6,
                          num_layers=num_layers, bidirectional=True, pooling="concat")
    lengths = torch.tensor([9, 3, 1, 7, 5])
    ids = torch.randint(2, 50, (5, 9)) * (torch.arange(9)[None, :] < lengths[:, None])
    parameters = list(model.parameters())
    reversed_logits = model.forward_masked(ids, lengths)
    packed_logits = model.forward_packed(ids, lengths, enforce_sorted=False)
    torch.testing.assert_close(reversed_logits, packed_logits)
    for mine, packed in zip(torch.autograd.grad(reversed_logits.square().sum(), parameters, allow_unused=True),
                            torch.autograd.grad(packed_logits.square().sum(), parameters, allow_unused=True)):
        if packed is not None:
            torch.testing.assert_close(mine, packed)


@torch.no_grad()
def test_empty_text_gets_a_prediction():
    model = build("gru", True, "max")
    logits = model(torch.zeros(2, 3, dtype=torch.long), torch.tensor([0, 0]))
    assert torch.isfinite(logits).all()
