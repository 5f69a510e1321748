"""Adversarial training on the word vectors: the second pass moves each text's vectors the way that raises its
loss, by the given share of their norm; it changes training, never prediction, and leaves nothing behind."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import synthetic_corpus

from textrnn import TextRNNClassifier
from textrnn.model.network import RNNClassifier
from textrnn.train.adversarial import AdversarialTraining


@pytest.mark.parametrize("one_hot", [False, True])  # one-hot: a fixed table, whose vectors are a leaf of the graph
def test_the_second_pass_moves_each_text_by_the_share_of_its_vectors_and_raises_its_loss(one_hot):
    torch.manual_seed(0)
    model = RNNClassifier(50, 3, embed_dim=8, hidden_size=8, one_hot=one_hot).train()
    ids = torch.randint(2, 50, (4, 7))
    lengths = torch.tensor([7, 5, 3, 1])
    ids[torch.arange(7)[None, :] >= lengths[:, None]] = 0
    targets = torch.tensor([0, 1, 2, 0])
    losses, perturbations = [], []
    per_text_loss = torch.nn.CrossEntropyLoss(reduction="sum")

    def loss_fn(logits, y):
        losses.append(per_text_loss(logits, y))
        return losses[-1]

    adversarial = AdversarialTraining(0.1)
    loop = SimpleNamespace(model=model, batch=(ids, lengths, targets), loss_fn=loss_fn,
                           fabric=SimpleNamespace(backward=lambda loss: loss.backward()))
    adversarial.on_fit_start(loop)
    with torch.no_grad():  # a look-up that trains nothing is not recorded
        vectors = model.embedding(ids)
    assert adversarial.looked_up == []
    loss_fn(model(ids, lengths), targets).backward()
    clean_gradient = model.head.weight.grad.clone()
    step = adversarial._step
    adversarial._step = lambda v, g: perturbations.append(step(v, g)) or perturbations[-1]
    adversarial.on_after_backward(loop)

    assert len(losses) == 2 and losses[1].item() > losses[0].item()  # moved the way that raises the loss
    moved = perturbations[0].flatten(1).norm(dim=1)
    assert torch.allclose(moved, 0.1 * vectors.flatten(1).norm(dim=1), rtol=1e-4)
    padding = ids == 0
    assert (perturbations[0][padding] == 0).all()  # padding is not read, so it is not moved
    assert not torch.allclose(model.head.weight.grad, clean_gradient)  # the second loss's gradient is added
    adversarial.on_fit_end(loop)
    assert not model.embedding._forward_hooks


def test_it_changes_the_trained_model_but_prediction_reads_the_words_as_they_are(tmp_path):
    texts, labels = synthetic_corpus(240)
    fit = lambda share: TextRNNClassifier(embed_dim=8, hidden_size=8, epochs=2, adversarial=share,
                                          bag_of_words=None, verbose=False, threads=1).fit(texts, labels)
    plain, adversarial = fit(0.0), fit(0.1)
    assert adversarial.params_.adversarial == 0.1 and plain.params_.adversarial == 0.0
    assert not np.allclose(plain.predict_proba(texts[:20]), adversarial.predict_proba(texts[:20]))
    assert not adversarial.model_.embedding._forward_hooks  # nothing left on the model after training
    first = adversarial.predict_proba(texts[:20])
    adversarial.save(tmp_path / "m")
    assert np.array_equal(TextRNNClassifier.load(tmp_path / "m").predict_proba(texts[:20]), first)
    again = fit(0.1)  # one seed: the second pass draws its dropout from the same generator
    assert np.array_equal(again.predict_proba(texts[:20]), first)

