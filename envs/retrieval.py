"""Retrieval: IRGAN's game as a one-step environment family (a contextual bandit).

An episode observes a user (a query) and ends after one action, an item; its reward is the
environment's reward (default ``irgan``: 2 sigmoid(f(u, i)) - 1, IRGAN's code; ``irgan_paper``:
log(1 + exp f)) of the discriminator's score of the pair, through the reward scheme
(``terminal``). Users are drawn uniformly from those with a training positive. With
``samples_per_positive`` k the batch is IRGAN's generator batch instead: each reset takes the
next user of a sweep over the users with a training positive (ascending ids, then again) and
fills k x (its number of positives) rows with that user, one episode each; the other rows are
idle (no episode, left out of seqadv's learners' batches), so that one learner update is one
user's update, as in IRGAN (k = 2). ``exclude_positives`` masks a user's training positives out of
the actions (off by default: IRGAN's sampling puts mass on them). Forms:
:class:`RetrievalEnv`, :class:`RetrievalVectorEnv` and ``RetrievalVectorEnv(...).as_sb3()``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor

from seqadv.envs.family import (
    BatchedCore,
    StepOutput,
    check_token_actions,
    discriminator_reward,
    env_forms,
    rollout_free_scheme,
)
from seqadv.errors import ConfigError, TooFewEnvsError
from seqadv.rewards import BoundReward, resolve_reward
from seqadv.rewards.rollout import Timers
from seqadv.rewards.schemes import RewardScheme, StepInfo

__all__ = ["RetrievalCore", "RetrievalEnv", "RetrievalVectorEnv", "default_retrieval"]

_DOC = """
    ## Description

    One step: observe a user, pick an item; the discriminator's judgement of the (user, item)
    pair is the reward. The discriminator is trained while the policy learns (shared with the
    trainer); it scores in eval mode, without gradients.

    ## Action space

    ``Discrete(n_items)``; with ``exclude_positives`` the user's training positives are
    masked out (``action_masks``). With learning-to-rank data (the ``letor`` source) an item
    is a query-document row, and a query's actions are its own rows (masked likewise).

    ## Observation space

    ``Box(0, n_users - 1, (1,), int64)``: the user id.

    ## Rewards

    R(D, [user, item]) of the ``reward`` (default ``irgan``), paid at the end of the step.

    ## Starting state

    A user with at least one training positive, uniformly; with ``samples_per_positive``, the
    next user of the sweep in every row of the block.

    ## Episode end

    Terminated after the one action.

    ## Arguments

    - ``data``: ratings data (the ``ratings`` data source); default a small synthetic set.
    - ``discriminator``: a pair scorer (the ``irgan_mf`` discriminator); default an untrained one.
    - ``reward``, ``reward_scheme``: as above; ``exclude_positives``: as above.
    - ``samples_per_positive``: k; one user per batch, k x its positives rows (IRGAN: 2);
      ``num_envs`` must hold the largest block. Not for stable-baselines3.
    - ``score_precision``: ``fp32`` (default) or ``bf16`` autocast of the scoring.
    - ``rollout_policy``, ``scoring``: accepted for the trainer's uniform call, unused.

    ## Version history

    - v0: initial version.
