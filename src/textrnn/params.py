"""Every parameter textrnn knows, in named groups, with its default and its valid range: the one source.

The same names are used by the Python API (``TextRNNClassifier(cell="gru")``), the YAML config file
(``cell: gru``) and the command line (``--cell gru``). The command line's flags, the YAML schema and the
parameter tables in the docs are all generated from the groups below, so they cannot disagree.

* :class:`VectorizerParams`, :class:`ModelParams`, :class:`TrainingParams`: what a model *is*; saved with it.
* :class:`RuntimeParams`: how this process runs (device, threads of output, memory); never saved with a model.
* :class:`DataParams` and :class:`RunParams`: where a command-line run reads and writes.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ConfigError, format_validation_error

MAX_SEED = 2**32 - 1  # the seeds NumPy, PyTorch and scikit-learn all accept

# Pretrained English word vectors that gensim's downloader serves, by name, with their dimensions (embeddings: NAME).
NAMED_VECTORS = {
    **{f"glove-wiki-gigaword-{dim}": dim for dim in (50, 100, 200, 300)},
    **{f"glove-twitter-{dim}": dim for dim in (25, 50, 100, 200)},
    "fasttext-wiki-news-subwords-300": 300,
    "word2vec-google-news-300": 300,
}

__all__ = ["ClassifierParams", "ConfigError", "RunConfig", "PARAM_GROUPS", "validate"]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @model_validator(mode="before")
    @classmethod
    def _none_spelt_as_a_word(cls, values: Any) -> Any:
        """``none`` (or ``null``) means off in all three places: the docs and ``--help`` say ``none``, YAML reads
        it as a string, and Python users copy it from there; a parameter whose options include the word itself
        (``class_weight: none``) keeps it."""
        if not isinstance(values, dict):
            return values
        fields = cls.model_fields
        return {name: None if (name in fields and isinstance(value, str) and value.strip().lower() in ("none", "null")
                               and _accepts(fields[name].annotation, None)
                               and not _accepts(fields[name].annotation, value)) else value
                for name, value in values.items()}


def _accepts(annotation, value) -> bool:
    """Whether ``annotation`` lists ``value`` itself: None among its types, or the string among its literals."""
    if value is None and annotation in (None, type(None)):
        return True
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return value in typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType, Annotated):
        return any(_accepts(arg, value) for arg in typing.get_args(annotation))
    return False


class VectorizerParams(_Params):
    """How texts become token ids."""

    max_tokens: int = Field(20_000, ge=3, description="vocabulary size, padding (0) and out-of-vocabulary (1) included")
    max_length: Annotated[int, Field(ge=1)] | None | Literal["auto"] = Field(
        "auto", description="keep at most this many tokens of each text (none: all; auto: the 99th percentile of "
        "the training texts' lengths when they are long, else all but a few outliers)",
        json_schema_extra={"parse": "auto_or_int"})
    vocabulary_type: Literal["word", "bpe", "wordpiece", "unigram", "char"] = Field(
        "word", description="whole words, subword pieces (bpe, wordpiece, unigram) so that rare words are spelt, "
        "or single characters (char; see one_hot)"
    )
    punctuation: Literal["auto", "delete", "space", "token"] = Field(
        "auto", description="ASCII punctuation is kept, each mark a token of its own (great! -> great !), replaced "
        "by a space (great.<br>I -> great br i, not greatbr i), or deleted, as Keras does (\"U.S.\" -> us); auto: "
        "tokens under 10,000 training rows, else spaces"
    )
    strip_html: bool = Field(
        False, description="turn HTML tags (also escaped, &lt;p&gt;) into spaces and entities (&amp;, &#39;) into "
        "their characters before anything else; training warns when the texts hold markup and this is off"
    )


class ModelParams(_Params):
    """The network."""

    cell: Literal["rnn", "lstm", "gru"] = Field("gru", description="recurrent cell: rnn (Elman, tanh), lstm or gru")
    embed_dim: int = Field(64, ge=1, description="size of the word embedding")
    hidden_size: int = Field(64, ge=1, description="size of the recurrent state, per direction")
    # At most 100: deeper stacks are not trained in practice, and 30,000 layers (a typo) take minutes to build
    # while their memory looks small.
    num_layers: int = Field(1, ge=1, le=100, description="number of stacked recurrent layers (1 to 100)")
    bidirectional: bool = Field(True, description="also read each text from right to left")
    pooling: Literal["last", "max", "mean", "attention", "concat"] = Field(
        "max",
        description="how the per-step outputs become one vector: last state, max, mean, attention, "
        "or concat (last, max and mean side by side)",
    )
    dropout: float = Field(0.3, ge=0.0, lt=1.0, description="dropout on the embedding, between layers and before the head")
    locked_dropout: bool = Field(
        False, description="drop the same embedding features at every step of a text (variational dropout)"
    )
    word_dropout: float = Field(
        0.0, ge=0.0, lt=1.0, description="drop whole words: this share of the vocabulary's embeddings per batch"
    )
    embeddings: str | None = Field(
        "auto",
        description="start the embedding from this word-vector file (word2vec .bin or text, GloVe .txt, fastText "
        ".vec), from a named pretrained set downloaded once (glove-wiki-gigaword-100 and -50/-200/-300, "
        "glove-twitter-25/50/100/200, fasttext-wiki-news-subwords-300, word2vec-google-news-300; embed_dim must be "
        "its size), or from vectors trained on the training texts first: word2vec or fasttext (auto: word2vec from "
        "2,500 training rows, else none)",
    )
    freeze_embeddings: int = Field(
        0, ge=0, description="with embeddings: keep them frozen for this many epochs (0: fine-tune from the start)"
    )
    init_from: str | None = Field(
        None,
        description="start from a language model made by textrnn pretrain: its vocabulary, embedding and "
        "recurrent layers (cell, sizes and layers must match it)",
    )
    ensemble: int = Field(
        1, ge=1, description="train this many models (seeds seed, seed+1, ...) and average their probabilities"
    )
    bag_of_words: Literal["auto"] | None | Annotated[int, Field(ge=16)] = Field(
        "auto", description="mix the network's probabilities with those of a linear model on TF-IDF of word "
        "1-2-grams (the bigrams hashed into this many slots), weighted as the validation rows prefer, from 0 to 1 "
        "(auto: slots for the training data's bigrams; none: the network alone)",
        json_schema_extra={"parse": "auto_or_int"},
    )
    one_hot: bool = Field(
        False, description="feed each token to the recurrent cell as a one-hot vector instead of a learned "
        "embedding (for small vocabularies: characters; at most 1,024 tokens)"
    )
    mask: bool = Field(
        True,
        description="keep padding out of the recurrent state; off only reproduces the lesson's unmasked model",
    )
    multi_label: bool = Field(
        False, description="a text may carry any number of labels: one sigmoid output per label, binary "
        "cross-entropy, and thresholds chosen on the validation rows",
    )


class TrainingParams(_Params):
    """How the weights are learned."""

    epochs: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        "auto", description="passes over the training data (auto: 15 under 10,000 training rows, else 5)",
        json_schema_extra={"parse": "int_or_auto"})
    batch_size: int = Field(64, ge=1, description="texts per training step")
    lr: float = Field(2e-3, gt=0.0, description="Adam learning rate (the peak, with a schedule)")
    lr_schedule: Literal["constant", "warmup-linear", "warmup-cosine"] = Field(
        "constant",
        description="learning rate over training: constant, or a warm-up over the first 6% of the steps "
        "then a linear or cosine decay to 0 at the last epoch",
    )
    label_smoothing: float = Field(0.0, ge=0.0, lt=1.0, description="label smoothing of the cross-entropy loss")
    adversarial: Annotated[float, Field(ge=0.0, lt=1.0)] | Literal["auto"] = Field("auto", description="also train on "
        "each text's word vectors moved this share of their norm the way that raises its loss (adversarial training: "
        "twice the time per epoch; 0: off; auto: 0.1 under 10,000 training rows, else 0)",
        json_schema_extra={"parse": "float_or_text"})
    discriminative_lr: float = Field(
        1.0, ge=1.0, description="each layer below the head learns this many times slower than the one above "
        "(ULMFiT: 2.6; 1: all alike)"
    )
    gradual_unfreezing: bool = Field(
        False, description="train the head alone in epoch 1, then unfreeze one more layer per epoch, top down"
    )
    weight_decay: float = Field(0.0, ge=0.0, description="decoupled weight decay (AdamW); 0 gives plain Adam")
    sparse_embedding: bool = Field(
        False,
        description="update only the embedding rows a batch uses (lazy Adam: faster on CPU; the embedding "
        "gets no weight decay; one device only)",
    )
    clip_grad_norm: float | None = Field(1.0, gt=0.0, description="clip the gradient norm to this value (none: no clipping)")
    patience: Annotated[int, Field(ge=1)] | None | Literal["auto"] = Field(
        "auto", description="stop after this many epochs without a better validation score (none: never; auto: 3 "
        "under 10,000 training rows, else 2)", json_schema_extra={"parse": "auto_or_int"},
    )
    class_weight: Literal["none", "balanced"] | dict[str, float] = Field(
        "none", description="weight of each class in the loss: none (all 1), balanced (inversely proportional to "
        "its rows, as in scikit-learn) or a mapping such as {\"spam\": 5} (others 1)",
        json_schema_extra={"parse": "json_or_text"},
    )
    monitor: Literal["auto", "accuracy", "macro_f1"] = Field(
        "auto", description="what early stopping and the choice of the best epoch maximise on the validation rows "
        "(auto: macro_f1 when the largest class has 3 or more times the rows of the smallest, else accuracy)",
    )
    threshold: Literal["per_label", "global"] | Annotated[float, Field(gt=0.0, lt=1.0)] = Field(
        "per_label", description="multi-label: the probability from which a text gets a label: per_label (each "
        "label's own, chosen on the validation rows to maximise its F1), global (one for all, chosen the same way) "
        "or a number such as 0.5", json_schema_extra={"parse": "float_or_text"},
    )
    val_size: Annotated[float, Field(ge=0.0, lt=1.0)] | Literal["auto"] = Field(
        "auto", description="fraction of the training data held out for validation (0: none; auto: 5%, more when "
        "that gives fewer than 500 validation rows or the rarest class fewer than 10, at most 20%)",
        json_schema_extra={"parse": "float_or_text"},
    )
    seed: int = Field(0, ge=0, le=MAX_SEED, description="controls data split, data order, initialisation and dropout")


class RuntimeParams(_Params):
    """How this process runs: none of these change what is learned, and none is saved with a model."""

    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$", description="auto, cpu, cuda or cuda:N")
    devices: int = Field(
        1, ge=1, description="train data-parallel on this many devices (CPU processes or GPUs) per machine"
    )
    num_nodes: int = Field(1, ge=1, description="machines taking part in data-parallel training (started by torchrun)")
    memory_budget_gb: float | None = Field(
        None, gt=0, description="refuse batches that would need more memory (default: 90% of available memory)"
    )
    checkpoint_every: int | None = Field(
        500, ge=1, description="with a checkpoint directory, also save the training state every N steps"
    )
    threads: Literal["auto"] | int = Field(
        "auto", description="CPU threads to compute with: auto (the cores not used by other processes, looked at "
        "again while training) or a number", json_schema_extra={"parse": "int_or_auto"},
    )
    verbose: bool = Field(False, description="print progress while fitting")


class ClassifierParams(VectorizerParams, ModelParams, TrainingParams, RuntimeParams):
    """Every parameter of a :class:`~textrnn.TextRNNClassifier`, flat, as scikit-learn estimators take them."""


class FileShape(_Params):
    """One data file described on its own, where it differs from the run's training file (each unset field is the
    run's: its text and label columns, header and quoting)."""

    path: str = Field(description="the file (or directory of files)")
    text_column: list[str] | None = Field(None, min_length=1, description="its text column(s)")
    label_column: str | None = Field(None, description="its label column")
    header: Literal["auto"] | bool | None = Field(None, description="whether its first row names its columns")
    quoting: Literal["csv", "none"] | None = Field(None, description="its CSV/TSV quotes")


