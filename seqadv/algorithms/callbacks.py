"""The adversarial round as callbacks, shared by the trainer and the stable-baselines3 bridge.

After a round's learner steps, the trainer (:class:`~seqadv.adversarial.AdversarialTrainer`)
runs a list of round callbacks, each ``callback(round) -> None`` on a :class:`Round` (its
number, its statistics, a ``stop`` flag): interleaved MLE steps, the rollout-policy sync,
fresh negatives and discriminator training, then the trainer's own evaluation, budget and
checkpoint callbacks. The stable-baselines3 bridge
(:class:`seqadv.algorithms.sb3.AdversarialCallback`) runs the same :class:`RolloutSync` and
:class:`DiscriminatorStep` objects between SB3 rollouts: one implementation of each step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from seqadv.algorithms.base import blend_parameters_
from seqadv.algorithms.discriminator import train_discriminator
from seqadv.errors import ConfigError

__all__ = ["Round", "RoundCallback", "RolloutSync", "MLEInterleave", "DiscriminatorStep"]


@dataclass
class Round:
    """One adversarial round, as its callbacks see it."""

    number: int  # 1-based round number
    stats: dict[str, Any] = field(default_factory=dict)  # the round's statistics (logged)
    start: float = field(default_factory=time.perf_counter)  # when the round began
    stop: bool = False  # set by a callback to end training after this round


class RoundCallback:
    """Base class: ``callback(round)`` after a round's learner steps."""

    def __call__(self, rnd: Round) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class RolloutSync(RoundCallback):
    """rollout <- rate * rollout + (1 - rate) * policy (SeqGAN's lagged copy, rate 0.8).

    Every parameter is blended, the embedding included.
    """

    def __init__(self, rollout_policy: torch.nn.Module, policy: torch.nn.Module, rate: float = 0.8):
        if not 0.0 <= rate <= 1.0:
            raise ConfigError(f"rollout_update_rate must be in [0, 1], got {rate}")
        self.rollout_policy, self.policy, self.rate = rollout_policy, policy, rate

    def __call__(self, rnd: Round | None = None) -> None:
        blend_parameters_(self.rollout_policy, self.policy, self.rate)


class MLEInterleave(RoundCallback):
    """``steps`` maximum-likelihood updates on random batches of the real data."""

    def __init__(self, mle: Any, real: Tensor, steps: int, batch_size: int, rng: torch.Generator):
        self.mle, self.real, self.steps, self.batch_size, self.rng = mle, real, steps, batch_size, rng

    def __call__(self, rnd: Round) -> None:
        for _ in range(self.steps):
            idx = torch.randint(0, self.real.shape[0], (self.batch_size,), generator=self.rng)
            rnd.stats["gen/mle_loss"] = self.mle.step(self.real[idx])


class DiscriminatorStep(RoundCallback):
    """Fresh negatives from the policy, then discriminator training; ``rounds`` times.

    Args:
        discriminator: trained in place (the environment's own object, so the next rewards
            see its training).
        optimizer: over its parameters.
        policy: samples the negatives (``policy.sample(n, generator=...)``).
        real: (N, L) real examples.
        rounds: rounds per call, each on fresh negatives (SeqGAN: 5).
        epochs: epochs per round (SeqGAN: 3).
        batch_size: minibatch, even (half real, half generated).
        n_negatives: generated examples per round (None: as many as ``real``).
        n_real: real examples per round, drawn afresh (None: all of ``real``).
        pad_id: token level only: an id whose positions the loss ignores.
        negatives_rng: draws the negatives; ``train_rng`` the real subset, shuffles and
            dropout (the same generator may serve both).
        eval_metrics: accuracies from an eval-mode pass after training (True) or running
            accuracies of the last epoch (False, free).
        every: train after every ``every``-th round only (IRGAN: 100 discriminator epochs
            per 50 generator epochs, a round being one generator epoch).
    """

    def __init__(
        self,
        discriminator: Any,
        optimizer: torch.optim.Optimizer,
        policy: Any,
        real: Tensor,
        *,
        rounds: int = 1,
        epochs: int = 1,
        batch_size: int = 64,
        n_negatives: int | None = None,
        n_real: int | None = None,
        pad_id: int | None = None,
        negatives_rng: torch.Generator,
        train_rng: torch.Generator,
        eval_metrics: bool = False,
        every: int = 1,
    ) -> None:
        if rounds < 0 or epochs < 1 or every < 1:
            raise ConfigError("discriminator rounds must be >= 0, epochs >= 1 and every >= 1")
        self.every = every
        self.discriminator, self.optimizer, self.policy, self.real = (
            discriminator,
            optimizer,
            policy,
            real,
        )
        self.rounds, self.epochs, self.batch_size = rounds, epochs, batch_size
        self.n_negatives, self.n_real, self.pad_id = n_negatives, n_real, pad_id
        self.negatives_rng, self.train_rng = negatives_rng, train_rng
        self.eval_metrics = eval_metrics
        self.last_stats: dict[str, float] = {}

    def negatives(self, n: int) -> Tensor:
        """``n`` fresh examples from the policy (sampled in eval mode, its mode restored)."""
        was_training = getattr(self.policy, "training", False)
        self.policy.eval()
        try:
            return self.policy.sample(n, generator=self.negatives_rng)
        finally:
            self.policy.train(was_training)

    def train_round(self, epochs: int | None = None) -> dict[str, Any]:
        """One round: fresh negatives, then ``epochs`` epochs (times in ``time/...``)."""
        start = time.perf_counter()
        fake = self.negatives(self.n_negatives or self.real.shape[0])
        sampled = time.perf_counter()
        real = self.real
        if self.n_real is not None and self.n_real < real.shape[0]:
            pick = torch.randperm(real.shape[0], generator=self.train_rng)
            real = real[pick[: self.n_real]]
        stats = train_discriminator(
            self.discriminator,
            real,
            fake,
            epochs=self.epochs if epochs is None else epochs,
            batch_size=self.batch_size,
            optimizer=self.optimizer,
            generator=self.train_rng,
            pad_id=self.pad_id,
            eval_metrics=self.eval_metrics,
        )
        stats["time/negatives_s"] = sampled - start
        stats["time/dis_train_s"] = time.perf_counter() - sampled
        self.last_stats = stats
        return stats

    def __call__(self, rnd: Round) -> None:
        if rnd.number % self.every:
            return
        start = time.perf_counter()
        negatives_s = dis_train_s = 0.0
        for _ in range(self.rounds):
            stats = dict(self.train_round())
            negatives_s += stats.pop("time/negatives_s")
            dis_train_s += stats.pop("time/dis_train_s")
            rnd.stats.update(stats)
        rnd.stats["time/negatives_s"] = negatives_s
        rnd.stats["time/dis_train_s"] = dis_train_s
        rnd.stats["time/discriminator_s"] = time.perf_counter() - start
