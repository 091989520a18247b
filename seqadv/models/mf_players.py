"""IRGAN's two players on item recommendation, as a policy and as a discriminator.

- :class:`MFPolicy` (GENERATORS ``irgan_mf``): pi(i | u) = softmax_i f(u, i) / temperature
  over a factorization f (:class:`~seqadv.models.mf.MatrixFactorization`), one step: it reads
  the ``Retrieval`` observation (a user id) and picks an item. ``sample(n)`` draws users from
  the real positive pairs and an item each at ``negative_temperature`` (IRGAN draws the
  discriminator's negatives at 0.2), as ``[user, item]`` pairs. With ``positive_mix`` lambda
  it *acts* from IRGAN's p_n = (1 - lambda) pi + lambda uniform(the user's training
  positives) and returns log p_n(a) (use ``reinforce`` with ``importance_weights`` for
  IRGAN's reward x pi / p_n); ``evaluate`` gives log pi. Rows that share a user share one
  softmax (IRGAN's generator batch is one user's block of samples). ``mle_loss`` of
  ``[user, item]`` pairs is -log pi(item | user), for maximum-likelihood pretraining.
- :class:`MFDiscriminator` (DISCRIMINATORS ``irgan_mf``): logit f(u, i) of ``[user, item]``
  pairs, with IRGAN's L2 penalty on the pairs' parameters.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from seqadv.models.discriminator_base import Discriminator
from seqadv.models.mf import MatrixFactorization
from seqadv.models.policy import masked_log_softmax, sample_grouped, sample_masked

__all__ = ["ItemPolicy", "MFPolicy", "MFDiscriminator", "mf_policy"]


def _users(obs: Tensor) -> Tensor:
    return obs.reshape(obs.shape[0], -1)[:, 0].round().long()


class _UserEncoder(nn.Module):
    def __init__(self, mf: MatrixFactorization) -> None:
        super().__init__()
        self.mf, self.latent_dim = mf, mf.users.shape[1]

    def forward(self, obs: Tensor) -> Tensor:
        return self.mf.users[_users(obs)]


class _ItemHead(nn.Module):
    def __init__(self, mf: MatrixFactorization) -> None:
        super().__init__()
        self.mf = mf

    def forward(self, latent: Tensor) -> Tensor:
        return latent @ self.mf.items.T + self.mf.bias


class ItemPolicy(nn.Module):
    """A one-step policy over items: pi(i | u) = softmax_i of :meth:`all_scores` (subclasses
    give the scores; -inf marks an item that is not a candidate of the user). Acting,
    evaluation, IRGAN's mixture, the discriminator's negatives and the MLE loss are here.

    Args:
        n_users, n_items: the id ranges.
        pool: (N, 2) ``[user, item]`` training positives (the negatives' users, the mixture's
            positives).
        negative_temperature: the discriminator's negatives are drawn at it (IRGAN: 0.2).
        positive_mix: lambda of IRGAN's p_n (0: act from pi).
    """

    def __init__(self, n_users: int, n_items: int, pool: Tensor | None = None, negative_temperature: float = 0.2,
                 positive_mix: float = 0.0) -> None:  # fmt: skip
        super().__init__()
        if not negative_temperature > 0:
            raise ValueError(f"negative_temperature must be > 0, got {negative_temperature!r}")
        if not 0.0 <= positive_mix < 1.0:
            raise ValueError(f"positive_mix must be in [0, 1), got {positive_mix!r}")
        self.n_users, self.n_items = int(n_users), int(n_items)
        self.negative_temperature = float(negative_temperature)
        self.positive_mix = float(positive_mix)
        pool = pool if pool is not None else torch.zeros(0, 2, dtype=torch.long)
        self.register_buffer("pool", pool, persistent=False)
        positives = torch.zeros(self.n_users, self.n_items, dtype=torch.bool)
        if pool.shape[0]:
            positives[pool[:, 0], pool[:, 1]] = True
        self.register_buffer("positives", positives, persistent=False)

    @property
    def pad_id(self) -> int:
        return max(self.n_users, self.n_items)

    def all_scores(self, users: Tensor | None = None) -> Tensor:  # pragma: no cover - abstract
        """f(u, .) (B, n_items) for ``users`` (default: all)."""
        raise NotImplementedError

    def initial_state(self, obs: Tensor) -> None:
        return None

    def behaviour_log_probs(self, users: Tensor, action_mask: Tensor | None = None, temperature: float = 1.0) -> Tensor:
        """log p_n (B, n_items) the actions are drawn from: pi at ``temperature``, mixed with
        the uniform distribution over each user's training positives (rows without any keep pi)."""
        log_pi = masked_log_softmax(self.all_scores(users) / temperature, action_mask)
        if not self.positive_mix:
            return log_pi
        pos = self.positives[users]
        if action_mask is not None:
            pos = pos & action_mask
        count = pos.sum(1, keepdim=True)
        uniform = torch.where(pos, 1.0 / count.clamp(min=1), 0.0)
        mix = torch.where(count > 0, torch.tensor(self.positive_mix), torch.tensor(0.0))
        return torch.log((1 - mix) * log_pi.exp() + mix * uniform)

    def act(self, obs: Tensor, state: Any, *, generator=None, action_mask=None, temperature: float = 1.0):
        users = _users(obs)
        if action_mask is None:
            unique, groups = torch.unique(users, return_inverse=True)
            log_p = self.behaviour_log_probs(unique, None, temperature)
            actions = sample_grouped(log_p, groups, generator)
            return actions, log_p[groups, actions], state
        if not self.positive_mix:
            actions, log_probs = sample_masked(self.all_scores(users), generator, action_mask, temperature)
            return actions, log_probs, state
        log_pn = self.behaviour_log_probs(users, action_mask, temperature)
        actions, _ = sample_masked(log_pn, generator, action_mask, 1.0)
        return actions, log_pn.gather(1, actions[:, None]).squeeze(1), state

    def evaluate(self, obs: Tensor, actions: Tensor, mask: Tensor, action_masks: Tensor | None = None, *, entropy: bool = True):
        rows, steps = actions.shape
        users = _users(obs.reshape(rows * steps, -1))
        actions = torch.where(mask, actions, torch.zeros_like(actions))  # a pad after the end
        flat = actions.reshape(-1)
        if action_masks is None:
            unique, groups = torch.unique(users, return_inverse=True)
            log_u = torch.log_softmax(self.all_scores(unique), dim=-1)
            picked = log_u[groups, flat].view(rows, steps)
            ent = torch.special.entr(log_u.exp()).sum(-1)[groups].view(rows, steps) if entropy else None
            return torch.where(mask, picked, 0.0), ent
        logits = self.all_scores(users).view(rows, steps, -1)
        log_p = masked_log_softmax(logits, action_masks)
        picked = log_p.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        ent = torch.special.entr(log_p.exp()).sum(-1) if entropy else None
        return torch.where(mask, picked, 0.0), ent

    def mle_loss(self, pairs: Tensor) -> Tensor:
        """Mean -log pi(item | user) of (B, 2) ``[user, item]`` pairs (with gradient)."""
        unique, groups = torch.unique(pairs[:, 0], return_inverse=True)
        log_u = torch.log_softmax(self.all_scores(unique), dim=-1)
        return -log_u[groups, pairs[:, 1]].mean()

    @torch.no_grad()
    def nll(self, pairs: Tensor, batch_size: int = 4096) -> float:
        """Mean -log pi(item | user) of ``pairs`` (no gradient)."""
        total = sum(float(self.mle_loss(pairs[s : s + batch_size])) * pairs[s : s + batch_size].shape[0]
                    for s in range(0, pairs.shape[0], batch_size))  # fmt: skip
        return total / max(pairs.shape[0], 1)

    @torch.no_grad()
    def sample(self, n: int, *, generator=None, temperature: float = 1.0) -> Tensor:
        """``n`` ``[user, item]`` pairs: the users of the real pairs, one per real pair in
        their order (whole passes, then a random share of one more), as IRGAN's
        discriminator data pairs each positive with a generated item; items at the negative
        temperature (times ``temperature``)."""
        size = self.pool.shape[0]
        if size:
            passes, rest = divmod(n, size)
            extra = torch.randperm(size, generator=generator)[:rest].sort().values
            users = torch.cat([self.pool[:, 0].repeat(passes), self.pool[extra, 0]])
        else:
            users = torch.randint(0, self.n_users, (n,), generator=generator)
        unique, groups = torch.unique(users, return_inverse=True)
        log_p = torch.log_softmax(self.all_scores(unique) / (temperature * self.negative_temperature), dim=-1)
        return torch.stack([users, sample_grouped(log_p, groups, generator)], dim=1)

    def actor_modules(self) -> tuple[nn.Module, nn.Module]:  # pragma: no cover - abstract
        raise NotImplementedError


