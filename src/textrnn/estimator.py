"""``TextRNNClassifier``: the estimator, following scikit-learn's conventions.

Parameters are given to ``__init__`` and only checked in ``fit`` (each error names the parameter);
fitted state ends in an underscore (``classes_``, ``params_``, ``vectorizer_``, ``model_``, ``history_``,
``fit_info_``, ``bag_of_words_weight_``: 0 the network alone, 1 its bag-of-words path alone, between a mix;
``validation_probabilities_``: on the validation rows, from before the path was refit on them);
``predict``/``predict_proba``/``score`` work on raw texts.

    clf = TextRNNClassifier(cell="lstm", epochs=3).fit(texts, labels)
    clf.predict(["Stocks rally as oil falls"])
    clf.save("runs/my-model"); TextRNNClassifier.load("runs/my-model")

The pieces live elsewhere: the network in :mod:`textrnn.model.network`, training in :mod:`textrnn.train`
(:func:`~textrnn.train.fit.fit_models` gets one :class:`~textrnn.train.fit.FitContext`), the file format in
:mod:`textrnn.saved_model`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError

from . import saved_model
from .data.dataset import check_classes, check_texts
from .deploy.probe import check_answers
from .errors import ConfigError, DataError, ModelFileError
from .evaluation.metrics import add_pairs, classification_metrics, confusion_pairs, metrics_from_pairs
from .evaluation.multilabel import multilabel_metrics
from .model.bag_of_words import mix_weight
from .multilabel import decide
from .params import CLASSIFIER_PARAM_NAMES, SAVED_PARAM_NAMES, ClassifierParams, check_combinations, validate
from .text.batching import EncodedTexts
from .text.vectorizer import TextVectorizer
from .train import adaptive, distributed
from .train.balance import class_weights, resolve_monitor
from .train.callbacks import Callback
from .threads import resolve_threads, torch_threads
from .train.finish import finish
from .train.fit import FitContext, check_resumable, fit_models, training_digest
from .train.inputs import InMemoryEvaluationData, InMemoryTrainingData
from .train.predict import predict_probabilities
from .train.preparation import balance, checkpoint_to_resume, start_ranks, training_rows
from .train.targets import (class_values, given_labels, label_kind, multi_label_sets, named_keys, predicted_labels,
                            single_labels, targets)
from .train.pretrained import language_model

if TYPE_CHECKING:
    from .data.stream import RowStream


_DEFAULT = ClassifierParams().model_dump()  # the defaults, from their one source: textrnn.params


class TextRNNClassifier(ClassifierMixin, BaseEstimator):
    """A recurrent-network text classifier. Parameters and their meaning: :mod:`textrnn.params`.

    A scikit-learn estimator: ``clone``, ``Pipeline``, ``cross_val_score`` and ``GridSearchCV`` work with it.
    """

    def __init__(
        self, *,
        # vectorizer
        max_tokens=_DEFAULT["max_tokens"], max_length=_DEFAULT["max_length"], strip_html=_DEFAULT["strip_html"],
        vocabulary_type=_DEFAULT["vocabulary_type"], punctuation=_DEFAULT["punctuation"],
        # model
        cell=_DEFAULT["cell"], embed_dim=_DEFAULT["embed_dim"], hidden_size=_DEFAULT["hidden_size"],
        num_layers=_DEFAULT["num_layers"], bidirectional=_DEFAULT["bidirectional"], pooling=_DEFAULT["pooling"],
        dropout=_DEFAULT["dropout"], locked_dropout=_DEFAULT["locked_dropout"], word_dropout=_DEFAULT["word_dropout"],
        embeddings=_DEFAULT["embeddings"], freeze_embeddings=_DEFAULT["freeze_embeddings"],
        init_from=_DEFAULT["init_from"], ensemble=_DEFAULT["ensemble"], bag_of_words=_DEFAULT["bag_of_words"],
        one_hot=_DEFAULT["one_hot"], mask=_DEFAULT["mask"], multi_label=_DEFAULT["multi_label"],
        # training
        epochs=_DEFAULT["epochs"], batch_size=_DEFAULT["batch_size"], lr=_DEFAULT["lr"],
        lr_schedule=_DEFAULT["lr_schedule"], label_smoothing=_DEFAULT["label_smoothing"],
        adversarial=_DEFAULT["adversarial"],
        discriminative_lr=_DEFAULT["discriminative_lr"], gradual_unfreezing=_DEFAULT["gradual_unfreezing"],
        weight_decay=_DEFAULT["weight_decay"], sparse_embedding=_DEFAULT["sparse_embedding"],
        clip_grad_norm=_DEFAULT["clip_grad_norm"], patience=_DEFAULT["patience"],
        class_weight=_DEFAULT["class_weight"], monitor=_DEFAULT["monitor"], threshold=_DEFAULT["threshold"],
        val_size=_DEFAULT["val_size"], seed=_DEFAULT["seed"],
        # runtime
        device=_DEFAULT["device"], devices=_DEFAULT["devices"], num_nodes=_DEFAULT["num_nodes"],
        memory_budget_gb=_DEFAULT["memory_budget_gb"], checkpoint_every=_DEFAULT["checkpoint_every"],
        threads=_DEFAULT["threads"], verbose=_DEFAULT["verbose"],
    ) -> None:
        # scikit-learn's rule: store every parameter as given; check them in fit.
        given = {name: value for name, value in locals().items() if name in CLASSIFIER_PARAM_NAMES}
        for name, value in given.items():
            setattr(self, name, value)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        tags.input_tags.string = True
        return tags

    # ------------------------------------------------------------------------------------------ fit

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[Any],
        validation_data: tuple[Sequence[str], Sequence[Any]] | None = None,
        *,
        classes: Sequence[str] | None = None,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
        tensorboard_dir: str | Path | None = None,
        callbacks: Sequence[Callback] = (),
        on_epoch_end: Callable[[dict, torch.nn.Module], None] | None = None,
    ) -> "TextRNNClassifier":
        """Learn the vocabulary and the weights from ``texts`` and their ``labels``.

        With ``multi_label=True``, ``labels`` holds a list of labels per text (``[]`` for none) or is a 0/1
        indicator matrix (one column per class), and ``predict`` gives labels back in the same form.
        Without ``validation_data``, a stratified ``val_size`` share of the data is held out to pick the best
        epoch and stop early. ``classes`` fixes the order of the probability columns (default: the sorted
        distinct labels). With ``checkpoint_dir``, training can be interrupted (SIGINT, SIGTERM, even SIGKILL)
        and continued by ``fit`` with the same data, parameters and ``resume=True``, as if never interrupted.
        ``tensorboard_dir`` also logs the training curves for TensorBoard (needs ``tensorboardX``). ``callbacks``
        (:class:`textrnn.train.callbacks.Callback`) plug into the loop; ``on_epoch_end(record, model)``: each epoch.
        """
        started = time.perf_counter()
        labels = given_labels(labels, self.multi_label)
        self.label_kind_ = label_kind(labels)
        rows = training_rows(texts, labels, classes, validation_data, self._checked_params(), self.label_kind_)
        texts, labels, classes, validation_data = rows.texts, rows.labels, rows.classes, rows.validation_data
        params, weights = balance(rows.params, labels, classes, validation_data)
        checkpoint = checkpoint_to_resume(checkpoint_dir, resume, params.verbose)
        digest = training_digest(texts, labels, validation_data) if checkpoint_dir is not None else None
        if checkpoint is not None:
            check_resumable(checkpoint.extra, params, classes, len(texts), digest)
        rank, world = start_ranks(params)

        self._set_classes(classes)
        self.params_, self.auto_params_ = params, rows.choices
        pretrained = language_model(params) if params.init_from and checkpoint is None else None
        self.vectorizer_ = self._vectorizer(params, checkpoint, pretrained, texts)
        train_x = EncodedTexts.encode(self.vectorizer_.encode, texts)
        train_data = InMemoryTrainingData(train_x, self._targets(labels), params.batch_size, params.mask, rank, world)
        val_data = self._validation_data(validation_data, rank, world)
        val_rows = 0 if val_data is None else len(val_data.x)
        if params.verbose:
            distributed.log(f"training on {len(texts):,} texts, validating on {val_rows:,}; "
                            f"vocabulary {self.vectorizer_.vocab_size:,} tokens; classes: {', '.join(self.class_names_)}")
        ctx = FitContext(params=params, classes=classes, vectorizer=self.vectorizer_, train_data=train_data,
                         val_data=val_data, longest=int(train_x.lengths.max()), train_rows=len(texts),
                         val_rows=val_rows, started=started, checkpoint_dir=checkpoint_dir, checkpoint=checkpoint,
                         tensorboard_dir=tensorboard_dir, callbacks=callbacks, on_epoch_end=on_epoch_end,
                         pretrained=pretrained, class_weights=weights, train_digest=digest)
        with self._threads(params):
            self._store(fit_models(ctx), ctx)
        self.fit_info_["truncated_train_texts"] = self.vectorizer_.truncated_count(texts)
        return self

    def fit_stream(
        self,
        stream: "RowStream",
        classes: Sequence[str] | None = None,
        *,
        checkpoint_dir: str | Path | None = None,
        resume: bool = False,
        tensorboard_dir: str | Path | None = None,
        callbacks: Sequence[Callback] = (),
        on_epoch_end: Callable[[dict, torch.nn.Module], None] | None = None,
    ) -> "TextRNNClassifier":
        """Like :meth:`fit`, on a :class:`textrnn.data.stream.RowStream` that is read in chunks, never loaded whole.

        One pass builds the vocabulary and finds the classes (on rank 0; the others receive them); every
        epoch then reads the data again through a bounded shuffle buffer. The validation rows are a
        ``val_size`` share picked by a hash of each row's position (see :mod:`textrnn.data.stream`).
        """
        from .train.stream_fit import prepare_stream_fit

        started = time.perf_counter()
        params, self.auto_params_ = adaptive.resolve(self._checked_params(), None, False)
        if params.verbose:
            for line in adaptive.describe(self.auto_params_):
                distributed.log(line)
        checkpoint = checkpoint_to_resume(checkpoint_dir, resume, params.verbose)
        start_ranks(params)
        pretrained = language_model(params) if params.init_from and checkpoint is None else None
        ctx, summary = prepare_stream_fit(stream, params, classes, checkpoint, pretrained)
        if params.class_weight == "balanced":
            raise ConfigError("class_weight: balanced needs every class's row count before training, which a stream "
                              "does not give; pass a mapping of class to weight instead")
        params = params.model_copy(update={"monitor": resolve_monitor(params.monitor, None)[0]})
        ctx.params, ctx.class_weights = params, class_weights(params.class_weight, [], ctx.classes)
        if checkpoint is not None:
            check_resumable(checkpoint.extra, params, ctx.classes, ctx.train_rows)
        self.label_kind_, self.params_, self.vectorizer_, self.stream_summary_ = "str", params, ctx.vectorizer, summary
        self._set_classes(ctx.classes)
        ctx.started, ctx.checkpoint_dir, ctx.tensorboard_dir = started, checkpoint_dir, tensorboard_dir
        ctx.callbacks, ctx.on_epoch_end = callbacks, on_epoch_end
        with self._threads(params):
            self._store(fit_models(ctx), ctx)
        self.fit_info_["truncated_train_texts"] = ctx.stream_found["truncated"]
        return self

    def _set_classes(self, names: list[str]) -> None:
        """``class_names_``: the classes as names (the files, metrics and reports use them); ``classes_``: the
        same classes as labels of the type ``fit`` got (``np.unique(y)``), the order of the probability columns."""
        self.class_names_ = list(names)
        self.classes_ = class_values(self.class_names_, self.label_kind_)

    @staticmethod
    def _vectorizer(params: ClassifierParams, checkpoint, pretrained, texts: list[str]) -> TextVectorizer:
        if checkpoint is not None:  # the vocabulary the interrupted run built, not a new one
            return TextVectorizer.from_dict(checkpoint.extra["vectorizer"], "checkpoint")
        if pretrained is not None:  # the language model's vocabulary, which its embedding rows are for
            return pretrained.vectorizer
        return TextVectorizer.from_params(params).adapt(texts)

    def _checked_params(self) -> ClassifierParams:
        given = self.get_params()  # a class_weight mapping may be keyed by labels as fit gets them (10, not "10")
        given["class_weight"] = named_keys(given["class_weight"], getattr(self, "label_kind_", "str"))
        params: ClassifierParams = validate(ClassifierParams, given)
        check_combinations(params)
        return params

    def _threads(self, params: ClassifierParams) -> torch_threads:
        """The threads to train with (``threads``: auto or a number); PyTorch's own setting comes back after."""
        count, reason = resolve_threads(params.threads)
        self.threads_ = {"setting": params.threads, "used": count, "reason": reason}
        if params.verbose:
            distributed.log(f"threads {count}: {reason}")
        return torch_threads(count)

    def _store(self, outcome, ctx: FitContext) -> None:
        """Keep the trained model, finished on the validation rows (:mod:`textrnn.train.finish`)."""
        self.history_, self.fit_info_ = outcome.history, outcome.info
        self.fit_info_["threads"] = {**self.threads_, "changes": ctx.thread_changes}
        done = finish(outcome.model, ctx, outcome.history)
        self.model_, self.temperature_, self.thresholds_ = done.model, done.temperature, done.thresholds
        self.validation_probabilities_ = done.validation_probabilities
        self.bag_of_words_weight_ = mix_weight(self.model_)  # 1: the network adds nothing on this data
        self.fit_info_["auto"] = [*getattr(self, "auto_params_", []), *done.choices]  # decided from the data
        self.fit_info_.update(done.info)
        self.params_ = self.params_.model_copy(update={"bag_of_words": done.bag_of_words})  # as the model is

    def _validation_data(self, validation_data, rank: int, world: int) -> InMemoryEvaluationData | None:
        if validation_data is None:
            return None
        val_texts = check_texts(validation_data[0], "validation texts")
        val_labels = validation_data[1]
        check_classes(val_labels, self.class_names_, "validation data")
        return InMemoryEvaluationData(EncodedTexts.encode(self.vectorizer_.encode, val_texts),
                                      self._targets(val_labels), rank, world)

    def _targets(self, labels: Sequence) -> np.ndarray:
        """Class indices, or (multi-label) an indicator matrix in the order of ``classes_``."""
        return targets(labels, self.class_names_, self.params_.multi_label)

    def _labels(self, labels, source: str) -> list:
        """Labels given to evaluate or score, checked, as class names (multi-label: tuples of them)."""
        if self.params_.multi_label:
            return multi_label_sets(labels, self.class_names_, source)[0]
        return single_labels(labels, source, self.label_kind_)

    # -------------------------------------------------------------------------------------- predict

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):  # NotFittedError is scikit-learn's (a ValueError and an AttributeError)
            raise NotFittedError("this TextRNNClassifier is not fitted yet: call fit(texts, labels) or load(directory)")

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, shape (texts, classes), columns in the order of ``classes_``."""
        self._check_fitted()
        texts = check_texts(texts, "texts")
        if not texts:
            return np.zeros((0, len(self.classes_)), dtype=np.float32)
        encoded = EncodedTexts.encode(self.vectorizer_.encode, texts)
        with torch_threads(resolve_threads(self.threads, wait=False)[0]):
            return predict_probabilities(self.model_, encoded, self.params_, getattr(self, "temperature_", 1.0))

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """The most probable class of each text: its name, or the integer it was given as in ``fit``.
        Multi-label: each text's labels (a tuple; the probabilities that reach their thresholds), or a row of
        0/1 if ``fit`` got an indicator matrix."""
        # In the form fit got: scikit-learn's scorers compare predictions with the y given to fit.
        return predicted_labels(self.predict_proba(texts), self.classes_, getattr(self, "label_kind_", "str"),
                                self._thresholds())

    def _thresholds(self) -> np.ndarray | None:
        return getattr(self, "thresholds_", None) if self.params_.multi_label else None

    def score(self, texts: Sequence[str], labels: Sequence[Any]) -> float:
        """Accuracy on ``texts`` against ``labels`` (multi-label: subset accuracy, as scikit-learn's)."""
        return self.evaluate(texts, labels)["accuracy"]

    def evaluate(self, texts: Sequence[str], labels: Sequence[Any], source: str = "evaluation data",
                 probabilities: np.ndarray | None = None) -> dict:
        """Accuracy, macro-F1, per-class figures and the confusion matrix (``probabilities``: if computed)."""
        self._check_fitted()
        labels = self._labels(labels, source)
        if len(labels) != len(texts):
            raise DataError(f"{source}: {len(texts)} texts but {len(labels)} labels")
        check_classes(labels, self.class_names_, source)
        probabilities = self.predict_proba(texts) if probabilities is None else probabilities
        if self.params_.multi_label:
            return multilabel_metrics(self._targets(labels), decide(probabilities, self.thresholds_), self.class_names_,
                                      probabilities)
        return classification_metrics(self._targets(labels), probabilities.argmax(axis=1), self.class_names_)

    def evaluate_stream(self, stream: "RowStream", part: str = "all", val_size: float = 0.0, seed: int = 0) -> dict:
        """:meth:`evaluate` on a :class:`textrnn.data.stream.RowStream`, chunk by chunk (``part``: see its docs)."""
        from .data.stream import StreamEvaluationData

        self._check_fitted()
        if self.params_.multi_label:
            raise ConfigError("multi_label: streamed evaluation is single-label only; read the data whole")
        class_index = {name: i for i, name in enumerate(self.class_names_)}
        data = StreamEvaluationData(stream, self.vectorizer_.encode, class_index, part, val_size, seed)
        pairs = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
        for x, y in data.chunks():
            predicted = predict_probabilities(self.model_, x, self.params_).argmax(axis=1)
            pairs = add_pairs(pairs, confusion_pairs(y, predicted, len(self.class_names_)))
        return metrics_from_pairs(*pairs, self.class_names_)

    # ------------------------------------------------------------------------------------ save/load

    def save(self, directory: str | Path) -> Path:
        """Write the model directory (format: :mod:`textrnn.saved_model`); returns its path."""
        self._check_fitted()
        params = self.params_  # as trained: every "auto" decided (a refit may decide otherwise)
        return saved_model.save_model(Path(directory), params, self.class_names_, self.vectorizer_, self.model_,
                                      label_kind=getattr(self, "label_kind_", "str"),
                                      temperature=getattr(self, "temperature_", 1.0), thresholds=self._thresholds(),
                                      given=self.get_params())

    @classmethod
    def load(cls, directory: str | Path) -> "TextRNNClassifier":
        """Rebuild a saved classifier. Only JSON and safetensors are read, so loading executes no code."""
        saved = saved_model.read_model(directory)
        clf = cls(**(saved.given or saved.params.model_dump(include=set(SAVED_PARAM_NAMES))))
        clf.vectorizer_, clf.params_ = saved.vectorizer, saved.params
        clf.label_kind_, clf.temperature_, clf.thresholds_ = saved.label_kind, saved.temperature, saved.thresholds
        clf._set_classes(saved.classes)
        clf.model_ = saved_model.load_network(saved, directory)
        clf.bag_of_words_weight_ = mix_weight(clf.model_)
        check_answers(clf, str(directory), ModelFileError)  # damaged weights fail here, not at the first text
        return clf
