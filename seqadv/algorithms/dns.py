"""Dynamic negative sampling (DNS): IRGAN's pretraining of its matrix-factorization generator.

Bayesian personalized ranking (BPR) with hard negatives, as IRGAN's ``cf_dns.py`` and
``dis_model_dns.py`` do it: at the start of every epoch each training positive (u, i) gets a
negative j, the highest-scoring of ``k`` items drawn uniformly (with replacement) from the
items that are not u's training positives; then plain SGD visits the triples one at a time,
user by user, on

    L(u, i, j) = -log sigmoid(<p_u, q_i - q_j>) + l2 * (|p_u|^2 + |q_i|^2 + |q_j|^2) / 2

(TensorFlow's ``l2_loss``; IRGAN: k 5, lr 0.05, l2 0.1, and the item bias is not trained).
One update per triple is inherently sequential (consecutive triples share a user; items recur
across users), so the epoch runs as a plain-Python loop over float64 rows, which on these
5-dimensional rows is several times faster than a torch or numpy step per triple; the model
is written back once per epoch. Registered as the ``dns`` pretraining method
(``pretrain.method: dns``) for policies with a factorization (``irgan_mf``).
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import Tensor

from seqadv.errors import ConfigError, NonFiniteError

__all__ = ["DNSLearner", "dns_negatives"]


def dns_negatives(scores: Tensor, positives: Tensor, pairs: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """One DNS negative per positive pair: the best-scoring of ``k`` uniform non-positives.

    Args:
        scores: (U, I) f(u, .) of the current model.
        positives: (U, I) bool, the training positives (never drawn).
        pairs: (N, 2) ``[user, item]`` positives.
        k: candidates per pair, drawn with replacement.
        generator: the draws.

    Returns:
        (N,) int64 negative items.
    """
    n_users, n_items = positives.shape
    allowed = ~positives
    counts = allowed.sum(1)
    users = pairs[:, 0]
    if bool((counts[users] == 0).any()):
        user = int(users[counts[users] == 0][0])
        raise ConfigError(f"DNS: user {user} has every item as a training positive: no negative to draw")
    # rank of every allowed item among its user's, rows laid end to end (row u in
    # [u (I + 1), u (I + 1) + I]): the r-th allowed item of u is found by one search
    stride = n_items + 1
    ranks = (allowed.long().cumsum(1) + (torch.arange(n_users) * stride)[:, None]).flatten()
    draws = (torch.rand(users.shape[0], k, generator=generator, dtype=torch.float64) * counts[users, None]).long()
    draws = draws.minimum(counts[users, None] - 1)
    positions = torch.searchsorted(ranks, (users * stride)[:, None] + draws + 1)
    candidates = positions - (users * n_items)[:, None]
    picked = scores[users[:, None], candidates].argmax(dim=1)
    return candidates.gather(1, picked[:, None]).squeeze(1)


class DNSLearner:
    """DNS pretraining of a factorization policy (see the module docstring).

    Args:
        policy: a policy with a factorization (``policy.mf``: users, items, bias).
        lr: SGD learning rate (IRGAN: 0.05).
        batch_size: must be 1 (one triple per update, as IRGAN).
        k: candidates per negative (IRGAN: 5).
        l2: the L2 weight (IRGAN: 0.1).
        grad_clip: unused (BPR's gradients are bounded); accepted for the config's uniform call.
    """

    loss_key = "gen/bpr_loss"

    def __init__(self, policy: Any, lr: float = 0.05, batch_size: int = 1, k: int = 5, l2: float = 0.1,
                 grad_clip: float | None = None) -> None:  # fmt: skip
        mf = getattr(policy, "mf", None)
        if mf is None or not all(hasattr(mf, a) for a in ("users", "items", "bias")):
            raise ConfigError(
                f"pretrain.method 'dns' needs a policy with a factorization (irgan_mf), got {type(policy).__name__}"
            )
        if batch_size != 1:
            raise ConfigError(f"pretrain.method 'dns' updates on one triple at a time: set pretrain.batch_size to 1, got {batch_size}")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"pretrain.kwargs.k must be an int >= 1, got {k!r}")
        if not l2 >= 0:
            raise ConfigError(f"pretrain.kwargs.l2 must be >= 0, got {l2!r}")
        self.generator, self.mf = policy, mf
        self.lr, self.k, self.l2 = float(lr), int(k), float(l2)
        self._positives: Tensor | None = None

    def _positive_mask(self, data: Tensor) -> Tensor:
        if self._positives is None:
            mask = torch.zeros(self.mf.n_users, self.mf.n_items, dtype=torch.bool)
            mask[data[:, 0], data[:, 1]] = True
            self._positives = mask
        return self._positives

    def step(self, batch: Tensor, where: str | None = None) -> float:
        raise ConfigError("pretrain.method 'dns' has no interleaved steps: set adversarial.mle_steps to 0")

    def train_epoch(self, data: Tensor, generator: torch.Generator, desc: str = "dns") -> dict[str, Any]:
        """One epoch: DNS negatives for every positive of ``data`` (N, 2), then one SGD step
        per triple, user by user (each user's positives in data order).

        Returns ``gen/bpr_loss`` (the mean -log sigmoid term of the triples as visited),
        ``gen/dns_triples`` and ``time/mle_epoch_s``.
        """
        start = time.perf_counter()
        pairs = data[torch.sort(data[:, 0], stable=True).indices]
        with torch.no_grad():
            negatives = dns_negatives(self.mf.all_scores(), self._positive_mask(data), pairs, self.k, generator)
        users_t = self.mf.users.detach().double()
        items_t = self.mf.items.detach().double()
        loss = _sgd_triples(users_t, items_t, pairs[:, 0].tolist(), pairs[:, 1].tolist(), negatives.tolist(),
                            self.lr, self.l2)  # fmt: skip
        if not math.isfinite(loss):
            raise NonFiniteError(f"{desc}: the BPR loss is {loss}; the generator was not updated")
        with torch.no_grad():
            self.mf.users.copy_(users_t.to(self.mf.users.dtype))
            self.mf.items.copy_(items_t.to(self.mf.items.dtype))
        return {
            self.loss_key: loss / max(pairs.shape[0], 1),
            "gen/dns_triples": int(pairs.shape[0]),
            "time/mle_epoch_s": time.perf_counter() - start,
        }

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def _sgd_triples(users: Tensor, items: Tensor, us: list[int], pos: list[int], neg: list[int],
                 lr: float, l2: float) -> float:  # fmt: skip
    """Sequential SGD on the BPR triples, in place on (U, d) ``users`` and (I, d) ``items``
    (float64); returns the summed -log sigmoid part of the loss, each before its step.
    The L2 term's gradient is the weight decay (1 - lr l2) of the three rows."""
    P, Q = users.tolist(), items.tolist()
    total = 0.0
    decay = 1.0 - lr * l2
    for u, i, j in zip(us, pos, neg, strict=True):
        pu, qi, qj = P[u], Q[i], Q[j]
        diff = [a - b for a, b in zip(qi, qj)]
        x = sum(a * b for a, b in zip(pu, diff))
        # -log sigmoid(x) and its slope sigmoid(-x), stably
        if x >= 0:
            e = math.exp(-x)
            total += math.log1p(e)
            g = e / (1.0 + e)
        else:
            e = math.exp(x)
            total += -x + math.log1p(e)
            g = 1.0 / (1.0 + e)
        step = lr * g
        P[u] = [decay * a + step * d for a, d in zip(pu, diff)]
        Q[i] = [decay * a + step * b for a, b in zip(qi, pu)]
        Q[j] = [decay * a - step * b for a, b in zip(qj, pu)]
    users.copy_(torch.tensor(P, dtype=torch.float64))
    items.copy_(torch.tensor(Q, dtype=torch.float64))
    return total
