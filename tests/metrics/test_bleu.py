"""Texygen-protocol BLEU, Self-BLEU and corpus BLEU, checked against nltk and sacrebleu."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

import seqadv
from seqadv.data.tokenize import get_tokenizer
from seqadv.errors import ConfigError, DataError
from seqadv.metrics.bleu import (
    BleuResult,
    BleuSignature,
    ReferenceStats,
    bleu,
    bleu_many,
    corpus_bleu,
    results_to_log,
    self_bleu,
    self_bleu_many,
)

METHOD1 = SmoothingFunction().method1
ORDERS = (1, 2, 3, 4, 5)
PROPERTY = settings(max_examples=150, deadline=None, database=None)


def nltk_sentence(refs: list, hyp: list, n: int) -> float:
    """The Texygen call: nltk sentence_bleu, uniform weights, method1."""
    return sentence_bleu(refs, hyp, tuple(1.0 / n for _ in range(n)), smoothing_function=METHOD1)


def nltk_bleu(hyps: list, refs: list, n: int) -> list[float]:
    return [nltk_sentence(refs, h, n) for h in hyps]


def nltk_self_bleu(sents: list, n: int) -> list[float]:
    return [nltk_sentence(sents[:j] + sents[j + 1 :], sents[j], n) for j in range(len(sents))]


def assert_matches(result: BleuResult, expected: list[float]) -> None:
    assert result.sentence_scores is not None
    np.testing.assert_allclose(result.sentence_scores, expected, rtol=0, atol=1e-12)
    assert result.score == pytest.approx(sum(expected) / len(expected), rel=0, abs=1e-9)


@st.composite
def sentence_lists(draw: st.DrawFn, min_size: int, max_size: int = 6) -> list[list[str]]:
    """Small corpora over 1..5 words: repeated n-grams, empty and one-token sentences."""
    words = "abcde"[: draw(st.integers(1, 5))]
    sentence = st.lists(st.sampled_from(words), max_size=9)
    sents = draw(st.lists(sentence, min_size=min_size, max_size=max_size))
    if len(sents) >= 2 and draw(st.booleans()):  # duplicates: exclusion is by index
        sents.append(list(draw(st.sampled_from(sents))))
    return sents


# --------------------------------------------------------------------------- BLEU against nltk


@PROPERTY
@given(hyps=sentence_lists(min_size=1), refs=sentence_lists(min_size=1))
def test_bleu_equals_nltk_sentence_bleu_mean(hyps: list, refs: list) -> None:
    results = bleu_many(hyps, refs, ns=ORDERS)
    assert list(results) == list(ORDERS)
    for n, result in results.items():
        assert_matches(result, nltk_bleu(hyps, refs, n))


@PROPERTY
@given(sents=sentence_lists(min_size=2))
def test_self_bleu_equals_nltk_definition(sents: list) -> None:
    for n, result in self_bleu_many(sents, ns=ORDERS).items():
        assert_matches(result, nltk_self_bleu(sents, n))


EDGE_CASES = {
    "empty hypothesis": ([[]], [["a", "b"], ["c"]]),
    "one-token hypothesis": ([["a"], ["z"]], [["a", "b", "c"], ["a"]]),
    "hypothesis longer than every reference": ([list("abcabcabcab")], [list("abc"), list("ab")]),
    "tie in reference length (shorter wins)": ([list("abcd")], [list("ab"), list("abcdef")]),
    "tie, the longer one listed first": ([list("abcd")], [list("abcdef"), list("ab")]),
    "repeated n-grams clipped": ([list("aaaaaa")], [list("aa"), list("aaa"), list("ba")]),
    "empty reference": ([list("ab"), ["a"]], [[], list("abc")]),
    "only empty references": ([list("ab")], [[], []]),
    "no overlap at all": ([list("xyz")], [list("abc")]),
    "hypothesis shorter than n": ([list("ab")], [list("abab")]),
    "references shorter than n": ([list("abcdef")], [list("ab"), list("b")]),
    "equal length": ([list("abc")], [list("abd")]),
}


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_edge_cases_equal_nltk(case: str) -> None:
    hyps, refs = EDGE_CASES[case]
    for n, result in bleu_many(hyps, refs, ns=ORDERS).items():
        assert_matches(result, nltk_bleu(hyps, refs, n))


def test_empty_hypothesis_scores_zero_and_counts_in_the_mean() -> None:
    result = bleu([[], ["a", "b"]], [["a", "b"]], n=2)
    assert result.sentence_scores.tolist() == [0.0, 1.0]
    assert result.score == 0.5


# nltk's own docstring example (Papineni et al.), method1, weights (1/n,)*n.
_REF1 = "It is a guide to action that ensures that the military will forever heed Party commands"
_REF2 = (
    "It is the guiding principle which guarantees the military forces always being under "
    "the command of the Party"
)
_REF3 = "It is the practical guide for the army always to heed the directions of the party"
_HYP1 = (
    "It is a guide to action which ensures that the military always obeys the commands of the party"
)
_HYP2 = "It is to insure the troops forever hearing the activity guidebook that party direct"
GOLDEN = {
    2: (0.7453559924999299, 0.18174699151949172),
    3: (0.6240726989348756, 0.06202551546012665),
    4: (0.5045666840058485, 0.03703131191121491),
    5: (0.39202634084155785, 0.027697901387334186),
}


@pytest.mark.parametrize("n", sorted(GOLDEN))
def test_golden_values(n: int) -> None:
    stats = ReferenceStats([_REF1, _REF2, _REF3], max_n=5, tokenizer=get_tokenizer("space"))
    scores = stats.sentence_bleu([_HYP1, _HYP2], n)
    np.testing.assert_allclose(scores, GOLDEN[n], rtol=0, atol=1e-15)


def test_golden_one_token_and_empty() -> None:
    stats = ReferenceStats([_REF1, _REF2, _REF3], max_n=4, tokenizer=get_tokenizer("space"))
    scores = stats.sentence_bleu(["party", ""], 4)
    assert scores[0] == pytest.approx(5.439797980315243e-08, rel=1e-12)
    assert scores[1] == 0.0


# --------------------------------------------------------------------------- inputs


def test_token_types_give_the_same_scores() -> None:
    rng = np.random.default_rng(0)
    refs = rng.integers(0, 6, size=(30, 7))
    hyps = rng.integers(0, 6, size=(10, 7))
    as_str = bleu_many([[str(t) for t in h] for h in hyps], [[str(t) for t in r] for r in refs])
    variants = [
        bleu_many(hyps, refs),  # 2-D int arrays
        bleu_many(list(hyps), list(refs)),  # lists of 1-D int arrays
        bleu_many(hyps.tolist(), refs.tolist()),  # Python ints
        bleu_many(hyps.tolist(), refs),  # mixed
        bleu_many(hyps, refs.tolist()),
    ]
    for results in variants:
        for n in as_str:
            assert results[n].score == as_str[n].score
            np.testing.assert_array_equal(results[n].sentence_scores, as_str[n].sentence_scores)


def test_int_stats_then_list_hypotheses_then_arrays_again() -> None:
    refs = np.array([[1, 2, 3, 4], [2, 3, 4, 5]])
    stats = ReferenceStats(refs, max_n=4)
    first = stats.bleu(np.array([[1, 2, 3, 9]]), 3).score
    assert stats.bleu([[1, 2, 3, 9]], 3).score == first
    assert stats.bleu(np.array([[1, 2, 3, 9]]), 3).score == first
    assert first == pytest.approx(nltk_bleu([[1, 2, 3, 9]], refs.tolist(), 3)[0], abs=1e-12)


def test_tokenizers_tokenize_raw_strings() -> None:
    hyps = ["The cat sat.", "a dog"]
    refs = ["the cat sat on the mat.", "A dog barked"]
    result = bleu(hyps, refs, n=2, tokenizer=get_tokenizer("nltk"))
    expected = nltk_bleu(
        [["the", "cat", "sat", "."], ["a", "dog"]],
        [["the", "cat", "sat", "on", "the", "mat", "."], ["a", "dog", "barked"]],
        2,
    )
    assert_matches(result, expected)
    assert result.signature.tokenizer == "nltk"
    assert result.signature.lowercase is True
    space = bleu(hyps, refs, n=2, tokenizer=get_tokenizer("space"))
    assert space.signature.lowercase is False
    assert space.score != result.score  # "The" and "A" keep their case


@pytest.mark.parametrize("name", ["nltk", "space", "char"])
def test_tokenizer_signatures_equal_recording_the_name(name: str) -> None:
    """A tokenizer callable gives the very signature its name gave (and ``with_tokenizer``)."""
    tok = get_tokenizer(name)
    hyps = ["The cat sat.", "a dog", "我爱你"]
    refs = ["the cat sat on the mat.", "A dog barked", "我 爱 你 们"]
    lowercase = name == "nltk"
    pre = bleu_many([tok(h) for h in hyps], [tok(r) for r in refs], ns=(2, 3))
    raw = bleu_many(hyps, refs, ns=(2, 3), tokenizer=tok)
    for n in (2, 3):
        assert raw[n].signature == pre[n].with_tokenizer(name, lowercase).signature
        assert str(raw[n].signature) == str(pre[n].with_tokenizer(name, lowercase).signature)
        assert raw[n].score == pre[n].score
        np.testing.assert_array_equal(raw[n].sentence_scores, pre[n].sentence_scores)
        assert f"tok:{name}|case:{'lc' if lowercase else 'mixed'}|" in str(raw[n].signature)
    selfs = self_bleu_many(hyps, ns=(2,), tokenizer=tok)[2]
    assert (selfs.signature.tokenizer, selfs.signature.lowercase) == (name, lowercase)
    assert selfs.score == self_bleu_many([tok(h) for h in hyps], ns=(2,))[2].score
    stats = ReferenceStats(refs, max_n=3, tokenizer=tok)
    assert (stats.tokenizer_name, stats.lowercase) == (name, lowercase)
    assert repr(stats) == f"ReferenceStats(n_references=3, max_n=3, tok={name})"


def test_custom_tokenizer_recorded_by_name() -> None:
    def upper_words(text: str) -> list[str]:
        return text.upper().split()

    result = bleu(["a b", "c"], ["A B c"], n=2, tokenizer=upper_words)
    assert (result.signature.tokenizer, result.signature.lowercase) == ("upper_words", None)
    assert result.score == bleu([["A", "B"], ["C"]], [["A", "B", "C"]], n=2).score

    upper_words.name = "upper"
    upper_words.lowercase = False
    sig = self_bleu(["a b", "a c"], 2, tokenizer=upper_words).signature
    assert (sig.tokenizer, sig.lowercase) == ("upper", False)
    pre = ReferenceStats([["a"]], max_n=2)
    assert (pre.tokenizer_name, pre.lowercase) == ("pretokenized", None)


def test_a_tokenizer_name_is_refused_with_what_to_pass() -> None:
    with pytest.raises(ConfigError, match=r"get_tokenizer\('nltk'\)"):
        bleu(["a"], ["a"], tokenizer="nltk")
    with pytest.raises(DataError, match=r"pass a tokenizer"):
        bleu(["a b"], [["a"]])


@pytest.mark.parametrize(
    "call",
    [
        lambda: bleu(["a b", "c"], [["a", "b"]]),  # raw hypotheses, no tokenizer
        lambda: bleu([["a"]], ["a b"]),  # raw references
        lambda: bleu("a b", [["a"]]),  # one str instead of a list
        lambda: bleu([], [["a"]]),  # no hypotheses
        lambda: bleu([["a"]], []),  # no references
        lambda: self_bleu([["a"]]),  # Self-BLEU of one sentence
        lambda: self_bleu([]),
        lambda: bleu([["a"]], [["a"]], tokenizer=get_tokenizer("space")),  # tokenizer, token lists
        lambda: bleu(np.zeros((2, 2, 2), dtype=int), [["a"]]),
    ],
)
def test_unusable_input_raises_data_error(call) -> None:
    with pytest.raises(DataError):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: ReferenceStats([["a"]], max_n=3).bleu([["a"]], n=4),
        lambda: bleu([["a"]], [["a"]], n=0),
        lambda: bleu_many([["a"]], [["a"]], ns=()),
        lambda: bleu([["a"]], [["a"]], tokenizer="moses"),  # a name, not a tokenizer
        lambda: bleu(["a"], ["a"], tokenizer="nltk"),
        lambda: self_bleu(["a", "b"], tokenizer="space"),
        lambda: ReferenceStats(["a"], tokenizer="char"),
        lambda: bleu(["a"], ["a"], tokenizer=3),  # not callable
    ],
)
def test_bad_settings_raise_config_error(call) -> None:
    with pytest.raises(ConfigError):
        call()


# --------------------------------------------------------------------------- reuse, no caching


def test_reference_stats_are_reusable() -> None:
    refs = [list("abcab"), list("bcabc"), list("aabbcc")]
    set_a = [list("abc"), list("cab")]
    set_b = [list("ccc"), list("abcabc"), []]
    stats = ReferenceStats(refs, max_n=5)
    a1 = stats.bleu_many(set_a)
    b1 = stats.bleu_many(set_b)
    a2 = stats.bleu_many(set_a)
    for n in (2, 3, 4, 5):
        assert a1[n].score == a2[n].score == bleu(set_a, refs, n).score
        assert b1[n].score == bleu(set_b, refs, n).score
        assert stats.bleu(set_b, n).score == b1[n].score


def test_bleu_many_equals_one_order_at_a_time() -> None:
    hyps, refs = [list("abca"), list("bb")], [list("abcab"), list("b")]
    many = bleu_many(hyps, refs, ns=(5, 2, 3))
    assert list(many) == [2, 3, 5]
    for n, result in many.items():
        assert result.score == bleu(hyps, refs, n).score


def test_self_bleu_caches_nothing_between_sets() -> None:
    set_a = [list("abcd"), list("abce"), list("abdd")]
    set_b = [list("xyz"), list("xya"), list("zzz")]
    a = self_bleu(set_a, 2).score
    b = self_bleu(set_b, 2).score
    assert b != a
    assert b == pytest.approx(np.mean(nltk_self_bleu(set_b, 2)), abs=1e-12)
    assert self_bleu(set_a, 2).score == a


def test_self_bleu_excludes_by_index_not_by_content() -> None:
    result = self_bleu([list("abcd"), list("abcd")], 4)
    assert result.sentence_scores.tolist() == [1.0, 1.0]
    assert self_bleu([list("abcd"), list("abce")], 4).score < 1.0


# --------------------------------------------------------------------------- signatures


def test_signature_states_the_definition() -> None:
    result = bleu([list("abc")] * 3, [list("abd")] * 5, n=3)
    sig = result.signature
    assert isinstance(sig, BleuSignature)
    assert (sig.metric, sig.n, sig.weights) == ("bleu", 3, "uniform")
    assert sig.smoothing == "nltk-method1(epsilon=0.1)"
    assert sig.averaging == "mean over hypotheses of sentence BLEU"
    assert sig.references == "all"
    assert (sig.tokenizer, sig.lowercase) == ("pretokenized", None)
    assert (sig.n_hypotheses, sig.n_references) == (3, 5)
    assert sig.version == seqadv.__version__
    text = str(sig)
    for part in ("bleu3|", "refs:all", "nrefs:5", "nhyps:3", "smooth:nltk-method1", "tok:"):
        assert part in text
    assert text.endswith(f"seqadv:{seqadv.__version__}")
    assert result.name == "bleu3"
    assert result.as_dict()["signature"]["n_references"] == 5
    assert float(result) == result.score
    seeded = result.with_seed(7)
    assert seeded.signature.seed == 7 and "seed:7" in str(seeded.signature)
    named = result.with_tokenizer("nltk", True)
    assert "tok:nltk|case:lc" in str(named.signature) and named.score == result.score


def test_self_bleu_signature() -> None:
    sig = self_bleu([list("ab"), list("abc"), list("b")], 2, tokenizer=None).signature
    assert (sig.metric, sig.references, sig.n_hypotheses, sig.n_references) == (
        "self_bleu",
        "others",
        3,
        2,
    )


def test_results_to_log_keys() -> None:
    logs = results_to_log(bleu_many([list("ab")], [list("ab")], ns=(2, 3)))
    assert logs == {"eval/bleu2": 1.0, "eval/bleu3": pytest.approx(math.exp(math.log(0.1) / 3))}
    selfs = results_to_log(self_bleu_many([list("ab"), list("ab")], ns=(2,)), prefix="")
    assert selfs == {"self_bleu2": 1.0}


# --------------------------------------------------------------------------- corpus BLEU


def test_corpus_bleu_equals_sacrebleu() -> None:
    import sacrebleu

    hyps = ["the cat sat on the mat .", "a dog barked loudly", "hello world"]
    refs = ["the cat is on the mat .", "the dog barked", "hello there world"]
    result = corpus_bleu(hyps, refs)
    metric = sacrebleu.BLEU()
    expected = metric.corpus_score(hyps, [refs])
    assert result.score == expected.score == sacrebleu.corpus_bleu(hyps, [refs]).score
    sig = result.signature
    assert (sig.metric, sig.n, sig.scale, sig.references) == ("corpus_bleu", 4, 100.0, "paired")
    assert (sig.n_hypotheses, sig.n_references, sig.tokenizer) == (3, 1, "13a")
    assert sig.backend == str(metric.get_signature())
    assert "nrefs:1" in sig.backend and sig.version == seqadv.__version__


def test_corpus_bleu_multiple_and_variable_references() -> None:
    import sacrebleu

    hyps = ["the cat sat on the mat", "a dog barked"]
    refs = [["the cat is on the mat", "there is a cat on the mat"], ["the dog barked"]]
    result = corpus_bleu(hyps, refs, lowercase=True)
    streams = [
        ["the cat is on the mat", "the dog barked"],
        ["there is a cat on the mat", None],
    ]
    expected = sacrebleu.corpus_bleu(hyps, streams, lowercase=True)
    assert result.score == expected.score
    assert result.signature.n_references == -1  # variable, as sacrebleu says
    assert result.signature.lowercase is True


@pytest.mark.parametrize(
    "hyps, refs",
    [(["a"], ["a", "b"]), ([], []), ("abc", ["a"]), (["a"], [[]]), ([1], ["a"])],
)
def test_corpus_bleu_bad_input(hyps, refs) -> None:
    with pytest.raises(DataError):
        corpus_bleu(hyps, refs)


def test_import_is_cheap() -> None:
    code = (
        "import sys, seqadv; before = set(sys.modules); import seqadv.metrics.bleu; "
        "heavy = {'sacrebleu', 'torch', 'nltk'} & (set(sys.modules) - before); "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- slow


def _zipf_corpus(rng: np.random.Generator, m: int, vocab: int = 300) -> list[list[str]]:
    p = 1.0 / np.arange(1, vocab + 1)
    p /= p.sum()
    return [[f"w{t}" for t in rng.choice(vocab, rng.integers(0, 25), p=p)] for _ in range(m)]


@pytest.mark.slow
def test_larger_zipfian_corpus_equals_nltk() -> None:
    rng = np.random.default_rng(3)
    refs, hyps = _zipf_corpus(rng, 1000), _zipf_corpus(rng, 40)
    stats = ReferenceStats(refs, max_n=5)
    for n, result in stats.bleu_many(hyps).items():
        assert_matches(result, nltk_bleu(hyps, refs, n))
    sents = _zipf_corpus(rng, 150)
    for n, result in self_bleu_many(sents).items():
        assert_matches(result, nltk_self_bleu(sents, n))


@pytest.mark.slow
def test_coco_sample_equals_nltk(shared_data) -> None:
    from seqadv.data.tokenize import nltk_tokenize

    def read(name: str) -> list[list[str]]:
        lines = (shared_data / "coco" / name).read_text(encoding="utf-8").splitlines()
        return [nltk_tokenize(line) for line in lines]

    train, test = read("train.txt"), read("test.txt")
    hyps = train[:4]
    for n, result in ReferenceStats(test, max_n=5).bleu_many(hyps).items():
        assert_matches(result, nltk_bleu(hyps, test, n))


@pytest.mark.slow
def test_self_bleu_of_ten_thousand_sentences_takes_seconds() -> None:
    import time

    rng = np.random.default_rng(0)
    sents = rng.integers(0, 5000, size=(10_000, 20))
    start = time.perf_counter()
    results = self_bleu_many(sents)
    assert time.perf_counter() - start < 10.0
    assert all(0.0 <= r.score <= 1.0 for r in results.values())
