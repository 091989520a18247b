"""MaskGAN's n-gram statistics: % unique n-grams (mode collapse) and % of n-grams seen in training.

Two different quantities, kept apart:

* :func:`unique_ngram_percent` -- the MaskGAN paper's "% unique n-grams" of a set of generated
  samples, its mode-collapse measure: ``100 * #distinct n-grams / #n-gram occurrences`` over
  the whole set. The official code has no function for it.
* :func:`ngram_in_train_percent` -- what the official code (``research/maskgan``:
  ``model_utils/n_gram.py``, ``percent_unique_ngrams_in_train``, called by
  ``models/evaluation_utils.py``, ``sequence_ngram_evaluation``) logs as "percent of n-grams
  captured": by default ``100 * #distinct generated n-grams found in the training data /
  #generated n-gram occurrences`` -- a distinct count over an occurrence count, exactly as
  the code computes it (it returns the fraction; here it is a percentage).

Both count the n-grams inside each sentence (as the official code does for the generated
rows; none crosses from one sentence to the next) and pool them over the whole set. Tokens are
compared for equality only, exactly: each distinct token gets a dense id and the key of an
n-gram is ``id(its (n-1)-gram prefix) * V + id(last token)``, so no two n-grams share a key
(the official code keys its dicts by Python's 64-bit ``hash`` of the tuple). For 10,000
sentences of 20 tokens each measure takes about 0.1 s per order; build the training
:class:`NgramIndex` once, and ask for n = 2, 3, 4 together with
:meth:`NgramIndex.in_train_percents` and ``NgramIndex(samples, 4).unique_percent(n)``.
Inputs are token lists (``list[list[str]]``, any hashable tokens); the caller tokenizes.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Sequence
from itertools import chain, repeat

import numpy as np

__all__ = ["NgramIndex", "unique_ngram_percent", "ngram_in_train_percent", "COUNTINGS"]

#: How :meth:`NgramIndex.in_train_percent` counts (numerator / denominator, both x 100):
#: ``"maskgan"``: distinct generated n-grams found in training / generated occurrences (the
#: official code); ``"occurrences"``: generated occurrences found / generated occurrences;
#: ``"distinct"``: distinct generated n-grams found / distinct generated n-grams.
COUNTINGS = ("maskgan", "occurrences", "distinct")

_KEY_LIMIT = 2**63 - 1


def _check_n(n: object, what: str = "n") -> int:
    """``n`` as an int; ValueError unless it is an integer >= 1."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"{what} must be an integer >= 1, got {n!r}")
    return int(n)


def _check_sentences(sentences: object, what: str) -> Sequence[Sequence[Hashable]]:
    """``sentences`` as a sequence of token sequences; a bare ``str`` anywhere is refused."""
    if isinstance(sentences, str | bytes):
        raise TypeError(f"{what} is a single string; give a list of token lists")
    if not isinstance(sentences, Sequence):
        sentences = list(sentences)  # type: ignore[call-overload]
    for i, s in enumerate(sentences):
        if isinstance(s, str | bytes):
            raise TypeError(
                f"{what}[{i}] is a raw string; give token lists (tokenize first, e.g. "
                "sentence.split())"
            )
    return sentences


def _lengths(sentences: Sequence[Sequence[Hashable]]) -> np.ndarray:
    return np.fromiter((len(s) for s in sentences), dtype=np.int64, count=len(sentences))


def _occurrences(lengths: np.ndarray, n: int) -> int:
    """How many n-grams sentences of these lengths hold: sum of max(len - n + 1, 0)."""
    return int(np.maximum(lengths - (n - 1), 0).sum())


