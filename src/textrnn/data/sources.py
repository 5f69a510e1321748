"""Which data: the one place that turns a dataset name into rows.

A dataset is named the same way everywhere (``--dataset``, ``--validation-data``, ``--test-data``,
``--data`` of evaluate, the texts of pretrain and embeddings):

* ``ag_news``: the lesson's dataset (its ``train`` or ``test`` split);
* ``hf:NAME[:CONFIG]`` or ``hf:/path``: a Hugging Face dataset (the split of that name);
* anything else: a CSV/TSV/JSONL/Parquet file, or a directory of them (the split is the file itself).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterator, Sequence

from ..errors import ConfigError, DataError, RowError
from ..params import NAMED_VECTORS, FileShape
from ..rundir import read_run_config
from ..train.adaptive import held_out_share
from .ag_news import AG_NEWS_LABELS, ag_news_rows, find_ag_news_file, load_ag_news
from .dataset import Dataset, train_val_split
from .hf import hf_has_split, hf_rows, is_hf, load_hf, open_hf
from .tables import TableOptions, read_table, table_files, table_rows

AG_NEWS = "ag_news"


def source_kind(dataset: str) -> str:
    """``ag_news``, ``hf`` or ``files``."""
    if str(dataset) == AG_NEWS:
        return "ag_news"
    return "hf" if is_hf(dataset) else "files"


def load_dataset(
    dataset: str,
    split: str = "train",
    text_column: Sequence[str] = ("text",),
    label_column: str | None = "label",
    *,
    data_dir: str | None = None,
    on_bad_rows: str = "error",
    options: TableOptions = TableOptions(),
) -> Dataset:
    """The rows of ``dataset`` read whole; ``label_column=None`` reads texts only. ``options``: the file's
    header and quotes, and whether labels are label sets (multi-label)."""
    kind = source_kind(dataset)
    if kind == "ag_news":
        if options.multi_label:
            raise ConfigError("multi_label: AG News gives one label per text")
        return load_ag_news(split, data_dir, text_column, on_bad_rows)
    if kind == "hf":
        return load_hf(dataset, split, text_column, label_column, on_bad_rows, options.label_separator)
    return read_table(dataset, text_column, label_column, on_bad_rows=on_bad_rows, options=options)


def table_options(config) -> TableOptions:
    """The :class:`TableOptions` a run's parameters ask for (``config``: a RunConfig or anything with its fields)."""
    return TableOptions(header=getattr(config, "header", "auto"), quoting=getattr(config, "quoting", "csv"),
                        label_separator=config.label_separator if getattr(config, "multi_label", False) else None)


def file_source(spec, config) -> tuple[str, list[str], str, TableOptions]:
    """Where a data source is and how to read it: the run's text and label columns and table options, with what a
    file described on its own (a :class:`~textrnn.params.FileShape` or its mapping) changes for that file."""
    options = table_options(config)
    if isinstance(spec, dict):
        spec = FileShape(**spec)
    if not isinstance(spec, FileShape):
        return str(spec), list(config.text_column), config.label_column, options
    changes = {k: v for k, v in (("header", spec.header), ("quoting", spec.quoting)) if v is not None}
    return (spec.path, list(spec.text_column or config.text_column), spec.label_column or config.label_column,
            replace(options, **changes))


def spec_path(spec) -> str | None:
    """The path (or name) a data source refers to, whether given as text or described on its own."""
    if spec is None:
        return None
    return spec.path if isinstance(spec, FileShape) else spec["path"] if isinstance(spec, dict) else str(spec)


def class_order(dataset: str) -> list[str] | None:
    """The fixed order of a known dataset's classes (AG News: the label numbers' order); else None."""
    return list(AG_NEWS_LABELS) if source_kind(dataset) == "ag_news" else None


def test_source(dataset: str, test_data):
    """Where a run's test rows are: ``test_data``, else AG News' or a Hugging Face dataset's own test split."""
    if test_data:
        return test_data
    kind = source_kind(dataset)
    if kind == "ag_news" or (kind == "hf" and hf_has_split(dataset, "test")):
        return dataset
    return None


def source_files(dataset: str, split: str, data_dir: str | None = None) -> list[Path]:
    """The files a stream reads, one after the other (a Hugging Face dataset counts as one)."""
    kind = source_kind(dataset)
    if kind == "ag_news":
        return [find_ag_news_file(split, data_dir)]
    if kind == "hf":
        open_hf(str(dataset), split)  # fails now, not in the middle of training, if it cannot be read
        return [Path(str(dataset))]
    return table_files(Path(dataset))


