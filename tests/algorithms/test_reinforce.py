"""REINFORCE: returns, baselines, and the gradient against the analytic one."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqadv.algorithms import ALGORITHMS
from seqadv.algorithms.base import EpisodeBatch
from seqadv.algorithms.reinforce import Reinforce, discounted_returns
from seqadv.data.source import TextData
from seqadv.envs.text_generation import TextGenerationVectorEnv
from seqadv.errors import ConfigError
from seqadv.models.generator import LSTMGenerator


class TokenRewardDiscriminator(nn.Module):
    """logit(sequence) = sum over positions of a fixed value per token."""

    def __init__(self, values, max_len):
        super().__init__()
        self.values = torch.tensor(values)
        self.vocab_size, self.max_len, self.level = len(values), max_len, "sequence"

    def forward(self, x):
        return self.values[x.clamp(max=len(self.values) - 1)].sum(dim=1)


def two_token_data(max_len: int) -> TextData:
    return TextData(
        train=torch.zeros(2, max_len, dtype=torch.long),
        test=None,
        max_len=max_len,
        vocab_size=2,
        start_id=0,
        eos_id=None,
        pad_id=2,
    )


def test_discounted_returns():
    r = torch.tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 0.0]])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    torch.testing.assert_close(discounted_returns(r, mask, 0.0), r * mask)
    torch.testing.assert_close(
        discounted_returns(r, mask, 1.0), torch.tensor([[6.0, 5.0, 3.0], [2.0, 1.0, 0.0]])
    )
    torch.testing.assert_close(
        discounted_returns(r, mask, 0.5), torch.tensor([[2.75, 3.5, 3.0], [1.5, 1.0, 0.0]])
    )


def test_surrogate_gradient_is_the_score_function_times_the_reward():
    # T = 1: log pi(a) = log softmax(W h0 + b)[a]; d/db of -(1/B) sum_b r_b log pi(a_b)
    # is -(1/B) sum_b r_b (onehot(a_b) - pi).
    torch.manual_seed(0)
    policy = LSTMGenerator(2, 4, 4, max_len=1)
    learner = Reinforce(policy, discount=0.0)
    batch = EpisodeBatch(
        actions=torch.tensor([[0], [1], [1]]),
        rewards=torch.tensor([[2.0], [-1.0], [0.5]]),
        mask=torch.ones(3, 1, dtype=torch.bool),
    )
    learner.loss(batch).backward()
    with torch.no_grad():
        pi = torch.softmax(policy(batch.actions)[0, 0], dim=-1)
    onehot = torch.nn.functional.one_hot(batch.actions[:, 0], 2).float()
    expected = -(batch.rewards[:, :1] * (onehot - pi)).sum(0) / 3
    torch.testing.assert_close(policy.output.bias.grad, expected)


@pytest.mark.parametrize("max_len, discount", [(1, 0.0), (2, 1.0)])
def test_estimated_gradient_matches_the_analytic_policy_gradient(max_len, discount):
    # Two tokens, reward = sum of token values: J = E[R]; the analytic gradient of J with
    # respect to the output bias is computed by enumerating all 2^T sequences.
    torch.manual_seed(1)
    policy = LSTMGenerator(2, 4, 4, max_len=max_len)
    values = [0.3, 1.7]
    env = TextGenerationVectorEnv(
        20_000,
        data=two_token_data(max_len),
        discriminator=TokenRewardDiscriminator(values, max_len),
        reward="logit",
        reward_scheme="terminal",
        autoreset_mode="disabled",
    )
    learner = Reinforce(policy, discount=discount, seed=3)
    batch = learner.collect(env)
    learner.loss(batch).backward()
    estimated = -policy.output.bias.grad.clone()  # the loss is -J's surrogate

    policy.zero_grad()
    seqs = torch.cartesian_prod(*[torch.arange(2)] * max_len).reshape(-1, max_len)
    log_p = policy.log_prob(seqs)
    rewards = torch.tensor(values)[seqs].sum(dim=1)
    (log_p.exp() * rewards).sum().backward()
    analytic = policy.output.bias.grad
    torch.testing.assert_close(estimated, analytic, atol=0.01, rtol=0.05)


def test_baselines_center_the_advantages():
    policy = LSTMGenerator(3, 4, 4, max_len=2)
    batch = EpisodeBatch(
        actions=torch.zeros(4, 2, dtype=torch.long),
        rewards=torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]),
        mask=torch.ones(4, 2, dtype=torch.bool),
    )
    adv = Reinforce(policy, baseline="batch_mean").advantages(batch)
    torch.testing.assert_close(adv.mean(dim=0), torch.zeros(2))
    ema = Reinforce(policy, baseline="ema", ema_decay=0.5)
    first = ema.advantages(batch)
    torch.testing.assert_close(first, batch.rewards)  # nothing seen yet: baseline 0
    second = ema.advantages(batch)
    torch.testing.assert_close(second, batch.rewards - batch.rewards.mean(0))


def test_reductions_scale_the_same_surrogate():
    # Two sequences of 3 and 2 steps: "sum" is B times "sequence_mean" and (tokens taken)
    # times "token_mean"; all three have the same gradient direction.
    torch.manual_seed(2)
    policy = LSTMGenerator(3, 4, 4, max_len=3)
    batch = EpisodeBatch(
        actions=torch.tensor([[0, 1, 2], [2, 1, 0]]),
        rewards=torch.tensor([[0.5, 1.0, 2.0], [1.5, -1.0, 0.0]]),
        mask=torch.tensor([[True, True, True], [True, True, False]]),
    )
    losses = {
        r: Reinforce(policy, reduction=r).loss(batch) for r in ("sequence_mean", "token_mean", "sum")
    }
    torch.testing.assert_close(losses["sum"], losses["sequence_mean"] * 2)
    torch.testing.assert_close(losses["sum"], losses["token_mean"] * 5)
    assert float(losses["sum"].detach()) != 0.0


def test_bad_arguments_are_named():
    policy = LSTMGenerator(3, 4, 4, max_len=2)
    with pytest.raises(ConfigError, match="discount"):
        Reinforce(policy, discount=1.5)
    with pytest.raises(ConfigError, match="baseline"):
        Reinforce(policy, baseline="mean")
    with pytest.raises(ConfigError, match="reduction.*'token_sum'"):
        Reinforce(policy, reduction="token_sum")
    with pytest.raises(ConfigError, match="unknown argument.*'gamma'"):
        ALGORITHMS.make("reinforce", policy=policy, gamma=0.9)


def test_old_names_work_for_one_version_with_a_warning():
    gen = LSTMGenerator(8, embed_dim=4, hidden_dim=4, max_len=3)
    learner = Reinforce(gen)
    with pytest.warns(DeprecationWarning, match="Learner.rng"):
        assert learner.generator is learner.rng
    with pytest.warns(DeprecationWarning, match="zero_state"):
        h, c = gen.initial_state(3)
    assert h.shape == (3, 4) and not h.any() and not c.any()
