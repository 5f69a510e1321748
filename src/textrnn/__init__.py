"""textrnn: recurrent-network (RNN, LSTM, GRU) text classifiers that train fast on a small CPU."""

__version__ = "0.1.0"

from .classifier import ModelFileError, TextRNNClassifier  # noqa: E402
from .config import ClassifierParams, ConfigError, RunConfig  # noqa: E402
from .data import DataError, Dataset, load_ag_news, read_table  # noqa: E402
from .vectorizer import TextVectorizer  # noqa: E402

__all__ = [
    "ClassifierParams",
    "ConfigError",
    "DataError",
    "Dataset",
    "ModelFileError",
    "RunConfig",
    "TextRNNClassifier",
    "TextVectorizer",
    "load_ag_news",
    "read_table",
]