"""


def default_retrieval() -> tuple[Any, Any]:
    """A small seeded problem: synthetic ratings (30 users x 40 items) and an untrained MF
    discriminator."""
    from seqadv.data.ratings import holdout_split, ratings_data, synthetic_ratings
    from seqadv.models.mf_players import MFDiscriminator

    train, test = holdout_split(synthetic_ratings(seed=0), 0.2, seed=0)
    data = ratings_data(train, test, n_users=30, n_items=40)
    return data, MFDiscriminator(data.vocab_size, 2, n_users=30, n_items=40).eval()


class RetrievalCore(BatchedCore):
    """B one-step retrieval episodes (see the module docstring and ``_DOC``)."""

    def __init__(
        self,
        num_envs: int,
        data: Any = None,
        discriminator: Any = None,
        reward: Any = "irgan",
        reward_scheme: Any = "terminal",
        exclude_positives: bool = False,
        rollout_policy: Any = None,
        scoring: str = "fast",
        score_precision: str = "fp32",
        samples_per_positive: int | None = None,
    ) -> None:
        scheme = rollout_free_scheme(num_envs, score_precision, reward_scheme, "Retrieval")
        self.score_precision = score_precision
        if data is None:
            data, default_disc = default_retrieval()
            discriminator = default_disc if discriminator is None else discriminator
        info = getattr(data, "extra", {}).get("ratings")
        if info is None:
            raise ConfigError("Retrieval needs ratings data (the 'ratings' data source)")
        if discriminator is None:
            raise ConfigError("discriminator is required (a pair scorer such as 'irgan_mf')")
        self.data, self.num_envs, self.max_episode_steps = data, num_envs, 1
        self.n_users, self.n_items = int(info["n_users"]), int(info["n_items"])
        self.vocab_size = self.n_items
        self.discriminator = discriminator
        self.reward: BoundReward = resolve_reward(reward)
        self.reward.check_level(getattr(discriminator, "level", "sequence"))
        self.reward_scheme: RewardScheme = scheme
        self.rollout_policy = None
        self.timers, self.rng = Timers(), torch.Generator().manual_seed(0)
        positives = torch.zeros(self.n_users, self.n_items, dtype=torch.bool)
        positives[data.train[:, 0], data.train[:, 1]] = True
        self.positives = positives
        #: (U, I) bool, each query's own candidates (learning to rank), or None: every item
        self.candidates = info.get("candidates")
        self.starts = positives.any(1).nonzero().squeeze(1)
        allowed = self.candidates if self.candidates is not None else torch.ones_like(positives)
        if exclude_positives and bool(((allowed & ~positives).sum(1) == 0)[self.starts].any()):
            raise ConfigError("exclude_positives: a user has every candidate item as a training positive")
        self.exclude_positives = bool(exclude_positives)
        self.samples_per_positive = None
        self.cursor = 0
        self.idle = torch.zeros(num_envs, dtype=torch.bool)
        if samples_per_positive is not None:
            k = samples_per_positive
            if isinstance(k, bool) or not isinstance(k, int) or k < 1:
                raise ConfigError(f"samples_per_positive must be an int >= 1, got {k!r}")
            self.block = k * positives.sum(1)
            if int(self.block.max()) > num_envs:
                user = int(self.block.argmax())
                raise TooFewEnvsError(
                    f"samples_per_positive {k}: user {user} has {int(positives[user].sum())} "
                    f"training positives, so its block is {int(self.block.max())} rows; "
                    f"num_envs is {num_envs} (set env.num_envs >= {int(self.block.max())})",
                    needed=int(self.block.max()),
                )
            self.samples_per_positive = k
        self.action_space = spaces.Discrete(self.n_items)
        self.observation_space = spaces.Box(0, self.n_users - 1, shape=(1,), dtype=np.int64)
        self.user = torch.zeros(num_envs, 1, dtype=torch.long)
        self.done = torch.ones(num_envs, dtype=torch.bool)
        scheme.bind(self)

    def score(self, pairs: Tensor, rows: Tensor | None = None, **_: Any) -> Tensor:
        """R(D, pairs) (M,) for (M, 2) ``[user, item]`` pairs."""
        return discriminator_reward(self, pairs, bf16=self.score_precision == "bf16")

    def reset(self, mask: Tensor | None = None) -> None:
        if self.samples_per_positive is not None:
            self._reset_block(mask)
            return
        rows = torch.arange(self.num_envs) if mask is None else mask.nonzero().squeeze(1)
        if rows.numel() == 0:
            return
        pick = torch.randint(0, self.starts.numel(), (rows.numel(),), generator=self.rng)
        self.user[rows, 0] = self.starts[pick]
        self.done[rows] = False
        self.reward_scheme.reset(mask)

    def _reset_block(self, mask: Tensor | None) -> None:
        """A full reset: the next user's block; a partial one restarts those rows of it."""
        if mask is None:
            user = int(self.starts[self.cursor % self.starts.numel()])
            self.cursor = (self.cursor + 1) % self.starts.numel()
            self.user[:, 0] = user
            self.idle.copy_(torch.arange(self.num_envs) >= self.block[user])
            self.done.copy_(self.idle)
        else:
            self.done[mask & ~self.idle] = False
        self.reward_scheme.reset(mask)

    def idle_rows(self) -> Tensor | None:
        return self.idle if self.samples_per_positive is not None else None

    def state_dict(self) -> dict[str, Any]:
        return {"cursor": self.cursor} if self.samples_per_positive is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.cursor = int(state.get("cursor", 0))

    def observations(self) -> Tensor:
        return self.user

    def action_masks(self) -> Tensor | None:
        users = self.user[:, 0]
        mask = self.candidates[users] if self.candidates is not None else None
        if self.exclude_positives:
            mask = ~self.positives[users] if mask is None else mask & ~self.positives[users]
        return mask

    def step(self, actions: Tensor, skip: Tensor | None = None) -> StepOutput:
        actions = check_token_actions(torch.as_tensor(actions), self.num_envs, self.n_items)
        active = ~self.done if skip is None else ~self.done & ~skip
        users = self.user[:, 0]
        for refused, why in (
            (self.positives[users, actions] if self.exclude_positives else None, "is a training positive of its user, masked out"),
            (~self.candidates[users, actions] if self.candidates is not None else None, "is not a candidate of its query"),
        ):  # fmt: skip
            if refused is not None and bool((refused & active).any()):
                row = int((refused & active).nonzero()[0])
                raise ValueError(f"action {int(actions[row])} (env {row}) {why}")
        pairs = torch.cat([self.user, actions[:, None]], dim=1)
        info = StepInfo(pairs, actions, active, active.clone(), torch.full_like(actions, 2))
        rewards = self.reward_scheme.rewards(info)
        self.done |= active
        finished = torch.where(active[:, None], pairs, torch.full_like(pairs, self.data.pad_id))
        return StepOutput(rewards, active.clone(), torch.zeros_like(active), finished)


RetrievalEnv, RetrievalVectorEnv = env_forms(
    "Retrieval",
    RetrievalCore,
    "IRGAN's game: observe a user, pick an item; the discriminator's judgement is the reward.\n" + _DOC,
    __name__,
)