def _layout(ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Token ids laid end to end with a -1 after each sentence (so no n-gram crosses one)."""
    m = len(lengths)
    tok = np.full(int(lengths.sum()) + m, -1, dtype=np.int64)
    if len(ids):
        tok[np.arange(len(ids), dtype=np.int64) + np.repeat(np.arange(m), lengths)] = ids
    return tok


def _step_keys(prev: np.ndarray | None, tok: np.ndarray, n: int, v: int) -> np.ndarray:
    """Keys of the n-grams starting at each slot, -1 where the window holds a -1.

    ``prev`` is the dense id of the (n-1)-gram starting at each slot (-1: none); the key is
    ``prev * v + last token``, exact since dense ids and tokens are below their counts.
    """
    if n == 1:
        return tok
    assert prev is not None
    last = tok[n - 1 :]
    head = prev[: len(last)]
    return np.where((head >= 0) & (last >= 0), head * v + last, -1)


def _find(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Position of each key in ``sorted_keys``; -1 where it is absent (or the key is -1)."""
    out = np.full(len(keys), -1, dtype=np.int64)
    where = np.flatnonzero(keys >= 0)
    if not len(sorted_keys) or not len(where):
        return out
    wanted = keys[where]
    order = np.argsort(wanted)  # sorted needles: searchsorted walks the keys in order (~4x)
    pos = np.empty(len(wanted), dtype=np.int64)
    pos[order] = np.searchsorted(sorted_keys, wanted[order])
    np.minimum(pos, len(sorted_keys) - 1, out=pos)
    hit = sorted_keys[pos] == wanted
    out[where[hit]] = pos[hit]
    return out


class NgramIndex:
    """The distinct n-grams (n = 1..max_n) of a set of sentences, with their counts.

    Build it once from the training sentences and query it with as many generated sets as
    needed (:meth:`in_train_percent`); :meth:`unique_percent` is the "% unique n-grams" of the
    indexed sentences themselves. N-grams never cross from one sentence to the next: to count
    the n-grams of a continuous stream, as the official MaskGAN code does for PTB (where
    ``train_mask_gan.py`` builds its "training set" n-gram dicts from the flat *validation*
    stream, ``<eos>`` tokens included), pass the stream as one sentence: ``NgramIndex([words])``.

    Args:
        sentences: token lists (any hashable tokens).
        max_n: the largest order kept (>= 1).

    Example:
        >>> idx = NgramIndex([["a", "b", "a", "b"], ["b", "a"]], max_n=2)
        >>> idx.total(2), idx.distinct(2), idx.count(("b", "a"))
        (4, 2, 2)
    """

    def __init__(self, sentences: Sequence[Sequence[Hashable]], max_n: int = 4) -> None:
        self.max_n = _check_n(max_n, "max_n")
        sentences = _check_sentences(sentences, "sentences")
        self.num_sentences = len(sentences)
        lengths = _lengths(sentences)
        flat = list(chain.from_iterable(sentences))
        try:
            self._token_ids: dict[Hashable, int] = {
                t: i for i, t in enumerate(dict.fromkeys(flat))
            }
        except TypeError as exc:
            raise TypeError(f"tokens must be hashable: {exc}") from None
        ids = np.fromiter(map(self._token_ids.__getitem__, flat), dtype=np.int64, count=len(flat))
        tok = _layout(ids, lengths)
        v = max(len(self._token_ids), 1)
        self._keys: list[np.ndarray] = []  # per order: sorted distinct keys (dense id = index)
        self._counts: list[np.ndarray] = []  # per order: occurrences of each distinct n-gram
        dense: np.ndarray | None = None
        for n in range(1, self.max_n + 1):
            if dense is not None and (int(dense.max(initial=-1)) + 1) * v > _KEY_LIMIT:
                raise OverflowError(f"{n}-gram keys would not fit in int64 (vocabulary {v})")
            keys = _step_keys(dense, tok, n, v)
            valid = keys >= 0
            uniq, inverse, counts = np.unique(keys[valid], return_inverse=True, return_counts=True)
            dense = np.full(len(keys), -1, dtype=np.int64)
            dense[valid] = inverse.reshape(-1)
            self._keys.append(uniq)
            self._counts.append(counts.astype(np.int64))

    def __repr__(self) -> str:
        return (
            f"NgramIndex({self.num_sentences} sentences, {len(self._token_ids)} token types, "
            f"max_n={self.max_n})"
        )

    def _order(self, n: object) -> int:
        n = _check_n(n)
        if n > self.max_n:
            raise ValueError(f"{n}-grams asked of an NgramIndex built with max_n={self.max_n}")
        return n

    def distinct(self, n: int) -> int:
        """How many different n-grams the indexed sentences hold."""
        return len(self._keys[self._order(n) - 1])

    def total(self, n: int) -> int:
        """How many n-gram occurrences the indexed sentences hold."""
        return int(self._counts[self._order(n) - 1].sum())

    def unique_percent(self, n: int) -> float:
        """``100 * distinct(n) / total(n)`` of the indexed sentences; NaN without n-grams."""
        total = self.total(n)
        return 100.0 * self.distinct(n) / total if total else math.nan

    def count(self, ngram: Sequence[Hashable]) -> int:
        """How many times ``ngram`` (a tuple of tokens) occurs in the indexed sentences."""
        if isinstance(ngram, str | bytes):
            raise TypeError("give the n-gram as a sequence of tokens, not a string")
        n = self._order(len(ngram))
        dense = self._dense_in_index([list(ngram)], n)[-1]
        return int(self._counts[n - 1][dense[0]]) if dense[0] >= 0 else 0

    def __contains__(self, ngram: object) -> bool:
        if not isinstance(ngram, Sequence) or isinstance(ngram, str | bytes) or not ngram:
            return False
        if len(ngram) > self.max_n:
            return False
        return self.count(ngram) > 0

    def _dense_in_index(
        self, sentences: Sequence[Sequence[Hashable]], n: int
    ) -> list[np.ndarray]:
        """For orders 1..n, each slot's n-gram's dense id here (-1: absent or no n-gram)."""
        flat = list(chain.from_iterable(sentences))
        get = self._token_ids.get
        try:
            ids = np.fromiter(map(get, flat, repeat(-1)), dtype=np.int64, count=len(flat))
        except TypeError as exc:
            raise TypeError(f"tokens must be hashable: {exc}") from None
        # every indexed token is a unigram, and token ids are 0..V-1: unigram dense id = token id
        dense = _layout(ids, _lengths(sentences))
        tok, out = dense, [dense]
        v = max(len(self._token_ids), 1)
        for k in range(2, n + 1):
            dense = _find(self._keys[k - 1], _step_keys(dense, tok, k, v))
            out.append(dense)
        return out

    def in_train_percent(
        self, sentences: Sequence[Sequence[Hashable]], n: int, counting: str = "maskgan"
    ) -> float:
        """The percentage of the n-grams of ``sentences`` found in the indexed sentences.

        Args:
            sentences: generated token lists; sentences shorter than ``n`` add nothing.
            n: the n-gram order (1 <= n <= max_n).
            counting: ``"maskgan"`` (default, the official ``percent_unique_ngrams_in_train``):
                ``100 * #distinct generated n-grams that occur in the index / #generated
                n-gram occurrences``; ``"occurrences"``: ``100 * #generated occurrences whose
                n-gram occurs in the index / #generated occurrences``; ``"distinct"``:
                ``100 * #distinct generated n-grams in the index / #distinct generated
                n-grams``. ``"maskgan"`` equals ``unique_ngram_percent * distinct / 100``.

        Returns:
            A percentage in [0, 100]; NaN when ``sentences`` hold no n-gram at all.

        Raises:
            ValueError: ``n`` < 1 or > max_n, or an unknown ``counting``.
            TypeError: a sentence is a raw string, or a token is not hashable.
        """
        return self.in_train_percents(sentences, (n,), counting)[self._order(n)]

    def in_train_percents(
        self,
        sentences: Sequence[Sequence[Hashable]],
        ns: Iterable[int] = (2, 3, 4),
        counting: str = "maskgan",
    ) -> dict[int, float]:
        """:meth:`in_train_percent` for several orders at once (MaskGAN logs n = 2, 3, 4).

        Args:
            sentences: generated token lists.
            ns: the orders (each 1 <= n <= max_n).
            counting: as in :meth:`in_train_percent`.

        Returns:
            ``{n: percentage}`` (NaN for an order without n-grams), orders ascending.
        """
        orders = sorted({self._order(n) for n in ns})
        if not orders:
            raise ValueError("ns is empty: ask for at least one order")
        if counting not in COUNTINGS:
            raise ValueError(f"counting must be one of {COUNTINGS}, got {counting!r}")
        sentences = _check_sentences(sentences, "sentences")
        lengths = _lengths(sentences)
        dense = self._dense_in_index(sentences, orders[-1])
        own = NgramIndex(sentences, max_n=orders[-1]) if counting == "distinct" else None
        out: dict[int, float] = {}
        for n in orders:
            occurrences = _occurrences(lengths, n)
            if not occurrences:
                out[n] = math.nan
                continue
            found = dense[n - 1][dense[n - 1] >= 0]
            if counting == "occurrences":
                out[n] = 100.0 * len(found) / occurrences
                continue
            seen = np.zeros(len(self._keys[n - 1]), dtype=bool)
            seen[found] = True
            distinct_found = int(np.count_nonzero(seen))
            if own is None:  # "maskgan"
                out[n] = 100.0 * distinct_found / occurrences
            else:
                out[n] = 100.0 * distinct_found / own.distinct(n)
        return out


def unique_ngram_percent(sentences: Sequence[Sequence[Hashable]], n: int) -> float:
    """The "% unique n-grams" of a set of samples (MaskGAN's mode-collapse measure).

    ``100 * D / T``: ``T`` counts every n-gram occurrence inside every sentence (a sentence of
    ``L >= n`` tokens holds ``L - n + 1``; shorter sentences hold none; no n-gram crosses from
    one sentence to the next) and ``D`` the different n-grams among them, over the whole set
    (an n-gram repeated within one sentence or across sentences counts once in ``D``). 100
    means no n-gram repeats; a collapsed generator scores low. Exact (no hashing).

    Args:
        sentences: token lists (any hashable tokens).
        n: the n-gram order (>= 1).

    Returns:
        A percentage in (0, 100]; NaN when no sentence holds an n-gram. For several orders,
        ``NgramIndex(sentences, max_n=4).unique_percent(n)`` counts the sentences once.

    Raises:
        ValueError: ``n`` < 1.
        TypeError: a sentence is a raw string, or a token is not hashable.

    Example:
        >>> unique_ngram_percent([["a", "b", "a", "b"]], 2)  # ab, ba, ab: 2 of 3
        66.66666666666667
    """
    n = _check_n(n)
    return NgramIndex(_check_sentences(sentences, "sentences"), max_n=n).unique_percent(n)


def ngram_in_train_percent(
    sentences: Sequence[Sequence[Hashable]],
    train_sentences: Sequence[Sequence[Hashable]] | NgramIndex,
    n: int,
    counting: str = "maskgan",
) -> float:
    """The percentage of generated n-grams that occur in the training data.

    By default as the official MaskGAN code counts it (``percent_unique_ngrams_in_train``):
    ``100 * #distinct generated n-grams that occur in the training data / #generated n-gram
    occurrences`` -- each *distinct* generated n-gram found counts once in the numerator,
    while the denominator counts every occurrence, so repeated n-grams lower the value even
    when they are all in the training data. See :meth:`NgramIndex.in_train_percent` for the
    other ``counting`` choices.

    Args:
        sentences: generated token lists; sentences shorter than ``n`` add nothing.
        train_sentences: training token lists, or an :class:`NgramIndex` built from them with
            ``max_n >= n`` (build it once to evaluate several sample sets).
        n: the n-gram order (>= 1).
        counting: ``"maskgan"`` (default), ``"occurrences"`` or ``"distinct"``.

    Returns:
        A percentage in [0, 100]; NaN when ``sentences`` hold no n-gram at all.

    Raises:
        ValueError: ``n`` < 1 (or > the index's max_n), or an unknown ``counting``.
        TypeError: a sentence is a raw string, or a token is not hashable.
    """
    n = _check_n(n)
    index = (
        train_sentences
        if isinstance(train_sentences, NgramIndex)
        else NgramIndex(_check_sentences(train_sentences, "train_sentences"), max_n=n)
    )
    return index.in_train_percent(sentences, n, counting=counting)
