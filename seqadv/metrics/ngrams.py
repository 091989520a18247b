"""The vectorised n-gram machinery of the BLEU metrics: token sequences -> ids -> n-gram runs.

Inputs are sequences of token sequences (lists of ``str``, lists of ``int`` token ids, 1-D
integer arrays or one 2-D integer array of shape (num_sentences, T)); tokens are compared for
equality only. Raw strings are accepted only together with a tokenizer: a callable
``str -> list[str]`` given by the caller (this package imports no tokenizer of its own; see
``seqadv.data.tokenize.get_tokenizer``). A raw ``str`` where a token sequence is expected is
refused (iterating it would silently score characters).

Tokens become dense integer ids (:class:`_Vocab`); the sentences are laid end to end with a
separator (:func:`_layout`); the key of an n-gram is built exactly from its (n-1)-gram prefix's
id (:func:`_next_keys`), and the occurrences are grouped by (n-gram, sentence) with their counts
(:func:`_runs`), all with numpy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Any

import numpy as np

from seqadv.errors import ConfigError, DataError
from seqadv.metrics.bleu_signature import _PRETOKENIZED

__all__ = ["Tokenizer"]

#: A tokenizer: one raw sentence -> its tokens. Its ``name`` attribute (else its ``__name__``)
#: is the name the signatures record; an optional ``lowercase`` attribute says whether it
#: lower-cases.
Tokenizer = Callable[[str], list[str]]

#: Whether the tokenizers of ``seqadv.data.tokenize`` lower-case, by their ``name``.
_LOWERCASING = {"nltk": True, "space": False, "char": False}


# ----------------------------------------------------------------------------------------------
# Arguments: n-gram orders and tokenizers
# ----------------------------------------------------------------------------------------------


def _check_n(n: int, max_n: int | None = None) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ConfigError(f"n must be a positive integer (BLEU-n), got {n!r}")
    if max_n is not None and n > max_n:
        raise ConfigError(
            f"BLEU-{n} asked of reference statistics built up to max_n={max_n}; "
            f"build ReferenceStats with max_n>={n}"
        )
    return int(n)


def _check_ns(ns: Iterable[int], max_n: int | None = None) -> list[int]:
    out = sorted({_check_n(n, max_n) for n in ns})
    if not out:
        raise ConfigError("ns is empty: ask for at least one BLEU-n")
    return out


def _check_tokenizer(tokenizer: Any) -> Tokenizer:
    """``tokenizer`` if it is a callable; a clear ConfigError for a name or anything else."""
    if isinstance(tokenizer, str):
        raise ConfigError(
            f"tokenizer={tokenizer!r} is a tokenizer name; the BLEU metrics take the tokenizer "
            f"itself, a callable str -> list[str]: pass "
            f"seqadv.data.tokenize.get_tokenizer({tokenizer!r}) (or None for token sequences)"
        )
    if not callable(tokenizer):
        raise ConfigError(
            "tokenizer must be a callable str -> list[str] (or None for token sequences), "
            f"got a {type(tokenizer).__name__}"
        )
    return tokenizer


def _tokenizer_name(tokenizer: Tokenizer | None) -> str:
    """The tokenizer's ``name`` attribute, else its ``__name__`` (``"pretokenized"`` for None)."""
    if tokenizer is None:
        return _PRETOKENIZED
    for attr in ("name", "__name__"):
        name = getattr(tokenizer, attr, None)
        if isinstance(name, str) and name:
            return name
    return type(tokenizer).__name__


def _tokenizer_lowercase(tokenizer: Tokenizer | None) -> bool | None:
    """Whether ``tokenizer`` lower-cases: its ``lowercase`` attribute, else known by its
    ``name`` attribute (``nltk``: yes; ``space``, ``char``: no), else ``None`` (unknown, or
    no tokenizer)."""
    if tokenizer is None:
        return None
    lowercase = getattr(tokenizer, "lowercase", None)
    if isinstance(lowercase, bool):
        return lowercase
    name = getattr(tokenizer, "name", None)
    return _LOWERCASING.get(name) if isinstance(name, str) else None


# ----------------------------------------------------------------------------------------------
# Token sequences -> integer ids laid out flat
# ----------------------------------------------------------------------------------------------


def _tokenize(sentences: Iterable[str], tokenizer: Tokenizer, what: str) -> list[list[str]]:
    tok = _check_tokenizer(tokenizer)
    out = []
    for i, s in enumerate(sentences):
        if not isinstance(s, str):
            name = _tokenizer_name(tok)
            raise DataError(
                f"{what}[{i}] is a {type(s).__name__}, not a str; with tokenizer={name!r} "
                "give raw sentences (or tokenizer=None for token sequences)"
            )
        out.append(tok(s))
    return out


def _as_token_lists(sentences: Any, tokenizer: Tokenizer | None, what: str) -> Any:
    """Tokenize raw strings when a tokenizer is given; else check nothing is a bare ``str``."""
    if isinstance(sentences, str):
        raise DataError(f"{what} is a single str; give a sequence of sentences")
    if tokenizer is not None:
        return _tokenize(sentences, tokenizer, what)
    if isinstance(sentences, np.ndarray):
        if sentences.ndim != 2:
            raise DataError(
                f"{what} as an array must be 2-D (num_sentences, T), got shape {sentences.shape}"
            )
        return sentences
    if not isinstance(sentences, Sequence):
        sentences = list(sentences)
    for i, s in enumerate(sentences):
        if isinstance(s, str | bytes):
            raise DataError(
                f"{what}[{i}] is a raw string; give token sequences, or pass a tokenizer "
                "(a callable str -> list[str], e.g. seqadv.data.tokenize.get_tokenizer('nltk'))"
            )
    return sentences