class MFPolicy(ItemPolicy):
    """A one-step item policy over a factorization (see the module docstring)."""

    def __init__(self, mf: MatrixFactorization, pool: Tensor | None = None, negative_temperature: float = 0.2,
                 positive_mix: float = 0.0) -> None:  # fmt: skip
        super().__init__(mf.n_users, mf.n_items, pool, negative_temperature, positive_mix)
        self.mf = mf

    def all_scores(self, users: Tensor | None = None) -> Tensor:
        """f(u, .) (B, n_items) for ``users`` (default: all)."""
        return self.mf.all_scores(users)

    def actor_modules(self) -> tuple[nn.Module, nn.Module]:
        return _UserEncoder(self.mf), _ItemHead(self.mf)


def mf_policy(data: Any, seed: int, dim: int = 5, init_delta: float = 0.05, negative_temperature: float = 0.2,
              positive_mix: float = 0.0, init_path: str | None = None) -> MFPolicy:  # fmt: skip
    """The GENERATORS factory of ``irgan_mf``: sizes from the data's ``extra["ratings"]``.

    ``init_path``: start from an IRGAN parameter pickle (``[user emb, item emb, item bias]``, such
    as its released ``model_dns_ori.pkl``), read by the numpy-only unpickler; its tables must
    have the data's sizes.
    """
    from seqadv.errors import ConfigError

    info = getattr(data, "extra", {}).get("ratings")
    if info is None:
        raise ConfigError("generator 'irgan_mf' needs ratings data: set data.source to 'ratings'")
    if init_path is None:
        mf = MatrixFactorization(info["n_users"], info["n_items"], dim=dim, init_delta=init_delta, seed=seed)
    else:
        from seqadv.data.safe_pickle import load_numpy_pickle

        mf = MatrixFactorization.from_arrays(load_numpy_pickle(init_path))
        if (mf.n_users, mf.n_items) != (info["n_users"], info["n_items"]):
            raise ConfigError(
                f"generator.kwargs.init_path {init_path}: its tables are {mf.n_users} users x {mf.n_items} items, the "
                f"data's {info['n_users']} x {info['n_items']} (set data.kwargs.n_items to match)"
            )
    return MFPolicy(mf, pool=data.train, negative_temperature=negative_temperature, positive_mix=positive_mix)


