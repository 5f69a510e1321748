"""The memory check: stop with advice before a batch that cannot fit, instead of being killed by the kernel."""

from __future__ import annotations

from torch import nn

from ..errors import MemoryBudgetError
from ..params import ClassifierParams

GATES = {"rnn": 1, "gru": 3, "lstm": 4}


def available_memory_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def size(count: float) -> str:
    """Bytes as a message shows them: ``1.2 GB`` or ``35 MB``."""
    return f"{count / 1e9:.1f} GB" if count >= 1e9 else f"{count / 1e6:.1f} MB"


def memory_budget_bytes(memory_budget_gb: float | None) -> float | None:
    """What a stage may allocate: ``memory_budget_gb`` when set, else 90% of the memory available now (None
    when the system does not say)."""
    if memory_budget_gb:
        return memory_budget_gb * 1e9
    available = available_memory_bytes()
    return None if available is None else 0.9 * available


def network_parameters(params: ClassifierParams, vocab_size: int, num_classes: int) -> int:
    """The parameters of the network ``params`` describe, counted from its sizes without building it (so that a
    configuration too large to allocate is refused, not tried): embedding, recurrent layers, head, per member."""
    directions = 2 if params.bidirectional else 1
    gates = GATES[params.cell] * params.hidden_size
    inputs = vocab_size if params.one_hot else params.embed_dim
    recurrent = 0
    for layer in range(params.num_layers):
        width = inputs if layer == 0 else directions * params.hidden_size
        recurrent += directions * gates * (width + params.hidden_size + 2)
    pooled = directions * params.hidden_size * (3 if params.pooling == "concat" else 1)
    attention = pooled * pooled + 2 * pooled if params.pooling == "attention" else 0  # project (with bias), score
    embedding = vocab_size * inputs  # one-hot: a fixed identity table, still held
    return params.ensemble * (embedding + recurrent + attention + pooled * num_classes + num_classes)


def check_network_size(params: ClassifierParams, vocab_size: int, num_classes: int) -> None:
    """Refuse, before anything is allocated, a network whose weights, gradients and Adam's moments (and the copy
    of the best epoch) would not fit in the memory budget."""
    budget = memory_budget_bytes(params.memory_budget_gb)
    count = network_parameters(params, vocab_size, num_classes)
    needed = count * 4 * 6
    if budget is not None and needed > budget:
        source = "memory_budget_gb" if params.memory_budget_gb else "90% of the memory available now"
        raise MemoryBudgetError(
            f"the network would have {count:,} parameters (embed_dim {params.embed_dim}, hidden_size "
            f"{params.hidden_size}, num_layers {params.num_layers}, ensemble {params.ensemble}, {vocab_size:,} tokens, "
            f"{num_classes:,} classes): training needs about {size(needed)}, more than the budget of "
            f"{size(budget)} ({source}); choose smaller sizes")


def check_memory(model: nn.Module, params: ClassifierParams, batch: int, steps: int, training: bool) -> None:
    """Raise :class:`MemoryBudgetError` when a batch of ``batch`` texts of ``steps`` tokens would not fit.

    The estimate is deliberately generous: parameters with their gradients and Adam moments (and the
    best-epoch copy), plus per step and text the embedding and, per layer and direction, the gate
    pre-activations and outputs that backpropagation keeps, three times over for workspace and copies.
    """
    budget = memory_budget_bytes(params.memory_budget_gb)
    if budget is None:
        return
    weights = sum(p.numel() for p in model.parameters()) * 4
    directions = 2 if params.bidirectional else 1
    per_step = params.embed_dim + params.num_layers * directions * params.hidden_size * (GATES[params.cell] + 2)
    activations = batch * max(steps, 1) * per_step * 4 * (3 if training else 1)
    needed = activations + weights * (6 if training else 1)
    if needed > budget:
        source = "memory_budget_gb" if params.memory_budget_gb else "90% of the memory available now"
        raise MemoryBudgetError(
            f"a {'training' if training else 'prediction'} batch of {batch:,} texts of up to {steps:,} tokens needs "
            f"about {needed / 1e9:.2f} GB, more than the budget of {budget / 1e9:.2f} GB ({source}); "
            f"lower batch_size or cap the text length with max_length (--max-length)"
        )
