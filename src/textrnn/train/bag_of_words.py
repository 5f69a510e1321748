"""After the network is trained: fit the bag-of-words path (:mod:`textrnn.model.bag_of_words`) on the same
training rows, and choose on the validation rows how much it weighs in the mix.

The linear model is NBSVM up to 20,000 training rows (stronger on small sets: docs/accuracy.md), else
scikit-learn's logistic regression on the TF-IDF features, its ``C`` chosen on the validation rows;
its probabilities are calibrated there (a temperature, as the network's); the mixing weight is then chosen on the same rows from 0 (the network alone) to 1 (the bag of words alone), for the figure
early stopping maximised (``monitor``; see :func:`_best_weight`). Weight 0 drops the path, so a model
whose validation rows prefer the network alone is exactly the network.

Once the weight is chosen, an NBSVM path is fitted again on the training and validation rows together (it has
no setting left to choose on them, and a few thousand rows are too few to leave a tenth unused: +1.2 points
on CR, +0.2 on SUBJ, no change on MR and MPQA over ten folds, docs/accuracy.md). The validation figures a run
reports are those of the model before that refit (:attr:`textrnn.train.finish.Finished.validation_probabilities`).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ..evaluation.baseline import NBSVM_MAX_ROWS, fit_over_C, logistic_regression
from ..evaluation.metrics import classification_metrics
from ..evaluation.nbsvm import NBSVM
from ..model.bag_of_words import BagOfWords, WithBagOfWords, bigram_starts, feature_matrix, tfidf
from .calibration import fit_temperature
from .predict import validation_logits

C_GRID = (1.0, 4.0, 16.0, 64.0)  # tried in order until the validation figure falls
MIX_WEIGHTS = tuple(round(0.1 * step, 1) for step in range(11))
MIN_BUCKETS, MAX_BUCKETS = 2**10, 2**18
MAX_WEIGHT_VALUES = 2**23  # (vocabulary + buckets) x classes: at most 32 MB of float32 weights


def choose_buckets(flat: np.ndarray, lengths: np.ndarray, vocab_size: int, num_classes: int) -> int:
    """Hash slots for the bigrams: the power of two at or above the number of distinct training bigrams, within
    [2^10, 2^18], fewer when many classes would make the weights large. Every bigram counts, the ones seen once
    too: sharing a slot with them would give a rare bigram a document frequency it does not have (with slots for
    only the bigrams seen twice, 2,000 AG News rows lost a point of accuracy)."""
    starts = bigram_starts(flat, lengths)
    distinct = len(np.unique(flat[starts] * vocab_size + flat[starts + 1]))
    buckets = int(np.clip(2 ** int(np.ceil(np.log2(max(1, distinct)))), MIN_BUCKETS, MAX_BUCKETS))
    while buckets > MIN_BUCKETS and (vocab_size + buckets) * num_classes > MAX_WEIGHT_VALUES:
        buckets //= 2
    return buckets


def add_bag_of_words(network: torch.nn.Module, ctx, network_temperature: float, validation: tuple
                     ) -> tuple[torch.nn.Module, dict, np.ndarray]:
    """The network with a fitted bag-of-words path mixed in, or the network itself when the validation rows
    prefer it alone; the record of what was fitted and chosen (for ``fit_info_``); and the returned model's
    validation logits. ``validation``: the network's validation logits and labels, as calibration had them."""
    started = time.perf_counter()
    params, train, val = ctx.params, ctx.train_data, ctx.val_data
    vocab_size, num_classes = ctx.vectorizer.vocab_size, len(ctx.classes)
    given = params.bag_of_words != "auto"
    buckets = params.bag_of_words if given else choose_buckets(train.x.flat, train.x.lengths, vocab_size, num_classes)
    counts = feature_matrix(train.x.flat, train.x.lengths, vocab_size, buckets)
    val_counts = feature_matrix(val.x.flat, val.x.lengths, vocab_size, buckets)
    idf, linear, C, by_C, kind = _fit_path_model(counts, train.y, (val_counts, val.y), ctx)
    bag = BagOfWords(vocab_size, buckets, num_classes)
    _set_weights(bag, idf, linear)
    device = next(network.parameters()).device  # the path runs where the network does (a GPU after GPU training)
    bag = bag.to(device)
    network_logits, labels = validation
    words_logits, _ = validation_logits(bag, val, params)
    words_temperature = fit_temperature(words_logits, labels)
    network_part = torch.log_softmax(torch.from_numpy(network_logits) / network_temperature, dim=1).numpy()
    words_part = torch.log_softmax(torch.from_numpy(words_logits) / words_temperature, dim=1).numpy()
    mixes = {w: torch.log_softmax(torch.from_numpy((1 - w) * network_part + w * words_part), dim=1).numpy()
             for w in MIX_WEIGHTS}
    figure = lambda scores: classification_metrics(labels, scores.argmax(axis=1), ctx.classes)[params.monitor]
    by_weight = {w: figure(mixed) for w, mixed in mixes.items()}
    loss = {w: float(-mixed[np.arange(len(labels)), labels].mean()) for w, mixed in mixes.items()}
    weight = _best_weight(by_weight, loss, params.monitor)
    record = {"buckets": buckets, "buckets_chosen": "given" if given else "from the distinct bigrams",
              "linear_model": kind, "C": C, "validation_by_C": by_C, "weight": weight, "monitor": params.monitor,
              "validation": {"network": figure(network_part), "bag_of_words": figure(words_part),
                             "mixed": by_weight[weight]},
              "validation_by_weight": {str(w): value for w, value in by_weight.items()},
              "validation_loss_by_weight": {str(w): value for w, value in loss.items()},
              "network_temperature": network_temperature, "bag_of_words_temperature": words_temperature,
              "refit_rows": None, "seconds": time.perf_counter() - started}
    if weight == 0:
        return network, record, network_logits
    if kind == "nbsvm":  # the weight is chosen: the path now learns from every labelled row
        import scipy.sparse

        all_counts = scipy.sparse.vstack([counts, val_counts]).tocsr()
        _set_weights(bag, *_fit_nbsvm(all_counts, np.concatenate([train.y, val.y]), params.seed))
        record["refit_rows"], record["seconds"] = all_counts.shape[0], time.perf_counter() - started
    model = WithBagOfWords(network, bag).to(device)
    model.weight.fill_(weight)
    model.network_temperature.fill_(network_temperature)
    model.bag_of_words_temperature.fill_(words_temperature)
    return model.eval(), record, mixes[weight]