class DataParams(_Params):
    """Where a command-line run reads its rows."""

    dataset: str = Field(
        "ag_news",
        description="'ag_news', a CSV/TSV/JSONL/Parquet file or a directory of them, or hf:NAME[:CONFIG] "
        "(a Hugging Face dataset on the Hub or saved with save_to_disk)",
    )
    data_dir: str | None = Field(None, description="directory holding AG News train/test CSVs (or TEXTRNN_DATA_DIR)")
    text_column: list[str] = Field(
        ["text"], min_length=1, description="text column(s), joined with a space; AG News has title, description, text",
    )
    label_column: str = Field("label", description="label column of a file dataset")
    label_separator: str = Field(
        ",", min_length=1, description="multi-label: the labels in one cell are joined by this (JSONL and Parquet "
        "files may hold a list instead)",
    )
    header: Literal["auto"] | bool = Field(
        "auto", description="whether the first row of a CSV/TSV file names its columns: yes, no (it is data) or auto "
        "(decided for each file, and said: a header holds the column names asked for, or, for columns given by "
        "position, looks like names that recur nowhere below). A column is named by its header or by its position "
        "from 0 (--text-column 0 --label-column 1), with or without a header row; --no-header is --header no",
        json_schema_extra={"parse": "auto_or_bool"},
    )
    quoting: Literal["csv", "none"] = Field(
        "csv", description="CSV/TSV quotes: csv (a field in double quotes may hold the delimiter, line breaks and "
        "doubled quotes) or none (quotes are ordinary characters; plain tab-separated lines)",
    )
    test_data: str | FileShape | None = Field(
        None, description="labeled file or hf:NAME to report test metrics on (AG News, hf: datasets: their test split); "
        "a file of another shape than the training file is described on its own, as JSON or YAML: "
        "{\"path\": \"test.csv\", \"text_column\": [\"body\"], \"label_column\": \"topic\", \"header\": true}",
        json_schema_extra={"parse": "json_or_text"},
    )
    validation_data: str | FileShape | None = Field(
        None, description="labeled file or hf:NAME to choose the epoch and stop early on, instead of holding out "
        "val_size of the training rows (never the test data); described on its own as test_data can be",
        json_schema_extra={"parse": "json_or_text"},
    )
    stream: bool = Field(
        False, description="read the training data in chunks instead of loading it (for data larger than memory)"
    )
    on_bad_rows: Literal["error", "skip"] = Field(
        "error", description="stop at the first bad data row, or skip bad rows and list them in skipped_rows.jsonl"
    )


