"""Ranking metrics over all users at once: P@k, NDCG@k (binary gains), MAP and MRR.

The protocol is explicit in the arguments, as IRGAN's evaluation defines it:

- ``scores`` (U, I): each user's score of every item (higher ranks first);
- ``relevant`` (U, I) bool: the items that count as hits (IRGAN: test rating >= 4);
- ``candidates`` (U, I) bool: the items ranked for the user (IRGAN: every item row minus the
  user's training items rated >= 4; low-rated training items stay candidates);
- evaluated users: those with at least one relevant candidate (IRGAN on MovieLens-100k: 456).

For each evaluated user the candidates are ranked by score, ties broken by the lower item
index (a stable sort, as IRGAN's Python ``sorted`` over items in index order), and with the
ranked relevance list r (1 for a relevant candidate, else 0), n candidates and R relevant
ones:

- P@k = mean(r[:k]) = hits in the top min(k, n) / min(k, n) (IRGAN's ``np.mean(r[:k])``);
- NDCG@k = DCG@k / IDCG@k, DCG@k = sum_{i < k} r_i / log2(i + 2), IDCG@k the DCG of the ideal
  list (min(k, R) ones first);
- MAP = mean over users of AP = (1 / R) sum_{i: r_i = 1} (hits in the top i + 1) / (i + 1);
- MRR = mean over users of 1 / (rank of the first hit), ranks from 1.

Everything is a few tensor operations over the (U, I) matrix (no Python loop over users).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

__all__ = ["ranked_relevance", "ranking_metrics", "PROTOCOL"]

#: what :func:`ranking_metrics` computes, for a metric's signature
PROTOCOL = "binary-gains|ties:lower-item-first|P@k:mean(r[:k])|users:>=1-relevant-candidate"


def _check(scores: Tensor, relevant: Tensor, candidates: Tensor) -> None:
    if scores.dim() != 2:
        raise ValueError(f"scores must be (users, items), got shape {tuple(scores.shape)}")
    for name, mask in (("relevant", relevant), ("candidates", candidates)):
        if mask.shape != scores.shape or mask.dtype != torch.bool:
            raise ValueError(
                f"{name} must be a bool tensor of the scores' shape {tuple(scores.shape)}, got "
                f"{mask.dtype} {tuple(mask.shape)}"
            )
    if bool(torch.isnan(scores[candidates]).any()):
        raise ValueError("scores of candidates contain NaN")


def ranked_relevance(scores: Tensor, relevant: Tensor, candidates: Tensor) -> tuple[Tensor, Tensor]:
    """(U, I) float relevance of each user's candidates in rank order (zeros after the last
    candidate) and (U,) the number of candidates."""
    _check(scores, relevant, candidates)
    keyed = torch.where(candidates, scores.double(), torch.tensor(float("-inf"), dtype=torch.float64))
    # candidates first (a -inf candidate still precedes every non-candidate), then by score
    order = torch.sort(keyed, dim=1, descending=True, stable=True).indices
    cand_first = torch.sort((~candidates).to(torch.int8).gather(1, order), dim=1, stable=True).indices
    order = order.gather(1, cand_first)
    rel = (relevant & candidates).gather(1, order).double()
    return rel, candidates.sum(1)


def ranking_metrics(
    scores: Tensor,
    relevant: Tensor,
    candidates: Tensor,
    ks: Iterable[int] = (3, 5, 10),
) -> dict[str, float]:
    """P@k and NDCG@k for each k, MAP, MRR (means over the evaluated users) and ``users``.

    Args:
        scores: (U, I) float scores.
        relevant: (U, I) bool hits.
        candidates: (U, I) bool items ranked for each user.
        ks: the cut-offs (each >= 1).

    Returns:
        ``{"p@3": ..., "ndcg@3": ..., ..., "map": ..., "mrr": ..., "users": n}``; NaN means
        when no user has a relevant candidate.
    """
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ValueError(f"ks must be integers >= 1, got {ks}")
    rel, n_cand = ranked_relevance(scores, relevant, candidates)
    n_rel = rel.sum(1)
    users = n_rel > 0
    rel, n_cand, n_rel = rel[users], n_cand[users], n_rel[users]
    out: dict[str, float] = {"users": int(users.sum())}
    if not out["users"]:
        for k in ks:
            out[f"p@{k}"] = out[f"ndcg@{k}"] = float("nan")
        out["map"] = out["mrr"] = float("nan")
        return out
    width = rel.shape[1]
    discount = 1.0 / torch.log2(torch.arange(width, dtype=torch.float64) + 2.0)
    hits = rel.cumsum(1)
    ideal = discount.cumsum(0)
    for k in ks:
        top = min(k, width)
        shown = torch.minimum(n_cand, torch.tensor(k)).clamp(min=1).double()
        out[f"p@{k}"] = float((hits[:, top - 1] / shown).mean())
        dcg = (rel[:, :top] * discount[:top]).sum(1)
        idcg = ideal[(torch.minimum(n_rel, torch.tensor(float(top))) - 1).long()]
        out[f"ndcg@{k}"] = float((dcg / idcg).mean())
    ranks = torch.arange(1, width + 1, dtype=torch.float64)
    out["map"] = float(((rel * hits / ranks).sum(1) / n_rel).mean())
    first = rel.argmax(1).double() + 1.0
    out["mrr"] = float((1.0 / first).mean())
    return out
