"""``TextRNNClassifier``: the estimator that ties vectorizer, model and training together.

It follows scikit-learn's conventions: parameters are given to ``__init__`` and only checked in
``fit`` (each error names the parameter), fitted state ends in an underscore (``classes_``,
``params_``, ``vectorizer_``, ``model_``, ``history_``), and ``predict``/``predict_proba``/``score`` work on raw texts.

    clf = TextRNNClassifier(cell="lstm", epochs=3).fit(texts, labels)
    clf.predict(["Stocks rally as oil falls"])
    clf.save("runs/my-model"); TextRNNClassifier.load("runs/my-model")

A saved model is a directory of plain files: ``model.safetensors`` (weights), ``config.json``
(parameters and sizes), ``vectorizer.json`` and ``labels.json``. Loading runs no code from them.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from . import __version__, distributed
from .batching import EncodedTexts
from .checkpoint import CHECKPOINT_FILE, load_checkpoint, read_member, write_member
from .config import (
    CLASSIFIER_PARAM_NAMES,
    RESUME_MAY_CHANGE,
    ClassifierParams,
    ConfigError,
    check_combinations,
    validate,
)
from .data import DataError
from .embeddings import ALGORITHMS
from .errors import ModelFileError
from .files import json_bytes, write_files_atomic
from .metrics import classification_metrics, metrics_from_confusion
from .model import EnsembleClassifier, RNNClassifier
from .training import (
    InMemoryEvaluationData,
    InMemoryTrainingData,
    TrainResult,
    check_memory,
    log,
    predict_probabilities,
    train_model,
)
from .vectorizer import TextVectorizer

if TYPE_CHECKING:
    from .stream import RowStream

MODEL_FORMAT = "textrnn.model/1"
MODEL_FILES = ("model.safetensors", "config.json", "vectorizer.json", "labels.json")
PICKLE_SUFFIXES = (".pkl", ".pickle", ".pt", ".pth", ".ckpt", ".bin", ".joblib")


class TextRNNClassifier:
    """A recurrent-network text classifier. Parameters and defaults: :class:`textrnn.config.ClassifierParams`."""

    def __init__(self, **params: Any) -> None:
        unknown = sorted(set(params) - set(CLASSIFIER_PARAM_NAMES))
        if unknown:
            raise ConfigError(f"unknown parameter(s): {', '.join(unknown)}; known: {', '.join(CLASSIFIER_PARAM_NAMES)}")
        defaults = ClassifierParams.model_construct().model_dump()
        for name in CLASSIFIER_PARAM_NAMES:
            setattr(self, name, params.get(name, defaults[name]))

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CLASSIFIER_PARAM_NAMES}

    def set_params(self, **params: Any) -> "TextRNNClassifier":
        for name, value in params.items():
            if name not in CLASSIFIER_PARAM_NAMES:
                raise ConfigError(f"unknown parameter {name!r}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = ClassifierParams.model_construct().model_dump()
        changed = {k: v for k, v in self.get_params().items() if v != defaults[k]}
        return f"TextRNNClassifier({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    # ------------------------------------------------------------------------------------------ fit

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[Any],
        validation_data: tuple[Sequence[str], Sequence[Any]] | None = None,
        classes: Sequence[str] | None = None,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
        tensorboard_dir: str | Path | None = None,
        on_epoch_end: Callable[[dict, torch.nn.Module], None] | None = None,
    ) -> "TextRNNClassifier":
        """Learn the vocabulary and the weights from ``texts`` and their ``labels``.

        Without ``validation_data``, a stratified ``val_size`` share of the data is held out to pick
        the best epoch and stop early. ``classes`` fixes the order of the probability columns
        (default: the sorted distinct labels). With ``checkpoint_dir``, training can be interrupted
        (SIGINT, SIGTERM, even SIGKILL) and continued by calling ``fit`` again with the same data,
        parameters and ``resume=True``; the result is the same as without the interruption.
        ``tensorboard_dir`` also logs the training curves for TensorBoard (needs ``tensorboardX``).
        ``on_epoch_end(record, model)`` runs after every epoch with its figures (benchmarks use it to
        follow test accuracy; its time is not counted as training time).
        """
        params: ClassifierParams = validate(ClassifierParams, self.get_params())
        check_combinations(params)
        texts, labels = check_texts(texts, "texts"), [str(label) for label in labels]
        if len(texts) != len(labels):
            raise DataError(f"fit got {len(texts)} texts but {len(labels)} labels")
        if not texts:
            raise DataError("fit got no training texts")
        classes = list(classes) if classes is not None else sorted(set(labels))
        check_classes(labels, classes, "training data")
        if validation_data is None and params.val_size > 0:
            from .data import Dataset, train_val_split

            train, val = train_val_split(Dataset(texts, labels, "training data"), params.val_size, params.seed)
            texts, labels = train.texts, train.labels
            validation_data = (val.texts, val.labels) if val is not None else None
        missing = [name for name in classes if name not in set(labels)]
        if missing:
            raise DataError(f"class(es) {', '.join(missing)} have no training rows; every class needs some")

        checkpoint = self._checkpoint_to_resume(checkpoint_dir, resume)
        if checkpoint is not None:
            check_resumable(checkpoint.extra, params, classes, len(texts))
        if distributed.is_distributed(params.devices, params.num_nodes):
            distributed.get_fabric(params.device, params.devices, params.num_nodes)  # starts the other ranks
        rank, world = distributed.rank(), distributed.world_size()

        started = time.perf_counter()
        self.classes_, self.params_ = classes, params
        pretrained = language_model(params) if params.init_from and checkpoint is None else None
        if checkpoint is not None:  # the vocabulary the interrupted run built, not a new one
            self.vectorizer_ = TextVectorizer.from_dict(checkpoint.extra["vectorizer"], "checkpoint")
        elif pretrained is not None:  # the language model's vocabulary, which its embedding rows are for
            self.vectorizer_ = pretrained.vectorizer
        else:
            self.vectorizer_ = TextVectorizer(params.max_tokens, params.max_length, params.vocabulary_type).adapt(texts)
        train_x = EncodedTexts.encode(self.vectorizer_.encode, texts)
        train_data = InMemoryTrainingData(train_x, self._label_indices(labels), params.batch_size, params.mask,
                                          rank, world)
        val_data = None
        if validation_data is not None:
            val_texts = check_texts(validation_data[0], "validation texts")
            val_labels = [str(label) for label in validation_data[1]]
            check_classes(val_labels, self.classes_, "validation data")
            val_data = InMemoryEvaluationData(EncodedTexts.encode(self.vectorizer_.encode, val_texts),
                                              self._label_indices(val_labels), rank, world)
        if params.verbose:
            log(
                f"training on {len(texts):,} texts, validating on {0 if val_data is None else len(val_data.x):,}; "
                f"vocabulary {self.vectorizer_.vocab_size:,} tokens; classes: {', '.join(self.classes_)}"
            )
        self._train(params, train_data, val_data, int(train_x.lengths.max()), len(texts),
                    0 if val_data is None else len(val_data.x), checkpoint_dir, checkpoint, tensorboard_dir,
                    on_epoch_end, started, pretrained)
        self.fit_info_["truncated_train_texts"] = self.vectorizer_.truncated_count(texts)
        return self

    def fit_stream(
        self,
        stream: "RowStream",
        classes: Sequence[str] | None = None,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
        tensorboard_dir: str | Path | None = None,
        on_epoch_end: Callable[[dict, torch.nn.Module], None] | None = None,
    ) -> "TextRNNClassifier":
        """Like :meth:`fit`, on a :class:`textrnn.stream.RowStream` that is read in chunks, never loaded whole.

        One pass builds the vocabulary and finds the classes (on rank 0; the others receive them); every
        epoch then reads the data again through a bounded shuffle buffer. The validation rows are a
        ``val_size`` share picked by a hash of each row's position (see :mod:`textrnn.stream`).
        """
        from .stream import StreamEvaluationData, StreamSummary, StreamTrainingData, scan

        params: ClassifierParams = validate(ClassifierParams, self.get_params())
        check_combinations(params)
        checkpoint = self._checkpoint_to_resume(checkpoint_dir, resume)
        if distributed.is_distributed(params.devices, params.num_nodes):
            distributed.get_fabric(params.device, params.devices, params.num_nodes)
        rank, world = distributed.rank(), distributed.world_size()

        started = time.perf_counter()
        summary = StreamSummary()
        pretrained = language_model(params) if params.init_from and checkpoint is None else None
        if checkpoint is not None:
            vectorizer = TextVectorizer.from_dict(checkpoint.extra["vectorizer"], "checkpoint")
            found = checkpoint.extra["stream"]
        else:
            found = None
            if rank == 0:
                texts = scan(stream, params.val_size, params.seed, summary, params.max_length)
                if pretrained is not None:  # the language model's vocabulary; the pass still counts rows and labels
                    vectorizer = pretrained.vectorizer
                    for _ in texts:
                        pass
                else:
                    vectorizer = TextVectorizer(params.max_tokens, params.max_length,
                                                params.vocabulary_type).adapt(texts)
                # The scan counts words; subword pieces are not known before the vocabulary is, so with a
                # subword vocabulary truncation is not counted and the memory check sees words (an underestimate).
                words = params.vocabulary_type == "word"
                found = {"vectorizer": vectorizer.to_dict(), "labels": sorted(summary.labels),
                         "train_rows": summary.train_rows, "validation_rows": summary.validation_rows,
                         "longest": summary.longest_tokens, "truncated": summary.truncated if words else None}
            found = distributed.broadcast(found)
            vectorizer = TextVectorizer.from_dict(found["vectorizer"], "rank 0")
        if not found["train_rows"]:
            raise DataError(f"{stream.source}: no training rows")
        classes = list(classes) if classes is not None else list(found["labels"])
        check_classes(found["labels"], classes, stream.source)
        if checkpoint is not None:
            check_resumable(checkpoint.extra, params, classes, found["train_rows"])
        self.classes_, self.params_, self.vectorizer_ = classes, params, vectorizer
        self.stream_summary_ = summary
        class_index = {name: i for i, name in enumerate(classes)}
        train_data = StreamTrainingData(stream, vectorizer.encode, class_index, params.batch_size, params.val_size,
                                        params.seed, rank, world, rows=found["train_rows"] // world,
                                        bucketed=params.mask)
        val_data = None
        if found["validation_rows"]:
            val_data = StreamEvaluationData(stream, vectorizer.encode, class_index, "validation", params.val_size,
                                            params.seed, rank, world)
        if params.verbose:
            log(f"streaming {stream.source}: training on {found['train_rows']:,} texts, validating on "
                f"{found['validation_rows']:,}; vocabulary {vectorizer.vocab_size:,} tokens; classes: {', '.join(classes)}")
        steps = min(found["longest"], params.max_length or found["longest"])
        self._train(params, train_data, val_data, steps, found["train_rows"], found["validation_rows"], checkpoint_dir,
                    checkpoint, tensorboard_dir, on_epoch_end, started, pretrained, stream_found=found)
        self.fit_info_["truncated_train_texts"] = found["truncated"]
        return self

    def _checkpoint_to_resume(self, checkpoint_dir: str | Path | None, resume: bool):
        if not resume:
            return None
        if checkpoint_dir is None:
            raise ConfigError("resume: needs checkpoint_dir, the directory the interrupted fit wrote to")
        return load_checkpoint(Path(checkpoint_dir) / CHECKPOINT_FILE)

    def _train(self, params, train_data, val_data, longest: int, train_rows: int, val_rows: int, checkpoint_dir,
               checkpoint, tensorboard_dir, on_epoch_end, started: float, pretrained: "PretrainedLM | None",
               stream_found: dict | None = None) -> None:
        """Build the model and run the training loop: the part :meth:`fit` and :meth:`fit_stream` share.

        An ensemble trains its members one after the other, member ``i`` with seed ``seed + i``; each
        finished member is saved next to the checkpoint, so an interrupted ensemble resumes in the member
        it was training.
        """
        if params.embeddings in ALGORITHMS and not hasattr(train_data, "x"):
            raise ConfigError(f"embeddings: {params.embeddings} vectors are trained on training data in memory; "
                              "for streamed data, train them first with textrnn embeddings train")
        resume_member = checkpoint.extra.get("member", 0) if checkpoint is not None else 0
        members, results, coverages = [], [], []
        for member in range(params.ensemble):
            member_file = Path(checkpoint_dir) / f"member-{member}.safetensors" if checkpoint_dir else None
            if member < resume_member:  # finished before the interruption
                model = self._build_model(params, single=True)
                weights, result = read_member(member_file)
                model.load_state_dict(weights)
                members.append(model.eval())
                results.append(TrainResult(**result))
                coverages.append(None)
                continue
            member_params = params.model_copy(update={"seed": params.seed + member})
            model, result, coverage = self._train_member(
                member_params, member, train_data, val_data, longest, train_rows, checkpoint_dir,
                checkpoint if member == resume_member else None, tensorboard_dir, on_epoch_end, pretrained,
                stream_found)
            if params.ensemble > 1 and member_file is not None and distributed.is_rank_zero():
                write_member(member_file, model.state_dict(), asdict(result))
            members.append(model.cpu().eval())
            results.append(result)
            coverages.append(coverage)
        self.model_ = members[0] if params.ensemble == 1 else EnsembleClassifier(members).eval()
        self.history_ = [{**record, "member": i + 1} if params.ensemble > 1 else record
                         for i, result in enumerate(results) for record in result.history]
        seconds = sum(r.seconds for r in results)
        self.fit_info_ = {
            "train_rows": train_rows,
            "val_rows": val_rows,
            "best_epoch": results[0].best_epoch if params.ensemble == 1 else [r.best_epoch for r in results],
            "epochs_run": len(self.history_),
            "train_seconds": seconds,
            "fit_seconds": time.perf_counter() - started,
            "samples_per_second": sum(r.samples_per_second * r.seconds for r in results) / seconds,
            "world_size": distributed.world_size(),
            "effective_batch_size": params.batch_size * distributed.world_size(),
            "rank_shares": results[-1].rank_shares,
            "embeddings": coverages[0] if params.ensemble == 1 else coverages,
        }

    def _train_member(self, params, member: int, train_data, val_data, longest: int, train_rows: int,
                      checkpoint_dir, checkpoint, tensorboard_dir, on_epoch_end, pretrained, stream_found):
        """One model, from its initial weights to its best epoch's."""
        if params.verbose and params.ensemble > 1:
            log(f"ensemble member {member + 1} of {params.ensemble} (seed {params.seed})")
        torch.manual_seed(params.seed)  # the initial weights; dropout draws from the same generator later
        model = self._build_model(params, single=True)
        coverage = None
        if params.embeddings and checkpoint is None:
            coverage = self._load_embeddings(model, params, getattr(train_data, "x", None))
        if pretrained is not None:
            initialise_from_lm(model, pretrained.models)
            if params.verbose:
                log(f"started from the language model in {params.init_from} (embedding and recurrent layers)")
        check_memory(model, params, batch=params.batch_size, steps=longest, training=True)
        extra = {"params": {**params.model_dump(), "seed": params.seed - member}, "classes": self.classes_,
                 "train_rows": train_rows, "vectorizer": self.vectorizer_.to_dict(), "member": member}
        if stream_found is not None:
            extra["stream"] = stream_found
        checkpoint_path = Path(checkpoint_dir) / CHECKPOINT_FILE if checkpoint_dir is not None else None
        if tensorboard_dir is not None and params.ensemble > 1:
            tensorboard_dir = Path(tensorboard_dir) / f"member-{member + 1}"
        result = train_model(model, train_data, val_data, params,
                             checkpoint_path=checkpoint_path, checkpoint_extra=extra, resume=checkpoint,
                             tensorboard_dir=Path(tensorboard_dir) if tensorboard_dir is not None else None,
                             on_epoch_end=on_epoch_end)
        return model, result, coverage

    def _load_embeddings(self, model: RNNClassifier, params: ClassifierParams, train_x: EncodedTexts | None) -> dict:
        from .embeddings import initialise_embedding, load_vectors, vectors_for_vocabulary

        vocabulary = self.vectorizer_.vocabulary
        if params.embeddings in ALGORITHMS:  # trained here, on this fit's training texts
            vectors = vectors_for_vocabulary(train_x, vocabulary, params.embeddings, params.embed_dim, params.seed)
        else:
            vectors = load_vectors(params.embeddings)
        counts = None if train_x is None else np.bincount(train_x.flat, minlength=self.vectorizer_.vocab_size)
        coverage = initialise_embedding(model.embedding, vocabulary, vectors, counts)
        if params.verbose:
            found = f"{coverage['words_found']:,} of {coverage['vocabulary_words']:,} vocabulary words"
            tokens = f", {coverage['token_coverage']:.1%} of training tokens" if "token_coverage" in coverage else ""
            source = (f"{params.embeddings} vectors trained on the training texts" if params.embeddings in ALGORITHMS
                      else f"embeddings {params.embeddings}")
            log(f"{source}: {found} ({coverage['word_coverage']:.1%}){tokens}; "
                + (f"frozen for {params.freeze_embeddings} epoch(s)" if params.freeze_embeddings else "fine-tuned"))
        return coverage

    def _build_model(self, params: ClassifierParams, single: bool = False) -> RNNClassifier | EnsembleClassifier:
        """The network ``params`` describe (untrained); an :class:`EnsembleClassifier` of ``params.ensemble``
        of them unless ``single``."""
        if params.ensemble > 1 and not single:
            return EnsembleClassifier([self._build_model(params, single=True) for _ in range(params.ensemble)])
        return RNNClassifier(
            vocab_size=self.vectorizer_.vocab_size,
            num_classes=len(self.classes_),
            embed_dim=params.embed_dim,
            cell=params.cell,
            hidden_size=params.hidden_size,
            num_layers=params.num_layers,
            bidirectional=params.bidirectional,
            pooling=params.pooling,
            dropout=params.dropout,
            mask=params.mask,
            locked_dropout=params.locked_dropout,
            word_dropout=params.word_dropout,
            sparse_embedding=params.sparse_embedding,
        )

    def _label_indices(self, labels: Sequence[str]) -> np.ndarray:
        position = {name: i for i, name in enumerate(self.classes_)}
        return np.array([position[label] for label in labels], dtype=np.int64)

    # -------------------------------------------------------------------------------------- predict

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError("this TextRNNClassifier is not fitted yet: call fit(texts, labels) or load(directory)")

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape (texts, classes), columns in the order of ``classes_``."""
        self._check_fitted()
        texts = check_texts(texts, "texts")
        if not texts:
            return np.zeros((0, len(self.classes_)), dtype=np.float32)
        encoded = EncodedTexts.encode(self.vectorizer_.encode, texts)
        return predict_probabilities(self.model_, encoded, self.params_)

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """The most probable class name of each text."""
        best = self.predict_proba(texts).argmax(axis=1)
        return np.asarray(self.classes_, dtype=object)[best]

    def score(self, texts: Sequence[str], labels: Sequence[Any]) -> float:
        """Accuracy on ``texts`` against ``labels``."""
        return self.evaluate(texts, labels)["accuracy"]

    def evaluate(self, texts: Sequence[str], labels: Sequence[Any], source: str = "evaluation data") -> dict:
        """Accuracy, macro-F1, per-class figures and the confusion matrix on labeled texts."""
        self._check_fitted()
        labels = [str(label) for label in labels]
        if len(labels) != len(texts):
            raise DataError(f"{source}: {len(texts)} texts but {len(labels)} labels")
        check_classes(labels, self.classes_, source)
        predicted = self.predict_proba(texts).argmax(axis=1)
        return classification_metrics(self._label_indices(labels), predicted, self.classes_)

    def evaluate_stream(self, stream: "RowStream", part: str = "all", val_size: float = 0.0, seed: int = 0) -> dict:
        """:meth:`evaluate` on a :class:`textrnn.stream.RowStream`, chunk by chunk (``part``: see its docs)."""
        from .stream import StreamEvaluationData

        self._check_fitted()
        class_index = {name: i for i, name in enumerate(self.classes_)}
        data = StreamEvaluationData(stream, self.vectorizer_.encode, class_index, part, val_size, seed)
        matrix = np.zeros((len(self.classes_), len(self.classes_)), dtype=np.int64)
        for x, y in data.chunks():
            predicted = predict_probabilities(self.model_, x, self.params_).argmax(axis=1)
            np.add.at(matrix, (y, predicted), 1)
        return metrics_from_confusion(matrix, self.classes_)

    # ------------------------------------------------------------------------------------ save/load

    def save(self, directory: str | Path) -> Path:
        """Write the model files into ``directory`` (created if needed).

        All files are written to temporary names before any is renamed into place, ``config.json``
        last; it records a SHA-256 of each other file, which :meth:`load` checks.
        """
        self._check_fitted()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        params = ClassifierParams(**self.get_params()).model_dump()
        tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in self.model_.state_dict().items()}
        files = {
            "model.safetensors": save_safetensors(tensors, metadata={"format": MODEL_FORMAT}),
            "vectorizer.json": json_bytes(self.vectorizer_.to_dict()),
            "labels.json": json_bytes(list(self.classes_)),
        }
        config = {
            "format": MODEL_FORMAT,
            "textrnn_version": __version__,
            "vocab_size": self.vectorizer_.vocab_size,
            "params": params,
            "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
        }
        write_files_atomic(directory, {**files, "config.json": json_bytes(config)}, last="config.json")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "TextRNNClassifier":
        """Rebuild a saved classifier. Only JSON and safetensors are read, so loading executes no code."""
        directory = Path(directory)
        if not directory.is_dir():
            raise ModelFileError(f"{directory}: no such model directory")
        unsafe = sorted(p.name for p in directory.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES)
        if unsafe:
            raise ModelFileError(
                f"{directory} holds {', '.join(unsafe)}: a format that runs code when loaded (pickle). textrnn "
                "reads only JSON and safetensors and refuses a model directory with such a file in it"
            )
        for name in MODEL_FILES:
            if not (directory / name).is_file():
                raise ModelFileError(f"{directory}: missing {name} (a model directory holds {', '.join(MODEL_FILES)})")
        config = read_json(directory / "config.json")
        if not isinstance(config, dict) or config.get("format") != MODEL_FORMAT:
            raise ModelFileError(f"{directory / 'config.json'}: not a textrnn model config (format {MODEL_FORMAT!r})")
        for name, expected in (config.get("sha256") or {}).items():
            if name in MODEL_FILES and hashlib.sha256((directory / name).read_bytes()).hexdigest() != expected:
                raise ModelFileError(
                    f"{directory / name} is not the file config.json was saved with (SHA-256 differs): "
                    "the directory was changed or a save was cut short; refusing to mix them"
                )
        try:
            params = validate(ClassifierParams, config.get("params", {}))
        except ConfigError as error:
            raise ModelFileError(f"{directory / 'config.json'}: {error}") from None
        classes = read_json(directory / "labels.json")
        if not (isinstance(classes, list) and len(classes) >= 2 and all(isinstance(c, str) for c in classes)
                and len(set(classes)) == len(classes)):
            raise ModelFileError(f"{directory / 'labels.json'}: expected a list of at least two distinct class names")
        try:
            vectorizer = TextVectorizer.from_dict(read_json(directory / "vectorizer.json"), str(directory / "vectorizer.json"))
        except ValueError as error:
            raise ModelFileError(str(error)) from None
        if vectorizer.vocab_size != config.get("vocab_size"):
            raise ModelFileError(
                f"{directory}: the vectorizer has {vectorizer.vocab_size} tokens, config.json says {config.get('vocab_size')}"
            )

        clf = cls(**params.model_dump())
        clf.classes_, clf.vectorizer_, clf.params_ = classes, vectorizer, params
        clf.model_ = clf._build_model(params)
        weights_path = directory / "model.safetensors"
        try:
            weights = load_safetensors(weights_path.read_bytes())
        except Exception as error:  # safetensors raises its own error type for corrupt files
            raise ModelFileError(f"{weights_path}: not a readable safetensors file ({error})") from None
        expected = clf.model_.state_dict()
        problems = [f"missing {name}" for name in expected if name not in weights]
        problems += [f"unexpected {name}" for name in weights if name not in expected]
        problems += [
            f"{name} has shape {tuple(weights[name].shape)}, the config needs {tuple(tensor.shape)}"
            for name, tensor in expected.items()
            if name in weights and weights[name].shape != tensor.shape
        ]
        if problems:
            raise ModelFileError(f"{weights_path} does not fit config.json: " + "; ".join(problems))
        clf.model_.load_state_dict(weights)
        clf.model_.eval()
        return clf


@dataclass
class PretrainedLM:
    vectorizer: TextVectorizer  # with the classifier's max_length
    models: dict  # direction -> textrnn.lm.LanguageModel


def language_model(params: ClassifierParams) -> PretrainedLM:
    """The language model ``params.init_from`` names, checked against the classifier's architecture."""
    from .lm import load_lm

    record, vectorizer, models = load_lm(params.init_from)
    wanted = {"cell": params.cell, "embed_dim": params.embed_dim, "hidden_size": params.hidden_size,
              "num_layers": params.num_layers}
    different = [f"{name}={record[name]!r} (here {value!r})" for name, value in wanted.items() if record[name] != value]
    if params.bidirectional and "backward" not in record["directions"]:
        different.append("a backward model for bidirectional=True (pretrain it with --bidirectional)")
    if different:
        raise ConfigError(f"init_from: {params.init_from} was pretrained with " + ", ".join(different)
                          + "; give the classifier the same architecture")
    vectorizer.max_length = params.max_length
    return PretrainedLM(vectorizer, models)


