"""seqadv.metrics.ngram_stats: % unique n-grams and % of generated n-grams seen in training."""

from __future__ import annotations

import math
import random

import pytest

from seqadv.metrics.ngram_stats import (
    COUNTINGS,
    NgramIndex,
    ngram_in_train_percent,
    unique_ngram_percent,
)

# "ab" twice within the first sentence and again in the second; "c" is shorter than n >= 2
GEN = [["a", "b", "a", "b"], ["a", "b"], ["c"]]
TRAIN = [["a", "b", "d"]]


# -- % unique n-grams, by hand -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, 100 * 3 / 7),  # a b a b a b c: 3 distinct of 7
        (2, 100 * 2 / 4),  # ab ba ab | ab | -: 2 distinct (ab, ba) of 4
        (3, 100 * 2 / 2),  # aba bab | - | -: both distinct
    ],
)
def test_unique_percent_by_hand(n, expected):
    assert unique_ngram_percent(GEN, n) == pytest.approx(expected)


def test_unique_percent_without_ngrams_is_nan():
    assert math.isnan(unique_ngram_percent(GEN, 5))
    assert math.isnan(unique_ngram_percent([], 1))
    assert math.isnan(unique_ngram_percent([["a"], ["b"]], 2))  # no bigram crosses sentences


def test_unique_percent_of_identical_sentences():
    assert unique_ngram_percent([["x", "y", "z"]] * 4, 2) == pytest.approx(25.0)


# -- % of generated n-grams in the training data, by hand ----------------------------------------
@pytest.mark.parametrize(
    ("n", "maskgan", "occurrences", "distinct"),
    [
        # distinct generated {a, b, c}, a and b in train; occurrences: 6 of 7 in train
        (1, 100 * 2 / 7, 100 * 6 / 7, 100 * 2 / 3),
        # distinct {ab, ba}, only ab in train; ab occurs 3 times of 4
        (2, 100 * 1 / 4, 100 * 3 / 4, 100 * 1 / 2),
        # aba, bab: neither in train
        (3, 0.0, 0.0, 0.0),
    ],
)
def test_in_train_percent_by_hand(n, maskgan, occurrences, distinct):
    assert ngram_in_train_percent(GEN, TRAIN, n) == pytest.approx(maskgan)
    index = NgramIndex(TRAIN, max_n=3)
    assert index.in_train_percent(GEN, n, counting="maskgan") == pytest.approx(maskgan)
    assert index.in_train_percent(GEN, n, counting="occurrences") == pytest.approx(occurrences)
    assert index.in_train_percent(GEN, n, counting="distinct") == pytest.approx(distinct)
    # the official quantity is the unique percentage times the distinct fraction found
    assert maskgan == pytest.approx(unique_ngram_percent(GEN, n) * distinct / 100)


def test_training_ngrams_do_not_cross_sentences():
    assert ngram_in_train_percent([["a", "b"]], [["a"], ["b"]], 2) == 0.0
    assert ngram_in_train_percent([["a", "b"]], [["a", "b"]], 2) == 100.0
    # a continuous stream is passed as one sentence
    assert ngram_in_train_percent([["a", "b"]], [["a", "<eos>", "b"]], 2) == 0.0
    assert ngram_in_train_percent([["<eos>", "b"]], [["a", "<eos>", "b"]], 2) == 100.0


def test_in_train_percent_without_ngrams_is_nan():
    for counting in COUNTINGS:
        assert math.isnan(ngram_in_train_percent([["a"]], TRAIN, 2, counting=counting))
    assert ngram_in_train_percent(GEN, [[]], 1) == 0.0  # empty training data: nothing found


# -- the two measures are different things -------------------------------------------------------
def test_the_two_measures_disagree():
    novel = [["p", "q", "r"], ["q", "r", "s"]]  # every bigram distinct except "q r"
    assert unique_ngram_percent(novel, 2) == pytest.approx(100 * 3 / 4)
    assert ngram_in_train_percent(novel, TRAIN, 2) == 0.0  # none was ever seen in training
    collapsed = [["a", "b"]] * 3  # one bigram, three times, and it is in training
    assert unique_ngram_percent(collapsed, 2) == pytest.approx(100 / 3)
    assert ngram_in_train_percent(collapsed, TRAIN, 2) == pytest.approx(100 / 3)
    assert ngram_in_train_percent(collapsed, TRAIN, 2, counting="occurrences") == 100.0
    assert ngram_in_train_percent(collapsed, TRAIN, 2, counting="distinct") == 100.0


