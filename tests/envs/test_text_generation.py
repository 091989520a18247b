"""TextGeneration environments: API checkers, hand-computed rewards, errors, batching."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

import seqadv  # noqa: F401  (registers the ids)
from seqadv.data.source import TextData
from seqadv.envs import ENVIRONMENTS
from seqadv.envs.text_generation import (
    TextGenerationCore,
    TextGenerationEnv,
    TextGenerationVectorEnv,
)
from seqadv.errors import ConfigError, RewardError, UnknownNameError
from seqadv.models.generator import LSTMGenerator

V, T = 6, 5


class ConstantDiscriminator(nn.Module):
    """logit = c for every sequence (or every token)."""

    def __init__(self, logit: float, vocab_size: int = V, max_len: int = T, level: str = "sequence"):
        super().__init__()
        self.logit, self.vocab_size, self.max_len, self.level = logit, vocab_size, max_len, level

    def forward(self, x):
        shape = x.shape if self.level == "token" else x.shape[:1]
        return torch.full(shape, self.logit)


class CountDiscriminator(nn.Module):
    """logit = the number of tokens equal to ``token`` in the sequence."""

    def __init__(self, token: int, vocab_size: int = V, max_len: int = T):
        super().__init__()
        self.token, self.vocab_size, self.max_len, self.level = token, vocab_size, max_len, "sequence"

    def forward(self, x):
        return (x == self.token).sum(dim=1).float()


def oracle_data(vocab_size: int = V, max_len: int = T) -> TextData:
    return TextData(
        train=torch.zeros(4, max_len, dtype=torch.long),
        test=None,
        max_len=max_len,
        vocab_size=vocab_size,
        start_id=0,
        eos_id=None,
        pad_id=vocab_size,
    )


def corpus_data() -> TextData:
    # ids: 0 PAD, 1 BOS, 2 EOS, 3 UNK, 4.. words
    return TextData(
        train=torch.tensor([[4, 5, 2, 0, 0]]),
        test=None,
        max_len=T,
        vocab_size=V,
        start_id=1,
        eos_id=2,
        pad_id=0,
        forbidden_ids=(0, 1),
    )


def always(token: int, vocab_size: int = V, max_len: int = T, eos_id=None) -> LSTMGenerator:
    """A rollout policy that writes ``token`` with probability 1."""
    g = LSTMGenerator(vocab_size, 4, 4, max_len, eos_id=eos_id)
    with torch.no_grad():
        g.output.weight.zero_()
        g.output.bias.fill_(-1e4)
        g.output.bias[token] = 0.0
    return g


def run_episode(env, actions):
    env.reset(seed=0)
    rewards, last = [], None
    for a in actions:
        obs, r, term, trunc, info = env.step(a)
        rewards.append(r)
        last = (obs, term, trunc, info)
    return rewards, last


# -- registry-wide API checks -------------------------------------------------------------------
@pytest.mark.parametrize("env_id", ENVIRONMENTS.names())
def test_registered_ids_pass_gymnasium_and_sb3_checkers(env_id):
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = gym.make(env_id)
    env.unwrapped.discriminator.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env.unwrapped, skip_render_check=True)
        sb3_check_env(env.unwrapped, warn=False)
    vec = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point")
    obs, _ = vec.reset(seed=1)
    parts = obs if isinstance(obs, dict) else {"": obs}
    spaces = env.observation_space.spaces if isinstance(obs, dict) else {"": env.observation_space}
    assert parts.keys() == spaces.keys()
    for key, part in parts.items():
        assert part.shape == (3, *spaces[key].shape), key
    assert vec.observation_space.contains(obs)


def test_make_from_a_bare_interpreter():
    import subprocess
    import sys

    code = (
        "import gymnasium as gym\n"
        "env = gym.make('seqadv:seqadv/TextGeneration-v0')\n"
        "obs, _ = env.reset(seed=0)\n"
        "print(obs.shape)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(8,)"


def test_live_objects_arrive_as_the_same_object():
    disc = ConstantDiscriminator(0.0)
    env = gym.make("seqadv/TextGeneration-v0", data=oracle_data(), discriminator=disc)
    assert env.unwrapped.discriminator is disc


# -- hand-computed rewards with a constant discriminator --------------------------------------
P = float(torch.sigmoid(torch.tensor(0.7)))


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("terminal", [0.0, 0.0, 0.0, 0.0, P]),
        ("mc_rollout", [P, P, P, P, P]),
        ("mc_rollout_shaped", [P, 0.0, 0.0, 0.0, 0.0]),
    ],
)
def test_constant_discriminator_rewards(mode, expected):
    env = TextGenerationEnv(
        data=oracle_data(),
        discriminator=ConstantDiscriminator(0.7),
        reward="prob",
        reward_scheme=mode,
        rollout_policy=LSTMGenerator(V, 4, 4, T),
        n_rollouts=3,
    )
    rewards, (obs, term, trunc, info) = run_episode(env, [1, 2, 3, 4, 5])
    np.testing.assert_allclose(rewards, expected, rtol=0, atol=1e-6)
    assert term and not trunc  # fixed-length data end by termination
    np.testing.assert_array_equal(info["sequence"], [1, 2, 3, 4, 5])
    assert sum(rewards) == pytest.approx(P if mode != "mc_rollout" else 5 * P, abs=1e-6)


def test_constant_token_discriminator_per_token_rewards_and_sign():
    env = TextGenerationEnv(
        data=oracle_data(),
        discriminator=ConstantDiscriminator(-1.3, level="token"),
        reward="log_prob",
        reward_scheme="per_token",
    )
    rewards, _ = run_episode(env, [0, 0, 1, 1, 2])
    expected = float(torch.nn.functional.logsigmoid(torch.tensor(-1.3)))
    assert expected < 0
    np.testing.assert_allclose(rewards, [expected] * T, atol=1e-6)


def test_mc_rollout_values_follow_each_sequence_not_its_neighbours():
    # The rollout policy always writes token 1 and D's logit counts the 1s, so the value of a
    # prefix is exactly (1s in the prefix) + (remaining positions). Two rows with different
    # prefixes catch rewards reshaped across sentences.
    core = TextGenerationCore(
        2,
        oracle_data(),
        CountDiscriminator(1),
        reward="logit",
        reward_scheme="mc_rollout",
        rollout_policy=always(1),
        n_rollouts=4,
    )
    core.reset()
    got = []
    for _ in range(T):
        got.append(core.step(torch.tensor([1, 2])).rewards.tolist())
    row0 = [r[0] for r in got]
    row1 = [r[1] for r in got]
    assert row0 == [5.0, 5.0, 5.0, 5.0, 5.0]
    assert row1 == [4.0, 3.0, 2.0, 1.0, 0.0]


def test_shaped_rewards_sum_to_the_final_score():
    torch.manual_seed(0)
    core = TextGenerationCore(
        3,
        oracle_data(),
        CountDiscriminator(3),
        reward="logit",
        reward_scheme="mc_rollout_shaped",
        rollout_policy=LSTMGenerator(V, 4, 4, T),
        n_rollouts=5,
    )
    core.seed(1)
    core.reset()
    total = torch.zeros(3)
    actions = torch.tensor([[3, 1, 3, 3, 0], [0, 0, 0, 0, 0], [3, 3, 3, 3, 3]])
    for t in range(T):
        out = core.step(actions[:, t])
        total += out.rewards
    np.testing.assert_allclose(total.numpy(), [3.0, 0.0, 5.0], atol=1e-5)


def test_eos_ends_the_episode_and_pads():
    env = TextGenerationEnv(
        data=corpus_data(), discriminator=ConstantDiscriminator(0.0), reward="prob"
    )
    env.reset(seed=0)
    env.step(4)
    obs, r, term, trunc, info = env.step(2)  # EOS
    assert term and not trunc and r == pytest.approx(0.5)
    np.testing.assert_array_equal(info["sequence"], [4, 2, 0, 0, 0])
    with pytest.raises(RuntimeError, match="reset"):
        env.step(4)


def test_length_limit_truncates_data_with_eos():
    env = TextGenerationEnv(data=corpus_data(), discriminator=ConstantDiscriminator(0.0))
    _, (_, term, trunc, _) = run_episode(env, [4, 5, 4, 5, 4])
    assert trunc and not term


def test_action_masks_forbid_pad_and_bos():
    env = TextGenerationEnv(data=corpus_data(), discriminator=ConstantDiscriminator(0.0))
    env.reset(seed=0)
    mask = env.action_masks()
    assert mask.tolist() == [False, False, True, True, True, True]


def test_discriminator_scores_in_eval_mode_and_mode_is_restored():
    seen = []

    class Recorder(ConstantDiscriminator):
        def forward(self, x):
            seen.append(self.training)
            return super().forward(x)

    disc = Recorder(0.0).train()
    env = TextGenerationEnv(data=oracle_data(), discriminator=disc)
    run_episode(env, [1] * T)
    assert seen == [False] and disc.training


def test_same_seed_same_rollout_rewards():
    def rewards(seed):
        torch.manual_seed(0)  # the same rollout policy every time
        env = TextGenerationEnv(
            data=oracle_data(),
            discriminator=CountDiscriminator(2),
            reward="logit",
            reward_scheme="mc_rollout",
            rollout_policy=LSTMGenerator(V, 4, 4, T),
            n_rollouts=2,
        )
        env.reset(seed=seed)
        return [env.step(2)[1] for _ in range(T)]

    assert rewards(5) == rewards(5)
    assert rewards(5) != rewards(6)


# -- the vector env -------------------------------------------------------------------------------
def test_vector_env_next_step_autoreset_and_disabled_mode():
    vec = TextGenerationVectorEnv(
        2, data=corpus_data(), discriminator=ConstantDiscriminator(0.0), reward="prob"
    )
    vec.reset(seed=0)
    _, r, term, trunc, info = vec.step(np.array([2, 4]))  # row 0 writes EOS
    assert term.tolist() == [True, False] and r.tolist() == [0.5, 0.0]
    assert info["_sequence"].tolist() == [True, False]
    obs, r, term, _, _ = vec.step(np.array([5, 5]))  # row 0 resets, its action is ignored
    assert obs[0].tolist() == [0] * T and r[0] == 0.0
    assert obs[1].tolist()[:2] == [4, 5]

    off = TextGenerationVectorEnv(
        2,
        data=corpus_data(),
        discriminator=ConstantDiscriminator(0.0),
        autoreset_mode="disabled",
    )
    off.reset(seed=0)
    off.step(np.array([2, 4]))
    obs, r, term, _, _ = off.step(np.array([5, 5]))
    assert obs[0].tolist() == [2, 0, 0, 0, 0] and r[0] == 0.0 and not term[0]
    obs, _ = off.reset(options={"reset_mask": np.array([True, False])})
    assert obs[0].tolist() == [0] * T and obs[1].tolist()[:2] == [4, 5]


def test_vector_env_matches_single_envs():
    disc = CountDiscriminator(1)
    actions = [[1, 2, 1, 1, 0], [3, 3, 1, 0, 1]]
    vec = TextGenerationVectorEnv(2, data=oracle_data(), discriminator=disc, reward="logit")
    vec.reset(seed=0)
    vec_rewards = [vec.step(np.array([a[t] for a in actions]))[1] for t in range(T)]
    for i, seq in enumerate(actions):
        single = TextGenerationEnv(data=oracle_data(), discriminator=disc, reward="logit")
        rewards, _ = run_episode(single, seq)
        np.testing.assert_allclose([r[i] for r in vec_rewards], rewards)


def test_sb3_adapter_resets_in_the_same_step():
    from seqadv.envs.sb3 import to_sb3

    vec = TextGenerationVectorEnv(
        2, data=corpus_data(), discriminator=ConstantDiscriminator(0.0), reward="prob"
    )
    venv = to_sb3(vec)
    venv.seed(0)
    venv.reset()
    obs, rewards, dones, infos = venv.step(np.array([2, 4]))
    assert dones.tolist() == [True, False]
    assert obs[0].tolist() == [0] * T  # already the next episode
    assert infos[0]["terminal_observation"].tolist() == [2, 0, 0, 0, 0]
    assert infos[0]["TimeLimit.truncated"] is False
    assert venv.env_method("action_masks")[0].tolist() == [False, False, True, True, True, True]


# -- errors -----------------------------------------------------------------------------------------
def test_action_outside_vocabulary_is_named():
    env = TextGenerationEnv(data=oracle_data(), discriminator=ConstantDiscriminator(0.0))
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action 6 .*outside the vocabulary 0\.\.5"):
        env.step(6)


def test_discriminator_vocabulary_mismatch_is_named():
    with pytest.raises(ConfigError, match="discriminator ConstantDiscriminator has vocab_size 9"):
        TextGenerationEnv(data=oracle_data(), discriminator=ConstantDiscriminator(0.0, vocab_size=9))


def test_rollout_policy_vocabulary_mismatch_is_named():
    with pytest.raises(ConfigError, match="rollout_policy LSTMGenerator has vocab_size 7"):
        TextGenerationEnv(
            data=oracle_data(),
            discriminator=ConstantDiscriminator(0.0),
            reward_scheme="mc_rollout",
            rollout_policy=LSTMGenerator(7, 4, 4, T),
        )


def test_unknown_reward_lists_close_matches():
    with pytest.raises(UnknownNameError, match="'prob'"):
        TextGenerationEnv(data=oracle_data(), discriminator=ConstantDiscriminator(0.0), reward="porb")


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda logits, **kw: torch.zeros(len(logits), 2), "shape"),
        (lambda logits, **kw: torch.full_like(logits, float("nan")), "NaN"),
        (lambda logits, **kw: torch.full_like(logits, float("inf")), "inf"),
    ],
)
def test_bad_reward_outputs_fail_naming_the_reward(bad, message):
    env = TextGenerationEnv(data=oracle_data(), discriminator=ConstantDiscriminator(0.0), reward=bad)
    env.reset(seed=0)
    with pytest.raises(RewardError, match=message):
        for _ in range(T):
            env.step(1)


def test_mode_and_discriminator_level_must_agree():
    with pytest.raises(ConfigError, match="token-level discriminator"):
        TextGenerationEnv(
            data=oracle_data(), discriminator=ConstantDiscriminator(0.0), reward_scheme="per_token"
        )
    with pytest.raises(ConfigError, match="sequence-level discriminator"):
        TextGenerationEnv(
            data=oracle_data(), discriminator=ConstantDiscriminator(0.0, level="token")
        )


@pytest.mark.parametrize("bad", ["3", True, 2.5, None, [1, 2], float("nan")])
def test_actions_that_are_not_token_ids_are_refused_by_name(bad):
    env = TextGenerationEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"Discrete\(16\)"):
        env.step(bad)


def test_a_vector_env_must_be_reset_before_it_steps():
    vec = TextGenerationVectorEnv(2)
    with pytest.raises(RuntimeError, match="reset"):
        vec.step([1, 2])
    with pytest.raises(RuntimeError, match="reset"):
        vec.reset(options={"reset_mask": [True, False]})
    vec.reset(seed=0)
    assert vec.step(np.array([1, 2]))[0].shape == (2, 8)


def test_make_time_vocab_size_and_max_len_size_the_default_oracle():
    from gymnasium.utils.env_checker import check_env

    env = gym.make("seqadv/TextGeneration-v0", vocab_size=12, max_len=5).unwrapped
    assert env.action_space == gym.spaces.Discrete(12)
    assert env.observation_space.shape == (5,)
    check_env(env)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (5,)


def test_make_time_sizes_also_size_the_default_rollout_policy():
    env = gym.make("seqadv/TextGenerationMC-v0", vocab_size=12, max_len=5, n_rollouts=2)
    assert env.unwrapped.core.rollout_policy.vocab_size == 12
    env.reset(seed=0)
    for _ in range(5):
        _, reward, terminated, _, _ = env.step(env.action_space.sample())
    assert terminated


def test_vocab_size_and_max_len_that_disagree_with_the_data_are_refused():
    data = oracle_data()
    with pytest.raises(ConfigError, match=r"vocab_size.*max_len|vocab_size=99"):
        TextGenerationVectorEnv(2, data=data, vocab_size=99, max_len=data.max_len + 1)
    env = TextGenerationVectorEnv(2, data=data, vocab_size=data.vocab_size, max_len=data.max_len)
    assert env.single_action_space.n == data.vocab_size
    with pytest.raises(ConfigError, match="max_len"):
        TextGenerationVectorEnv(2, max_len=0)
