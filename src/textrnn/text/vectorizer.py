"""Text to token ids, with the semantics of Keras ``TextVectorization`` and the machinery of HF ``tokenizers``.

The pipeline has three named stages, stored together as one Hugging Face tokenizer JSON:

* normalizer: with ``strip_html``, HTML tags (also escaped ones, ``&lt;p&gt;``) become spaces and common
  entities their characters; then lower-case, then replace ASCII punctuation (Python's ``string.punctuation``)
  by a space, so that ``great.<br />I`` does not become ``greatbr i``; or with ``punctuation="delete"``
  delete it, as Keras' ``lower_and_strip_punctuation`` does: ``"U.S. stocks' rally!"`` -> ``"us stocks rally"``;
  or with ``punctuation="token"`` keep it;
* pre-tokenizer: split on whitespace, and with ``punctuation="token"`` make every punctuation mark a token of its
  own (``"great!"`` -> ``great !``: "!" and "?" carry sentiment and subjectivity); ``vocabulary_type="char"``:
  every character is a token, runs of whitespace one space;
* model: a word-level vocabulary of ``max_tokens`` entries ordered by frequency, where id 0 is padding
  (``[PAD]``) and id 1 stands for every word outside the vocabulary (``[UNK]``); or, with
  ``vocabulary_type`` ``bpe``, ``wordpiece`` or ``unigram``, a subword vocabulary of that size that spells
  rare and unseen words in pieces (ids 0 and 1 stay padding and unknown); or the most frequent characters.

One difference from Keras: lower-casing covers all of Unicode ("ÉTÉ" -> "été"), not only ASCII.
"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path
from typing import Iterable, Sequence

from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers

from ..errors import DataError
from ..files import write_bytes_atomic

PAD, UNK = "[PAD]", "[UNK]"
PAD_ID, UNK_ID = 0, 1
FORMAT = "textrnn.vectorizer/1"
VOCABULARY_TYPES = ("word", "bpe", "wordpiece", "unigram", "char")
PUNCTUATION = ("delete", "space", "token")
PUNCTUATION_PATTERN = "[" + "".join("\\" + c for c in string.punctuation) + "]"
# Tags, also as escaped text (AG News holds "&lt;p&gt;"), and the entities seen in real corpora; "#39;" is
# "&#39;" after a careless clean-up removed the ampersand (16,521 times in the AG News training subset).
HTML_TAG_PATTERN = r"&lt;/?[a-zA-Z][^&]*?&gt;|</?[a-zA-Z][^<>]*>"
HTML_ENTITIES = [(r"&?#39;|&apos;", "'"), (r"&quot;|&?#34;", '"'), (r"&amp;", "&"), (r"&?#36;", "$"),
                 (r"&nbsp;|&?#\d{2,4};|&[a-z]{2,6};", " ")]
# Markup worth a warning when strip_html is off: a tag, an escaped tag or an entity.
MARKUP_PATTERN = re.compile(r"</?[a-zA-Z][^<>]{0,200}>|&lt;/?[a-zA-Z]|&(?:#\d+|[a-z]{2,6});|#39;")


class TextVectorizer:
    """Adapt a vocabulary on training texts, then turn texts into lists of token ids."""

    def __init__(self, max_tokens: int = 20_000, max_length: int | None = None, vocabulary_type: str = "word",
                 punctuation: str = "space", strip_html: bool = False) -> None:
        if max_tokens < 3:
            raise ValueError(f"max_tokens must be at least 3 (padding, out-of-vocabulary and one word), got {max_tokens}")
        if max_length is not None and max_length < 1:
            raise ValueError(f"max_length must be at least 1 or None, got {max_length}")
        if vocabulary_type not in VOCABULARY_TYPES:
            raise ValueError(f"vocabulary_type must be one of {', '.join(VOCABULARY_TYPES)}, got {vocabulary_type!r}")
        if punctuation not in PUNCTUATION:
            raise ValueError(f"punctuation must be one of {', '.join(PUNCTUATION)}, got {punctuation!r}")
        self.max_tokens = max_tokens
        self.max_length = max_length
        self.vocabulary_type = vocabulary_type
        self.punctuation = punctuation
        self.strip_html = bool(strip_html)
        self.tokenizer = self._empty_tokenizer()
        self.adapted = False

    @classmethod
    def from_params(cls, params) -> "TextVectorizer":
        """An unadapted vectorizer with the settings of ``params`` (a :class:`textrnn.params.ClassifierParams`)."""
        return cls(params.max_tokens, params.max_length, params.vocabulary_type, params.punctuation, params.strip_html)

    def _empty_tokenizer(self) -> Tokenizer:
        word_level = lambda: models.WordLevel(unk_token=UNK)
        model = {"word": word_level, "char": word_level, "bpe": lambda: models.BPE(unk_token=UNK),
                 "wordpiece": lambda: models.WordPiece(unk_token=UNK), "unigram": models.Unigram}[self.vocabulary_type]()
        tokenizer = Tokenizer(model)
        steps = []
        if self.strip_html:
            steps.append(normalizers.Replace(Regex(HTML_TAG_PATTERN), " "))
            steps.extend(normalizers.Replace(Regex(pattern), text) for pattern, text in HTML_ENTITIES)
        steps.append(normalizers.Lowercase())
        if self.punctuation != "token":
            steps.append(normalizers.Replace(Regex(PUNCTUATION_PATTERN), " " if self.punctuation == "space" else ""))
        if self.vocabulary_type == "char":
            steps.append(normalizers.Replace(Regex(r"\s+"), " "))  # a run of whitespace is one space character
            tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
        elif self.punctuation == "token":
            tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
                pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex(PUNCTUATION_PATTERN), behavior="isolated")])
        else:
            tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        tokenizer.normalizer = normalizers.Sequence(steps)
        return tokenizer

    def _trainer(self):
        options = dict(vocab_size=self.max_tokens, special_tokens=[PAD, UNK], show_progress=False)
        if self.vocabulary_type in ("word", "char"):
            return trainers.WordLevelTrainer(**options)
        if self.vocabulary_type == "bpe":
            return trainers.BpeTrainer(**options)
        if self.vocabulary_type == "wordpiece":
            return trainers.WordPieceTrainer(**options)
        return trainers.UnigramTrainer(**options, unk_token=UNK)

    def adapt(self, texts: Iterable[str]) -> "TextVectorizer":
        """Build the vocabulary from ``texts``: the ``max_tokens - 2`` most frequent words, or with a subword
        ``vocabulary_type`` (bpe, wordpiece, unigram) that many word pieces, so a rare word is spelt in pieces
        instead of becoming the out-of-vocabulary id.

        ``texts`` may be any iterable, a generator over a file included: only the word counts are kept.
        """
        self.tokenizer = self._empty_tokenizer()
        length = len(texts) if isinstance(texts, Sequence) else None
        self.tokenizer.train_from_iterator(texts, self._trainer(), length=length)
        vocab = self.tokenizer.get_vocab()
        if vocab.get(PAD) != PAD_ID or vocab.get(UNK) != UNK_ID:  # every trainer puts the special tokens first
            raise RuntimeError(f"the {self.vocabulary_type} trainer did not give {PAD} id 0 and {UNK} id 1")
        self._read_special_tokens_as_text()
        self.adapted = True
        return self

    def _read_special_tokens_as_text(self) -> None:
        # Otherwise a text holding the string "[PAD]" gets the padding id in the middle of its words.
        # (Not saved in the tokenizer JSON: set after every adapt and load.)
        self.tokenizer.encode_special_tokens = True

    @property
    def vocabulary(self) -> list[str]:
        """Tokens in id order: ``vocabulary[0]`` is padding, ``vocabulary[1]`` out-of-vocabulary."""
        by_id = sorted(self.tokenizer.get_vocab().items(), key=lambda item: item[1])
        return [token for token, _ in by_id]

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def standardize(self, text: str) -> list[str]:
        """The words of ``text`` after normalization and splitting, before the vocabulary lookup."""
        normalized = self.tokenizer.normalizer.normalize_str(text)
        return [word for word, _ in self.tokenizer.pre_tokenizer.pre_tokenize_str(normalized)]

    def tokens(self, text: str) -> list[str]:
        """One readable token per id that :meth:`encode` gives for ``text``: the word, or with a subword
        vocabulary the word piece; an out-of-vocabulary token ends in ``[?]``."""
        encoding = self.tokenizer.encode(text, add_special_tokens=False)
        ids = encoding.ids[: self.max_length]
        if self.vocabulary_type in ("word", "char"):  # one id per word (character): they line up with the ids
            names = self.standardize(text)[: len(ids)]
        else:
            names = [text[start:end] if token == UNK_ID else piece
                     for piece, token, (start, end) in zip(encoding.tokens, ids, encoding.offsets)]
        return [name if token != UNK_ID else f"{name}[?]" for name, token in zip(names, ids)]

    def encode(self, texts: Iterable[str]) -> list[list[int]]:
        """Token ids of each text, cut to ``max_length``; an empty text gives an empty list."""
        if not self.adapted:
            raise RuntimeError("the vectorizer has no vocabulary yet: call adapt(texts) first")
        texts = list(texts)
        try:
            encodings = self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        except Exception:  # the tokenizers library says only "TextEncodeInput must be ...": name the text instead
            check_encodable(texts)
            raise
        except BaseException as error:  # a Rust panic (PanicException) is a BaseException: a message, not a crash
            if type(error).__name__ != "PanicException":
                raise
            raise DataError(f"the tokenizer failed on these texts ({str(error)[:200]}); its vectorizer.json may be "
                            "damaged or hand-edited") from None
        return [encoding.ids[: self.max_length] for encoding in encodings]

    def truncated_count(self, texts: Iterable[str]) -> int:
        """How many of ``texts`` are longer than ``max_length`` tokens (and so lose their end)."""
        if self.max_length is None:
            return 0
        encodings = self.tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)
        return sum(len(encoding.ids) > self.max_length for encoding in encodings)

    # ---------------------------------------------------------------------------------------- saving

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "max_tokens": self.max_tokens,
            "max_length": self.max_length,
            "vocabulary_type": self.vocabulary_type,
            "punctuation": self.punctuation,
            "strip_html": self.strip_html,
            "tokenizer": json.loads(self.tokenizer.to_str()),
        }

    @classmethod
    def from_dict(cls, data: dict, source: str = "vectorizer") -> "TextVectorizer":
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{source}: not a textrnn vectorizer (expected format {FORMAT!r})")
        try:
            vectorizer = cls(max_tokens=data["max_tokens"], max_length=data["max_length"],
                             vocabulary_type=data.get("vocabulary_type", "word"),
                             punctuation=data.get("punctuation", "delete"), strip_html=data.get("strip_html", False))
        except KeyError as error:
            raise ValueError(f"{source}: no {error} field") from None
        except (TypeError, ValueError) as error:
            raise ValueError(f"{source}: {error}") from None
        try:
            vectorizer.tokenizer = Tokenizer.from_str(json.dumps(data["tokenizer"]))
        except Exception as error:  # tokenizers raises a bare Exception for malformed JSON
            raise ValueError(f"{source}: the tokenizer inside cannot be read ({error})") from None
        vocab = vectorizer.tokenizer.get_vocab()
        if vocab.get(PAD) != PAD_ID or vocab.get(UNK) != UNK_ID:
            raise ValueError(f"{source}: id 0 must be {PAD} and id 1 {UNK}")
        if len(vocab) > vectorizer.max_tokens:
            raise ValueError(f"{source}: {len(vocab)} tokens, more than max_tokens={vectorizer.max_tokens}")
        if max(vocab.values()) != len(vocab) - 1:  # an id past the end would index outside the embedding
            raise ValueError(f"{source}: token ids must run from 0 to {len(vocab) - 1} (the vocabulary size), "
                             f"found {max(vocab.values())}")
        vectorizer._read_special_tokens_as_text()
        vectorizer.adapted = True
        return vectorizer

    def save(self, path: str | Path) -> None:
        write_bytes_atomic(path, json.dumps(self.to_dict(), ensure_ascii=False).encode("utf-8"))

    @classmethod
    def load(cls, path: str | Path) -> "TextVectorizer":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ValueError(f"{path}: cannot read the vectorizer ({error})") from None
        return cls.from_dict(data, source=str(path))


def markup_share(texts: Sequence[str], sample: int = 10_000) -> float:
    """The share of ``texts`` (the first ``sample`` of them) holding HTML markup: tags, escaped tags, entities."""
    looked = texts[:sample]
    return sum(bool(MARKUP_PATTERN.search(text)) for text in looked) / max(len(looked), 1)


def check_encodable(texts: list, first: int = 1, name: str = "text") -> None:
    """A :class:`DataError` naming the first text that is not a string or not valid Unicode (a lone surrogate,
    or bytes that were not UTF-8 read with ``surrogateescape``), if there is one: ``name`` and its number,
    counted from ``first`` (a file read in chunks names its own rows: ``in.csv, row 8200``)."""
    for number, text in enumerate(texts, start=first):
        if not isinstance(text, str):
            raise DataError(f"{name} {number}: expected a string, got {type(text).__name__}")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise DataError(f"{name} {number}: not valid Unicode at character {error.start + 1} (a lone surrogate, "
                            "or bytes that are not UTF-8)") from None
