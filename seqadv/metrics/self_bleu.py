"""Self-BLEU-n (Texygen protocol): each sentence of a set scored against all the others.

The same as nltk's ``sentence_bleu`` (uniform weights, method1) with sentence j's references
being all the *other* sentences of the set (its own index excluded; a duplicate elsewhere in the
set still counts). The maximum count of an n-gram over "all sentences but j" is the largest
count over all sentences unless j holds it alone, in which case it is the second largest, so
keeping the top two counts per n-gram and the multiset of lengths is enough: 10,000 sentences
take well under a second and nothing is cached between calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from seqadv.errors import DataError
from seqadv.metrics import ngrams
from seqadv.metrics.bleu_signature import _SMOOTHING, BleuResult, BleuSignature
from seqadv.metrics.nltk_arithmetic import _mean, _sentence_scores

__all__ = ["self_bleu", "self_bleu_many"]


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
    sentences: Any, ns: Iterable[int] = (2, 3, 4, 5), *, tokenizer: ngrams.Tokenizer | None = None
) -> dict[int, BleuResult]:
    """Self-BLEU-n for every n in ``ns``: each sentence against all the others.

    Equal to ``mean_j sentence_bleu(sentences[:j] + sentences[j+1:], sentences[j], (1/n,)*n,
    method1)``. Sentence j is excluded by index; an identical sentence elsewhere in the set
    is still one of its references. Nothing is cached between calls.

    Args:
        sentences: At least two token sequences (raw strings with ``tokenizer``).
        ns: BLEU orders.
        tokenizer: ``None`` for token sequences, else a callable ``str -> list[str]`` (e.g.
            ``seqadv.data.tokenize.get_tokenizer("nltk")``) applied to raw strings.

    Returns:
        ``{n: BleuResult}`` with ``metric="self_bleu"``.

    Raises:
        DataError: Fewer than two sentences, or raw strings without a tokenizer.
        ConfigError: Bad ``ns``, or a tokenizer that is not a callable (e.g. a name).
    """
    orders = ngrams._check_ns(ns)
    max_n = orders[-1]
    sents = ngrams._as_token_lists(sentences, tokenizer, "sentences")
    flat, lengths = ngrams._flatten(sents)
    m = len(lengths)
    if m < 2:
        raise DataError(f"Self-BLEU needs at least 2 sentences, got {m}")
    vocab = ngrams._Vocab(flat)
    v = max(vocab.size, 1)
    tok, sent = ngrams._layout(vocab.ids, lengths)
    matches = np.zeros((max_n, m), dtype=np.int64)
    prev = None
    for n in range(1, max_n + 1):
        runs = ngrams._runs(ngrams._next_keys(prev, tok, n, v), sent)
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
            tokenizer=ngrams._tokenizer_name(tokenizer),
            lowercase=ngrams._tokenizer_lowercase(tokenizer),
            n_hypotheses=m,
            n_references=m - 1,
        )
        out[n] = BleuResult(_mean(scores), sig, scores)
    return out


def self_bleu(
    sentences: Any, n: int = 4, *, tokenizer: ngrams.Tokenizer | None = None
) -> BleuResult:
    """Self-BLEU-n: mean nltk ``sentence_bleu`` of each sentence against all the others."""
    n = ngrams._check_n(n)
    return self_bleu_many(sentences, (n,), tokenizer=tokenizer)[n]
