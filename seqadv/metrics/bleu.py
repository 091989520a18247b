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
equality only. Pass ``tokenizer="nltk" | "space" | "char"`` to give raw strings instead. A raw
``str`` where a token sequence is expected is refused (iterating it would silently score
characters).

Example:
    >>> refs = [["the", "cat", "sat"], ["a", "cat", "sat", "down"]]
    >>> stats = ReferenceStats(refs, max_n=3)
    >>> round(stats.bleu([["the", "cat", "sat", "on"]], n=2).score, 4)  # sqrt(3/4 * 2/3)
    0.7071
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from itertools import chain, repeat
from typing import Any

import numpy as np

from seqadv import __version__
from seqadv.errors import ConfigError, DataError

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

#: nltk ``SmoothingFunction().method1``'s epsilon: a zero match count becomes 0.1.
EPSILON = 0.1

_SMOOTHING = "nltk-method1(epsilon=0.1)"
_AVERAGING = "mean over hypotheses of sentence BLEU"
_PRETOKENIZED = "pretokenized"
_LOWERCASING = {"nltk": True, "space": False, "char": False}


# ----------------------------------------------------------------------------------------------
# Results and signatures
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BleuSignature:
    """Everything needed to reproduce or compare a BLEU figure.

    Attributes:
        metric: ``"bleu"`` (Texygen protocol), ``"self_bleu"`` or ``"corpus_bleu"``.
        n: Largest n-gram order (BLEU-n).
        weights: N-gram weights (``"uniform"``: 1/n each).
        smoothing: Smoothing method (nltk's method1 with epsilon 0.1, or sacrebleu's).
        averaging: How sentence scores become one figure.
        references: Which references each hypothesis is scored against: ``"all"`` (every
            reference), ``"others"`` (Self-BLEU: every other sentence of the set) or
            ``"paired"`` (corpus BLEU: its own references).
        tokenizer: Tokenizer name, or ``"pretokenized"`` when the caller gave tokens.
        lowercase: Whether text was lower-cased; ``None`` when seqadv did not see raw text.
        n_hypotheses: Number of hypotheses scored.
        n_references: Number of references per hypothesis (Self-BLEU: the others, n - 1).
        version: seqadv version.
        seed: Seed of the run that produced the hypotheses, when the caller records one.
        backend: Signature of the external implementation (sacrebleu), if any.
        scale: 1.0 for scores in [0, 1]; 100.0 for sacrebleu's percentages.
    """

    metric: str
    n: int
    weights: str
    smoothing: str
    averaging: str
    references: str
    tokenizer: str
    lowercase: bool | None
    n_hypotheses: int
    n_references: int
    version: str = __version__
    seed: int | None = None
    backend: str | None = None
    scale: float = 1.0

    def as_dict(self) -> dict[str, Any]:
        """The signature as a JSON-ready dict."""
        return asdict(self)

    def __str__(self) -> str:
        case = {True: "lc", False: "mixed", None: "as-given"}[self.lowercase]
        parts = [
            f"{self.metric}{self.n}",
            f"refs:{self.references}",
            f"nrefs:{self.n_references}",
            f"nhyps:{self.n_hypotheses}",
            f"weights:{self.weights}",
            f"smooth:{self.smoothing}",
            f"avg:{self.averaging.replace(' ', '-')}",
            f"tok:{self.tokenizer}",
            f"case:{case}",
        ]
        if self.seed is not None:
            parts.append(f"seed:{self.seed}")
        if self.backend:
            parts.append(f"backend:{self.backend}")
        parts.append(f"seqadv:{self.version}")
        return "|".join(parts)


