"""BLEU as text-GAN papers report it (Texygen protocol), exact and fast; Self-BLEU; corpus BLEU.

**BLEU-n (Texygen protocol).** The mean, over the hypotheses, of nltk's
``sentence_bleu(references, hypothesis, weights=(1/n,) * n,
smoothing_function=SmoothingFunction().method1)`` where ``references`` is the *whole*
reference set for every hypothesis. nltk does this in O(hypotheses x references) (about half a
second per hypothesis against 10,000 references); here the reference statistics are computed
once, with numpy:

- for every n-gram (n = 1..max_n), its largest count in any one reference, which is all that
  modified precision needs ("clipped" counts);
- the sorted reference lengths, for the brevity penalty (nltk takes the reference length
  closest to the hypothesis length, the shorter one on ties).

Every hypothesis is then scored against those statistics, with nltk's arithmetic reproduced
step by step: precision ``p_k = m_k / max(1, L - k + 1)`` from the clipped matches ``m_k`` of
k-grams in a hypothesis of L tokens; method1 replaces a zero ``m_k`` by epsilon 0.1; a
hypothesis without a single matching unigram (an empty one included) scores exactly 0; else
``BP * exp(fsum(w * log(p_k)))`` with ``w = 1/n`` and ``BP = 1`` if L exceeds the closest
reference length r and ``exp(1 - r / L)`` otherwise. The logarithms, the exact ``fsum`` and the
exponential are Python's own ``math`` functions, so the sentence scores are the very floats nltk
returns (the tests check agreement to 1e-12; the averages to 1e-9).

**Self-BLEU-n.** The same with each sentence of a set scored against all the *other* sentences
of the set (its own index excluded; a duplicate elsewhere in the set still counts). The maximum
count of an n-gram over "all sentences but j" is the largest count over all sentences unless j
holds it alone, in which case it is the second largest, so keeping the top two counts per
n-gram and the multiset of lengths is enough: 10,000 sentences take well under a second and
nothing is cached between calls.

**Corpus BLEU.** sacrebleu's, for paired references (translation, dialogue), with sacrebleu's
own signature; imported only when called.

Every result is a :class:`BleuResult` whose :class:`BleuSignature` states the metric, n, the
weights, the smoothing, the averaging, the tokenizer, lower-casing, the numbers of hypotheses and
references and the seqadv version.

Inputs are sequences of token sequences (lists of ``str``, lists of ``int`` token ids, 1-D
integer arrays or one 2-D integer array of shape (num_sentences, T)); tokens are compared for
equality only. Pass a tokenizer, a callable ``str -> list[str]`` such as
``seqadv.data.tokenize.get_tokenizer("nltk")``, to give raw strings instead (the signature
records its ``name`` attribute, else its ``__name__``; the metrics import no tokenizer of their
own). A raw ``str`` where a token sequence is expected is refused (iterating it would silently
score characters).

**Layout.** This module holds :class:`ReferenceStats`, :func:`bleu` and :func:`bleu_many`, and
re-exports the rest: :mod:`seqadv.metrics.bleu_signature` (:class:`BleuSignature`,
:class:`BleuResult`, :func:`results_to_log`), :mod:`seqadv.metrics.self_bleu`,
:mod:`seqadv.metrics.corpus_bleu`, and the machinery underneath, :mod:`seqadv.metrics.ngrams`
(token sequences to n-gram counts) and :mod:`seqadv.metrics.nltk_arithmetic` (nltk's sentence
scores from those counts).

Example:
    >>> refs = [["the", "cat", "sat"], ["a", "cat", "sat", "down"]]
    >>> stats = ReferenceStats(refs, max_n=3)
    >>> round(stats.bleu([["the", "cat", "sat", "on"]], n=2).score, 4)  # sqrt(3/4 * 2/3)
    0.7071
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import numpy as np

from seqadv.errors import DataError
from seqadv.metrics.bleu_signature import (
    _AVERAGING,
    _SMOOTHING,
    BleuResult,
    BleuSignature,
    results_to_log,
)
from seqadv.metrics.corpus_bleu import corpus_bleu
from seqadv.metrics.ngrams import (
    Tokenizer,
    _as_token_lists,
    _check_n,
    _check_ns,
    _flatten,
    _layout,
    _next_keys,
    _runs,
    _tokenizer_lowercase,
    _tokenizer_name,
    _Vocab,
)
from seqadv.metrics.nltk_arithmetic import EPSILON, _closest_ref_len, _mean, _sentence_scores
from seqadv.metrics.self_bleu import self_bleu, self_bleu_many

__all__ = [
    "EPSILON",
    "BleuResult",
    "BleuSignature",
    "ReferenceStats",
    "bleu",
    "bleu_many",
    "corpus_bleu",
    "results_to_log",
    "self_bleu",
    "self_bleu_many",
]

logger = logging.getLogger("seqadv")


class ReferenceStats:
    """Reference statistics of a test set, built once, for Texygen-protocol BLEU.

    Holds, for every n-gram up to ``max_n``, its largest count in any one reference, and the
    sorted reference lengths: what nltk's ``sentence_bleu`` against *all* references needs.
    Build it once per test set and score any number of hypothesis sets against it.

    Args:
        references: The references: token sequences (or raw strings with ``tokenizer``).
        max_n: Largest n-gram order that can be scored.
        tokenizer: ``None`` for token sequences, or a tokenizer, a callable ``str -> list[str]``
            (e.g. ``seqadv.data.tokenize.get_tokenizer("nltk")``), applied to raw strings here
            and to the hypotheses later.

    Raises:
        DataError: No references, or raw strings without a tokenizer.
        ConfigError: Bad ``max_n``, or a tokenizer that is not a callable (e.g. a name).

    Example:
        >>> stats = ReferenceStats([["a", "b", "c"], ["a", "b"]], max_n=5)
        >>> results = stats.bleu_many([["a", "b"], ["c"]], ns=(2, 3))
        >>> sorted(results)
        [2, 3]
    """

    def __init__(
        self, references: Any, max_n: int = 5, *, tokenizer: Tokenizer | None = None
    ) -> None:
        self.max_n = _check_n(max_n)
        self.tokenizer = tokenizer
        refs = _as_token_lists(references, tokenizer, "references")
        flat, lengths = _flatten(refs)
        if not len(lengths):
            raise DataError("no references: BLEU needs at least one reference sentence")
        self._vocab = _Vocab(flat)
        self._v = max(self._vocab.size, 1)
        self.n_references = len(lengths)
        self._sorted_lengths = np.unique(lengths)
        tok, sent = _layout(self._vocab.ids, lengths)
        self._keys: list[np.ndarray] = []
        self._max_count: list[np.ndarray] = []
        prev = None
        for n in range(1, self.max_n + 1):
            runs = _runs(_next_keys(prev, tok, n, self._v), sent)
            self._keys.append(runs.keys)
            if len(runs.count):
                self._max_count.append(np.maximum.reduceat(runs.count, runs.group_starts))
            else:
                self._max_count.append(np.zeros(0, dtype=np.int64))
            prev = runs.dense
        logger.debug(
            "ReferenceStats: %d references, %d distinct %d-grams",
            self.n_references,
            len(self._keys[-1]),
            self.max_n,
        )

    @property
    def tokenizer_name(self) -> str:
        """The tokenizer's name as signatures record it (``"pretokenized"`` without one)."""
        return _tokenizer_name(self.tokenizer)

    @property
    def lowercase(self) -> bool | None:
        """Whether the tokenizer lower-cases (``None`` for pre-tokenized input, or unknown)."""
        return _tokenizer_lowercase(self.tokenizer)

    def _matches(self, hypotheses: Any, max_n: int) -> tuple[np.ndarray, np.ndarray]:
        """Clipped match counts, shape (max_n, H), and hypothesis lengths, shape (H,)."""
        hyps = _as_token_lists(hypotheses, self.tokenizer, "hypotheses")
        flat, lengths = _flatten(hyps)
        h = len(lengths)
        if not h:
            raise DataError("no hypotheses: BLEU of an empty set is undefined")
        tok, sent = _layout(self._vocab.lookup(flat), lengths)
        matches = np.zeros((max_n, h), dtype=np.int64)
        prev = None
        for n in range(1, max_n + 1):
            keys = _next_keys(prev, tok, n, self._v)
            ref_keys = self._keys[n - 1]
            dense = np.full(len(keys), -1, dtype=np.int64)
            pos = np.flatnonzero(keys >= 0)
            if len(pos) and len(ref_keys):
                k = keys[pos]
                idx = np.minimum(np.searchsorted(ref_keys, k), len(ref_keys) - 1)
                found = ref_keys[idx] == k
                pos, idx = pos[found], idx[found]
                dense[pos] = idx
                pair, count = np.unique(idx * h + sent[pos], return_counts=True)
                clipped = np.minimum(count, self._max_count[n - 1][pair // h])
                matches[n - 1] = np.bincount(pair % h, weights=clipped, minlength=h).astype(
                    np.int64
                )
            prev = dense
        return matches, lengths

    def _signature(self, n: int, n_hyps: int) -> BleuSignature:
        return BleuSignature(
            metric="bleu",
            n=n,
            weights="uniform",
            smoothing=_SMOOTHING,
            averaging=_AVERAGING,
            references="all",
            tokenizer=self.tokenizer_name,
            lowercase=self.lowercase,
            n_hypotheses=n_hyps,
            n_references=self.n_references,
        )

    def bleu_many(self, hypotheses: Any, ns: Iterable[int] = (2, 3, 4, 5)) -> dict[int, BleuResult]:
        """BLEU-n for every n in ``ns`` in one pass over the hypotheses.

        Args:
            hypotheses: Token sequences (raw strings if the stats were built with a tokenizer).
            ns: BLEU orders, each in 1..max_n.

        Returns:
            ``{n: BleuResult}``, in increasing n.
        """
        orders = _check_ns(ns, self.max_n)
        matches, lengths = self._matches(hypotheses, orders[-1])
        closest = _closest_ref_len(self._sorted_lengths, lengths)
        out = {}
        for n in orders:
            scores = _sentence_scores(matches, lengths, closest, n)
            out[n] = BleuResult(_mean(scores), self._signature(n, len(lengths)), scores)
        return out

    def bleu(self, hypotheses: Any, n: int = 4) -> BleuResult:
        """Texygen-protocol BLEU-n of ``hypotheses`` against these references."""
        return self.bleu_many(hypotheses, (n,))[_check_n(n)]

    def sentence_bleu(self, hypotheses: Any, n: int = 4) -> np.ndarray:
        """Each hypothesis' BLEU-n (nltk ``sentence_bleu``), float64 of shape (H,)."""
        scores = self.bleu(hypotheses, n).sentence_scores
        assert scores is not None
        return scores

    def __repr__(self) -> str:
        tok = self.tokenizer_name
        return f"ReferenceStats(n_references={self.n_references}, max_n={self.max_n}, tok={tok})"


def bleu_many(
    hypotheses: Any,
    references: Any,
    ns: Iterable[int] = (2, 3, 4, 5),
    *,
    tokenizer: Tokenizer | None = None,
) -> dict[int, BleuResult]:
    """Texygen-protocol BLEU-n for every n in ``ns`` (reference statistics built once).

    Args:
        hypotheses: Token sequences (raw strings with ``tokenizer``).
        references: Token sequences (raw strings with ``tokenizer``); all of them are the
            references of every hypothesis.
        ns: BLEU orders.
        tokenizer: ``None`` for token sequences, else a callable ``str -> list[str]`` (e.g.
            ``seqadv.data.tokenize.get_tokenizer("nltk")``) applied to raw strings.

    Returns:
        ``{n: BleuResult}``.
    """
    orders = _check_ns(ns)
    stats = ReferenceStats(references, max_n=orders[-1], tokenizer=tokenizer)
    return stats.bleu_many(hypotheses, orders)


def bleu(
    hypotheses: Any, references: Any, n: int = 4, *, tokenizer: Tokenizer | None = None
) -> BleuResult:
    """Texygen-protocol BLEU-n: mean nltk ``sentence_bleu`` against all references.

    Use :class:`ReferenceStats` to score several hypothesis sets against one test set.
    """
    n = _check_n(n)
    return bleu_many(hypotheses, references, (n,), tokenizer=tokenizer)[n]