# -- the index ---------------------------------------------------------------------------------------
def test_index_counts_and_reuse():
    index = NgramIndex([["a", "b", "a", "b"], ["b", "a"]], max_n=3)
    assert (index.total(1), index.distinct(1)) == (6, 2)
    assert (index.total(2), index.distinct(2)) == (4, 2)
    assert (index.total(3), index.distinct(3)) == (2, 2)
    assert index.count(("b", "a")) == 2 and index.count(("a", "b")) == 2
    assert index.count(("a", "a")) == 0 and index.count(("z",)) == 0
    assert ("a", "b", "a") in index and ("b", "b") not in index
    assert ("a",) * 4 not in index and "ab" not in index
    assert index.unique_percent(2) == pytest.approx(50.0)
    assert "max_n=3" in repr(index)
    first = index.in_train_percent([["a", "b"], ["x", "a"]], 2)
    assert first == pytest.approx(50.0)
    assert index.in_train_percent([["a", "b"], ["x", "a"]], 2) == first  # nothing is consumed


def test_integer_tokens_work_too():
    assert unique_ngram_percent([[1, 2, 1, 2]], 2) == pytest.approx(100 * 2 / 3)
    assert ngram_in_train_percent([[1, 2, 3]], [[1, 2]], 2) == pytest.approx(50.0)


@pytest.mark.parametrize("n", [0, -1, 1.5, True])
def test_bad_orders_are_value_errors(n):
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        unique_ngram_percent(GEN, n)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        ngram_in_train_percent(GEN, TRAIN, n)


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="max_n=2"):
        NgramIndex(TRAIN, max_n=2).in_train_percent(GEN, 3)
    with pytest.raises(ValueError, match="max_n"):
        NgramIndex(TRAIN, max_n=0)
    with pytest.raises(ValueError, match="counting"):
        ngram_in_train_percent(GEN, TRAIN, 2, counting="tokens")
    with pytest.raises(ValueError, match="ns is empty"):
        NgramIndex(TRAIN, max_n=2).in_train_percents(GEN, ())
    with pytest.raises(TypeError, match="raw string"):
        unique_ngram_percent(["a b c"], 1)
    with pytest.raises(TypeError, match="single string"):
        ngram_in_train_percent(GEN, "a b", 1)
    with pytest.raises(TypeError, match="hashable"):
        unique_ngram_percent([[["a"], ["b"]]], 1)


# -- against a brute-force implementation ------------------------------------------------------------
def brute_force(gen, train, n):
    """(unique %, maskgan %, occurrences %, distinct %) by plain tuples and sets."""
    grams = [tuple(s[i : i + n]) for s in gen for i in range(len(s) - n + 1)]
    seen = {tuple(s[i : i + n]) for s in train for i in range(len(s) - n + 1)}
    if not grams:
        return (math.nan,) * 4
    distinct = set(grams)
    return (
        100 * len(distinct) / len(grams),
        100 * len(distinct & seen) / len(grams),
        100 * sum(g in seen for g in grams) / len(grams),
        100 * len(distinct & seen) / len(distinct),
    )


def random_sentences(rng, count, vocab):
    return [[rng.choice(vocab) for _ in range(rng.randint(0, 12))] for _ in range(count)]


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_brute_force_on_random_token_lists(seed):
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(rng.choice([3, 6, 20]))]
    train = random_sentences(rng, 80, vocab)
    gen = random_sentences(rng, 60, vocab + ["oov1", "oov2"])
    index = NgramIndex(train, max_n=5)
    for n in range(1, 6):
        expected = brute_force(gen, train, n)
        got = (
            unique_ngram_percent(gen, n),
            index.in_train_percent(gen, n, "maskgan"),
            index.in_train_percent(gen, n, "occurrences"),
            index.in_train_percent(gen, n, "distinct"),
        )
        assert got == pytest.approx(expected, nan_ok=True), (seed, n)
        assert ngram_in_train_percent(gen, train, n) == pytest.approx(expected[1])
        assert index.total(n) == sum(max(len(s) - n + 1, 0) for s in train)
        assert NgramIndex(gen, max_n=5).unique_percent(n) == pytest.approx(expected[0], nan_ok=True)
    for k, counting in enumerate(COUNTINGS, start=1):
        together = index.in_train_percents(gen, range(1, 6), counting)
        assert list(together) == [1, 2, 3, 4, 5]
        expected = [brute_force(gen, train, n)[k] for n in range(1, 6)]
        assert list(together.values()) == pytest.approx(expected, nan_ok=True), counting
