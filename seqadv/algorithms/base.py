"""The learner contract: a base class owns the loop; a learner supplies collect and update.

A learner trains a policy (an :class:`~seqadv.models.generator.LSTMGenerator`) on a vector
environment whose actions are token ids. ``learn(env, n_updates)`` runs ``n_updates`` times:
``collect`` (one batch of episodes) then ``update`` (one optimizer step), calling the
callbacks after each update. Training-time extras (discriminator training, rollout-policy
sync, evaluation, checkpoints) are callbacks or the trainer's business, never subclasses.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

__all__ = ["Learner", "EpisodeBatch", "Callback", "collect_episodes", "blend_parameters_"]

log = logging.getLogger("seqadv")

Callback = Callable[["Learner", dict[str, Any]], None]
"""Called as ``callback(learner, stats)`` after every update."""


@dataclass
class EpisodeBatch:
    """One episode per environment row.

    Attributes:
        actions: (B, T) int64 tokens written (``pad_id`` after an episode's end).
        rewards: (B, T) float rewards (0 after an episode's end).
        mask: (B, T) bool, True at the steps each episode took.
    """

    actions: Tensor
    rewards: Tensor
    mask: Tensor

    @property
    def batch_size(self) -> int:
        return self.actions.shape[0]


def _step(env: Any, actions: Tensor) -> tuple[Tensor, Tensor]:
    """Step a vector env with torch actions; returns (rewards (B,), ended (B,))."""
    if hasattr(env, "step_torch"):
        _, out = env.step_torch(actions)
        return out.rewards, out.ended
    import numpy as np

    _, rewards, terminated, truncated, _ = env.step(actions.numpy())
    return torch.as_tensor(rewards, dtype=torch.float32), torch.as_tensor(
        np.logical_or(terminated, truncated)
    )


@torch.no_grad()
def collect_episodes(
    policy: Any, env: Any, generator: torch.Generator, temperature: float = 1.0
) -> EpisodeBatch:
    """Write one episode in every row of ``env`` with ``policy``'s cached recurrent state.

    The environment must not autoreset rows that end (``autoreset_mode="disabled"``): a row
    that ends stays ended while the others finish. The policy never re-reads the prefix.
    """
    batch = env.num_envs
    max_len = policy.max_len
    env.reset(seed=int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
    actions = torch.full((batch, max_len), policy.pad_id, dtype=torch.long)
    rewards = torch.zeros(batch, max_len)
    mask = torch.zeros(batch, max_len, dtype=torch.bool)
    done = torch.zeros(batch, dtype=torch.bool)
    state = policy.initial_state(batch)
    tokens = policy.start_tokens(batch)
    for t in range(max_len):
        hidden, state = policy.hidden_step(tokens, state)
        tokens = policy.sample_next(hidden, generator, temperature)
        step_rewards, ended = _step(env, tokens)
        live = ~done
        actions[live, t] = tokens[live]
        rewards[:, t] = torch.where(live, step_rewards, torch.zeros_like(step_rewards))
        mask[:, t] = live
        done |= ended
        if bool(done.all()):
            break
    return EpisodeBatch(actions, rewards, mask)


class Learner:
    """Base class of seqadv's own learners.

    Args:
        policy: the generator being trained.
        lr: Adam learning rate.
        grad_clip: clip the global gradient norm to this value (None: no clipping).
        seed: seeds the learner's own torch generator (action sampling).
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
        self.generator = torch.Generator().manual_seed(int(seed))
        self.num_updates = 0

    # -- the two hooks ------------------------------------------------------------------------
    def collect(self, env: Any) -> EpisodeBatch:
        """One batch of experience from ``env``."""
        return collect_episodes(self.policy, env, self.generator)

    def update(self, batch: EpisodeBatch) -> dict[str, Any]:  # pragma: no cover - abstract
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
            stats["reward/final_mean"] = float(_final_rewards(batch).mean())
            for callback in callbacks:
                callback(self, stats)
        return stats

    def optimizer_step(self, loss: Tensor) -> float:
        """Backpropagate ``loss``, clip, step; returns the gradient norm before clipping."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for p in self.policy.parameters() if p.grad is not None]
        if self.grad_clip is not None:
            norm = torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
        else:
            norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))
        self.optimizer.step()
        return float(norm)

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "num_updates": self.num_updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.num_updates = int(state["num_updates"])


def blend_parameters_(target: torch.nn.Module, source: torch.nn.Module, rate: float) -> None:
    """target <- rate * target + (1 - rate) * source, for every parameter, in place.

    SeqGAN's rollout-policy update (rate 0.8): every parameter is blended, the embedding
    included.
    """
    with torch.no_grad():
        for lagged, current in zip(target.parameters(), source.parameters(), strict=True):
            lagged.mul_(rate).add_(current, alpha=1.0 - rate)


def _final_rewards(batch: EpisodeBatch) -> Tensor:
    """The reward of each episode's last step (the score of the finished sequence)."""
    last = batch.mask.long().sum(dim=1).clamp(min=1) - 1
    return batch.rewards[torch.arange(batch.batch_size), last]