@dataclass(frozen=True)
class BleuResult:
    """One BLEU figure with its signature (and, for BLEU and Self-BLEU, the sentence scores).

    Attributes:
        score: The figure (in [0, 1]; sacrebleu's corpus BLEU in [0, 100], see ``signature.scale``).
        signature: How it was computed.
        sentence_scores: Float64 array of shape (n_hypotheses,): each sentence's BLEU, in input
            order (``None`` for corpus BLEU).
    """

    score: float
    signature: BleuSignature
    sentence_scores: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        """Log key of the figure: ``bleu4``, ``self_bleu2``, ``corpus_bleu4``."""
        return f"{self.signature.metric}{self.signature.n}"

    def with_seed(self, seed: int | None) -> BleuResult:
        """The same result with ``seed`` recorded in the signature."""
        return replace(self, signature=replace(self.signature, seed=seed))

    def with_tokenizer(self, tokenizer: str, lowercase: bool | None) -> BleuResult:
        """The same result with the tokenizer that made the (pre-tokenized) input recorded.

        For callers that tokenize themselves, e.g. with a ``Vocab`` built by ``nltk`` tokens.
        """
        sig = replace(self.signature, tokenizer=tokenizer, lowercase=lowercase)
        return replace(self, signature=sig)

    def as_dict(self) -> dict[str, Any]:
        """``{"name", "score", "signature"}`` as a JSON-ready dict (no sentence scores)."""
        return {"name": self.name, "score": self.score, "signature": self.signature.as_dict()}

    def __float__(self) -> float:
        return float(self.score)

    def __str__(self) -> str:
        return f"{self.name} = {self.score:.6f} ({self.signature})"


# ----------------------------------------------------------------------------------------------
# Token sequences -> integer ids laid out flat
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


def _tokenize(sentences: Iterable[str], tokenizer: str, what: str) -> list[list[str]]:
    from seqadv.data.tokenize import get_tokenizer

    tok = get_tokenizer(tokenizer)
    out = []
    for i, s in enumerate(sentences):
        if not isinstance(s, str):
            raise DataError(
                f"{what}[{i}] is a {type(s).__name__}, not a str; with tokenizer={tokenizer!r} "
                "give raw sentences (or tokenizer=None for token sequences)"
            )
        out.append(tok(s))
    return out


def _as_token_lists(sentences: Any, tokenizer: str | None, what: str) -> Any:
    """Tokenize raw strings when a tokenizer is named; else check nothing is a bare ``str``."""
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
                f"{what}[{i}] is a raw string; give token sequences, or name a tokenizer "
                "(tokenizer='nltk' | 'space' | 'char')"
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


# ----------------------------------------------------------------------------------------------
# nltk's arithmetic
# ----------------------------------------------------------------------------------------------


def _math_map(values: np.ndarray, fn: Any) -> np.ndarray:
    """``fn`` (a ``math`` function) applied elementwise, once per distinct value."""
    if not values.size:
        return values.astype(np.float64)
    uniq, inv = np.unique(values, return_inverse=True)
    return np.array([fn(x) for x in uniq.tolist()], dtype=np.float64)[inv.reshape(values.shape)]


def _closest_ref_len(sorted_lengths: np.ndarray, hyp_len: np.ndarray) -> np.ndarray:
    """nltk's ``closest_ref_length``: the nearest reference length, the shorter on ties."""
    u = sorted_lengths
    idx = np.searchsorted(u, hyp_len)
    succ = u[np.minimum(idx, len(u) - 1)]
    pred = u[np.maximum(idx - 1, 0)]
    has_succ = idx < len(u)
    has_pred = idx > 0
    use_pred = has_pred & (~has_succ | (hyp_len - pred <= succ - hyp_len))
    return np.where(use_pred, pred, succ)


def _brevity_penalty(closest: np.ndarray, hyp_len: np.ndarray) -> np.ndarray:
    """nltk's ``brevity_penalty``: 1 if L > r, 0 if L == 0, else exp(1 - r / L) (math.exp)."""
    bp = np.ones(len(hyp_len), dtype=np.float64)
    short = (hyp_len <= closest) & (hyp_len > 0)
    bp[hyp_len == 0] = 0.0
    if short.any():
        bp[short] = _math_map(1 - closest[short] / hyp_len[short], math.exp)
    return bp


