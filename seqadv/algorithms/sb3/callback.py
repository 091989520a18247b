"""The adversarial step between SB3 rollouts, for users who drive ``model.learn`` themselves.

:class:`AdversarialCallback` runs the trainer's own round callbacks
(:class:`~seqadv.algorithms.callbacks.RolloutSync` and
:class:`~seqadv.algorithms.callbacks.DiscriminatorStep`) after SB3 iterations: one
implementation of the rollout-policy sync and of discriminator training.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import torch
from stable_baselines3.common.callbacks import BaseCallback
from torch import Tensor

from seqadv.algorithms.callbacks import DiscriminatorStep, RolloutSync, Round
from seqadv.algorithms.sb3.model import env_attr, find_policy
from seqadv.errors import ConfigError

__all__ = ["AdversarialCallback"]

log = logging.getLogger("seqadv")


class AdversarialCallback(BaseCallback):
    """Train the discriminator and sync the rollout policy between SB3 rollouts.

    For users who drive ``model.learn`` themselves on a seqadv environment: after every
    ``every_updates`` SB3 iterations (rollout, then ``train()``), before the next rollout,
    the callback blends the rollout policy towards the policy (SeqGAN's lagged copy) and
    trains the discriminator ``discriminator_rounds`` times on fresh negatives, as
    :class:`~seqadv.adversarial.AdversarialTrainer` does after each round. The
    discriminator object is the environment's, so the next rollout's rewards see its
    training. (The trainer itself keeps calling ``learner.learn(env, generator_steps)``.)

    Everything defaults from the model and the environment: the policy is the SB3 policy's
    actor; the discriminator, rollout policy and real data are the environment's public
    ``discriminator``, ``rollout_policy`` and ``data.train``.

    SB3 does not reset the environment between rollouts. With fixed-length data and
    ``n_steps`` a multiple of T (the default of :func:`~seqadv.algorithms.sb3.make_model` is
    T), every rollout starts with fresh episodes; otherwise (EOS-terminated corpora) an
    episode running across a discriminator update is rewarded partly by the old and partly
    by the new discriminator. :class:`~seqadv.algorithms.sb3.SB3Learner` avoids this by
    starting fresh episodes at every ``learn`` call.

    SB3 sums rewards into returns: with ``model.gamma > 0`` on a reward scheme whose every
    reward already estimates the final score (``mc_rollout``: ``estimates_final_score``),
    the return counts the score about T times. The callback logs a warning (once) when
    training starts on such a pair; use the ``mc_rollout_shaped`` scheme instead.

    Example (complete: a bare SB3 PPO on the default seeded oracle, 16 tokens, length 8):
        >>> from seqadv.algorithms.sb3 import AdversarialCallback, make_model
        >>> from seqadv.envs.text_generation import TextGenerationVectorEnv
        >>> from seqadv.models.generator import LSTMGenerator
        >>> env = TextGenerationVectorEnv(4, reward_scheme="terminal")
        >>> gen = LSTMGenerator(16, embed_dim=8, hidden_dim=8, max_len=8)
        >>> model = make_model("sb3:PPO", env, gen, n_epochs=1)
        >>> callback = AdversarialCallback(n_negatives=32, batch_size=16)
        >>> _ = model.learn(64, callback=callback)  # 2 rollouts of 8 steps x 4 rows
        >>> callback.rounds  # discriminator steps taken, one after each PPO update
        2

    Args:
        discriminator: trained in place (default: the environment's).
        real: (N, L) real examples (default: the environment's ``data.train``).
        policy: samples the negatives (default: the model policy's actor).
        rollout_policy: blended towards the policy (default: the environment's; none in the
            ``terminal`` scheme).
        every_updates: SB3 iterations between adversarial steps.
        discriminator_rounds: rounds per step, each on fresh negatives (SeqGAN: 5).
        discriminator_epochs: epochs per round (SeqGAN: 3).
        n_negatives: generated examples per round (default: as many as ``real``).
        batch_size: discriminator minibatch, even (half real, half generated).
        lr: Adam learning rate of the discriminator when ``optimizer`` is None.
        optimizer: the discriminator's optimizer.
        rollout_update_rate: rollout <- rate * rollout + (1 - rate) * policy.
        seed: seeds the callback's torch generator (negatives, shuffles, dropout).
        verbose: SB3 verbosity.
        generator: the former name of ``policy`` (deprecated).
    """

    def __init__(
        self,
        discriminator: Any = None,
        real: Tensor | None = None,
        policy: Any = None,
        rollout_policy: Any = None,
        every_updates: int = 1,
        discriminator_rounds: int = 1,
        discriminator_epochs: int = 1,
        n_negatives: int | None = None,
        batch_size: int = 64,
        lr: float = 1e-4,
        optimizer: torch.optim.Optimizer | None = None,
        rollout_update_rate: float = 0.8,
        seed: int = 0,
        verbose: int = 0,
        *,
        generator: Any = None,
    ) -> None:
        super().__init__(verbose)
        if generator is not None:
            warnings.warn(
                "AdversarialCallback(generator=...) is deprecated: pass policy=...",
                DeprecationWarning,
                stacklevel=2,
            )
            if policy is not None and policy is not generator:
                raise ConfigError("AdversarialCallback: give policy or generator, not both")
            policy = generator
        if every_updates < 1 or discriminator_rounds < 1 or discriminator_epochs < 1:
            raise ConfigError(
                "every_updates, discriminator_rounds and discriminator_epochs must be >= 1"
            )
        if not 0.0 <= rollout_update_rate <= 1.0:
            raise ConfigError(f"rollout_update_rate must be in [0, 1], got {rollout_update_rate}")
        self.discriminator = discriminator
        self.real = real
        self.policy = policy
        self.rollout_policy = rollout_policy
        self.every_updates = every_updates
        self.discriminator_rounds = discriminator_rounds
        self.discriminator_epochs = discriminator_epochs
        self.n_negatives = n_negatives
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.rollout_update_rate = rollout_update_rate
        self.torch_generator = torch.Generator().manual_seed(int(seed))
        self.rounds = 0
        self.last_stats: dict[str, float] = {}
        self._updates = 0
        self._pending = False
        self._sync: RolloutSync | None = None
        self._step: DiscriminatorStep | None = None
        self._warned = False

    @property
    def generator(self) -> Any:
        """The former name of :attr:`policy` (deprecated)."""
        warnings.warn(
            "AdversarialCallback.generator is deprecated: use .policy",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.policy

    def _check_reward_scheme(self) -> None:
        """Warn (once) when the model sums rewards that each estimate the final score."""
        if self._warned:
            return
        try:
            scheme = self.training_env.get_attr("reward_scheme")[0]
        except (AttributeError, IndexError):
            return
        gamma = float(getattr(self.model, "gamma", 0.0) or 0.0)
        if not getattr(scheme, "estimates_final_score", False) or gamma <= 0:
            return
        self._warned = True
        log.warning(
            "%s sums rewards into returns (gamma=%g), but the environment's reward scheme is "
            "%r, whose every reward is already an estimate of the final score: the return "
            "counts the score about T times. Use reward_scheme='mc_rollout_shaped' (the "
            "return is then the final score), or gamma=0.",
            type(self.model).__name__,
            gamma,
            getattr(scheme, "name", type(scheme).__name__),
        )

    def _on_training_start(self) -> None:
        self._check_reward_scheme()
        env = self.training_env
        if self.discriminator is None:
            self.discriminator = env_attr(env, "discriminator")
            if self.discriminator is None:
                raise ConfigError(
                    "AdversarialCallback: give the discriminator (the environment has none)"
                )
        data = env_attr(env, "data")
        if self.real is None:
            if data is None:
                raise ConfigError(
                    "AdversarialCallback: give the real examples (the environment has no data)"
                )
            self.real = data.train
        if self.rollout_policy is None:
            self.rollout_policy = env_attr(env, "rollout_policy")
        if self.policy is None:
            self.policy = find_policy(self.model)
        if self.optimizer is None:
            from seqadv.algorithms.discriminator import default_optimizer

            self.optimizer = default_optimizer(self.discriminator, lr=self.lr)
        pad_id = data.pad_id if data is not None and data.eos_id is not None else None
        self._sync = None
        if self.rollout_policy is not None:
            self._sync = RolloutSync(self.rollout_policy, self.policy, self.rollout_update_rate)
        self._step = DiscriminatorStep(
            self.discriminator,
            self.optimizer,
            self.policy,
            self.real,
            rounds=self.discriminator_rounds,
            epochs=self.discriminator_epochs,
            batch_size=self.batch_size,
            n_negatives=self.n_negatives or self.real.shape[0],
            pad_id=pad_id,
            negatives_rng=self.torch_generator,
            train_rng=self.torch_generator,
            eval_metrics=True,
        )

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        self._pending = True

    def _on_rollout_start(self) -> None:
        self._after_update()

    def _on_training_end(self) -> None:
        self._after_update()

    def _after_update(self) -> None:
        if not self._pending:
            return
        self._pending = False
        self._updates += 1
        if self._updates % self.every_updates:
            return
        self.adversarial_step()

    def adversarial_step(self) -> dict[str, float]:
        """Sync the rollout policy, then train the discriminator on fresh negatives.

        Returns (and records in SB3's logger) the last round's ``dis/...`` statistics and
        the step's ``time/...``.
        """
        if self._step is None:
            raise RuntimeError("AdversarialCallback: the adversarial step runs inside model.learn")
        if self._sync is not None:
            self._sync()
        rnd = Round(self.rounds + 1)
        self._step(rnd)
        self.rounds += 1
        self.last_stats = rnd.stats
        for key, value in rnd.stats.items():
            self.logger.record(key, value)
        return rnd.stats
