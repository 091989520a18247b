"""nltk's ``sentence_bleu`` arithmetic, vectorised over hypotheses, from clipped match counts.

Precision ``p_k = m_k / max(1, L - k + 1)`` from the clipped matches ``m_k`` of k-grams in a
hypothesis of L tokens; smoothing method1 replaces a zero ``m_k`` by epsilon 0.1; a hypothesis
without a single matching unigram (an empty one included) scores exactly 0; else
``BP * exp(fsum(w * log(p_k)))`` with ``w = 1/n`` and ``BP = 1`` if L exceeds the closest
reference length r and ``exp(1 - r / L)`` otherwise. The logarithms, the exact ``fsum`` and the
exponential are Python's own ``math`` functions, so the sentence scores are the very floats nltk
returns.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["EPSILON"]

#: nltk ``SmoothingFunction().method1``'s epsilon: a zero match count becomes 0.1.
EPSILON = 0.1


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