def _sentence_scores(
    matches: np.ndarray, hyp_len: np.ndarray, closest: np.ndarray, n: int
) -> np.ndarray:
    """nltk's ``sentence_bleu`` with weights (1/n,)*n and method1, from clipped match counts.

    Args:
        matches: Int64 array of shape (>= n, H): clipped matches of k-grams (row k-1).
        hyp_len: Int64 array of shape (H,): hypothesis lengths.
        closest: Int64 array of shape (H,): closest reference lengths.
        n: BLEU order.

    Returns:
        Float64 array of shape (H,).
    """
    h = len(hyp_len)
    scores = np.zeros(h, dtype=np.float64)
    live = np.flatnonzero(matches[0] > 0)  # nltk returns 0 when no unigram matches
    if not len(live):
        return scores
    k = np.arange(1, n + 1, dtype=np.int64)[:, None]
    denominators = np.maximum(1, hyp_len[live][None, :] - k + 1)
    m = matches[:n, live]
    # Fraction(m, d) -> float is m / d correctly rounded; method1: (0 + 0.1) / d.
    p = np.where(m > 0, m / denominators, EPSILON / denominators)
    w = 1 / n
    terms = (w * _math_map(p, math.log)).T.tolist()  # w_i * math.log(p_i), one row per hyp
    bp = _brevity_penalty(closest[live], hyp_len[live]).tolist()
    fsum, exp = math.fsum, math.exp
    scores[live] = [b * exp(fsum(t)) for b, t in zip(bp, terms, strict=True)]
    return scores


def _mean(scores: np.ndarray) -> float:
    return math.fsum(scores.tolist()) / len(scores)


# ----------------------------------------------------------------------------------------------
# Texygen BLEU against reference statistics
# ----------------------------------------------------------------------------------------------


class ReferenceStats:
    """Reference statistics of a test set, built once, for Texygen-protocol BLEU.

    Holds, for every n-gram up to ``max_n``, its largest count in any one reference, and the
    sorted reference lengths: what nltk's ``sentence_bleu`` against *all* references needs.
    Build it once per test set and score any number of hypothesis sets against it.

    Args:
        references: The references: token sequences (or raw strings with ``tokenizer``).
        max_n: Largest n-gram order that can be scored.
        tokenizer: ``None`` for token sequences, or a tokenizer name (``nltk``, ``space``,
            ``char``) applied to raw strings here and to the hypotheses later.

    Raises:
        DataError: No references, or raw strings without a tokenizer.
        ConfigError: Bad ``max_n`` or tokenizer name.

    Example:
        >>> stats = ReferenceStats([["a", "b", "c"], ["a", "b"]], max_n=5)
        >>> results = stats.bleu_many([["a", "b"], ["c"]], ns=(2, 3))
        >>> sorted(results)
        [2, 3]
    """

    def __init__(self, references: Any, max_n: int = 5, *, tokenizer: str | None = None) -> None:
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
    def lowercase(self) -> bool | None:
        """Whether the tokenizer lower-cases (``None`` for pre-tokenized input)."""
        return None if self.tokenizer is None else _LOWERCASING.get(self.tokenizer)

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
            tokenizer=self.tokenizer or _PRETOKENIZED,
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
        tok = self.tokenizer or _PRETOKENIZED
        return f"ReferenceStats(n_references={self.n_references}, max_n={self.max_n}, tok={tok})"


def bleu_many(
    hypotheses: Any,
    references: Any,
    ns: Iterable[int] = (2, 3, 4, 5),
    *,
    tokenizer: str | None = None,
) -> dict[int, BleuResult]:
    """Texygen-protocol BLEU-n for every n in ``ns`` (reference statistics built once).

    Args:
        hypotheses: Token sequences (raw strings with ``tokenizer``).
        references: Token sequences (raw strings with ``tokenizer``); all of them are the
            references of every hypothesis.
        ns: BLEU orders.
        tokenizer: ``None`` for token sequences, else ``nltk``, ``space`` or ``char``.

    Returns:
        ``{n: BleuResult}``.
    """
    orders = _check_ns(ns)
    stats = ReferenceStats(references, max_n=orders[-1], tokenizer=tokenizer)
    return stats.bleu_many(hypotheses, orders)


