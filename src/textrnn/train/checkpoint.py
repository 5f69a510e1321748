"""Training checkpoints: everything needed to continue a run exactly where it stopped, in one safetensors file.

Tensors (model, optimizer moments, best weights so far, the torch random state) are stored as
tensors; everything else (epoch and step, the data-order random state, history, the optimizer's
hyperparameters, the vectorizer, classes and parameters) as JSON in the file's metadata. No pickle
is involved, so a checkpoint from elsewhere cannot run code. The file is replaced atomically.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from ..errors import CheckpointError
from ..files import write_bytes_atomic

CHECKPOINT_FORMAT = "textrnn.checkpoint/1"


@dataclass
class TrainState:
    """Where training stands. ``epoch`` is the epoch under way (1-based); ``step`` counts its finished batches."""

    epoch: int = 1
    step: int = 0
    global_step: int = 0
    epoch_rng_state: dict = field(default_factory=dict)  # numpy data-order generator at the start of ``epoch``
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    tokens: int = 0  # tokens in the texts seen this epoch (for tokens per second)
    epoch_seconds: float = 0.0
    history: list[dict] = field(default_factory=list)
    best_score: float = -1.0
    best_epoch: int = 0
    stale_epochs: int = 0
    done: bool = False


def save_checkpoint(
    path: Path,
    state: TrainState,
    model: torch.nn.Module,
    optimizers: dict[str, torch.optim.Optimizer],
    best_weights: dict[str, torch.Tensor] | None,
    extra: dict[str, Any],
) -> None:
    """``optimizers`` by name: "optimizer", plus "sparse_optimizer" when the embedding has its own."""
    tensors = {f"model/{name}": t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    if best_weights is not None:
        tensors.update({f"best/{name}": t.detach().cpu().contiguous() for name, t in best_weights.items()})
    metadata = {"format": CHECKPOINT_FORMAT, "state": json.dumps(asdict(state)),
                "optimizers": json.dumps(list(optimizers))}
    for name, optimizer in optimizers.items():
        optimizer_state = optimizer.state_dict()
        moments: dict[str, list[str]] = {}
        numbers: dict[str, list[str]] = {}  # Python numbers (SparseAdam's step): given back as numbers, not tensors
        for param_id, values in optimizer_state["state"].items():
            moments[str(param_id)] = []
            for key, value in values.items():
                tensors[f"{name}/{param_id}/{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
                moments[str(param_id)].append(key)
                if not isinstance(value, torch.Tensor):
                    numbers.setdefault(str(param_id), []).append(key)
        metadata[name] = json.dumps({"param_groups": optimizer_state["param_groups"], "moments": moments,
                                     "numbers": numbers})
    tensors["rng/torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        for index, rng in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{index}"] = rng
    metadata.update({key: json.dumps(value) for key, value in extra.items()})
    write_bytes_atomic(path, save_safetensors(tensors, metadata=metadata))


@dataclass
class Checkpoint:
    state: TrainState
    model: dict[str, torch.Tensor]
    best: dict[str, torch.Tensor] | None
    optimizers: dict[str, dict]  # by name, each an optimizer state_dict
    torch_rng: torch.Tensor
    cuda_rng: list[torch.Tensor]
    extra: dict[str, Any]


def load_checkpoint(path: Path) -> Checkpoint:
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint here (nothing to resume)")
    try:
        data = path.read_bytes()
        tensors = load_safetensors(data)
        from safetensors import safe_open  # the metadata is only reachable through safe_open

        with safe_open(path, framework="pt") as handle:
            metadata = handle.metadata() or {}
    except Exception as error:  # safetensors reports corrupt files with its own exception types
        raise CheckpointError(f"{path}: not a readable checkpoint ({error})") from None
    if metadata.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a textrnn checkpoint (format {CHECKPOINT_FORMAT!r})")
    state = TrainState(**json.loads(metadata["state"]))
    optimizers = {}
    for name in json.loads(metadata.get("optimizers", '["optimizer"]')):
        meta = json.loads(metadata[name])
        numbers = meta.get("numbers", {})

        def value(param_id: str, key: str, name: str = name, numbers: dict = numbers) -> Any:
            tensor = tensors[f"{name}/{param_id}/{key}"]
            return tensor.item() if key in numbers.get(param_id, ()) else tensor

        optimizers[name] = {
            "state": {int(param_id): {key: value(param_id, key) for key in keys}
                      for param_id, keys in meta["moments"].items()},
            "param_groups": meta["param_groups"],
        }
    model = {name[len("model/"):]: t for name, t in tensors.items() if name.startswith("model/")}
    best = {name[len("best/"):]: t for name, t in tensors.items() if name.startswith("best/")} or None
    cuda = [tensors[f"rng/cuda/{i}"] for i in range(sum(1 for n in tensors if n.startswith("rng/cuda/")))]
    extra = {k: json.loads(v) for k, v in metadata.items()
             if k not in ("format", "state", "optimizers", *optimizers)}
    return Checkpoint(state, model, best, optimizers, tensors["rng/torch"], cuda, extra)


MEMBER_FORMAT = "textrnn.ensemble-member/1"


def write_member(path: Path, weights: dict[str, torch.Tensor], result: dict[str, Any]) -> None:
    """A finished ensemble member (its best weights and training record), kept until the ensemble is done."""
    tensors = {name: t.detach().cpu().contiguous() for name, t in weights.items()}
    metadata = {"format": MEMBER_FORMAT, "result": json.dumps(result)}
    write_bytes_atomic(path, save_safetensors(tensors, metadata=metadata))


def read_member(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    from safetensors import safe_open

    if not path.is_file():
        raise CheckpointError(f"{path}: missing; an interrupted ensemble keeps each finished member here")
    try:
        with safe_open(path, framework="pt") as handle:
            metadata = handle.metadata() or {}
            weights = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 (not a dict)
    except Exception as error:  # safetensors reports corrupt files with its own exception types
        raise CheckpointError(f"{path}: not a readable ensemble member ({error})") from None
    if metadata.get("format") != MEMBER_FORMAT:
        raise CheckpointError(f"{path}: not a textrnn ensemble member (format {MEMBER_FORMAT!r})")
    return weights, json.loads(metadata["result"])
