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

from .errors import CheckpointError
from .files import write_bytes_atomic

CHECKPOINT_FORMAT = "textrnn.checkpoint/1"
CHECKPOINT_FILE = "checkpoint.safetensors"


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
    optimizer: torch.optim.Optimizer,
    best_weights: dict[str, torch.Tensor] | None,
    extra: dict[str, Any],
) -> None:
    tensors = {f"model/{name}": t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    if best_weights is not None:
        tensors.update({f"best/{name}": t.detach().cpu().contiguous() for name, t in best_weights.items()})
    optimizer_state = optimizer.state_dict()
    moments: dict[str, list[str]] = {}
    for param_id, values in optimizer_state["state"].items():
        moments[str(param_id)] = []
        for key, value in values.items():
            tensors[f"optimizer/{param_id}/{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
            moments[str(param_id)].append(key)
    tensors["rng/torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        for index, rng in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{index}"] = rng
    metadata = {
        "format": CHECKPOINT_FORMAT,
        "state": json.dumps(asdict(state)),
        "optimizer": json.dumps({"param_groups": optimizer_state["param_groups"], "moments": moments}),
        **{key: json.dumps(value) for key, value in extra.items()},
    }
    write_bytes_atomic(path, save_safetensors(tensors, metadata=metadata))


@dataclass
class Checkpoint:
    state: TrainState
    model: dict[str, torch.Tensor]
    best: dict[str, torch.Tensor] | None
    optimizer: dict
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
    optimizer_meta = json.loads(metadata["optimizer"])
    optimizer = {
        "state": {
            int(param_id): {key: tensors[f"optimizer/{param_id}/{key}"] for key in keys}
            for param_id, keys in optimizer_meta["moments"].items()
        },
        "param_groups": optimizer_meta["param_groups"],
    }
    model = {name[len("model/"):]: t for name, t in tensors.items() if name.startswith("model/")}
    best = {name[len("best/"):]: t for name, t in tensors.items() if name.startswith("best/")} or None
    cuda = [tensors[f"rng/cuda/{i}"] for i in range(sum(1 for n in tensors if n.startswith("rng/cuda/")))]
    extra = {k: json.loads(v) for k, v in metadata.items() if k not in ("format", "state", "optimizer")}
    return Checkpoint(state, model, best, optimizer, tensors["rng/torch"], cuda, extra)
