"""Pretrained word embeddings: train them with gensim, read the standard files, and start a model from them.

Supported files (read with gensim's ``KeyedVectors.load_word2vec_format``; the format is recognised from the
file itself):

* word2vec binary (``.bin``, as written by the original word2vec and by ``textrnn embeddings train``);
* word2vec text and fastText ``.vec``: a first line "WORDS DIMENSIONS", then one word and its numbers per line;
* GloVe text: the same lines without the header.

A word is looked up as the vectorizer sees it (lower-cased, punctuation as its setting says), falling back to the file's
exact spelling; words the file lacks keep their random initial embedding. :func:`initialise_embedding`
reports the coverage, by vocabulary entries and by training tokens.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from pathlib import Path
from typing import Iterable, Literal

import numpy as np
import torch

from ..errors import DataError
from ..files import FILE_MODE
from ..params import NAMED_VECTORS

ALGORITHMS = ("word2vec", "fasttext")
# Word vectors trained inside a fit (embeddings="word2vec"): word2vec's usual 5 passes suit corpora of billions of
# words; on a training set of under a million tokens the vectors keep improving for longer, so the passes aim at
# this many tokens, between 5 and 15. On AG News (1.7M tokens: 5 passes) the default model was as accurate over
# 3 seeds as with 6 or 9 passes (bench/word2vec_passes.py). Downsampling frequent words harder (sample 1e-4) was
# as accurate and faster on AG News, but lost 0.3-0.8 points on the smaller corpora of bench/datasets.py (one
# seed), so gensim's default stays.
IN_FIT_TOKENS = 7.5e6
IN_FIT_SAMPLE = 1e-3


def named_vectors_path(name: str) -> Path:
    """The file of a named vector set (:data:`textrnn.params.NAMED_VECTORS`): from gensim's downloader cache
    (~/gensim-data, or GENSIM_DATA_DIR), else downloaded into it, once. Only the vector file is read, never the
    Python module the downloader stores beside it."""
    from gensim import downloader

    folder = Path(downloader.BASE_DIR) / name
    cached = sorted(p for p in folder.glob("*") if p.is_file() and p.suffix != ".py") if folder.is_dir() else []
    if cached:
        return cached[0]
    try:
        return Path(downloader.load(name, return_path=True))
    except Exception as error:  # offline: gensim raises ValueError or an OSError from urllib
        raise DataError(f"embeddings: {name} is not in gensim's cache ({folder.parent}) and could not be downloaded "
                        f"({type(error).__name__}: {str(error)[:120]}). Without internet here, download it where "
                        f"there is (python -m gensim.downloader --download {name}) and copy {folder} here (or set "
                        "GENSIM_DATA_DIR), or give a word-vector file: --embeddings FILE") from None


def load_vectors(path: str | Path):
    """The word vectors in ``path`` (a file, or one of :data:`NAMED_VECTORS`) as a gensim ``KeyedVectors``; the
    format is detected."""
    from gensim.models import KeyedVectors

    path = named_vectors_path(str(path)) if str(path) in NAMED_VECTORS else Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such embeddings file")
    binary = _is_binary(path)
    no_header = not binary and not _has_header(path)
    try:
        return KeyedVectors.load_word2vec_format(str(path), binary=binary, no_header=no_header,
                                                 unicode_errors="replace")
    except Exception as error:  # gensim raises ValueError, UnicodeDecodeError, EOFError, ... for bad files
        kind = "word2vec binary" if binary else "GloVe text (no header)" if no_header else "word2vec/fastText text"
        raise DataError(f"{path}: not a readable {kind} embeddings file ({type(error).__name__}: {error})") from None


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _is_binary(path: Path) -> bool:
    """word2vec binary files start with a text header line, then raw floats: look for bytes text never has."""
    with _open(path) as handle:
        handle.readline()
        sample = handle.read(4096)
    return b"\x00" in sample or (sample and sum(b > 127 or b < 9 for b in sample) > len(sample) // 10)


def _has_header(path: Path) -> bool:
    with _open(path) as handle:
        first = handle.readline().split()
    return len(first) == 2 and all(part.isdigit() for part in first)


def initialise_embedding(embedding: torch.nn.Embedding, vocabulary: list[str], vectors,
                         token_counts: np.ndarray | None = None) -> dict:
    """Copy the vectors of the words in ``vocabulary`` into ``embedding``; return the coverage.

    ``vocabulary[i]`` is the word of id ``i`` (0 padding, 1 out-of-vocabulary, neither looked up).
    ``token_counts[i]``, if given, is how often id ``i`` occurs in the training texts.
    """
    if vectors.vector_size != embedding.embedding_dim:
        raise DataError(f"embeddings: the file's vectors have {vectors.vector_size} dimensions, the model's embedding "
                        f"{embedding.embedding_dim}; set embed_dim={vectors.vector_size}")
    lowered = {}
    for word in vectors.index_to_key:  # a cased file (GloVe 840B, fastText crawl): keep the most frequent casing
        lowered.setdefault(word.lower(), word)
    found = np.zeros(len(vocabulary), dtype=bool)
    with torch.no_grad():
        for index, word in enumerate(vocabulary[2:], start=2):
            key = word if word in vectors.key_to_index else lowered.get(word)
            if key is not None:
                embedding.weight[index] = torch.tensor(vectors[key], dtype=torch.float32)
                found[index] = True
    words = len(vocabulary) - 2
    coverage = {"vocabulary_words": words, "words_found": int(found.sum()),
                "word_coverage": float(found.sum() / words) if words else 0.0}
    if token_counts is not None:
        counts = np.asarray(token_counts, dtype=np.float64)[: len(vocabulary)]
        counts[0] = 0  # padding is not a token
        coverage["token_coverage"] = float(counts[found].sum() / counts.sum()) if counts.sum() else 0.0
    return coverage


def train_vectors(
    texts: Iterable[str],
    out: str | Path,
    *,
    algorithm: Literal["word2vec", "fasttext"] = "word2vec",
    dim: int = 64,
    epochs: int = 5,
    window: int = 5,
    min_count: int = 2,
    seed: int = 0,
    workers: int = 1,
    punctuation: str = "space",
    strip_html: bool = False,
) -> dict:
    """Train word vectors on ``texts`` with gensim and write them to ``out`` in word2vec binary format.

    Texts are tokenized exactly as :class:`textrnn.TextVectorizer` tokenizes them with the same
    ``punctuation`` and ``strip_html``, so the words match the classifier's vocabulary. ``fasttext`` learns subword
    (character n-gram) vectors; what is written is the vector of every word seen. With one worker, the same seed gives the same vectors.
    """
    from .vectorizer import TextVectorizer

    standardize = TextVectorizer(punctuation=punctuation, strip_html=strip_html).standardize
    sentences = [standardize(text) for text in texts]
    vectors = fit_vectors(sentences, algorithm, dim, epochs, window=window, min_count=min_count, seed=seed,
                          workers=workers)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(handle)
    try:  # written under a temporary name, then renamed: never half a file, never through a planted link
        vectors.save_word2vec_format(temporary, binary=True)
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, out)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return {"algorithm": algorithm, "words": len(vectors), "dim": dim, "texts": len(sentences), "path": str(out)}


def vectors_for_vocabulary(x, vocabulary: list[str], algorithm: str, dim: int, seed: int):
    """Vectors trained on already-encoded training texts (``x``, :class:`textrnn.text.batching.EncodedTexts`), one per
    vocabulary entry they contain: what ``embeddings="word2vec"`` starts a classifier from."""
    words = np.asarray(vocabulary, dtype=object)
    sentences = [list(words[x.flat[x.offsets[i] : x.offsets[i + 1]]]) for i in range(len(x))]
    epochs = int(np.clip(round(IN_FIT_TOKENS / max(len(x.flat), 1)), 5, 15))
    return fit_vectors(sentences, algorithm, dim, epochs=epochs, seed=seed, min_count=1, sample=IN_FIT_SAMPLE)


def fit_vectors(sentences: list[list[str]], algorithm: str = "word2vec", dim: int = 64, epochs: int = 5, *,
                window: int = 5, min_count: int = 2, seed: int = 0, workers: int = 1, sample: float = 1e-3):
    """gensim skip-gram word2vec, or fastText with character n-grams, on tokenized ``sentences``."""
    from gensim.models import FastText, Word2Vec

    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm: expected one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
    model_class = Word2Vec if algorithm == "word2vec" else FastText
    return model_class(sentences=sentences, vector_size=dim, window=window, min_count=min_count, sg=1,
                       epochs=epochs, seed=seed, workers=workers, sample=sample).wv
