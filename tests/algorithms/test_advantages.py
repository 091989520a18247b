"""Advantage estimators against values computed by hand on small episodes."""

from __future__ import annotations

import pytest
import torch

from seqadv.algorithms.advantages import (
    ADVANTAGES,
    GAE,
    DiscountedReturn,
    MonteCarloQ,
    make_estimator,
)
from seqadv.algorithms.batch import RolloutBatch
from seqadv.algorithms.reinforce import Reinforce
from seqadv.errors import ConfigError
from seqadv.models.generator import LSTMGenerator


def batch(rewards, mask=None, values=None, last_values=None) -> RolloutBatch:
    rewards = torch.tensor(rewards, dtype=torch.float32)
    mask = torch.ones_like(rewards, dtype=torch.bool) if mask is None else torch.tensor(mask)
    return RolloutBatch(
        actions=torch.zeros(rewards.shape, dtype=torch.long),
        rewards=rewards,
        mask=mask,
        values=None if values is None else torch.tensor(values, dtype=torch.float32),
        last_values=None if last_values is None else torch.tensor(last_values),
    )


def close(a, b) -> bool:
    return torch.allclose(a, torch.tensor(b, dtype=torch.float32), atol=1e-6)


def test_discounted_return_to_go_by_hand():
    adv, returns = DiscountedReturn(discount=0.5)(batch([[1.0, 2.0, 3.0]]))
    assert close(returns, [[1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3.0]]) and torch.equal(adv, returns)


def test_returns_stop_at_the_end_of_each_episode():
    b = batch([[1.0, 1.0, 5.0], [1.0, 1.0, 1.0]], mask=[[True, True, False], [True, True, True]])
    _, returns = DiscountedReturn(discount=1.0)(b)
    assert close(returns, [[2.0, 1.0, 0.0], [3.0, 2.0, 1.0]])


def test_monte_carlo_q_is_the_steps_own_reward():
    b = batch([[0.2, 0.4, 0.9]], mask=[[True, True, False]])
    adv, _ = MonteCarloQ()(b)
    assert close(adv, [[0.2, 0.4, 0.0]])
    assert torch.equal(adv, DiscountedReturn(discount=0.0)(b)[0])


def test_batch_mean_ema_and_critic_baselines_by_hand():
    b = batch([[1.0, 3.0], [3.0, 5.0]])
    adv, _ = DiscountedReturn(discount=0.0, baseline="batch_mean")(b)
    assert close(adv, [[-1.0, -1.0], [1.0, 1.0]])
    ema = DiscountedReturn(discount=0.0, baseline="ema", ema_decay=0.5)
    first, _ = ema(b)  # no history yet: baseline 0, then the EMA starts at the means (2, 4)
    assert close(first, [[1.0, 3.0], [3.0, 5.0]]) and close(ema.ema, [2.0, 4.0])
    second, _ = ema(batch([[4.0, 4.0], [4.0, 4.0]]))
    assert close(second, [[2.0, 0.0], [2.0, 0.0]]) and close(ema.ema, [3.0, 4.0])
    critic = batch([[1.0, 3.0]], values=[[0.5, 2.0]])
    adv, returns = DiscountedReturn(discount=1.0, baseline="critic")(critic)
    assert close(returns, [[4.0, 3.0]]) and close(adv, [[3.5, 1.0]])


def test_gae_with_a_known_value_function():
    gamma, lam = 0.9, 0.8
    values = [[0.5, 0.6, 0.7]]
    adv, returns = GAE(gamma=gamma, lam=lam)(batch([[0.0, 0.0, 1.0]], values=values))
    d2 = 1.0 - 0.7
    d1 = 0.0 + gamma * 0.7 - 0.6
    d0 = 0.0 + gamma * 0.6 - 0.5
    a2, a1 = d2, d1 + gamma * lam * d2
    a0 = d0 + gamma * lam * a1
    assert close(adv, [[a0, a1, a2]]) and close(returns, [[a0 + 0.5, a1 + 0.6, a2 + 0.7]])


