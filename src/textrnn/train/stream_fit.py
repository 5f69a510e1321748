"""The first pass over a stream, before its fit: vocabulary, classes and row counts (rank 0 reads, every
rank receives), turned into the :class:`~textrnn.train.fit.FitContext` that :meth:`fit_stream` trains from."""

from __future__ import annotations

from typing import Sequence

from ..data.dataset import check_classes
from ..data.stream import RowStream, StreamEvaluationData, StreamSummary, StreamTrainingData, scan
from ..errors import DataError
from ..params import ClassifierParams
from ..text.vectorizer import TextVectorizer
from . import distributed
from .checkpoint import Checkpoint
from .fit import FitContext
from .pretrained import PretrainedLM


def first_pass(stream: RowStream, params: ClassifierParams, summary: StreamSummary,
               pretrained: PretrainedLM | None) -> dict:
    """On rank 0: one pass that builds the vocabulary (unless a language model brings one) and counts rows."""
    # Words are counted as the model splits them, by a vectorizer of its own: the tokenizer being trained on
    # the scanned texts cannot also split them (its training holds the tokenizer's lock).
    counter = pretrained.vectorizer if pretrained is not None else TextVectorizer.from_params(params)
    texts = scan(stream, params.val_size, params.seed, summary, counter, params.max_length)
    if pretrained is not None:  # the language model's vocabulary; the pass still counts rows and labels
        vectorizer = pretrained.vectorizer
        for _ in texts:
            pass
    else:
        vectorizer = TextVectorizer.from_params(params).adapt(texts)
    # The scan counts words; subword pieces are not known before the vocabulary is, so with a subword
    # vocabulary truncation is not counted and the memory check sees words (an underestimate).
    words = params.vocabulary_type == "word"
    return {"vectorizer": vectorizer.to_dict(), "labels": sorted(summary.labels),
            "train_rows": summary.train_rows, "validation_rows": summary.validation_rows,
            "longest": summary.longest_tokens, "truncated": summary.truncated if words else None}


def prepare_stream_fit(stream: RowStream, params: ClassifierParams, classes: Sequence[str] | None,
                       checkpoint: Checkpoint | None, pretrained: PretrainedLM | None
                       ) -> tuple[FitContext, StreamSummary]:
    summary = StreamSummary()
    rank, world = distributed.rank(), distributed.world_size()
    if checkpoint is not None:
        found = checkpoint.extra["stream"]
    else:
        found = distributed.broadcast(first_pass(stream, params, summary, pretrained) if rank == 0 else None)
    vectorizer = TextVectorizer.from_dict(found["vectorizer"], "checkpoint" if checkpoint else "rank 0")
    if not found["train_rows"]:
        raise DataError(f"{stream.source}: no training rows")
    classes = list(classes) if classes is not None else list(found["labels"])
    check_classes(found["labels"], classes, stream.source)
    class_index = {name: i for i, name in enumerate(classes)}
    train_data = StreamTrainingData(stream, vectorizer.encode, class_index, params.batch_size, params.val_size,
                                    params.seed, rank, world, rows=found["train_rows"] // world,
                                    bucketed=params.mask)
    val_data = None
    if found["validation_rows"]:
        val_data = StreamEvaluationData(stream, vectorizer.encode, class_index, "validation", params.val_size,
                                        params.seed, rank, world)
    if params.verbose:
        distributed.log(f"streaming {stream.source}: training on {found['train_rows']:,} texts, validating on "
                        f"{found['validation_rows']:,}; vocabulary {vectorizer.vocab_size:,} tokens; "
                        f"classes: {', '.join(classes)}")
    steps = min(found["longest"], params.max_length or found["longest"])
    ctx = FitContext(params=params, classes=classes, vectorizer=vectorizer, train_data=train_data, val_data=val_data,
                     longest=steps, train_rows=found["train_rows"], val_rows=found["validation_rows"],
                     pretrained=pretrained, stream_found=found)
    return ctx, summary
