"""Reward schemes: the registry, the built-ins' invariants, and a scheme a user registers."""

from __future__ import annotations

import pytest
import torch

from seqadv.envs.text_generation import TextGenerationVectorEnv
from seqadv.errors import ConfigError, UnknownNameError
from seqadv.rewards.schemes import (
    REWARD_SCHEMES,
    RewardScheme,
    StepInfo,
    Terminal,
    make_scheme,
    register_scheme,
)


@register_scheme("test_step_cost", override=True)
class StepCost(Terminal):
    """The terminal score minus a cost per token written (a user's scheme)."""

    def __init__(self, cost: float = 0.01) -> None:
        self.cost = cost

    def rewards(self, step: StepInfo) -> torch.Tensor:
        return super().rewards(step) - self.cost * step.active.float()


def episode(env, actions=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Rewards (B, T) of one episode with fixed actions, and the final records."""
    env.reset(seed=0)
    steps, final = [], None
    for t in range(env.max_episode_steps):
        tokens = torch.full((env.num_envs,), (t % 5) + 1) if actions is None else actions[:, t]
        _, out = env.step_torch(tokens)
        steps.append(out.rewards.clone())
        final = out.finished
    return torch.stack(steps, dim=1), final


def test_builtin_schemes_are_registered_with_their_interface():
    assert {"terminal", "mc_rollout", "mc_rollout_shaped", "per_token"} <= set(REWARD_SCHEMES.names())
    for name in REWARD_SCHEMES.names():
        cls = REWARD_SCHEMES.get(name)
        assert issubclass(cls, RewardScheme)
        assert cls.discriminator_level in ("sequence", "token")
        assert set(cls.needs) <= {"rollout_policy", "references", "context"}
    assert REWARD_SCHEMES.get("mc_rollout").estimates_final_score
    assert not REWARD_SCHEMES.get("mc_rollout_shaped").estimates_final_score


def test_a_registered_scheme_is_used_by_name_with_kwargs():
    env = TextGenerationVectorEnv(4, autoreset_mode="disabled", reward_scheme="terminal")
    base, final = episode(env)
    custom = TextGenerationVectorEnv(
        4, autoreset_mode="disabled", reward_scheme={"name": "test_step_cost", "kwargs": {"cost": 0.5}}
    )
    assert custom.reward_scheme.name == "test_step_cost" and custom.reward_scheme.cost == 0.5
    rewards, _ = episode(custom)
    assert torch.allclose(rewards.sum(1), base.sum(1) - 0.5 * custom.max_episode_steps)


def test_shaped_rewards_sum_to_the_terminal_score_and_mc_rewards_end_with_it():
    shaped = TextGenerationVectorEnv(3, autoreset_mode="disabled", reward_scheme="mc_rollout_shaped", n_rollouts=2)
    mc = TextGenerationVectorEnv(3, autoreset_mode="disabled", reward_scheme="mc_rollout", n_rollouts=2)
    terminal = TextGenerationVectorEnv(3, autoreset_mode="disabled", reward_scheme="terminal")
    score = episode(terminal)[0][:, -1]
    assert torch.allclose(episode(shaped)[0].sum(1), score, atol=1e-6)
    assert torch.allclose(episode(mc)[0][:, -1], score)


def test_unknown_or_wrong_schemes_are_named():
    with pytest.raises(UnknownNameError, match="Did you mean 'mc_rollout'"):
        make_scheme("mc_rollouts")
    with pytest.raises(ConfigError, match="n_rollouts"):
        make_scheme({"name": "mc_rollout", "kwargs": {"n_rollouts": 0}})
    with pytest.raises(ConfigError, match="unknown argument"):
        make_scheme({"name": "terminal", "kwargs": {"n_rollouts": 4}})
    with pytest.raises(ConfigError, match="needs a token-level discriminator"):
        TextGenerationVectorEnv(2, reward_scheme="per_token", discriminator=terminal_discriminator())


def terminal_discriminator():
    return TextGenerationVectorEnv(1, reward_scheme="terminal").discriminator


@pytest.mark.parametrize("scheme", ["mc_rollout", "mc_rollout_shaped"])
def test_rollouts_continue_from_the_state_the_policy_itself_would_have(scheme):
    """After t tokens the rollout policy's cached state equals its teacher-forced state over
    [start, x_1..x_t]: the start token is read first, as when the policy writes x_1."""
    env = TextGenerationVectorEnv(3, autoreset_mode="disabled", reward_scheme=scheme, n_rollouts=2)
    policy = env.rollout_policy
    env.reset(seed=1)
    written = []
    for t in range(4):
        tokens = torch.tensor([t + 1, t + 2, 7])
        env.step_torch(tokens)
        written.append(tokens)
        with torch.no_grad():
            inputs = torch.stack([policy.start_tokens(3), *written], dim=1)
            out, _ = policy.lstm(policy.embedding(inputs))
        assert torch.allclose(env.reward_scheme.state[0], out[:, -1], atol=1e-6)
