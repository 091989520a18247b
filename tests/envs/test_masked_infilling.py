"""MaskedInfilling: the episode shape (copy present, write missing), rewards and returns by hand."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import seqadv  # noqa: F401  (registers the ids)
from seqadv.algorithms import ALGORITHMS
from seqadv.algorithms.batch import collect_rollout
from seqadv.envs.masked_infilling import (
    MaskedInfillingEnv,
    MaskedInfillingVectorEnv,
    default_infilling,
)
from seqadv.errors import ConfigError
from seqadv.models.infilling_discriminator import InfillingDiscriminator
from seqadv.models.infilling_generator import infilling_policy

GAMMA = 0.89072
V = 16  # the default problem's vocabulary


def constant_discriminator(logit: float, vocab_size: int = 16, max_len: int = 8):
    """A maskgan discriminator whose every logit is ``logit`` (output layer zeroed)."""
    d = InfillingDiscriminator(vocab_size, max_len, embedding_dim=4, hidden_size=4)
    with torch.no_grad():
        d.output.weight.zero_()
        d.output.bias.fill_(logit)
    return d.eval()


def setup(strategy: str, logit: float = 0.3, num_envs: int = 16, autoreset_mode: str = "disabled"):
    data, _ = default_infilling()
    env = MaskedInfillingVectorEnv(
        num_envs, data=data, discriminator=constant_discriminator(logit), mask_strategy=strategy,
        present_rate=0.5, autoreset_mode=autoreset_mode,
    )  # fmt: skip
    policy = infilling_policy(data, seed=0, embed_dim=8, hidden_dim=8)
    return env, policy


def expected_returns(present: torch.Tensor, reward: float, gamma: float) -> list[list[float]]:
    """R_t = sum_{s >= t, s missing} gamma^(s - t) r for each missing t, by the issue's formula."""
    out = []
    for row in present.tolist():
        missing = [t for t, p in enumerate(row) if not p]
        out.append([sum(reward * gamma ** (s - t) for s in missing if s >= t) for t in missing])
    return out


@pytest.mark.parametrize("strategy", ["contiguous", "random"])
def test_returns_and_advantages_by_hand_with_a_constant_discriminator(strategy):
    env, policy = setup(strategy)
    learner = ALGORITHMS.make(
        "actor_critic", policy=policy, critic="discriminator", reduction="sum", grad_clip=10.0,
        advantage={"name": "discounted", "kwargs": {"discount": GAMMA, "baseline": "critic",
                                                     "time_key": "position", "clip": 5.0}},
    )  # fmt: skip
    batch = learner.collect(env)
    reward = float(np.log(1 / (1 + np.exp(-0.3)) + 1e-7))  # the default 'maskgan' reward
    torch.testing.assert_close(batch.rewards[batch.mask], torch.full((int(batch.mask.sum()),), reward))
    assert torch.equal(batch.values[batch.mask], torch.zeros(int(batch.mask.sum())))  # zero critic
    present = batch.obs["masked"][:, 0] != V
    advantages, returns = learner.estimator(batch)
    want = expected_returns(present, reward, GAMMA)
    for row in range(env.num_envs):
        got = returns[row][batch.mask[row]].tolist()
        assert got == pytest.approx(want[row], rel=1e-6)
        assert advantages[row][batch.mask[row]].tolist() == pytest.approx(
            [max(-5.0, min(5.0, v)) for v in want[row]], rel=1e-6
        )
    if strategy == "random":  # gaps between missing positions: the exponent counts them
        gaps = [np.diff([t for t, p in enumerate(r) if not p]) for r in present.tolist()]
        assert any((d > 1).any() for d in gaps if len(d))


def test_advantages_are_clipped_to_five():
    env, policy = setup("contiguous", logit=-30.0)  # log(D + 1e-7) ~ -16 per token
    learner = ALGORITHMS.make(
        "actor_critic", policy=policy, critic="discriminator",
        advantage={"name": "discounted", "kwargs": {"discount": GAMMA, "baseline": "critic",
                                                     "time_key": "position", "clip": 5.0}},
    )  # fmt: skip
    batch = learner.collect(env)
    advantages, returns = learner.estimator(batch)
    assert float(returns[batch.mask].max()) < -15
    assert torch.equal(advantages[batch.mask], torch.full((int(batch.mask.sum()),), -5.0))


