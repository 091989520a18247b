"""The learner contract: a base class owns the loop; a learner supplies collect and update.

A learner trains a policy (any :class:`~seqadv.models.policy.Policy`) on a vector
environment. ``learn(env, n_updates)`` runs ``n_updates`` times: ``collect`` (one
:class:`~seqadv.algorithms.batch.RolloutBatch` of whole episodes) then ``update`` (one
optimizer step), calling the callbacks after each update. Returns and advantages come from
an estimator of :mod:`seqadv.algorithms.advantages`. Training-time extras (discriminator
training, rollout-policy sync, evaluation, checkpoints) are callbacks
(:mod:`seqadv.algorithms.callbacks`), never subclasses.

Non-finite numbers stop training before they reach the weights: ``learn`` refuses a batch
whose rewards are not finite, and :meth:`Learner.optimizer_step` a loss or gradient norm
that is not, each with a :class:`~seqadv.errors.NonFiniteError` naming the learner, its
update number and the batch's rewards.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from seqadv.algorithms.batch import EpisodeBatch, RolloutBatch, collect_rollout, final_rewards
from seqadv.errors import ConfigError, NonFiniteError

__all__ = [
    "Learner",
    "RolloutBatch",
    "EpisodeBatch",
    "Callback",
    "blend_parameters_",
    "describe_rewards",
]

log = logging.getLogger("seqadv")

Callback = Callable[["Learner", dict[str, Any]], None]
"""Called as ``callback(learner, stats)`` after every update."""


#: the learners' optimizers by name
OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}


class Learner:
    """Base class of seqadv's own learners.

    Args:
        policy: the policy being trained.
        lr: the optimizer's learning rate.
        grad_clip: clip the global gradient norm to this value (None: no clipping).
        seed: seeds the learner's own random stream ``rng`` (action sampling, env seeds).
        optimizer: ``adam`` (default) or ``sgd`` (plain SGD, as IRGAN's generator).
    """

    def __init__(
        self,
        policy: Any,
        lr: float = 0.01,
        grad_clip: float | None = 5.0,
        seed: int = 0,
        optimizer: str = "adam",
    ) -> None:
        if optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
        self.policy = policy
        self.grad_clip = grad_clip
        self.optimizer = OPTIMIZERS[optimizer](policy.parameters(), lr=lr)
        self.rng = torch.Generator().manual_seed(int(seed))
        self.num_updates = 0
        self._batch: RolloutBatch | None = None  # the batch learn() is updating on

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
            self.check_rewards(batch)
            self._batch = batch  # for the messages of optimizer_step
            try:
                stats = self.update(batch)
            finally:
                self._batch = None
            self.num_updates += 1
            stats["time/collect_s"] = collected - start
            stats["time/update_s"] = time.perf_counter() - collected
            taken = batch.rewards[batch.mask]
            stats["reward/mean"] = float(taken.mean())
            stats["reward/std"] = float(taken.std()) if taken.numel() > 1 else 0.0
            stats["reward/final_mean"] = float(final_rewards(batch)[batch.mask.any(dim=1)].mean())
            for callback in callbacks:
                callback(self, stats)
        return stats

    def check_rewards(self, batch: RolloutBatch) -> None:
        """Raise :class:`~seqadv.errors.NonFiniteError` unless every reward of ``batch`` is
        finite (called by :meth:`learn` before :meth:`update`)."""
        if not bool(torch.isfinite(batch.rewards).all()):
            raise NonFiniteError(
                f"{self._where()}: the collected batch has non-finite rewards, from the "
                "environment's reward (env.reward and env.reward_scheme): "
                f"{describe_rewards(batch.rewards)}. The model was not updated"
            )

    def optimizer_step(self, loss: Tensor, what: str = "the loss") -> float:
        """Backpropagate ``loss``, clip, step; returns the gradient norm before clipping.

        The norm is over every parameter the optimizer holds (a critic's too, if added).

        Raises:
            NonFiniteError: ``loss`` (checked before backward) or the gradient norm (before
                the step) is NaN or infinite; the weights and the optimizer's state are left
                as they were. The message names the learner, its update number, ``what``
                (e.g. ``"the policy-gradient loss"``) and the rewards of the batch
                :meth:`learn` is updating on.
        """
        value = float(loss.detach())
        if not math.isfinite(value):
            raise NonFiniteError(
                f"{self._where()}: {what} is {value}, before backward{self._context()}; "
                "the model was not updated"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [
            p for group in self.optimizer.param_groups for p in group["params"] if p.grad is not None
        ]
        if self.grad_clip is not None:
            norm = torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
        else:
            norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))
        total = float(norm)
        if not math.isfinite(total):
            raise NonFiniteError(
                f"{self._where()}: the gradient norm is {total} ({what} is {value:.6g}), before "
                f"the optimizer step{self._context()}; the model was not updated"
            )
        self.optimizer.step()
        return total

    def _where(self) -> str:
        """``"Reinforce update 3"``: the learner and the number of the update under way."""
        return f"{type(self).__name__} update {self.num_updates + 1}"

    def _context(self) -> str:
        """The rewards of the batch being updated on, for a message (empty outside learn)."""
        batch = getattr(self, "_batch", None)
        if batch is None:
            return ""
        rewards = describe_rewards(batch.rewards, batch.mask)
        return f" (rewards of the batch, from the environment's reward: {rewards})"

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


def describe_rewards(rewards: Any, mask: Tensor | None = None) -> str:
    """A short account of ``rewards`` for an error message: counts of NaN and infinite
    values, the range of the finite ones (over ``mask`` when given) and, for magnitudes
    near float32's limit, a hint to scale the reward down."""
    values = torch.as_tensor(rewards).detach().to(torch.float64)
    values = (values if mask is None else values[mask]).flatten()
    parts = []
    n_nan = int(torch.isnan(values).sum())
    n_inf = int(torch.isinf(values).sum())
    if n_nan or n_inf:
        parts.append(f"{n_nan} NaN and {n_inf} infinite of {values.numel()}")
    finite = values[torch.isfinite(values)]
    large = False
    if finite.numel():
        low, high = float(finite.min()), float(finite.max())
        parts.append(f"{'finite ' if n_nan or n_inf else ''}min {low:.4g}, max {high:.4g}")
        large = max(abs(low), abs(high)) >= 1e18
    if n_nan or n_inf:
        parts.append(
            "a reward's own outputs are checked finite, so a NaN or infinite reward here "
            "usually means large rewards overflowed float32 in the reward scheme's arithmetic, "
            "such as a mean of Monte-Carlo rollouts or a difference of scores: scale the "
            "reward down"
        )
    elif large:
        parts.append(
            "rewards this large overflow float32 once summed or squared in the loss: "
            "scale the reward down"
        )
    return "; ".join(parts) if parts else "no rewards"


def blend_parameters_(target: torch.nn.Module, source: torch.nn.Module, rate: float) -> None:
    """target <- rate * target + (1 - rate) * source, for every parameter, in place.

    SeqGAN's rollout-policy update (rate 0.8): every parameter is blended, the embedding
    included.
    """
    with torch.no_grad():
        for lagged, current in zip(target.parameters(), source.parameters(), strict=True):
            lagged.mul_(rate).add_(current, alpha=1.0 - rate)
