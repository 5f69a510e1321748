"""What ``fit`` does before training: checked rows and labels, the validation split, class balance and
monitor, the checkpoint to resume from, and the start of data-parallel ranks."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from ..data.dataset import Dataset, check_classes, check_texts, label_names, train_val_split
from ..errors import ConfigError, DataError
from ..params import ClassifierParams
from ..text.vectorizer import markup_share
from . import adaptive, distributed
from .balance import class_weights, label_weights, resolve_monitor, thin_validation_classes
from ..rundir import CHECKPOINT_FILE
from .checkpoint import load_checkpoint
from .memory import check_network_size
from .targets import label_name, multi_label_sets, single_labels, sorted_classes, targets

MARKUP_WARNING_SHARE = 0.01  # warn when this share of the training texts holds HTML markup


def checkpoint_to_resume(checkpoint_dir: str | Path | None, resume: bool, verbose: bool = True):
    """The interrupted fit's checkpoint (None when not resuming); says where training goes on."""
    if not resume:
        return None
    if checkpoint_dir is None:
        raise ConfigError("resume: needs checkpoint_dir, the directory the interrupted fit wrote to")
    checkpoint = load_checkpoint(Path(checkpoint_dir) / CHECKPOINT_FILE)
    if verbose:
        state, member = checkpoint.state, checkpoint.extra.get("member", 0)
        distributed.log(f"resuming from {Path(checkpoint_dir) / CHECKPOINT_FILE}: epoch {state.epoch}, after "
                        f"{state.step:,} of its batches" + (f", ensemble member {member + 1}" if member else "")
                        + f"; {len(state.history)} epoch(s) done before")
    return checkpoint


def start_ranks(params: ClassifierParams) -> tuple[int, int]:
    """Data-parallel: start the other ranks (Fabric re-runs this process); returns (rank, world size)."""
    if distributed.is_distributed(params.devices, params.num_nodes):
        distributed.get_fabric(params.device, params.devices, params.num_nodes)
    return distributed.rank(), distributed.world_size()


def balance(params: ClassifierParams, labels: list, classes: list[str], validation_data):
    """Resolve ``monitor`` (auto) and ``class_weight`` for these rows; warn about classes too thin to validate."""
    if params.multi_label:
        return balance_label_sets(params, labels, classes)
    monitor, reason = resolve_monitor(params.monitor, labels)
    weights = class_weights(params.class_weight, labels, classes)
    if params.verbose:
        distributed.log(f"monitor {monitor}: {reason}" + ("" if weights is None else
                        "; class weights " + ", ".join(f"{c} {w:.2f}" for c, w in zip(classes, weights))))
    if validation_data is not None:
        thin = thin_validation_classes([str(label) for label in validation_data[1]], classes)
        if thin:
            named = ", ".join(thin[:10]) + (f" and {len(thin) - 10:,} more classes" if len(thin) > 10 else "")
            warnings.warn(f"few validation rows for {named}: the choice of epoch rests on very few texts "
                          "of these classes; give more rows or --validation-data", stacklevel=3)
    return params.model_copy(update={"monitor": monitor}), weights


def balance_label_sets(params: ClassifierParams, label_sets: list[tuple], classes: list[str]):
    """Multi-label: monitor macro-F1 unless told otherwise (accuracy would be subset accuracy, which the
    commonest labels decide); the loss weights of positives and negatives per label (:func:`label_weights`)."""
    monitor = "macro_f1" if params.monitor == "auto" else params.monitor
    weights = label_weights(params.class_weight, targets(label_sets, classes, True), classes)
    if params.verbose:
        reason = "multi-label, every label counts alike" if params.monitor == "auto" else "chosen by the user"
        distributed.log(f"monitor {monitor}: {reason}" + ("" if weights is None else "; positive-label weights "
                        + ", ".join(f"{c} {w:.2f}" for c, w in zip(classes, weights[1] / weights[0]))))
    return params.model_copy(update={"monitor": monitor}), weights


@dataclass
class TrainingRows:
    """What :func:`training_rows` gives ``fit``: checked rows, the class order, the validation rows, and the
    parameters with every ``auto`` decided from the data (``choices``: each decision and its reason)."""

    texts: list[str]
    labels: list
    classes: list[str]
    validation_data: tuple | None
    params: ClassifierParams
    choices: list[dict]


def training_rows(texts, labels, classes, validation_data, params: ClassifierParams, kind: str = "str") -> TrainingRows:
    """Checked texts, labels as class names (multi-label: tuples of them), the class order (given, or that of
    ``np.unique`` on the labels), the parameters decided from the data (:mod:`textrnn.train.adaptive`), and the
    validation rows (held out if not given). ``kind``: :func:`~textrnn.train.targets.label_kind` of the labels."""
    texts = check_texts(texts, "texts")
    if not params.strip_html and (share := markup_share(texts)) >= MARKUP_WARNING_SHARE:
        warnings.warn(f"{share:.0%} of the training texts hold HTML markup (tags such as <br />, escaped tags such "
                      "as &lt;p&gt;, entities such as &amp;), which is read as words; strip_html (--strip-html) "
                      "removes it: compare the two on your data (it helped on some datasets and hurt on others)",
                      stacklevel=3)
    if validation_data is not None and (len(validation_data[0]) == 0 or len(validation_data[0]) != len(validation_data[1])):
        raise DataError(f"validation_data: {len(validation_data[0]):,} texts and {len(validation_data[1]):,} labels; "
                        "give the same number of each, at least one, or leave validation_data out to hold out "
                        "val_size of the training rows")
    if params.multi_label:
        labels, classes = multi_label_sets(labels, classes, "labels")
        if validation_data is not None:
            validation_data = (validation_data[0], multi_label_sets(validation_data[1], classes, "validation labels")[0])
    else:
        labels = single_labels(labels, "labels", kind)
        if validation_data is not None:
            validation_data = (validation_data[0], single_labels(validation_data[1], "validation labels", kind))
        classes = None if classes is None else [label_name(name, kind) for name in classes]
    if len(texts) != len(labels):
        raise DataError(f"fit got {len(texts)} texts but {len(labels)} labels")
    if not texts:
        raise DataError("fit got no training texts")
    classes = list(classes) if classes is not None else sorted_classes(labels, kind)
    check_classes(labels, classes, "training data")
    # The validation share is held out first (decided from every row), as `textrnn train` does: the other rules
    # then count the rows the network trains on, so Python and the command line decide alike on the same data.
    choices = []
    if validation_data is None:
        params, held_out = adaptive.held_out_share(params, labels)
        choices += [held_out] if held_out else []
        if params.val_size > 0:
            train, val = train_val_split(Dataset(texts, labels, "training data"), params.val_size, params.seed)
            texts, labels = train.texts, train.labels
            validation_data = (val.texts, val.labels) if val is not None else None
    params, decided = adaptive.resolve(params, adaptive.DataProfile.of(texts, labels), validation_data is not None)
    choices += decided
    check_network_size(params, params.max_tokens, len(classes))  # before the vocabulary is even built
    if params.verbose:
        for line in adaptive.describe(choices):
            distributed.log(line)
    present = {name for label in labels for name in label_names(label)}
    missing = [name for name in classes if name not in present]
    if missing:
        raise DataError(f"class(es) {', '.join(missing)} have no training rows; every class needs some")
    return TrainingRows(texts, labels, classes, validation_data, params, choices)