def file_rows(kind: str, path: Path, split: str, columns: tuple[Sequence[str], str | None], notes: list[str]
              ) -> Iterator[tuple[str, tuple | RowError]]:
    """``(where, (text, label))`` or ``(where, RowError)`` for each row of one of :func:`source_files`."""
    text_column, label_column = columns
    if kind == "ag_news":
        return ag_news_rows(path, text_column, notes)
    if kind == "hf":
        return hf_rows(str(path), split, text_column, label_column)
    return table_rows(path, text_column, label_column, notes)


def training_and_validation(config, train_all: Dataset) -> tuple[Dataset, Dataset | None]:
    """The rows to train on and the rows to validate on: ``validation_data`` when the run names it (then every
    training row trains), else a stratified ``val_size`` share of the training rows."""
    if not config.validation_data:
        config, _ = held_out_share(config, train_all.labels)  # auto: decided from the rows, as fit decides it
        return train_val_split(train_all, config.val_size, config.seed)
    if config.test_data and Path(spec_path(config.validation_data)) == Path(spec_path(config.test_data)):
        raise ConfigError("validation_data: it is the test data; the test rows must stay unseen until the end")
    path, columns, label, options = file_source(config.validation_data, config)
    val = load_dataset(path, "validation", columns, label, data_dir=config.data_dir, on_bad_rows=config.on_bad_rows,
                       options=options)
    return train_all, val


def check_sources(config) -> None:
    """Before anything heavy is imported or read: every file a run names exists, has a known type, and its first
    file holds the columns asked for (read from its first rows), so that a typo fails in a fraction of a second,
    not after the libraries load and the data is read. The full reading checks every row again."""
    for spec in (config.dataset, config.test_data, config.validation_data):
        if not spec or source_kind(spec_path(spec)) != "files":
            continue
        path, columns, label, options = file_source(spec, config)
        next(iter(table_rows(table_files(Path(path))[0], columns, label, notes=[], options=options)), None)
    embeddings = getattr(config, "embeddings", None)
    if (embeddings and embeddings not in ("auto", "word2vec", "fasttext", *NAMED_VECTORS)
            and not Path(embeddings).expanduser().exists()):
        raise DataError(f"{embeddings}: no such embeddings file")
    init_from = getattr(config, "init_from", None)
    if init_from and not Path(init_from).expanduser().exists():
        raise ConfigError(f"init_from: {init_from}: no such file or directory (a language model from textrnn "
                          "pretrain)")


def load_run_data(config) -> tuple[Dataset, Dataset | None, list[str] | None]:
    """A run's training rows, its test rows (if any) and the fixed class order (AG News), read whole.

    ``config`` is a :class:`~textrnn.params.RunConfig` (anything with its data fields will do).
    """
    shared = {"data_dir": config.data_dir, "on_bad_rows": config.on_bad_rows}
    train = load_dataset(config.dataset, "train", config.text_column, config.label_column, **shared,
                         options=table_options(config))
    test_spec = test_source(config.dataset, config.test_data)
    test = None
    if test_spec:
        path, columns, label, options = file_source(test_spec, config)
        test = load_dataset(path, "test", columns, label, **shared, options=options)
    return train, test, class_order(config.dataset)


def evaluation_data(
    run_dir: str | Path,
    data: str | None = None,
    *,
    data_dir: str | None = None,
    text_column: Sequence[str] | None = None,
    label_column: str | None = None,
    on_bad_rows: str = "error",
    header: bool | str | None = None,
    quoting: str | None = None,
) -> Dataset:
    """The labeled data to evaluate a run on: ``data``, or by default the test rows the run was trained for.

    The columns and quotes are the run's unless given; the header row is the run's for its own test data, and
    for another file decided on that file (``auto``) unless given: every file may have its own shape."""
    config = read_run_config(run_dir)
    if data is None and config:  # the run's own test data, read as the run read it
        data, data_dir = test_source(config.dataset, config.test_data), data_dir or config.data_dir
    elif header is None:  # another file: its header is judged on its own
        header = "auto"
    if data is None:
        raise DataError(f"{run_dir}: no test data recorded for this run; pass --test-data FILE")
    path, columns, label, options = file_source(data, config) if config else (
        spec_path(data), ["text"], "label", TableOptions())
    options = replace(options, **{k: v for k, v in (("header", header), ("quoting", quoting)) if v is not None})
    return load_dataset(path, "test", list(text_column or columns), label_column or label, data_dir=data_dir,
                        on_bad_rows=on_bad_rows, options=options)
