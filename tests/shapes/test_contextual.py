"""Worked example: conditional generation with a ``Dict`` observation, by registration only.

Observation: ``{"context": the source tokens, "written": the tokens written so far}``.
Action: the next token. Reward (terminal scheme): a discriminator's score of the whole record
``context + written``, which the environment's ``score`` assembles from the row's context.
The policy reads the observation (a bag of the context plus the last written token); it is
trained by ``seqadv train`` with ``reinforce`` and with ``sb3:PPO``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from torch import Tensor, nn

from seqadv.data.source import TextData
from seqadv.envs import register_env
from seqadv.envs.family import BatchedCore, StepOutput, env_forms
from seqadv.experiment import register_data_source
from seqadv.models.discriminator import DISCRIMINATORS, Discriminator
from seqadv.models.policy import GENERATORS, sample_masked
from seqadv.rewards import register_reward, resolve_reward
from seqadv.rewards.rollout import Timers
from seqadv.rewards.schemes import StepInfo, make_scheme

V, CONTEXT, WRITTEN = 6, 3, 3
PAD = V


# -- data: records = context, then its continuation (the context shifted by one) ----------------
@register_data_source("test_context_pairs", override=True)
def context_pairs(cfg: Any, base_dir: Any = None, n: int = 256, seed: int = 0) -> TextData:
    g = torch.Generator().manual_seed(seed)
    context = torch.randint(0, V, (n, CONTEXT), generator=g)
    return TextData(
        train=torch.cat([context, (context + 1) % V], dim=1),
        test=None,
        max_len=CONTEXT + WRITTEN,
        vocab_size=V,
        start_id=0,
        eos_id=None,
        pad_id=PAD,
        description=f"{n} (context, continuation) records",
    )


# -- the discriminator: bag of (position, token) pairs ---------------------------------------
class BagDiscriminator(Discriminator):
    def __init__(self, vocab_size: int, max_len: int, pad_id: int | None = None, dim: int = 8):
        super().__init__(vocab_size, max_len, pad_id)
        self.embed = self._make_embedding(dim)
        self.position = nn.Parameter(torch.zeros(max_len, dim))
        self.out = nn.Linear(dim, 1)

    def features(self, sequences: Tensor) -> Tensor:
        x = self.embed(self._prepare(sequences)) + self.position[: sequences.shape[1]]
        return torch.tanh(x).mean(dim=1)

    def forward(self, sequences: Tensor) -> Tensor:
        return self.out(self.features(sequences)).squeeze(-1)


DISCRIMINATORS.add("test_bag", BagDiscriminator, level="sequence", override=True)


@register_reward("test_centred_prob", level="sequence", override=True)
def centred_prob(logits: Tensor, **kwargs: Any) -> Tensor:
    """ScratchGAN-style 2 D(x) - 1."""
    return 2.0 * torch.sigmoid(logits) - 1.0


# -- the environment family: a Dict observation -------------------------------------------------
class ContextCore(BatchedCore):
    """B episodes of WRITTEN steps, each continuing the context drawn for its row."""

    def __init__(
        self,
        num_envs: int,
        data: Any = None,
        discriminator: Any = None,
        reward: Any = "test_centred_prob",
        reward_scheme: Any = "terminal",
        rollout_policy: Any = None,
    ) -> None:
        self.num_envs, self.max_episode_steps = num_envs, WRITTEN
        self.data = data if data is not None else context_pairs(None)
        self.discriminator = discriminator if discriminator is not None else BagDiscriminator(V, 6)
        self.reward = resolve_reward(reward)
        self.reward_scheme = make_scheme(reward_scheme)
        self.action_space = spaces.Discrete(V)
        self.observation_space = spaces.Dict(
            {
                "context": spaces.Box(0, V - 1, (CONTEXT,), np.int64),
                "written": spaces.Box(0, PAD, (WRITTEN,), np.int64),
            }
        )
        self.timers, self.rng = Timers(), torch.Generator().manual_seed(0)
        self.context = torch.zeros(num_envs, CONTEXT, dtype=torch.long)
        self.written = torch.full((num_envs, WRITTEN), PAD, dtype=torch.long)
        self.lengths = torch.zeros(num_envs, dtype=torch.long)
        self.done = torch.zeros(num_envs, dtype=torch.bool)
        self.reward_scheme.bind(self)

    def score(self, written: Tensor, rows: Tensor) -> Tensor:
        """The one place that assembles the reward's input: the row's context + the tokens."""
        with torch.no_grad():
            records = torch.cat([self.context[rows], written], dim=1)
            return self.reward(self.discriminator(records)).float()

    def reset(self, mask: Tensor | None = None) -> None:
        rows = torch.ones(self.num_envs, dtype=torch.bool) if mask is None else mask
        pick = torch.randint(0, self.data.train.shape[0], (self.num_envs,), generator=self.rng)
        self.context[rows] = self.data.train[pick, :CONTEXT][rows]
        self.written[rows] = PAD
        self.lengths[rows] = 0
        self.done[rows] = False
        self.reward_scheme.reset(mask)

    def observations(self) -> dict[str, Tensor]:
        return {"context": self.context, "written": self.written}

    def step(self, actions: Tensor, skip: Tensor | None = None) -> StepOutput:
        actions = torch.as_tensor(actions).long().reshape(self.num_envs)
        active = ~self.done if skip is None else ~self.done & ~skip
        rows = active.nonzero().squeeze(1)
        self.written[rows, self.lengths[rows]] = actions[rows]
        self.lengths[rows] += 1
        ended = active & (self.lengths >= WRITTEN)
        rewards = self.reward_scheme.rewards(
            StepInfo(self.written, actions, active, ended, self.lengths)
        )
        records = torch.cat([self.context, self.written], dim=1)
        finished = torch.where(ended.unsqueeze(1), records, torch.full_like(records, PAD))
        self.done |= ended
        return StepOutput(rewards, ended, torch.zeros_like(ended), finished)


ContextEnv, ContextVectorEnv = env_forms("Context", ContextCore, "Continue a context.", __name__)
register_env("test/Context-v0", ContextEnv, ContextVectorEnv, summary="test Dict env", override=True)


# -- the contextual policy ------------------------------------------------------------------------
def _last_written(written: Tensor) -> Tensor:
    """The last written token of each row (``V``, a start symbol, for an empty prefix)."""
    ids = written.round().long()
    n = (ids != PAD).long().sum(-1)
    last = ids.gather(-1, (n - 1).clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return torch.where(n > 0, last, torch.full_like(last, V))


class ObsEncoder(nn.Module):
    """latent = tanh(mean of the context's embeddings + the last written token's embedding)."""

    def __init__(self, context: nn.Embedding, previous: nn.Embedding) -> None:
        super().__init__()
        self.context, self.previous = context, previous
        self.latent_dim = context.embedding_dim

    def forward(self, obs: dict[str, Tensor]) -> Tensor:
        ctx = self.context(obs["context"].round().long()).mean(dim=-2)
        return torch.tanh(ctx + self.previous(_last_written(obs["written"])))


class ContextPolicy(nn.Module):
    """A policy that reads a ``Dict`` observation (no recurrence: each step re-reads it)."""

    def __init__(self, data: TextData, dim: int = 8, seed: int = 0) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.context_embed = nn.Embedding(V, dim)
            self.previous_embed = nn.Embedding(V + 1, dim)
            self.output = nn.Linear(dim, V)
        self.contexts = data.train[:, :CONTEXT].clone()
        self.encoder = ObsEncoder(self.context_embed, self.previous_embed)

    def initial_state(self, obs: dict[str, Tensor]) -> None:
        return None

    def act(self, obs, state, *, generator=None, action_mask=None, temperature=1.0):
        logits = self.output(self.encoder(obs))
        actions, log_probs = sample_masked(logits, generator, action_mask, temperature)
        return actions, log_probs, state

    def evaluate(self, obs, actions, mask, action_masks=None, *, entropy=True):
        log_p = torch.log_softmax(self.output(self.encoder(obs)), dim=-1)  # (B, S, V)
        picked = log_p.gather(-1, actions.clamp(0, V - 1).unsqueeze(-1)).squeeze(-1)
        ent = -(log_p.exp() * log_p).sum(-1) if entropy else None
        return torch.where(mask, picked, 0.0), ent

    def sample(self, n, *, generator=None, temperature=1.0):
        pick = torch.randint(0, self.contexts.shape[0], (n,), generator=generator)
        obs = {"context": self.contexts[pick], "written": torch.full((n, WRITTEN), PAD)}
        for t in range(WRITTEN):
            tokens, _, _ = self.act(obs, None, generator=generator, temperature=temperature)
            obs["written"] = obs["written"].clone()
            obs["written"][:, t] = tokens
        return torch.cat([obs["context"], obs["written"]], dim=1)

    def actor_modules(self):
        return self.encoder, self.output


@GENERATORS.register("test_context_policy", override=True)
def context_policy(data: TextData, seed: int, dim: int = 8) -> ContextPolicy:
    return ContextPolicy(data, dim, seed)


def config(algorithm: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "contextual",
        "seed": 1,
        "data": {"source": "test_context_pairs"},
        "generator": {"name": "test_context_policy"},
        "pretrain": {"epochs": 0},
        "discriminator": {
            "name": "test_bag",
            "lr": 0.01,
            "batch_size": 32,
            "pretrain_rounds": 1,
            "pretrain_epochs": 1,
            "n_negatives": 128,
        },
        "env": {"name": "test/Context-v0", "reward": "test_centred_prob", "num_envs": 16},
        "algorithm": algorithm,
        "adversarial": {"rounds": 2, "discriminator_rounds": 1, "discriminator_epochs": 1, "lr": 0.01},
        "eval": {"every_rounds": 1, "n_samples": 64, "metrics": [], "n_print": 1},
        "keep_samples": 5,
    }


ALGORITHMS = {
    "reinforce": {"name": "reinforce", "kwargs": {"discount": 1.0, "baseline": "ema"}},
    "sb3:PPO": {"name": "sb3:PPO", "kwargs": {"n_epochs": 1, "batch_size": 16}},
}


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_a_dict_observation_env_trains_through_the_trainer(train_cli, algorithm):
    trained = train_cli(config(ALGORITHMS[algorithm]))
    rounds = [r for r in trained.records if r["phase"] == "adversarial"]
    assert [r["round"] for r in rounds] == [0, 1, 2]
    assert all(-1.0 <= r["reward/mean"] <= 1.0 for r in rounds[1:])
    policy_moved, discriminator_moved = trained.moved()
    assert policy_moved and discriminator_moved
    samples = (trained.run / "samples" / "adversarial-0002.txt").read_text().split("\n")
    assert len(samples[0].split()) == CONTEXT + WRITTEN  # records: context + continuation


def test_context_forms_pass_the_checkers():
    env = gym.make("test/Context-v0").unwrapped
    gym_check_env(env)
    sb3_check_env(env, warn=False)
    vec = ContextVectorEnv(4, autoreset_mode="disabled")
    obs, _ = vec.reset(seed=0)
    assert vec.single_observation_space.contains({k: v[0] for k, v in obs.items()})
    for _ in range(WRITTEN):
        _, rewards, terminated, _, infos = vec.step(np.zeros(4, dtype=np.int64))
    assert terminated.all() and infos["sequence"][0].shape == (CONTEXT + WRITTEN,)
    assert np.all(np.abs(rewards) <= 1.0)


def test_the_reward_reads_the_rows_own_context():
    """Two rows writing the same tokens after different contexts get different rewards."""
    vec = ContextVectorEnv(2, autoreset_mode="disabled")
    vec.reset(seed=0)
    core_obs = vec.reset_torch(seed=3)
    while torch.equal(core_obs["context"][0], core_obs["context"][1]):
        core_obs = vec.reset_torch(seed=int(torch.randint(0, 100, (1,))))
    contexts = [core_obs["context"][i].clone() for i in range(2)]
    for _ in range(WRITTEN):
        _, out = vec.step_torch(torch.tensor([2, 2]))
    records = torch.stack([torch.cat([c, torch.tensor([2, 2, 2])]) for c in contexts])
    expected = centred_prob(vec.discriminator(records))
    assert torch.allclose(out.rewards, expected)
