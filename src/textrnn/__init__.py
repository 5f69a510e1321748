"""textrnn: recurrent-network (RNN, LSTM, GRU) text classifiers that train fast on a small CPU.

Names are imported on first use, so that ``textrnn.runtime`` (ONNX Runtime only) can be used without
PyTorch installed or imported.
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "ClassifierParams": "config", "ConfigError": "config", "RunConfig": "config",
    "DataError": "data", "Dataset": "data", "load_ag_news": "data", "read_table": "data",
    "ModelFileError": "classifier", "TextRNNClassifier": "classifier",
    "TextVectorizer": "vectorizer",
    "OnnxClassifier": "runtime",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'textrnn' has no attribute {name!r}")