class MFDiscriminator(Discriminator):
    """logit f(u, i) of (B, 2) ``[user, item]`` pairs; IRGAN's L2 penalty ``l2 * (|p_u|^2 +
    |q_i|^2 + b_i^2) / 2`` (TensorFlow's ``l2_loss``) over the pairs of the last training
    batch, added to the loss by :meth:`regularization`.

    Args:
        vocab_size: the shared id range (``max(n_users, n_items)``); max_len: 2.
        n_users, n_items: table sizes (default: ``vocab_size``).
        dim, init_delta: as :class:`MatrixFactorization`.
        seed: seeds the initialization; None (default): drawn from the torch RNG (the trainer
            seeds it from the run's seed, so each seed starts from its own discriminator).
        l2: IRGAN's 0.1 / 16.
    """

    level = "sequence"

    def __init__(self, vocab_size: int, max_len: int = 2, pad_id: int | None = None, n_users: int | None = None,
                 n_items: int | None = None, dim: int = 5, init_delta: float = 0.05, l2: float = 0.1 / 16,
                 seed: int | None = None) -> None:  # fmt: skip
        super().__init__(vocab_size, max_len, pad_id)
        if seed is None:  # from the torch RNG, which the trainer seeds from the run's seed
            seed = int(torch.randint(0, 2**62, (1,)))
        if max_len != 2:
            raise ValueError(f"an MF discriminator judges [user, item] pairs: max_len must be 2, got {max_len}")
        self.mf = MatrixFactorization(n_users or vocab_size, n_items or vocab_size, dim, init_delta, seed)
        self.l2 = float(l2)
        self._last: tuple[Tensor, Tensor, Tensor] | None = None  # the last training batch's rows

    def features(self, sequences: Tensor) -> Tensor:
        self.check_tokens(sequences)
        return self.mf.users[sequences[:, 0]] * self.mf.items[sequences[:, 1]]

    def forward(self, sequences: Tensor) -> Tensor:
        self.check_tokens(sequences)
        if sequences.shape[1] != 2:
            raise ValueError(f"sequences must be [user, item] pairs (B, 2), got {tuple(sequences.shape)}")
        if not self.training:
            return self.mf(sequences[:, 0], sequences[:, 1])
        # the rows are looked up once for the score and the penalty (half the backward)
        u, i = sequences[:, 0], sequences[:, 1]
        rows = (self.mf.users[u], self.mf.items[i], self.mf.bias[i])
        self._last = rows
        return (rows[0] * rows[1]).sum(-1) + rows[2]

    def regularization(self) -> Tensor:
        if not self.l2 or self._last is None:
            return self.mf.bias.new_zeros(())
        users, items, bias = self._last
        penalty = users.pow(2).sum() + items.pow(2).sum() + bias.pow(2).sum()
        return self.l2 * penalty / 2