def _flatten(sentences: Any) -> tuple[Any, np.ndarray]:
    """Concatenated tokens (an int array when the input is integer arrays) and the lengths."""
    if isinstance(sentences, np.ndarray):
        m, t = sentences.shape
        return sentences.reshape(-1), np.full(m, t, dtype=np.int64)
    lengths = np.fromiter((len(s) for s in sentences), dtype=np.int64, count=len(sentences))
    if sentences and all(
        isinstance(s, np.ndarray) and s.ndim == 1 and s.dtype.kind in "iu" for s in sentences
    ):
        return np.concatenate(sentences), lengths
    return list(chain.from_iterable(sentences)), lengths


class _Vocab:
    """Token -> dense id in [0, size); tokens never seen in the references map to -1."""

    def __init__(self, flat: Any) -> None:
        self._index: dict[Any, int] | None = None
        self._sorted: np.ndarray | None = None
        if isinstance(flat, np.ndarray) and flat.dtype.kind in "iu":
            self._sorted, ids = np.unique(flat, return_inverse=True)
            self.ids = ids.reshape(-1).astype(np.int64)
            self.size = len(self._sorted)
        else:
            try:
                index = {t: i for i, t in enumerate(dict.fromkeys(flat))}
            except TypeError as e:
                raise DataError(f"tokens must be hashable: {e}") from None
            self.ids = np.fromiter(map(index.__getitem__, flat), dtype=np.int64, count=len(flat))
            self._index = index
            self.size = len(index)

    def lookup(self, flat: Any) -> np.ndarray:
        if self._sorted is not None:
            if isinstance(flat, np.ndarray) and flat.dtype.kind in "iu":
                if not len(self._sorted):
                    return np.full(len(flat), -1, dtype=np.int64)
                pos = np.searchsorted(self._sorted, flat)
                pos_c = np.minimum(pos, len(self._sorted) - 1)
                return np.where(self._sorted[pos_c] == flat, pos_c, -1).astype(np.int64)
            if self._index is None:
                self._index = {v: i for i, v in enumerate(self._sorted.tolist())}
        assert self._index is not None
        if isinstance(flat, np.ndarray):
            flat = flat.tolist()
        try:
            found = map(self._index.get, flat, repeat(-1, len(flat)))
            return np.fromiter(found, dtype=np.int64, count=len(flat))
        except TypeError as e:
            raise DataError(f"tokens must be hashable: {e}") from None


def _layout(ids: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sentences laid end to end with a -1 separator after each, and each slot's sentence.

    Any n-gram window that crosses a sentence boundary contains a separator, so it is invalid.
    """
    m = len(lengths)
    total = int(lengths.sum()) + m
    tok = np.full(total, -1, dtype=np.int64)
    if len(ids):
        tok[np.arange(len(ids), dtype=np.int64) + np.repeat(np.arange(m), lengths)] = ids
    sent = np.repeat(np.arange(m, dtype=np.int64), lengths + 1)
    return tok, sent


def _next_keys(prev: np.ndarray | None, tok: np.ndarray, n: int, v: int) -> np.ndarray:
    """Keys of the n-grams starting at each slot (-1 where the window is invalid).

    The key of an n-gram is ``id(its (n-1)-gram prefix) * V + id(last token)``: exact, no hashing.
    """
    if n == 1:
        return tok
    last = tok[n - 1 :]
    head = prev[: len(last)]
    return np.where((head >= 0) & (last >= 0), head * v + last, -1)


@dataclass
class _Runs:
    """N-gram occurrences grouped by (n-gram, sentence): one run per pair, with its count."""

    keys: np.ndarray  # (G,) sorted distinct n-gram keys; dense id = position
    dense: np.ndarray  # (slots,) dense id of the n-gram starting at each slot, -1 if none
    ngram: np.ndarray  # (R,) dense id of each run
    sent: np.ndarray  # (R,) sentence of each run
    count: np.ndarray  # (R,) occurrences of that n-gram in that sentence
    group_starts: np.ndarray  # (G,) index of the first run of each n-gram


def _runs(keys: np.ndarray, sent: np.ndarray) -> _Runs:
    pos = np.flatnonzero(keys >= 0)
    dense = np.full(len(keys), -1, dtype=np.int64)
    if not len(pos):
        e = np.zeros(0, dtype=np.int64)
        return _Runs(e, dense, e, e, e, e)
    k = keys[pos]
    order = np.argsort(k, kind="stable")  # stable: within an n-gram, sentences stay in order
    ks = k[order]
    new_group = np.ones(len(ks), dtype=bool)
    new_group[1:] = ks[1:] != ks[:-1]
    dense_sorted = np.cumsum(new_group) - 1
    dense[pos[order]] = dense_sorted
    ss = sent[pos[order]]
    new_run = new_group.copy()
    new_run[1:] |= ss[1:] != ss[:-1]
    run_start = np.flatnonzero(new_run)
    count = np.diff(np.append(run_start, len(ks)))
    return _Runs(
        keys=ks[new_group],
        dense=dense,
        ngram=dense_sorted[run_start],
        sent=ss[run_start],
        count=count,
        group_starts=np.flatnonzero(new_group[run_start]),
    )
