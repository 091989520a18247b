"""The learner contract: a base class owns the loop; a learner supplies collect and update.

A learner trains a policy (any :class:`~seqadv.models.policy.Policy`) on a vector
environment. ``learn(env, n_updates)`` runs ``n_updates`` times: ``collect`` (one
:class:`~seqadv.algorithms.batch.RolloutBatch` of whole episodes) then ``update`` (one
optimizer step), calling the callbacks after each update. Returns and advantages come from
an estimator of :mod:`seqadv.algorithms.advantages`. Training-time extras (discriminator
training, rollout-policy sync, evaluation, checkpoints) are callbacks
(:mod:`seqadv.algorithms.callbacks`), never subclasses.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from seqadv.algorithms.batch import EpisodeBatch, RolloutBatch, collect_rollout, final_rewards

__all__ = ["Learner", "RolloutBatch", "EpisodeBatch", "Callback", "blend_parameters_"]

log = logging.getLogger("seqadv")

Callback = Callable[["Learner", dict[str, Any]], None]
"""Called as ``callback(learner, stats)`` after every update."""


class Learner:
    """Base class of seqadv's own learners.

    Args:
        policy: the policy being trained.
        lr: Adam learning rate.
        grad_clip: clip the global gradient norm to this value (None: no clipping).
        seed: seeds the learner's own random stream ``rng`` (action sampling, env seeds).
    """

    def __init__(
        self,
        policy: Any,
        lr: float = 0.01,
        grad_clip: float | None = 5.0,
        seed: int = 0,
    ) -> None:
        self.policy = policy
        self.grad_clip = grad_clip
        self.optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
        self.rng = torch.Generator().manual_seed(int(seed))
        self.num_updates = 0

    @property
    def generator(self) -> torch.Generator:
        """Deprecated name of :attr:`rng` (``generator`` is the model elsewhere)."""
        import warnings

        warnings.warn("Learner.generator is deprecated: use Learner.rng", DeprecationWarning, stacklevel=2)
        return self.rng

    # -- the two hooks ------------------------------------------------------------------------
    def collect(self, env: Any) -> RolloutBatch:
        """One batch of whole episodes from ``env``."""
        return collect_rollout(self.policy, env, self.rng)

    def update(self, batch: RolloutBatch) -> dict[str, Any]:  # pragma: no cover - abstract
        """One optimizer step on ``batch``; returns statistics (``gen/...`` keys)."""
        raise NotImplementedError

    # -- the loop ---------------------------------------------------------------------------
    def learn(self, env: Any, n_updates: int, callbacks: Iterable[Callback] = ()) -> dict[str, Any]:
        """``n_updates`` rounds of collect and update; returns the last update's statistics."""
        stats: dict[str, Any] = {}
        callbacks = list(callbacks)
        for _ in range(n_updates):
            start = time.perf_counter()
            batch = self.collect(env)
            collected = time.perf_counter()
            stats = self.update(batch)
            self.num_updates += 1
            stats["time/collect_s"] = collected - start
            stats["time/update_s"] = time.perf_counter() - collected
            stats["reward/mean"] = float(batch.rewards[batch.mask].mean())
            stats["reward/final_mean"] = float(final_rewards(batch).mean())
            for callback in callbacks:
                callback(self, stats)
        return stats

    def optimizer_step(self, loss: Tensor) -> float:
        """Backpropagate ``loss``, clip, step; returns the gradient norm before clipping.

        The norm is over every parameter the optimizer holds (a critic's too, if added)."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [
            p for group in self.optimizer.param_groups for p in group["params"] if p.grad is not None
        ]
        if self.grad_clip is not None:
            norm = torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
        else:
            norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))
        self.optimizer.step()
        return float(norm)

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "rng": self.rng.get_state(),
            "num_updates": self.num_updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.set_state(state["rng"] if "rng" in state else state["generator"])
        self.num_updates = int(state["num_updates"])


def blend_parameters_(target: torch.nn.Module, source: torch.nn.Module, rate: float) -> None:
    """target <- rate * target + (1 - rate) * source, for every parameter, in place.

    SeqGAN's rollout-policy update (rate 0.8): every parameter is blended, the embedding
    included.
    """
    with torch.no_grad():
        for lagged, current in zip(target.parameters(), source.parameters(), strict=True):
            lagged.mul_(rate).add_(current, alpha=1.0 - rate)
