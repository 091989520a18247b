"""Tokenizers: lower-cased nltk word tokens (no data download), whitespace, characters.

``get_tokenizer(name)`` returns a callable ``str -> list[str]``. The names are the ones
every signature records: ``nltk`` (nltk's ``NLTKWordTokenizer``, the tokenizer inside
``word_tokenize`` but without the punkt sentence splitter, so one line is one sentence,
lower-cased), ``space`` (``str.split``; case kept) and ``char`` (every non-space character
is a token, for Chinese). Each tokenizer carries its name in a ``name`` attribute
(``get_tokenizer("nltk").name == "nltk"``), which is what the BLEU metrics of
:mod:`seqadv.metrics` record in their signatures when given the callable.
"""

from __future__ import annotations

from collections.abc import Callable

from seqadv.errors import ConfigError

__all__ = ["TOKENIZER_NAMES", "get_tokenizer", "nltk_tokenize", "space_tokenize", "char_tokenize"]

_NLTK = None


def nltk_tokenize(text: str) -> list[str]:
    """Lower-cased nltk word tokens of one line (punctuation split off; no download)."""
    global _NLTK
    if _NLTK is None:
        from nltk.tokenize import NLTKWordTokenizer

        _NLTK = NLTKWordTokenizer()
    return _NLTK.tokenize(text.lower())


def space_tokenize(text: str) -> list[str]:
    """Whitespace-separated tokens, case kept."""
    return text.split()


def char_tokenize(text: str) -> list[str]:
    """Every non-whitespace character is a token (for Chinese)."""
    return [ch for ch in text if not ch.isspace()]


_TOKENIZERS: dict[str, Callable[[str], list[str]]] = {
    "nltk": nltk_tokenize,
    "space": space_tokenize,
    "char": char_tokenize,
}
TOKENIZER_NAMES = tuple(_TOKENIZERS)
# The name each tokenizer is registered under, which the BLEU metrics' signatures record.
nltk_tokenize.name = "nltk"  # type: ignore[attr-defined]
space_tokenize.name = "space"  # type: ignore[attr-defined]
char_tokenize.name = "char"  # type: ignore[attr-defined]


def get_tokenizer(name: str) -> Callable[[str], list[str]]:
    """The tokenizer called ``name`` (one of ``nltk``, ``space``, ``char``); its ``name``
    attribute is ``name``."""
    try:
        return _TOKENIZERS[name]
    except KeyError:
        raise ConfigError(
            f"unknown tokenizer {name!r}; choose one of {', '.join(TOKENIZER_NAMES)}"
        ) from None
