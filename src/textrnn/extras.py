"""Which optional extra installs a missing module: one message for every command that needs one.

textrnn's core installs what predicting from an ONNX export needs; training, serving and the rest are extras
(``pyproject.toml``). A command that reaches a module of an extra that is not installed stops with the extra
to install, not with Python's ``ModuleNotFoundError``.
"""

from __future__ import annotations

# Top-level module -> the extra that installs it (the first one that has it, in pyproject.toml's order).
EXTRA_OF_MODULE = {
    "torch": "train", "lightning_fabric": "train", "safetensors": "train", "pyarrow": "train",
    "matplotlib": "train", "onnx": "train", "gensim": "train", "sklearn": "train", "scipy": "train",
    "onnxruntime": "serve", "fastapi": "serve", "uvicorn": "serve", "httptools": "serve", "uvloop": "serve",
    "tensorboardX": "tensorboard", "datasets": "hf", "optuna": "tune",
}


def missing_extra(error: ModuleNotFoundError) -> str | None:
    """The message for a module of one of textrnn's extras that is not installed; None for any other module
    (that is a bug, not a missing install)."""
    module = (error.name or "").split(".")[0]
    extra = EXTRA_OF_MODULE.get(module)
    if extra is None:
        return None
    return (f"this needs {module}, which is not installed; it comes with textrnn's '{extra}' extra: "
            f"pip install \"textrnn[{extra}]\" (from a clone: pip install -e \".[{extra}]\")")