def _fit_path_model(counts, targets: np.ndarray, validation: tuple, ctx):
    """The path's feature weights (its ``idf`` buffer) and linear model: NBSVM up to ``NBSVM_MAX_ROWS`` training
    rows (every feature seen in training weighs 1, so the features are the counts divided by their L2 norm, as
    the graph computes them, and the naive-Bayes ratios are folded into the weights), else logistic regression
    on TF-IDF with ``C`` chosen on the validation rows. Returns (idf, model, C, figure by C, which model)."""
    num_classes = len(ctx.classes)
    # class weights: logistic regression, which takes them exactly (NBSVM's one-vs-rest problems cannot)
    if len(targets) <= NBSVM_MAX_ROWS and len(np.unique(targets)) == num_classes and ctx.class_weights is None:
        idf, model = _fit_nbsvm(counts, targets, ctx.params.seed)
        return idf, model, model.C, {}, "nbsvm"
    idf = inverse_document_frequency(counts)
    model, C, by_C = _fit_linear(tfidf(counts, idf), targets, (tfidf(validation[0], idf), validation[1]), ctx)
    return idf, model, C, by_C, "tfidf-logreg"


def _fit_nbsvm(counts, targets: np.ndarray, seed: int):
    """NBSVM on the counts divided by their L2 norm; every feature seen in these rows weighs 1 (its ``idf``)."""
    idf = (np.bincount(counts.indices, minlength=counts.shape[1]) > 0).astype(np.float32)
    return idf, NBSVM(seed=seed, binary=False).fit(tfidf(counts, idf), targets)


def _set_weights(bag: BagOfWords, idf: np.ndarray, linear) -> None:
    """Copy a fitted scikit-learn-style linear model (``coef_``, ``intercept_``) into the path."""
    num_classes = bag.bias.shape[0]
    # two classes: scikit-learn keeps one row for the second class; split it evenly, as softmax sees it
    two_rows = lambda values: values if num_classes > 2 else np.concatenate([-values, values]) / 2
    with torch.no_grad():
        bag.idf.copy_(torch.from_numpy(idf))
        bag.weight.copy_(torch.from_numpy(two_rows(linear.coef_).T.astype(np.float32)))
        bag.bias.copy_(torch.from_numpy(two_rows(linear.intercept_).astype(np.float32)))


def _best_weight(figures: dict[float, float], loss: dict[float, float], monitor: str) -> float:
    """The mixing weight the validation rows prefer. For accuracy, the one with the lowest log-loss: accuracy
    moves in steps of one row, and on a few hundred rows it ties or flips between weights where the loss,
    smooth and aiming at the same thing, does not. Macro-F1 is maximised itself (the loss favours the large
    classes), a tie going to the weight nearest an even mix. Both measured on six datasets (docs/adaptive.md)."""
    if monitor == "accuracy":
        return min(MIX_WEIGHTS, key=lambda w: loss[w])
    return max(MIX_WEIGHTS, key=lambda w: (figures[w], -abs(w - 0.5)))


def inverse_document_frequency(counts) -> np.ndarray:
    """scikit-learn's smoothed idf, log((1 + rows) / (1 + df)) + 1; 0 for features in fewer than two training
    texts (in one only, from 1,000 rows down), which then weigh nothing."""
    rows = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log((1 + rows) / (1 + df)) + 1
    idf[df < (2 if rows >= 1000 else 1)] = 0.0
    return idf.astype(np.float32)


def _fit_linear(features, targets: np.ndarray, validation: tuple, ctx):
    """The logistic regression with the ``C`` that scores best on the validation rows (by ``monitor``)."""
    weights = ctx.class_weights
    class_weight = None if weights is None else {i: float(w) for i, w in enumerate(weights)}
    # A loose tolerance: 3.4 s instead of 14.5 s for the four C on AG News (with the warm starts), and the same
    # test accuracy at the C chosen (measured); the mix calibrates its probabilities afterwards anyway.
    model = logistic_regression(C_GRID[0], ctx.params.seed, class_weight, tol=1e-2)
    figure = lambda fitted: classification_metrics(validation[1], fitted.predict(validation[0]), ctx.classes)[
        ctx.params.monitor]
    return fit_over_C(model, features, targets, figure, C_GRID, stop_when_worse=True)
