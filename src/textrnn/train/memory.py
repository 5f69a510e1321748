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


def check_memory(model: nn.Module, params: ClassifierParams, batch: int, steps: int, training: bool) -> None:
    """Raise :class:`MemoryBudgetError` when a batch of ``batch`` texts of ``steps`` tokens would not fit.

    The estimate is deliberately generous: parameters with their gradients and Adam moments (and the
    best-epoch copy), plus per step and text the embedding and, per layer and direction, the gate
    pre-activations and outputs that backpropagation keeps, three times over for workspace and copies.
    """
    budget = params.memory_budget_gb * 1e9 if params.memory_budget_gb else None
    if budget is None:
        available = available_memory_bytes()
        if available is None:
            return
        budget = 0.9 * available
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
