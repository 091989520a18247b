"""What a learner collects: a batch of whole episodes, one per environment row.

:func:`collect_rollout` runs a :class:`~seqadv.models.policy.Policy` on a vector environment
(whose rows do not autoreset: ``autoreset_mode="disabled"``) until every row's episode has
ended, keeping what every learner needs: the observation before each action, the actions,
rewards, the steps taken, the log-probabilities the actions were drawn with, the critic's
values (when there is one) and the action masks in force (when the observation or the
environment supplies them). The policy carries its own state between steps; nothing
re-reads a prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["RolloutBatch", "EpisodeBatch", "collect_rollout", "final_rewards", "episode_steps"]

Observation = Tensor | dict[str, Tensor]


@dataclass
class RolloutBatch:
    """B episodes of at most S steps (all tensors have B rows; S columns where they have two).

    Attributes:
        actions: (B, S) int64 actions (the policy's ``pad_id``, or 0, after an episode's end).
        rewards: (B, S) float rewards (0 after the end).
        mask: (B, S) bool, True at the steps each episode took.
        obs: the observation before each action, (B, S, ...) or a mapping of such tensors
            (None when a batch is made by hand for a policy that does not read it).
        log_probs: (B, S) log-probabilities of the actions when drawn (no gradient).
        values: (B, S) the critic's values of ``obs``, when there is a critic.
        action_masks: (B, S, A) bool masks in force at each step, when supplied.
        last_values: (B,) the critic's value of the observation after the last step of
            episodes that were truncated (0 for terminated ones), when there is a critic.
    """

    actions: Tensor
    rewards: Tensor
    mask: Tensor
    obs: Observation | None = None
    log_probs: Tensor | None = None
    values: Tensor | None = None
    action_masks: Tensor | None = None
    last_values: Tensor | None = None

    @property
    def batch_size(self) -> int:
        return self.actions.shape[0]


EpisodeBatch = RolloutBatch  # the name of the first core, kept for users' code


def _to_torch(obs: Any) -> Observation:
    if isinstance(obs, dict):
        return {k: torch.as_tensor(np.asarray(v)) if not isinstance(v, Tensor) else v for k, v in obs.items()}
    return obs if isinstance(obs, Tensor) else torch.as_tensor(np.asarray(obs))


def _clone(obs: Observation) -> Observation:
    if isinstance(obs, dict):
        return {k: v.clone() for k, v in obs.items()}
    return obs.clone()


def _stack(steps: list[Observation], length: int) -> Observation:
    steps = steps + [steps[-1]] * (length - len(steps))
    if isinstance(steps[0], dict):
        return {k: torch.stack([s[k] for s in steps], dim=1) for k in steps[0]}
    return torch.stack(steps, dim=1)


def _step(env: Any, actions: Tensor) -> tuple[Observation, Tensor, Tensor, Tensor]:
    """Step a vector env with torch actions: (obs, rewards (B,), ended (B,), truncated (B,))."""
    if hasattr(env, "step_torch"):
        obs, out = env.step_torch(actions)
        return obs, out.rewards, out.ended, out.truncated
    obs, rewards, terminated, truncated, _ = env.step(actions.numpy())
    truncated = torch.as_tensor(np.asarray(truncated))
    ended = torch.as_tensor(np.logical_or(terminated, truncated))
    return _to_torch(obs), torch.as_tensor(rewards, dtype=torch.float32), ended, truncated


def _action_mask(env: Any, obs: Observation) -> Tensor | None:
    """The (B, A) bool mask the observation (key ``action_mask``) or the env supplies."""
    if isinstance(obs, dict) and "action_mask" in obs:
        return obs["action_mask"].bool()
    if hasattr(env, "action_masks_torch"):
        return env.action_masks_torch()
    if hasattr(env, "action_masks"):
        return torch.as_tensor(np.asarray(env.action_masks()), dtype=torch.bool)
    return None


def episode_steps(env: Any, policy: Any) -> int:
    """The most steps an episode of ``env`` can take (its ``max_episode_steps``)."""
    steps = getattr(env, "max_episode_steps", None) or getattr(policy, "max_len", None)
    if not steps:
        raise ValueError(
            f"{type(env).__name__} does not say how long its episodes can be "
            "(a max_episode_steps attribute)"
        )
    return int(steps)


@torch.no_grad()
def collect_rollout(
    policy: Any,
    env: Any,
    generator: torch.Generator,
    temperature: float = 1.0,
    critic: Callable[[Observation], Tensor] | None = None,
) -> RolloutBatch:
    """Run one episode in every row of ``env`` with ``policy``; see the module docstring.

    The env is reset with a seed drawn from ``generator``; the policy's draws come from
    ``generator`` too, so equal generator states give equal batches.
    """
    batch = env.num_envs
    length = episode_steps(env, policy)
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    if hasattr(env, "reset_torch"):
        obs = env.reset_torch(seed=seed)
    else:
        obs = _to_torch(env.reset(seed=seed)[0])
    pad = getattr(policy, "pad_id", 0)
    actions = torch.full((batch, length), pad, dtype=torch.long)
    rewards = torch.zeros(batch, length)
    log_probs = torch.zeros(batch, length)
    mask = torch.zeros(batch, length, dtype=torch.bool)
    values = torch.zeros(batch, length) if critic is not None else None
    last_values = torch.zeros(batch) if critic is not None else None
    idle = env.idle_rows_torch() if hasattr(env, "idle_rows_torch") else None
    done = idle.clone() if idle is not None else torch.zeros(batch, dtype=torch.bool)
    seen: list[Observation] = []
    masks: list[Tensor] = []
    state = policy.initial_state(obs)
    for t in range(length):
        action_mask = _action_mask(env, obs)
        seen.append(_clone(obs))
        if action_mask is not None:
            masks.append(action_mask.clone())
        if values is not None:
            values[:, t] = critic(obs)
        tokens, logp, state = policy.act(
            obs, state, generator=generator, action_mask=action_mask, temperature=temperature
        )
        obs, step_rewards, ended, truncated = _step(env, tokens)
        live = ~done
        actions[live, t] = tokens[live]
        rewards[:, t] = torch.where(live, step_rewards, torch.zeros_like(step_rewards))
        log_probs[:, t] = torch.where(live, logp, torch.zeros_like(logp))
        mask[:, t] = live
        if last_values is not None and bool((live & truncated).any()):
            cut = live & truncated
            last_values[cut] = critic(obs)[cut]
        done |= ended
        if bool(done.all()):
            break
    return RolloutBatch(
        actions=actions,
        rewards=rewards,
        mask=mask,
        obs=_stack(seen, length),
        log_probs=log_probs,
        values=values,
        action_masks=_stack(masks, length) if masks else None,
        last_values=last_values,
    )


def final_rewards(batch: RolloutBatch) -> Tensor:
    """The reward of each episode's last step (the score of the finished sequence), (B,)."""
    last = batch.mask.long().sum(dim=1).clamp(min=1) - 1
    return batch.rewards[torch.arange(batch.batch_size), last]