@pytest.mark.parametrize("strategy", ["contiguous", "random", "unconditional"])
def test_present_tokens_are_copied_and_the_episode_ends_at_the_last_missing(strategy):
    env, policy = setup(strategy, num_envs=12)
    obs, _ = env.reset(seed=3)
    masked = torch.as_tensor(obs["masked"])
    missing = masked == V
    n_missing = missing.sum(1)
    if strategy == "contiguous":
        assert not bool(missing[:, 0].any()) and torch.equal(n_missing, torch.full((12,), 3))
    if strategy == "unconditional":
        assert bool(missing.all())
    state = policy.initial_state({k: torch.as_tensor(v) for k, v in obs.items()})
    g = torch.Generator().manual_seed(0)
    steps = torch.zeros(12, dtype=torch.long)
    written_actions: list[list[int]] = [[] for _ in range(12)]
    done = np.zeros(12, dtype=bool)
    finished = {}
    for _ in range(env.max_episode_steps):
        tobs = {k: torch.as_tensor(v) for k, v in obs.items()}
        pos = tobs["position"][:, 0]
        for row in np.flatnonzero(~done):  # everything before the position is written; present copied
            before = tobs["written"][row, : pos[row]]
            keep = ~missing[row, : pos[row]]
            assert torch.equal(before[keep], masked[row, : pos[row]][keep])
            assert bool(missing[row, pos[row]])  # the position to write is a missing one
        actions, _, state = policy.act(tobs, state, generator=g)
        obs, rewards, terminated, truncated, infos = env.step(actions.numpy())
        for row in np.flatnonzero(~done):
            written_actions[row].append(int(actions[row]))
        steps += torch.as_tensor(~done)
        for row in np.flatnonzero(terminated & ~done):
            finished[row] = infos["sequence"][row]
        assert not truncated.any()
        done |= terminated
        if done.all():
            break
    assert done.all()
    assert torch.equal(steps, n_missing)  # one step per missing token, ending at the last
    for row, sequence in finished.items():
        sequence = torch.as_tensor(sequence)
        assert torch.equal(sequence[~missing[row]], masked[row][~missing[row]])
        assert sequence[missing[row]].tolist() == written_actions[row]


def test_collect_rollout_batches_one_step_per_missing_token():
    env, policy = setup("random")
    batch = collect_rollout(policy, env, torch.Generator().manual_seed(1))
    missing = batch.obs["masked"][:, 0] == V
    assert torch.equal(batch.mask.sum(1), missing.sum(1))
    positions = batch.obs["position"][..., 0]
    for row in range(env.num_envs):
        taken = positions[row][batch.mask[row]]
        assert taken.tolist() == missing[row].nonzero().squeeze(1).tolist()


@pytest.mark.parametrize("autoreset_mode", ["disabled", "next_step"])
def test_policy_log_probs_of_act_equal_evaluate(autoreset_mode):
    env, policy = setup("random", autoreset_mode=autoreset_mode)
    batch = collect_rollout(policy, env, torch.Generator().manual_seed(2))
    log_probs, entropy = policy.evaluate(batch.obs, batch.actions, batch.mask, batch.action_masks)
    torch.testing.assert_close(log_probs, batch.log_probs, atol=1e-5, rtol=0)
    assert bool((entropy[batch.mask] > 0).all())


def test_same_seed_same_episodes_and_the_single_env_matches_the_checker():
    from gymnasium.utils.env_checker import check_env

    def run(seed):
        env, policy = setup("contiguous")
        return collect_rollout(policy, env, torch.Generator().manual_seed(seed))

    a, b, c = run(5), run(5), run(6)
    assert torch.equal(a.actions, b.actions) and torch.equal(a.rewards, b.rewards)
    assert not torch.equal(a.obs["masked"], c.obs["masked"])
    env = MaskedInfillingEnv(data=default_infilling()[0], discriminator=constant_discriminator(0.0))
    check_env(env, skip_render_check=True)
    env = gym.make("seqadv/MaskedInfilling-v0")
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"masked", "written", "position"}


def test_bad_arguments_are_named():
    data, _ = default_infilling()
    with pytest.raises(ConfigError, match="Monte-Carlo rollouts"):
        MaskedInfillingVectorEnv(2, data=data, reward_scheme="mc_rollout")
    with pytest.raises(ConfigError, match="judges sentences of 5 tokens"):
        MaskedInfillingVectorEnv(2, data=data, discriminator=constant_discriminator(0.0, max_len=5))
    with pytest.raises(ConfigError, match="contiguous mask"):
        MaskedInfillingVectorEnv(2, data=data, present_rate=0.9)
    env = MaskedInfillingVectorEnv(2, data=data)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        env.step(np.array([0, 99]))