def bleu(
    hypotheses: Any, references: Any, n: int = 4, *, tokenizer: str | None = None
) -> BleuResult:
    """Texygen-protocol BLEU-n: mean nltk ``sentence_bleu`` against all references.

    Use :class:`ReferenceStats` to score several hypothesis sets against one test set.
    """
    n = _check_n(n)
    return bleu_many(hypotheses, references, (n,), tokenizer=tokenizer)[n]


# ----------------------------------------------------------------------------------------------
# Self-BLEU
# ----------------------------------------------------------------------------------------------


def _closest_other_len(lengths: np.ndarray) -> np.ndarray:
    """For each sentence, the closest length among the *other* sentences (shorter on ties)."""
    u, counts = np.unique(lengths, return_counts=True)
    idx = np.searchsorted(u, lengths)
    alone = counts[idx] == 1
    pred_i, succ_i = idx - 1, idx + 1
    has_pred, has_succ = pred_i >= 0, succ_i < len(u)
    pred = u[np.maximum(pred_i, 0)]
    succ = u[np.minimum(succ_i, len(u) - 1)]
    use_pred = has_pred & (~has_succ | (lengths - pred <= succ - lengths))
    return np.where(alone, np.where(use_pred, pred, succ), lengths)


def self_bleu_many(
    sentences: Any, ns: Iterable[int] = (2, 3, 4, 5), *, tokenizer: str | None = None
) -> dict[int, BleuResult]:
    """Self-BLEU-n for every n in ``ns``: each sentence against all the others.

    Equal to ``mean_j sentence_bleu(sentences[:j] + sentences[j+1:], sentences[j], (1/n,)*n,
    method1)``. Sentence j is excluded by index; an identical sentence elsewhere in the set
    is still one of its references. Nothing is cached between calls.

    Args:
        sentences: At least two token sequences (raw strings with ``tokenizer``).
        ns: BLEU orders.
        tokenizer: ``None`` for token sequences, else ``nltk``, ``space`` or ``char``.

    Returns:
        ``{n: BleuResult}`` with ``metric="self_bleu"``.

    Raises:
        DataError: Fewer than two sentences.
    """
    orders = _check_ns(ns)
    max_n = orders[-1]
    sents = _as_token_lists(sentences, tokenizer, "sentences")
    flat, lengths = _flatten(sents)
    m = len(lengths)
    if m < 2:
        raise DataError(f"Self-BLEU needs at least 2 sentences, got {m}")
    vocab = _Vocab(flat)
    v = max(vocab.size, 1)
    tok, sent = _layout(vocab.ids, lengths)
    matches = np.zeros((max_n, m), dtype=np.int64)
    prev = None
    for n in range(1, max_n + 1):
        runs = _runs(_next_keys(prev, tok, n, v), sent)
        prev = runs.dense
        if not len(runs.count):
            continue
        starts = runs.group_starts
        top1 = np.maximum.reduceat(runs.count, starts)
        top1_run = top1[runs.ngram]
        is_top = runs.count == top1_run
        n_top = np.add.reduceat(is_top.astype(np.int64), starts)
        second = np.maximum.reduceat(np.where(is_top, 0, runs.count), starts)
        top2 = np.where(n_top >= 2, top1, second)
        # max count over the other sentences: top1, unless this sentence holds it alone
        clipped = np.where(runs.count < top1_run, runs.count, top2[runs.ngram])
        matches[n - 1] = np.bincount(runs.sent, weights=clipped, minlength=m).astype(np.int64)
    closest = _closest_other_len(lengths)
    out = {}
    for n in orders:
        scores = _sentence_scores(matches, lengths, closest, n)
        sig = BleuSignature(
            metric="self_bleu",
            n=n,
            weights="uniform",
            smoothing=_SMOOTHING,
            averaging="mean over sentences of sentence BLEU",
            references="others",
            tokenizer=tokenizer or _PRETOKENIZED,
            lowercase=None if tokenizer is None else _LOWERCASING.get(tokenizer),
            n_hypotheses=m,
            n_references=m - 1,
        )
        out[n] = BleuResult(_mean(scores), sig, scores)
    return out