def initialise_from_lm(model: RNNClassifier, models: dict) -> None:
    """Copy embedding and recurrent weights: forward model -> forward direction, backward -> reverse direction.

    Above the first layer a bidirectional classifier's layer reads both directions (2 x hidden inputs);
    the language model's read one. The columns for the same direction get its weights, the others zeros,
    so each direction starts as exactly the pretrained stack.
    """
    with torch.no_grad():
        model.embedding.weight.copy_(models["forward"].embedding.weight)
        targets = dict(model.rnn.named_parameters())
        for direction, suffix in (("forward", ""), ("backward", "_reverse")):
            if direction not in models or (suffix and not model.rnn.bidirectional):
                continue
            for name, source in models[direction].rnn.named_parameters():
                target = targets[name + suffix]
                if target.shape == source.shape:
                    target.copy_(source)
                else:  # weight_ih of a layer above the first: (gates, 2 * hidden) from (gates, hidden)
                    hidden = source.shape[1]
                    target.zero_()
                    offset = 0 if direction == "forward" else hidden
                    target[:, offset : offset + hidden].copy_(source)


def check_resumable(extra: dict, params: ClassifierParams, classes: list[str], train_rows: int) -> None:
    """Refuse to resume a checkpoint made with other parameters, classes or training data."""
    saved = extra.get("params", {})
    changed = [
        f"{name}={saved.get(name)!r} there, {value!r} now"
        for name, value in params.model_dump().items()
        if name not in RESUME_MAY_CHANGE and saved.get(name) != value
    ]
    if changed:
        raise ConfigError("resume: the checkpoint was made with other parameters: " + "; ".join(changed))
    if extra.get("classes") != classes or extra.get("train_rows") != train_rows:
        raise DataError(
            f"resume: the checkpoint was trained on {extra.get('train_rows')} rows of classes {extra.get('classes')}; "
            f"this data has {train_rows} rows of classes {classes}"
        )


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelFileError(f"{path}: not readable JSON ({error})") from None


def check_texts(texts: Sequence[str], name: str) -> list[str]:
    if isinstance(texts, str):
        raise DataError(f"{name}: expected a list of texts, got a single string (wrap it in a list)")
    texts = list(texts)
    for row, text in enumerate(texts, start=1):
        if not isinstance(text, str):
            raise DataError(f"{name}, row {row}: expected a string, got {type(text).__name__}")
    return texts


def check_classes(labels: Sequence[str], classes: Sequence[str], source: str) -> None:
    known = set(classes)
    for row, label in enumerate(labels, start=1):
        if label not in known:
            raise DataError(f"{source}, row {row}: label {label!r} is not one of the classes ({', '.join(classes)})")
    if len(known) < 2:
        raise DataError(f"{source}: a classifier needs at least two classes, got {', '.join(classes) or 'none'}")