def test_gae_bootstraps_truncated_episodes_and_not_terminated_ones():
    values = [[0.5, 0.6, 0.0], [0.5, 0.6, 0.7]]
    mask = [[True, True, False], [True, True, True]]
    b = batch([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], mask=mask, values=values, last_values=[0.0, 2.0])
    adv, _ = GAE(gamma=1.0, lam=1.0)(b)
    # row 0 terminated after two steps: A_t = G_t - V_t; row 1 truncated: V after = 2
    assert close(adv, [[1.0 - 0.5, 1.0 - 0.6, 0.0], [3.0 - 0.5, 3.0 - 0.6, 3.0 - 0.7]])


def test_gae_with_lambda_one_is_the_discounted_return_minus_the_value():
    b = batch([[0.3, -0.2, 1.0, 0.5]], values=[[0.1, 0.2, 0.3, 0.4]])
    gae, _ = GAE(gamma=0.7, lam=1.0)(b)
    returns, _ = DiscountedReturn(discount=0.7)(b)
    assert torch.allclose(gae, returns - b.values, atol=1e-6)


def test_estimators_are_registered_and_checked():
    assert {"mc_q", "discounted", "gae"} <= set(ADVANTAGES.names())
    assert isinstance(make_estimator({"name": "gae", "kwargs": {"lam": 0.5}}), GAE)
    with pytest.raises(ConfigError, match="lam must be in"):
        make_estimator({"name": "gae", "kwargs": {"lam": 2.0}})
    with pytest.raises(ConfigError, match="needs the critic's values"):
        GAE()(batch([[1.0]]))
    policy = LSTMGenerator(8, embed_dim=4, hidden_dim=4, max_len=3)
    with pytest.raises(ConfigError, match="reinforce has no critic"):
        Reinforce(policy, advantage="gae")
    learner = Reinforce(policy, advantage="mc_q")
    b = batch([[0.2, 0.4, 0.6]])
    assert torch.equal(learner.advantages(b), Reinforce(policy, discount=0.0).advantages(b))


# -- discounting by time (MaskGAN: by position, present positions counted) -------------------
def test_timed_returns_count_the_positions_between_steps():
    from seqadv.algorithms.advantages import discounted_returns, timed_discounted_returns

    rewards = torch.tensor([[1.0, 2.0, 4.0, 0.0]])
    mask = torch.tensor([[True, True, True, False]])
    times = torch.tensor([[1, 4, 5, 5]])  # positions 1, 4, 5 written; 2 and 3 copied
    g = 0.5
    want = [1 + g**3 * 2 + g**4 * 4, 2 + g * 4, 4.0, 0.0]
    torch.testing.assert_close(timed_discounted_returns(rewards, mask, g, times), torch.tensor([want]))
    steps = torch.arange(4)[None]
    torch.testing.assert_close(
        timed_discounted_returns(rewards, mask, g, steps), discounted_returns(rewards, mask, g)
    )


def test_time_key_and_clip_of_the_discounted_estimator():
    obs = {"position": torch.tensor([[[0], [2], [3]]])}
    batch = RolloutBatch(
        actions=torch.zeros(1, 3, dtype=torch.long),
        rewards=torch.tensor([[10.0, -1.0, 3.0]]),
        mask=torch.ones(1, 3, dtype=torch.bool),
        obs=obs,
    )
    adv, returns = DiscountedReturn(discount=0.5, time_key="position", clip=5.0)(batch)
    torch.testing.assert_close(returns, torch.tensor([[10 - 0.25 + 0.125 * 3, -1 + 1.5, 3.0]]))
    torch.testing.assert_close(adv, torch.tensor([[5.0, 0.5, 3.0]]))
    with pytest.raises(ConfigError, match="time_key 'step'"):
        DiscountedReturn(time_key="step")(batch)
    with pytest.raises(ConfigError, match="clip"):
        DiscountedReturn(clip=0)
