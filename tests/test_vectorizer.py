import json

from hypothesis import given, settings
from hypothesis import strategies as st

from textrnn.text.vectorizer import PAD_ID, UNK_ID, TextVectorizer, markup_share


def adapted(texts, **kwargs):
    return TextVectorizer(**kwargs).adapt(texts)


def test_standardization_matches_keras_lower_and_strip_punctuation():
    v = adapted(["x"], punctuation="delete")
    assert v.standardize("U.S. Stocks' RALLY!!! (Reuters)") == ["us", "stocks", "rally", "reuters"]
    assert v.standardize("e-mail: a_b@c.com #39; $100") == ["email", "abccom", "39", "100"]
    assert v.standardize("tabs\tand\nnewlines   and  spaces") == ["tabs", "and", "newlines", "and", "spaces"]
    assert v.standardize("ÉTÉ Ünïcode naïve café") == ["été", "ünïcode", "naïve", "café"]
    assert v.standardize("") == []
    assert v.standardize("?!...") == []
    # Only ASCII punctuation is stripped, as in Keras: typographic quotes and dashes stay.
    assert v.standardize("“quoted” — dash") == ["“quoted”", "—", "dash"]


def test_by_default_punctuation_separates_words_instead_of_gluing_them():
    v = adapted(["x"])
    assert v.standardize("U.S. Stocks' RALLY!!! (Reuters)") == ["u", "s", "stocks", "rally", "reuters"]
    assert v.standardize("great.<br /><br />I") == ["great", "br", "br", "i"]


def test_punctuation_can_be_kept_as_tokens_of_its_own(tmp_path):
    v = adapted(["not good!", "great?"], punctuation="token")
    assert v.standardize("Not good!! (U.S.)") == ["not", "good", "!", "!", "(", "u", ".", "s", ".", ")"]
    assert "!" in v.vocabulary and "?" in v.vocabulary
    assert v.tokens("great! zz") == ["great", "!", "zz[?]"]
    v.save(tmp_path / "v.json")
    again = TextVectorizer.load(tmp_path / "v.json")
    assert again.punctuation == "token" and again.encode(["not good?"]) == v.encode(["not good?"])


def test_padding_and_oov_ids_and_frequency_order():
    v = adapted(["b a a c", "a b d"], max_tokens=5)
    assert v.vocabulary[:2] == ["[PAD]", "[UNK]"]
    assert v.vocab_size == 5  # max_tokens counts padding and out-of-vocabulary
    assert v.vocabulary[2] == "a"  # the most frequent word gets the first real id
    assert v.encode(["a zzz"]) == [[2, UNK_ID]]
    assert PAD_ID not in sum(v.encode(["a b c d e f g"]), [])


def test_empty_text_encodes_to_nothing_and_max_length_truncates():
    v = adapted(["one two three four"], max_length=2)
    assert v.encode(["", "one two three"]) == [[], v.encode(["one two"])[0]]
    assert v.truncated_count(["one two three", "one"]) == 1


def test_json_round_trip_gives_identical_encodings(tmp_path):
    texts = ["The market rallied.", "A goal in the last minute!", "Chips and software"]
    v = adapted(texts, max_tokens=10, max_length=4)
    v.save(tmp_path / "vectorizer.json")
    loaded = TextVectorizer.load(tmp_path / "vectorizer.json")
    assert loaded.vocabulary == v.vocabulary
    assert loaded.max_length == 4
    probe = texts + ["unseen words here", ""]
    assert loaded.encode(probe) == v.encode(probe)
    data = json.loads((tmp_path / "vectorizer.json").read_text())
    assert data["tokenizer"]["model"]["type"] == "WordLevel"


def test_loading_a_vectorizer_with_wrong_special_ids_is_refused(tmp_path):
    v = adapted(["a b c"])
    data = v.to_dict()
    vocab = data["tokenizer"]["model"]["vocab"]
    vocab["[PAD]"], vocab["a"] = vocab["a"], vocab["[PAD]"]
    try:
        TextVectorizer.from_dict(data, "bad.json")
    except ValueError as error:
        assert "bad.json" in str(error) and "[PAD]" in str(error)
    else:
        raise AssertionError("a vectorizer whose id 0 is not padding was accepted")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=5), st.text())
def test_any_unicode_text_encodes_to_valid_ids(corpus, probe):
    v = adapted(corpus, max_tokens=50)
    (ids,) = v.encode([probe])
    assert len(ids) == len(v.standardize(probe))
    assert all(UNK_ID <= i < v.vocab_size for i in ids)


def test_punctuation_can_become_spaces_and_html_can_be_stripped():
    review = "Great film.<br /><br />I loved it#39;s ending &amp; the &lt;b&gt;cast&lt;/b&gt;!"
    keras_like = TextVectorizer(punctuation="delete").adapt([review])
    assert keras_like.standardize(review) == ["great", "filmbr", "br", "i", "loved", "it39s", "ending", "amp",
                                              "the", "ltbgtcastltbgt"]
    spaced = TextVectorizer(punctuation="space", strip_html=True).adapt([review])
    assert spaced.standardize(review) == ["great", "film", "i", "loved", "it", "s", "ending", "the", "cast"]
    stripped = TextVectorizer(strip_html=True, punctuation="delete").adapt([review])
    assert stripped.standardize(review) == ["great", "film", "i", "loved", "its", "ending", "the", "cast"]
    assert markup_share([review, "plain text", "a < b > c"]) == 1 / 3


def test_character_vocabulary_round_trips_with_its_normalizer(tmp_path):
    vectorizer = TextVectorizer(vocabulary_type="char", punctuation="space", strip_html=True)
    vectorizer.adapt(["Hello,  World<br>", "abc"])
    assert vectorizer.tokens("Hi,\n\tzo") == ["h", "i[?]", " ", "z[?]", "o"]  # comma and whitespace run: one space
    vectorizer.save(tmp_path / "v.json")
    again = TextVectorizer.load(tmp_path / "v.json")
    assert (again.vocabulary_type, again.punctuation, again.strip_html) == ("char", "space", True)
    assert again.encode(["hello world!<p>"]) == vectorizer.encode(["hello world!<p>"])
