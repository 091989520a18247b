"""Learning to rank as retrieval data: LETOR queries, their candidate documents and features.

IRGAN's second task ranks a query's candidate documents (MQ2008-semi) from query-document
feature vectors. Here a LETOR row (one query-document pair) is an *item*; a query is a
*user* whose candidates are its own rows; the relevance label is the rating. So the
``Retrieval`` environment, the ranking metric and the trainer work unchanged: the data carry
``extra["ratings"]["candidates"]`` ((U, I) bool: each query's rows) and
``extra["ratings"]["features"]`` ((I, F) float32), and a feature policy scores each row once
(``seqadv.models.ltr_players``). Train and test queries may differ (LETOR's folds): the
item table holds the rows of both files, train first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seqadv.data.ratings import Interactions, LetorData, ratings_data
from seqadv.errors import DataError

__all__ = ["letor_data", "synthetic_letor"]


def letor_data(train: LetorData, test: LetorData, threshold: float = 1.0, description: str = "") -> Any:
    """The trainer's data for ``train`` and ``test`` LETOR rows (see the module docstring):
    relevant = label >= ``threshold``."""
    if train.features.shape[1] != test.features.shape[1]:
        raise DataError(
            f"train and test rows have {train.features.shape[1]} and {test.features.shape[1]} features"
        )
    qids = {int(q): i for i, q in enumerate(dict.fromkeys(np.concatenate([train.qids, test.qids]).tolist()))}
    n_users, n_items = len(qids), len(train.labels) + len(test.labels)

    def interactions(rows: LetorData, offset: int) -> Interactions:
        users = np.array([qids[int(q)] for q in rows.qids], dtype=np.int64)
        items = np.arange(offset, offset + len(rows.labels), dtype=np.int64)
        return Interactions(users, items, rows.labels.astype(np.float32), n_users, n_items, "letor")

    tr, te = interactions(train, 0), interactions(test, len(train.labels))
    candidates = np.zeros((n_users, n_items), dtype=bool)
    for part in (tr, te):
        candidates[part.users, part.items] = True
    import torch

    out = ratings_data(tr, te, threshold, n_users=n_users, n_items=n_items, description=description or (
        f"LETOR: {len(set(train.qids.tolist()))} train / {len(set(test.qids.tolist()))} test queries, "
        f"{n_items} query-document rows of {train.features.shape[1]} features (relevant: label >= {threshold:g})"
    ))  # fmt: skip
    out.extra["ratings"]["candidates"] = torch.from_numpy(candidates)
    out.extra["ratings"]["features"] = torch.from_numpy(np.concatenate([train.features, test.features]))
    return out


def synthetic_letor(n_queries: int = 12, docs: int = 10, n_features: int = 6, seed: int = 0) -> LetorData:
    """A small seeded LETOR set: ``docs`` rows per query, labels 0/1/2 from a hidden linear
    score of the features plus noise (so a feature scorer can learn them)."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(n_features)
    features = rng.standard_normal((n_queries * docs, n_features)).astype(np.float32)
    score = features @ w + 0.5 * rng.standard_normal(n_queries * docs)
    labels = np.digitize(score, np.quantile(score, [0.6, 0.85])).astype(np.float32)
    qids = np.repeat(np.arange(1, n_queries + 1), docs).astype(np.int64)
    return LetorData(labels, qids, features)
