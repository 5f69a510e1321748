"""Adversarial training on the word vectors (Miyato, Dai and Goodfellow, 2017): after each batch's ordinary
backward pass, every text's looked-up word vectors are moved a small step in the direction that raises its
loss most (the gradient just computed), the batch is run again from there, and that loss's gradient is added
to the first. The network learns to hold its answer when a text's words shift a little, which a few thousand
texts do not teach by themselves.

The step is ``adversarial`` times the norm of the text's own vectors (the whole text, every word at once), so
it needs no tuning to the embedding's scale, which grows as training goes on. Each step costs a second
forward and backward pass. On MR, CR, SUBJ and MPQA (ten folds) a step of 0.1 gave the model +0.2 to +0.8 points
and the network alone +0.1 to +1.8 (0.2 was too far: docs/accuracy.md); the default uses it under 10,000
training rows.
"""

from __future__ import annotations

import torch
from torch import nn

from ..model.network import RNNClassifier
from .callbacks import Callback, TrainLoop


class AdversarialTraining(Callback):
    """The second pass, after each ordinary backward pass (first among the callbacks that touch gradients, so
    that freezing or unfreezing acts on the sum). Hooks on the model's embeddings remember the looked-up vectors
    of the ordinary pass, and add the perturbation in the second one; in training mode only."""

    def __init__(self, share: float) -> None:
        self.share = share
        self.looked_up: list[torch.Tensor] = []
        self.perturbations: list[torch.Tensor] | None = None
        self.hooks: list = []

    def on_fit_start(self, loop: TrainLoop) -> None:
        embeddings = [module.embedding for module in loop.model.modules() if isinstance(module, RNNClassifier)]
        self.hooks = [embedding.register_forward_hook(self._hook) for embedding in embeddings]

    def on_after_backward(self, loop: TrainLoop) -> None:
        looked_up, self.looked_up = self.looked_up, []
        # A gradient that is not finite needs no test here: the sum with the second pass's is not finite either,
        # so the step is skipped (mixed precision) or diverges exactly as it would have without this pass.
        if not looked_up or any(vectors.grad is None for vectors in looked_up):
            return
        self.perturbations = [self._step(vectors.detach(), vectors.grad.detach()) for vectors in looked_up]
        ids, lengths, targets = loop.batch
        try:
            loop.fabric.backward(loop.loss_fn(loop.model(ids, lengths), targets))
        finally:
            self.perturbations = None

    def on_fit_end(self, loop: TrainLoop) -> None:
        for hook in self.hooks:
            hook.remove()
        self.looked_up, self.hooks = [], []

    def _hook(self, module: nn.Module, inputs, output: torch.Tensor) -> torch.Tensor | None:
        if not (module.training and torch.is_grad_enabled()):  # evaluation, or a look that trains nothing
            return None
        if self.perturbations is not None:
            return output + self.perturbations.pop(0)
        if output.requires_grad:
            output.retain_grad()
        else:  # a frozen (or one-hot) table: the vectors are a leaf, and the gradient still reaches them
            output.requires_grad_()
        self.looked_up.append(output)
        return None

    def _step(self, vectors: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        """For each text (the first dimension): the gradient scaled to ``share`` times the norm of its vectors."""
        size = self.share * vectors.flatten(1).norm(dim=1) / gradient.flatten(1).norm(dim=1).clamp(min=1e-12)
        return size.view(-1, *([1] * (gradient.dim() - 1))) * gradient