class RunParams(_Params):
    """What a command-line run writes."""

    out: str | None = Field(None, description="the run directory to write (none: runs/<model>-<data>-<time>)")
    preset: str | None = Field(None, description="start from a named preset; other parameters override it")
    tensorboard: bool = Field(False, description="also log the training curves to RUN_DIR/tensorboard (tensorboardX)")
    baseline: Literal["auto", "tfidf-logreg", "none"] = Field(
        "auto", description="also fit a bag-of-words baseline on the same rows and report it beside the RNN (and "
        "check the training labels with it): auto: TF-IDF of word 1-2-grams + logistic regression, or up to "
        "20,000 training rows NBSVM-bigram when the validation rows prefer it; tfidf-logreg: the first alone; "
        "none: skip it",
    )


class RunConfig(ClassifierParams, DataParams, RunParams):
    """A training run from the command line or a YAML file: classifier parameters plus where the data is."""


# The groups, in the order the help and the docs show them.
PARAM_GROUPS: dict[str, type[_Params]] = {
    "data": DataParams,
    "vectorizer": VectorizerParams,
    "model": ModelParams,
    "training": TrainingParams,
    "runtime": RuntimeParams,
    "run": RunParams,
}
CLASSIFIER_PARAM_NAMES: tuple[str, ...] = tuple(ClassifierParams.model_fields)
RUNTIME_PARAM_NAMES: tuple[str, ...] = tuple(RuntimeParams.model_fields)
SAVED_PARAM_NAMES: tuple[str, ...] = tuple(n for n in CLASSIFIER_PARAM_NAMES if n not in RUNTIME_PARAM_NAMES)
# Parameters that may differ between an interrupted fit and its resumption: they change no result.
RESUME_MAY_CHANGE = RUNTIME_PARAM_NAMES


