"""textrnn: recurrent-network (RNN, LSTM, GRU) text classifiers that train fast on a small CPU.

    from textrnn import TextRNNClassifier
    clf = TextRNNClassifier(cell="lstm").fit(texts, labels)

Names are imported on first use, so that the ONNX runtime (:class:`OnnxClassifier`) works in an
install without PyTorch (``pip install textrnn[serve]``).

The package, one level deep: ``data`` (where rows come from), ``text`` (texts to ids), ``model`` (the
networks), ``train`` (the loop, callbacks, checkpoints, devices), ``evaluation`` (metrics, report,
explanations), ``deploy`` (ONNX export, runtime, server, batch prediction); at the top the estimator,
the parameters, the saved-model format, the run directory, the training recipe and the command line.
"""

from importlib import import_module

__version__ = "0.2.0"

_EXPORTS = {
    "ClassifierParams": "params", "RunConfig": "params",
    "ConfigError": "errors", "DataError": "errors", "ModelFileError": "errors", "ExportError": "errors",
    "Dataset": "data.dataset", "load_ag_news": "data.ag_news", "read_table": "data.tables",
    "load_dataset": "data.sources",
    "TextRNNClassifier": "estimator",
    "TextVectorizer": "text.vectorizer",
    "OnnxClassifier": "deploy.runtime",
    "Callback": "train.callbacks",
    "find_label_issues": "evaluation.label_issues", "rows_to_label": "evaluation.label_next",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'textrnn' has no attribute {name!r}")
    try:
        module = import_module(f".{_EXPORTS[name]}", __name__)
    except ModuleNotFoundError as error:  # an extra not installed: name it (TextRNNClassifier needs "train")
        from .extras import missing_extra

        if (message := missing_extra(error)) is None:
            raise
        raise ModuleNotFoundError(f"textrnn.{name}: {message}", name=error.name) from None
    return getattr(module, name)
