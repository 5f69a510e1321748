import csv
import gzip
import io
import os
import random
from pathlib import Path

import pytest
from hypothesis import settings

# The property-based tests draw the same examples in every run, so that a CI run passes or fails on the code
# alone; HYPOTHESIS_PROFILE=explore draws new ones each run, to look for new failures.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

REPO = Path(__file__).resolve().parents[1]
AG_NEWS_DIR = REPO.parent / "shared" / "data" / "ag_news"

# Tiny synthetic topic data: each class has its own keywords, mixed with shared filler words.
KEYWORDS = {
    "sport": ["match", "goal", "team", "coach", "league", "score"],
    "money": ["stock", "market", "bank", "profit", "shares", "trade"],
    "tech": ["software", "chip", "internet", "computer", "robot", "data"],
}
FILLER = ["the", "a", "today", "new", "report", "after", "big", "week", "says", "in", "of", "on"]


def synthetic_corpus(rows: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(rows):
        label = list(KEYWORDS)[i % len(KEYWORDS)]
        words = filler_words(rng, 25)
        insert_keywords(rng, words, KEYWORDS[label], rng.randint(1, 2))
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


def filler_words(rng: random.Random, most: int) -> list[str]:
    """3 to ``most`` filler words: what every class shares."""
    return [rng.choice(FILLER) for _ in range(rng.randint(3, most))]


def insert_keywords(rng: random.Random, words: list[str], keywords: list[str], count: int) -> None:
    """Put ``count`` of ``keywords`` at random places among ``words``."""
    for _ in range(count):
        words.insert(rng.randrange(len(words) + 1), rng.choice(keywords))


@pytest.fixture(scope="session")
def synthetic():
    return synthetic_corpus(600)


@pytest.fixture(scope="session")
def ag_news_dir() -> Path:
    if not (AG_NEWS_DIR / "test.csv.gz").is_file():
        pytest.fail(f"the shared AG News data is expected at {AG_NEWS_DIR} (see DEVELOPERS.md)")
    return AG_NEWS_DIR


def ag_news_rows(path: Path, count: int) -> list[list[str]]:
    """``count`` rows spread evenly over the file (the training subset is grouped by source and class)."""
    with io.TextIOWrapper(gzip.open(path), encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[:: len(rows) // count][:count]


@pytest.fixture(scope="session")
def ag_news_slice(ag_news_dir, tmp_path_factory) -> Path:
    """A directory holding 3,000 training rows and 1,000 test rows of AG News, in the canonical format."""
    directory = tmp_path_factory.mktemp("ag_news_slice")
    for source, target, count in (("train_subset.csv.gz", "train.csv", 3000), ("test.csv.gz", "test.csv", 1000)):
        with open(directory / target, "w", encoding="utf-8", newline="") as out:
            csv.writer(out, quoting=csv.QUOTE_ALL).writerows(ag_news_rows(ag_news_dir / source, count))
    return directory


@pytest.fixture(scope="session", autouse=True)
def threads_from_the_machine_alone():
    """``threads="auto"`` counts the cores other processes keep busy, so two fits could compute with different
    thread counts (different last bits) when something else runs; the tests compare bits, so here auto decides
    as when the load is unknown. Session-wide, so that module-scoped fitted models (built before any
    function-scoped fixture) decide the same way as the fits they are compared with. ``test_threads.py``
    puts the real measurement back where it measures the real load."""
    from textrnn import threads

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(threads, "busy_elsewhere", lambda seconds=threads.SAMPLE_SECONDS: None)
        patch.setattr(threads.CpuReading, "cores_used_by_others", lambda self: None)
        yield


@pytest.fixture(autouse=True)
def no_remembered_load(monkeypatch):
    """Each test starts without the load reading that a previous test's prediction left behind."""
    from textrnn import threads

    monkeypatch.setattr(threads, "_last_choice", None)
    monkeypatch.setattr(threads, "_last_reading", None)