def validate(cls: type[BaseModel], values: dict[str, Any]) -> Any:
    """Build ``cls`` from ``values``, turning pydantic's error into a :class:`ConfigError`."""
    try:
        return cls(**values)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error)) from None


def check_combinations(params: ClassifierParams) -> None:
    """Refuse parameters that are valid alone but not together (before any work starts)."""
    if params.sparse_embedding and params.devices * params.num_nodes > 1:
        # DistributedDataParallel reduces sparse gradients on gloo only; one rule for every backend.
        raise ConfigError("sparse_embedding: not with data-parallel training (devices or num_nodes above 1)")
    if params.multi_label and params.label_smoothing:
        raise ConfigError("label_smoothing: single-label only; it is not applied to multi-label's per-label losses")
    named = NAMED_VECTORS.get(str(params.embeddings))
    if named and params.embed_dim != named:
        raise ConfigError(f"embeddings: {params.embeddings} has {named} dimensions; set embed_dim {named} "
                          f"(--embed-dim {named})")
    if params.one_hot and params.embeddings not in (None, "auto"):
        raise ConfigError("embeddings: one_hot feeds fixed one-hot vectors, so there is no embedding to start from "
                          "word vectors; use one or the other")
    if isinstance(params.bag_of_words, int) and (params.multi_label or params.vocabulary_type == "char"):
        raise ConfigError("bag_of_words: single-label word (or word-piece) models only; use auto or none")
    if params.one_hot and (params.sparse_embedding or params.word_dropout or params.init_from):
        raise ConfigError("one_hot: not with sparse_embedding, word_dropout or init_from (they act on a learned "
                          "embedding, which one_hot replaces)")
