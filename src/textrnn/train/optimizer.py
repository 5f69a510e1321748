"""The optimizer builder: AdamW for every parameter (plain Adam when ``weight_decay`` is 0), SparseAdam for a
sparse embedding, per-layer learning-rate scales, the learning-rate schedule and gradient clipping."""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from ..params import ClassifierParams

WARMUP_SHARE = 0.06


def build_optimizers(model: nn.Module, params: ClassifierParams) -> dict[str, torch.optim.Optimizer]:
    """The optimizers by name: ``optimizer`` always, ``sparse_optimizer`` for a sparse embedding.

    Each parameter group carries an ``lr_scale``: 1 for all, unless ``discriminative_lr`` divides the
    rate by that factor per layer of depth (head first, embedding last).
    """
    if params.discriminative_lr == 1.0:  # one group: the plain optimizer, step for step
        param_groups = [{"params": list(model.parameters()), "lr_scale": 1.0}]
    else:
        param_groups = [{"params": group, "lr_scale": params.discriminative_lr**-depth}
                        for depth, group in enumerate(layer_groups(model))]
    optimizers = {}
    if params.sparse_embedding:
        # The embedding's sparse gradient goes to SparseAdam (lazy Adam: only the rows a batch used move,
        # and their moments only advance then); every other parameter to AdamW as usual.
        weight = model.embedding.weight
        scale = next(g["lr_scale"] for g in param_groups if any(p is weight for p in g["params"]))
        param_groups = [{**g, "params": [p for p in g["params"] if p is not weight]} for g in param_groups]
        optimizers["sparse_optimizer"] = torch.optim.SparseAdam([{"params": [weight], "lr_scale": scale}],
                                                                lr=params.lr)
    optimizers["optimizer"] = torch.optim.AdamW(param_groups, lr=params.lr, weight_decay=params.weight_decay)
    return optimizers


def set_learning_rate(optimizers: dict[str, torch.optim.Optimizer], rate: float) -> None:
    for optimizer in optimizers.values():
        for group in optimizer.param_groups:
            group["lr"] = rate * group["lr_scale"]


def layer_groups(model: nn.Module) -> list[list[nn.Parameter]]:
    """The model's parameters by depth, top down: head (with attention), each recurrent layer, the embedding."""
    recurrent: dict[int, list[nn.Parameter]] = {}
    for name, parameter in model.rnn.named_parameters():
        layer = int(name.split("_l")[-1].split("_")[0])  # weight_ih_l1_reverse -> 1
        recurrent.setdefault(layer, []).append(parameter)
    inner = {id(p) for p in model.rnn.parameters()} | {id(p) for p in model.embedding.parameters()}
    top = [p for p in model.parameters() if id(p) not in inner]
    return [top, *(recurrent[layer] for layer in sorted(recurrent, reverse=True)), list(model.embedding.parameters())]


def lr_schedule(kind: str, peak: float, total_steps: int) -> Callable[[int], float]:
    """The learning rate at each step: a function of the step alone, so a resumed run continues the curve.

    The warm-up schedules rise linearly to ``peak`` over the first 6% of the steps, then fall to 0 at the
    last step of the last epoch, linearly or along a half cosine. Early stopping may end training before.
    """
    if kind == "constant":
        return lambda step: peak
    warmup = max(1, round(WARMUP_SHARE * total_steps))

    def rate(step: int) -> float:
        if step < warmup:
            return peak * (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return peak * (1 - progress if kind == "warmup-linear" else 0.5 * (1 + math.cos(math.pi * progress)))

    return rate


def clip_gradients(fabric, model: nn.Module, optimizers: dict, params: ClassifierParams) -> None:
    if params.clip_grad_norm is None:
        return
    if params.sparse_embedding:
        clip_gradients_with_sparse(model.parameters(), params.clip_grad_norm)
    else:
        # A diverging training's gradients are not numbers: it goes on (the best epoch's weights are kept, and
        # the fit warns that training diverged) instead of stopping with PyTorch's error from inside the loop.
        fabric.clip_gradients(model, optimizers["optimizer"], max_norm=params.clip_grad_norm, error_if_nonfinite=False)


@torch.no_grad()
def clip_gradients_with_sparse(parameters, max_norm: float) -> None:
    """``clip_grad_norm_`` for a model whose embedding gradient is sparse, which ``clip_grad_norm_`` cannot
    take: the total norm counts the rows the batch used (repeats summed first), as the dense gradient would."""
    grads = []
    for parameter in parameters:
        if parameter.grad is not None and parameter.grad.is_sparse:
            parameter.grad = parameter.grad.coalesce()
            grads.append(parameter.grad)
        elif parameter.grad is not None:
            grads.append(parameter.grad)
    if not grads:
        return
    total = torch.linalg.vector_norm(torch.stack(
        [torch.linalg.vector_norm(g._values() if g.is_sparse else g) for g in grads]))
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for grad in grads:
        (grad._values() if grad.is_sparse else grad).mul_(scale)
