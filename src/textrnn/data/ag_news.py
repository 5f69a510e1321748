"""AG News, the lesson's dataset: read from a local directory (``--data-dir`` / ``TEXTRNN_DATA_DIR``) or
downloaded once into a cache directory and checked against the canonical MD5 sums."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Iterator, Sequence

from ..errors import DataError, RowError, quoted
from .dataset import Dataset, collect_rows, converted
from .tables import iter_records

AG_NEWS_LABELS = ("World", "Sports", "Business", "Sci/Tech")
AG_NEWS_FIELDS = ("title", "description", "text")
AG_NEWS_FULL_TRAIN_ROWS = 120_000
AG_NEWS_URLS = {
    "train": "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/train.csv",
    "test": "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/test.csv",
}
# The sums torchtext checks for the same files.
AG_NEWS_MD5 = {"train": "b1a00f826fdfbd249f79597b59e1dc12", "test": "d52ea96a97a2d943681189a97654912d"}
# File names looked for in a data directory, best first. train_subset is the partial copy in ../shared.
AG_NEWS_FILES = {
    "train": ("train.csv", "train.csv.gz", "train_subset.csv", "train_subset.csv.gz"),
    "test": ("test.csv", "test.csv.gz"),
}



def load_ag_news(
    split: str,
    data_dir: str | os.PathLike | None = None,
    text_column: Sequence[str] = ("text",),
    on_bad_rows: str = "error",
) -> Dataset:
    """Read the AG News ``train`` or ``test`` split.

    ``text_column`` picks ``title``, ``description`` or ``text`` (title + " " + description), or several of
    them joined by a space. The directory is ``data_dir``, else ``$TEXTRNN_DATA_DIR``, else the download cache.
    """
    if split not in AG_NEWS_FILES:
        raise DataError(f"AG News has splits 'train' and 'test', not {split!r}")
    for column in text_column:
        if column not in AG_NEWS_FIELDS:
            raise DataError(f"AG News has text columns {', '.join(AG_NEWS_FIELDS)}; not {column!r}")
    path = find_ag_news_file(split, data_dir)
    notes: list[str] = []
    texts, labels, skipped, places = collect_rows(path, ag_news_rows(path, text_column, notes), on_bad_rows)
    source = f"AG News {split} ({path.name}"
    if split == "train" and len(texts) < AG_NEWS_FULL_TRAIN_ROWS:
        source += f", a subset: {len(texts):,} of the {AG_NEWS_FULL_TRAIN_ROWS:,} training rows"
    return Dataset(texts, labels, source + ")", skipped, notes, places)


def ag_news_rows(path: Path, text_column: Sequence[str], notes: list[str]) -> Iterator[tuple[str, tuple | RowError]]:
    """``(where, (text, label))`` for each row of an AG News CSV file, or ``(where, RowError)`` for a bad one."""

    def convert(where: str, record: dict) -> tuple[str, str]:
        if record["label"] not in ("1", "2", "3", "4"):
            raise RowError(path, where, f"expected 1-4, got {quoted(record['label'])}", "label", record)
        fields = {**record, "text": f"{record['title']} {record['description']}"}
        return " ".join(fields[c] for c in text_column), AG_NEWS_LABELS[int(record["label"]) - 1]

    columns = ("label", "title", "description")
    return converted(iter_records(path, columns, notes, header=columns), convert)


def find_ag_news_file(split: str, data_dir: str | os.PathLike | None = None) -> Path:
    """The local file for ``split``, downloading it into the cache when no directory holds it."""
    explicit = data_dir or os.environ.get("TEXTRNN_DATA_DIR")
    if explicit:
        directory = Path(explicit).expanduser()
        if not directory.is_dir():
            raise DataError(f"AG News data directory {directory} does not exist")
        for name in AG_NEWS_FILES[split]:
            if (directory / name).is_file():
                return directory / name
        raise DataError(f"{directory} holds none of {', '.join(AG_NEWS_FILES[split])} (AG News {split} split)")
    return download_ag_news(split)


def cache_dir() -> Path:
    return Path(os.environ.get("TEXTRNN_CACHE_DIR") or Path.home() / ".cache" / "textrnn")


def download_ag_news(split: str) -> Path:
    """Download the canonical AG News CSV once, check its MD5, and keep it in the cache directory."""
    target = cache_dir() / "ag_news" / f"{split}.csv"
    if target.is_file() and md5sum(target) == AG_NEWS_MD5[split]:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    url = AG_NEWS_URLS[split]
    print(f"downloading AG News {split} from {url}", file=sys.stderr)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                shutil.copyfileobj(response, tmp)
        except OSError as error:
            os.unlink(tmp.name)
            raise DataError(
                f"AG News {split} is not available locally and could not be downloaded from {url} ({error}). "
                "Point --data-dir or TEXTRNN_DATA_DIR at a directory holding train.csv and test.csv."
            ) from None
    digest = md5sum(Path(tmp.name))
    if digest != AG_NEWS_MD5[split]:
        os.unlink(tmp.name)
        raise DataError(f"downloaded AG News {split} has MD5 {digest}, expected {AG_NEWS_MD5[split]}; not using it")
    os.replace(tmp.name, target)
    return target


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

