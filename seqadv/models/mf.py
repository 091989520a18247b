"""IRGAN's matrix-factorization players: f(u, i) = <p_u, q_i> + b_i.

Both IRGAN's generator and its discriminator on item recommendation are this model (user and
item embeddings of size 5 and an item bias, initialized uniformly in [-0.05, 0.05] as in its
code); the generator's policy over items for a user is softmax(f(u, .) / temperature), the
discriminator's judgement of a pair sigmoid(f(u, i)). :meth:`MatrixFactorization.from_arrays`
loads IRGAN's released parameter lists ``[user embeddings, item embeddings, item bias]``
(read with :func:`seqadv.data.safe_pickle.load_numpy_pickle`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["MatrixFactorization"]


class MatrixFactorization(nn.Module):
    """Scores of (user, item) pairs, and of every item for a batch of users.

    Args:
        n_users, n_items: table sizes.
        dim: embedding size (IRGAN: 5).
        init_delta: parameters drawn from U(-init_delta, init_delta) (IRGAN: 0.05); the item
            bias starts at 0, as in IRGAN's code.
        seed: seeds the initialization.
    """

    def __init__(self, n_users: int, n_items: int, dim: int = 5, init_delta: float = 0.05, seed: int = 0) -> None:
        super().__init__()
        for name, value in (("n_users", n_users), ("n_items", n_items), ("dim", dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        g = torch.Generator().manual_seed(int(seed))
        self.users = nn.Parameter(torch.rand(n_users, dim, generator=g) * (2 * init_delta) - init_delta)
        self.items = nn.Parameter(torch.rand(n_items, dim, generator=g) * (2 * init_delta) - init_delta)
        self.bias = nn.Parameter(torch.zeros(n_items))

    @property
    def n_users(self) -> int:
        return self.users.shape[0]

    @property
    def n_items(self) -> int:
        return self.items.shape[0]

    @classmethod
    def from_arrays(cls, arrays: Sequence[np.ndarray]) -> MatrixFactorization:
        """A model holding IRGAN's released ``[user emb (U, d), item emb (I, d), bias (I,)]``."""
        if len(arrays) != 3:
            raise ValueError(f"expected [user embeddings, item embeddings, item bias], got {len(arrays)} arrays")
        users, items, bias = (np.asarray(a, dtype=np.float32) for a in arrays)
        if users.ndim != 2 or items.ndim != 2 or bias.shape != (items.shape[0],) or users.shape[1] != items.shape[1]:
            raise ValueError(
                f"shapes do not fit a factorization: users {users.shape}, items {items.shape}, bias {bias.shape}"
            )
        model = cls(users.shape[0], items.shape[0], users.shape[1])
        with torch.no_grad():
            model.users.copy_(torch.from_numpy(users))
            model.items.copy_(torch.from_numpy(items))
            model.bias.copy_(torch.from_numpy(bias))
        return model

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        """f(u, i) for (B,) users and (B,) items -> (B,)."""
        return (self.users[users] * self.items[items]).sum(-1) + self.bias[items]

    def all_scores(self, users: Tensor | None = None) -> Tensor:
        """f(u, .) for (B,) users (default: all) -> (B, n_items)."""
        u = self.users if users is None else self.users[users]
        return u @ self.items.T + self.bias
