"""seqadv.data.tokenize: nltk word tokens (lower-cased, no download), whitespace, characters."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqadv.data.tokenize import (
    TOKENIZER_NAMES,
    char_tokenize,
    get_tokenizer,
    nltk_tokenize,
    space_tokenize,
)
from seqadv.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("A man, riding a Horse.", ["a", "man", ",", "riding", "a", "horse", "."]),
        ("I don't know; it's fine!", ["i", "do", "n't", "know", ";", "it", "'s", "fine", "!"]),
        ('He said "Hi"', ["he", "said", "``", "hi", "''"]),
        ("Two dogs play in the U.S. park", ["two", "dogs", "play", "in", "the", "u.s.", "park"]),
        ("cost: $3.50", ["cost", ":", "$", "3.50"]),
        ("", []),
    ],
)
def test_nltk_splits_punctuation_and_lowercases(text, tokens):
    assert nltk_tokenize(text) == tokens


def test_space_keeps_case_and_splits_any_whitespace():
    assert space_tokenize(" Hello\tWorld,  x\n") == ["Hello", "World,", "x"]
    assert space_tokenize("   ") == []


def test_char_drops_every_kind_of_space():
    assert char_tokenize("我 爱\u3000你\tA b") == ["我", "爱", "你", "A", "b"]
    assert char_tokenize(" \n ") == []


@settings(deadline=None)
@given(st.text(max_size=50))
def test_char_tokens_rebuild_the_text_without_whitespace(text):
    tokens = char_tokenize(text)
    assert all(len(t) == 1 and not t.isspace() for t in tokens)
    assert "".join(tokens) == "".join(ch for ch in text if not ch.isspace())


@settings(deadline=None)
@given(st.text(max_size=50))
def test_space_tokens_have_no_whitespace(text):
    tokens = space_tokenize(text)
    assert all(t and not any(ch.isspace() for ch in t) for t in tokens)
    assert "".join(tokens) == "".join(text.split())


@settings(deadline=None)
@given(st.text(alphabet=st.characters(codec="ascii"), max_size=40))
def test_nltk_tokens_are_lower_case_and_non_empty(text):
    tokens = nltk_tokenize(text)
    assert all(t and t == t.lower() and " " not in t for t in tokens)


def test_get_tokenizer_by_name():
    assert TOKENIZER_NAMES == ("nltk", "space", "char")
    assert get_tokenizer("nltk") is nltk_tokenize
    assert get_tokenizer("space") is space_tokenize
    assert get_tokenizer("char") is char_tokenize


@pytest.mark.parametrize("name", TOKENIZER_NAMES)
def test_every_tokenizer_carries_its_name(name):
    assert get_tokenizer(name).name == name  # what the BLEU signatures record


def test_unknown_tokenizer_lists_the_names():
    with pytest.raises(
        ConfigError, match="unknown tokenizer 'bpe'; choose one of nltk, space, char"
    ):
        get_tokenizer("bpe")