def self_bleu(sentences: Any, n: int = 4, *, tokenizer: str | None = None) -> BleuResult:
    """Self-BLEU-n: mean nltk ``sentence_bleu`` of each sentence against all the others."""
    n = _check_n(n)
    return self_bleu_many(sentences, (n,), tokenizer=tokenizer)[n]


# ----------------------------------------------------------------------------------------------
# Corpus BLEU (sacrebleu)
# ----------------------------------------------------------------------------------------------


def corpus_bleu(
    hypotheses: Sequence[str],
    references: Sequence[str] | Sequence[Sequence[str]],
    *,
    tokenize: str = "13a",
    lowercase: bool = False,
    max_ngram_order: int = 4,
    smooth_method: str = "exp",
) -> BleuResult:
    """sacrebleu's corpus BLEU for paired references (translation, dialogue).

    Args:
        hypotheses: Detokenized hypothesis strings.
        references: Paired with the hypotheses: ``references[i]`` is the reference string of
            hypothesis i, or a sequence of its reference strings (the number may vary).
        tokenize: sacrebleu tokenizer (``13a``, ``intl``, ``zh``, ``char``, ``none``, ...).
        lowercase: Lower-case before scoring.
        max_ngram_order: BLEU-n order.
        smooth_method: sacrebleu smoothing (``exp``, ``floor``, ``add-k``, ``none``).

    Returns:
        A :class:`BleuResult` whose score is sacrebleu's, on its 0-100 scale
        (``signature.scale == 100``), with sacrebleu's signature in ``signature.backend``.

    Raises:
        DataError: Counts differ, no hypotheses, or non-string entries.
    """
    from sacrebleu.metrics import BLEU

    if isinstance(hypotheses, str) or isinstance(references, str):
        raise DataError("corpus_bleu takes sequences of sentences, not a single str")
    hyps = list(hypotheses)
    refs = list(references)
    if not hyps:
        raise DataError("no hypotheses: corpus BLEU of an empty set is undefined")
    if len(refs) != len(hyps):
        raise DataError(
            f"corpus_bleu needs one reference entry per hypothesis: "
            f"{len(hyps)} hypotheses, {len(refs)} references"
        )
    per_hyp = [[r] if isinstance(r, str) else list(r) for r in refs]
    for i, h in enumerate(hyps):
        if not isinstance(h, str):
            raise DataError(f"hypotheses[{i}] is a {type(h).__name__}, not a str")
        if not per_hyp[i] or not all(isinstance(r, str) for r in per_hyp[i]):
            raise DataError(f"references[{i}] must be a str or a non-empty sequence of str")
    width = max(len(r) for r in per_hyp)
    streams = [[r[k] if k < len(r) else None for r in per_hyp] for k in range(width)]
    metric = BLEU(
        tokenize=tokenize,
        lowercase=lowercase,
        max_ngram_order=max_ngram_order,
        smooth_method=smooth_method,
    )
    result = metric.corpus_score(hyps, streams)
    counts = {len(r) for r in per_hyp}
    sig = BleuSignature(
        metric="corpus_bleu",
        n=max_ngram_order,
        weights="uniform",
        smoothing=f"sacrebleu-{smooth_method}",
        averaging="corpus (matches and lengths summed over hypotheses)",
        references="paired",
        tokenizer=tokenize,
        lowercase=lowercase,
        n_hypotheses=len(hyps),
        n_references=counts.pop() if len(counts) == 1 else -1,
        backend=str(metric.get_signature()),
        scale=100.0,
    )
    return BleuResult(float(result.score), sig)


def results_to_log(results: Mapping[Any, BleuResult], prefix: str = "eval/") -> dict[str, float]:
    """``{prefix + result.name: score}``, e.g. ``{"eval/bleu2": 0.73, ...}``."""
    return {f"{prefix}{r.name}": r.score for r in results.values()}
