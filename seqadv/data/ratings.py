"""Ratings and ranking data read from local files: MovieLens forms, IRGAN's files, LETOR.

Readers (each names the file and line of a bad row; nothing downloads):

- :func:`read_inter`: RecBole's tab-separated ``.inter`` (a header ``user_id:token
  item_id:token rating:float timestamp:float``, columns found by name; ids 1-based);
- :func:`read_udata`: GroupLens' ``u.data`` (``user item rating timestamp``, tabs, 1-based);
- :func:`read_irgan`: IRGAN's ``user item rating`` files (whitespace, 0-based);
- :func:`read_letor`: LETOR / SVMlight ``rel qid:Q 1:v 2:v ... [# comment]``.

Interactions keep 0-based ids (1-based files are shifted by one), so that MovieLens read
from ``ml-100k.inter`` and from IRGAN's files index the same users and items. Splits:
:func:`u1_split` (``ml-100k.inter``'s first 20,000 rows are GroupLens' ``u1.test``),
:func:`holdout_split` (a seeded share of rows, for a validation split carved from training
or a random split), and :func:`synthetic_ratings` for tests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqadv.data.corpus import read_bytes
from seqadv.errors import DataError

__all__ = [
    "Interactions",
    "LetorData",
    "read_inter",
    "read_udata",
    "read_irgan",
    "read_letor",
    "u1_split",
    "holdout_split",
    "synthetic_ratings",
    "ratings_data",
]


@dataclass
class Interactions:
    """Rows of (user, item, rating), 0-based ids; ``n_users``/``n_items`` = largest id + 1
    (or more, when given)."""

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    n_users: int
    n_items: int
    source: str = ""

    def __len__(self) -> int:
        return len(self.users)

    def rows(self, index: np.ndarray) -> Interactions:
        """The interactions of ``index`` (same id space)."""
        return Interactions(
            self.users[index], self.items[index], self.ratings[index], self.n_users, self.n_items, self.source
        )

    def positives(self, threshold: float = 4.0, shape: tuple[int, int] | None = None) -> np.ndarray:
        """(n_users, n_items) bool, or ``shape`` (at least as large): rated >= ``threshold``
        (IRGAN's relevance: 4)."""
        out = np.zeros(shape or (self.n_users, self.n_items), dtype=bool)
        keep = self.ratings >= threshold
        out[self.users[keep], self.items[keep]] = True
        return out


def _lines(path: Path) -> list[str]:
    raw = read_bytes(path, expected="a ratings file")
    try:
        return raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataError(f"{path}:{line}: not valid UTF-8") from None


def _table(path: Path, rows: list[tuple[int, list[str]]], cols: tuple[int, int, int], base: int) -> Interactions:
    users, items, ratings = [], [], []
    for number, fields in rows:
        try:
            u, i, r = int(fields[cols[0]]) - base, int(fields[cols[1]]) - base, float(fields[cols[2]])
        except (IndexError, ValueError):
            raise DataError(
                f"{path}:{number}: expected user, item and rating, got {' '.join(fields)!r}"
            ) from None
        if u < 0 or i < 0:
            raise DataError(f"{path}:{number}: ids must be >= {base}, got user {u + base}, item {i + base}")
        users.append(u)
        items.append(i)
        ratings.append(r)
    if not users:
        raise DataError(f"{path}: no ratings in the file")
    u_arr, i_arr = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
    return Interactions(
        u_arr, i_arr, np.asarray(ratings, dtype=np.float32), int(u_arr.max()) + 1, int(i_arr.max()) + 1, str(path)
    )


def read_inter(path: str | os.PathLike) -> Interactions:
    """RecBole's ``.inter``: tab-separated, a typed header naming the columns; 1-based ids."""
    path = Path(path)
    lines = _lines(path)
    if not lines:
        raise DataError(f"{path}: the file is empty")
    header = [h.split(":")[0] for h in lines[0].split("\t")]
    try:
        cols = (header.index("user_id"), header.index("item_id"), header.index("rating"))
    except ValueError:
        raise DataError(
            f"{path}:1: a .inter header must name user_id, item_id and rating, got {lines[0]!r}"
        ) from None
    rows = [(n, line.split("\t")) for n, line in enumerate(lines[1:], start=2) if line.strip()]
    return _table(path, rows, cols, base=1)


def read_udata(path: str | os.PathLike) -> Interactions:
    """GroupLens' ``u.data`` (and ``u1.base``...): ``user item rating timestamp``; 1-based."""
    path = Path(path)
    rows = [(n, line.split()) for n, line in enumerate(_lines(path), start=1) if line.strip()]
    return _table(path, rows, (0, 1, 2), base=1)


def read_irgan(path: str | os.PathLike) -> Interactions:
    """IRGAN's ``user item rating`` files (``movielens-100k-train.txt``...); 0-based."""
    path = Path(path)
    rows = [(n, line.split()) for n, line in enumerate(_lines(path), start=1) if line.strip()]
    return _table(path, rows, (0, 1, 2), base=0)


@dataclass
class LetorData:
    """LETOR rows: relevance labels (N,), query ids (N,) and dense features (N, F)."""

    labels: np.ndarray
    qids: np.ndarray
    features: np.ndarray


def read_letor(path: str | os.PathLike, n_features: int | None = None) -> LetorData:
    """LETOR / SVMlight ``rel qid:Q 1:v 2:v ... [# comment]``; feature ids 1-based, missing
    features 0; ``n_features`` (default: the largest id seen)."""
    path = Path(path)
    labels, qids, entries = [], [], []
    for number, line in enumerate(_lines(path), start=1):
        body = line.split("#", 1)[0].split()
        if not body:
            continue
        try:
            label = float(body[0])
            if not body[1].startswith("qid:"):
                raise ValueError
            qid = int(body[1][4:])
            feats = {int(k): float(v) for k, v in (item.split(":", 1) for item in body[2:])}
        except (IndexError, ValueError):
            raise DataError(f"{path}:{number}: expected 'rel qid:Q 1:v 2:v ...', got {line.strip()[:80]!r}") from None
        if any(k < 1 for k in feats):
            raise DataError(f"{path}:{number}: feature ids start at 1")
        labels.append(label)
        qids.append(qid)
        entries.append(feats)
    if not labels:
        raise DataError(f"{path}: no LETOR rows in the file")
    width = n_features or max((max(f) for f in entries if f), default=0)
    features = np.zeros((len(labels), width), dtype=np.float32)
    for row, feats in enumerate(entries):
        for k, v in feats.items():
            if k > width:
                raise DataError(f"{path}: feature {k} is beyond n_features={width}")
            features[row, k - 1] = v
    return LetorData(np.asarray(labels, dtype=np.float32), np.asarray(qids, dtype=np.int64), features)


def u1_split(data: Interactions, n_test: int = 20_000) -> tuple[Interactions, Interactions]:
    """(train, test): the rows after the first ``n_test`` and those first ``n_test`` (in
    ``ml-100k.inter``, GroupLens' ``u1.base`` and ``u1.test``)."""
    if not 0 < n_test < len(data):
        raise DataError(f"u1 split: n_test must be in 1..{len(data) - 1}, got {n_test}")
    index = np.arange(len(data))
    return data.rows(index[n_test:]), data.rows(index[:n_test])


def holdout_split(data: Interactions, fraction: float, seed: int) -> tuple[Interactions, Interactions]:
    """(kept, held out): a seeded random ``fraction`` of the rows held out (a validation
    split carved from training, or a random train/test split)."""
    if not 0.0 < fraction < 1.0:
        raise DataError(f"the held-out fraction must be in (0, 1), got {fraction}")
    order = np.random.default_rng(seed).permutation(len(data))
    n = int(round(fraction * len(data)))
    if not 0 < n < len(data):
        raise DataError(f"holding out {fraction} of {len(data)} rows leaves an empty side")
    held = np.sort(order[:n])
    kept = np.sort(order[n:])
    return data.rows(kept), data.rows(held)


def synthetic_ratings(n_users: int = 30, n_items: int = 40, dim: int = 3, density: float = 0.3,
                      seed: int = 0) -> Interactions:
    """A small seeded ratings set with structure: ratings 1..5 from a low-rank score."""
    rng = np.random.default_rng(seed)
    u, v = rng.standard_normal((n_users, dim)), rng.standard_normal((n_items, dim))
    score = u @ v.T
    users, items = np.nonzero(rng.random((n_users, n_items)) < density)
    s = score[users, items]
    ratings = np.clip(np.round(3 + 2 * s / (np.abs(s).max() + 1e-9)), 1, 5).astype(np.float32)
    return Interactions(users.astype(np.int64), items.astype(np.int64), ratings, n_users, n_items, "synthetic")


def ratings_data(train: Interactions, test: Interactions, threshold: float = 4.0,
                 n_users: int | None = None, n_items: int | None = None, description: str = "") -> Any:
    """Ratings as the trainer's data: ``train``/``test`` are the (N, 2) ``[user, item]``
    pairs rated >= ``threshold`` (the real examples a discriminator learns), and
    ``extra["ratings"]`` keeps the interactions for ranking metrics.

    Users and items share one id range for the discriminator's input checks:
    ``vocab_size = max(n_users, n_items)``; ``max_len`` 2; no EOS.
    """
    import torch

    from seqadv.data.source import TextData

    n_users = max(n_users or 0, train.n_users, test.n_users)
    n_items = max(n_items or 0, train.n_items, test.n_items)

    def pairs(data: Interactions) -> torch.Tensor:
        keep = data.ratings >= threshold
        return torch.from_numpy(np.stack([data.users[keep], data.items[keep]], axis=1).astype(np.int64))

    size = max(n_users, n_items)
    train_pairs, test_pairs = pairs(train), pairs(test)
    if not len(train_pairs):
        raise DataError(f"no training rating is >= {threshold}: nothing to learn from")
    return TextData(
        train=train_pairs,
        test=test_pairs,
        max_len=2,
        vocab_size=size,
        start_id=0,
        eos_id=None,
        pad_id=size,
        description=description
        or f"{n_users} users x {n_items} items: {len(train_pairs)} train / {len(test_pairs)} test positives (rating >= {threshold:g})",
        extra={"ratings": {"train": train, "test": test, "threshold": float(threshold),
                           "n_users": n_users, "n_items": n_items}},  # fmt: skip
    )
