"""Worked example: a one-step contextual bandit (IRGAN's episode shape), by registration only.

Observation: a query id. Action: one of K items. Reward: from a learned (query, item) scorer
(the discriminator), trained on real (query, item) pairs against the policy's own picks. The
policy is a matrix-factorization scorer. Everything below is registered here and trained by
``seqadv train`` from a YAML config, with ``reinforce`` and with ``sb3:PPO``.
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
from seqadv.evaluation import register_metric
from seqadv.experiment import register_data_source
from seqadv.models.discriminator import DISCRIMINATORS, Discriminator
from seqadv.models.policy import GENERATORS, sample_masked
from seqadv.rewards import REWARDS, register_reward, resolve_reward
from seqadv.rewards.rollout import Timers
from seqadv.rewards.schemes import StepInfo, make_scheme

N_QUERIES, N_ITEMS = 4, 6


def relevant(queries: Tensor) -> Tensor:
    """(B, K) bool: the items relevant to each query (the "true" preference)."""
    items = torch.arange(N_ITEMS)
    return (items.unsqueeze(0) - 2 * queries.unsqueeze(1)) % N_ITEMS < 2


# -- data: real (query, item) pairs ------------------------------------------------------------
@register_data_source("test_bandit_pairs", override=True)
def bandit_pairs(cfg: Any, base_dir: Any = None, n: int = 256, seed: int = 0) -> TextData:
    g = torch.Generator().manual_seed(seed)
    queries = torch.randint(0, N_QUERIES, (n,), generator=g)
    items = (2 * queries + torch.randint(0, 2, (n,), generator=g)) % N_ITEMS
    return TextData(
        train=torch.stack([queries, items], dim=1),
        test=None,
        max_len=2,
        vocab_size=max(N_QUERIES, N_ITEMS),
        start_id=0,
        eos_id=None,
        pad_id=max(N_QUERIES, N_ITEMS),
        description=f"{n} (query, item) pairs",
    )


# -- the discriminator: a (query, item) scorer -------------------------------------------------
class PairScorer(Discriminator):
    """logit(q, d) = <u_q, v_d> + b_d over records (B, 2) = (query, item)."""

    def __init__(self, vocab_size: int, max_len: int, pad_id: int | None = None, dim: int = 4):
        super().__init__(vocab_size, max_len, pad_id)
        self.queries = nn.Embedding(N_QUERIES, dim)
        self.items = nn.Embedding(N_ITEMS, dim)
        self.bias = nn.Parameter(torch.zeros(N_ITEMS))

    def features(self, sequences: Tensor) -> Tensor:
        return self.queries(sequences[:, 0]) * self.items(sequences[:, 1])

    def forward(self, sequences: Tensor) -> Tensor:
        return self.features(sequences).sum(-1) + self.bias[sequences[:, 1]]


DISCRIMINATORS.add("test_pair_scorer", PairScorer, level="sequence", override=True)


# -- the reward: IRGAN's log(1 + exp(f(q, d))) ---------------------------------------------------
@register_reward("test_softplus", level="sequence", override=True)
def softplus(logits: Tensor, **kwargs: Any) -> Tensor:
    """IRGAN's reward log(1 + exp(f(q, d)))."""
    return torch.nn.functional.softplus(logits)


# -- the environment family: one step ------------------------------------------------------------
class BanditCore(BatchedCore):
    """B one-step episodes: observe a query id (Box (1,)), pick an item (Discrete(K))."""

    def __init__(
        self,
        num_envs: int,
        data: Any = None,
        discriminator: Any = None,
        reward: Any = "test_softplus",
        reward_scheme: Any = "terminal",
        rollout_policy: Any = None,
    ) -> None:
        self.num_envs, self.max_episode_steps = num_envs, 1
        self.data = data if data is not None else bandit_pairs(None)
        self.discriminator = discriminator if discriminator is not None else PairScorer(6, 2)
        self.reward = resolve_reward(reward)
        self.reward_scheme = make_scheme(reward_scheme)
        self.action_space = spaces.Discrete(N_ITEMS)
        self.observation_space = spaces.Box(0, N_QUERIES - 1, (1,), np.int64)
        self.timers, self.rng = Timers(), torch.Generator().manual_seed(0)
        self.query = torch.zeros(num_envs, 1, dtype=torch.long)
        self.done = torch.zeros(num_envs, dtype=torch.bool)
        self.reward_scheme.bind(self)

    def score(self, records: Tensor, rows: Tensor | None = None) -> Tensor:
        with torch.no_grad():
            return self.reward(self.discriminator(records)).float()

    def reset(self, mask: Tensor | None = None) -> None:
        rows = torch.ones(self.num_envs, dtype=torch.bool) if mask is None else mask
        fresh = torch.randint(0, N_QUERIES, (self.num_envs, 1), generator=self.rng)
        self.query[rows] = fresh[rows]
        self.done[rows] = False
        self.reward_scheme.reset(mask)

    def observations(self) -> Tensor:
        return self.query

    def step(self, actions: Tensor, skip: Tensor | None = None) -> StepOutput:
        actions = torch.as_tensor(actions).long().reshape(self.num_envs)
        if bool(((actions < 0) | (actions >= N_ITEMS)).any()):
            raise ValueError(f"actions must be item ids 0..{N_ITEMS - 1}, got {actions.tolist()}")
        active = ~self.done if skip is None else ~self.done & ~skip
        records = torch.cat([self.query, actions.unsqueeze(1)], dim=1)
        info = StepInfo(records, actions, active, active.clone(), torch.full_like(actions, 2))
        rewards = self.reward_scheme.rewards(info)
        self.done |= active
        finished = torch.where(active.unsqueeze(1), records, torch.full_like(records, 6))
        return StepOutput(rewards, active.clone(), torch.zeros_like(active), finished)


BanditEnv, BanditVectorEnv = env_forms("Bandit", BanditCore, "A one-step bandit.", __name__)
register_env("test/Bandit-v0", BanditEnv, BanditVectorEnv, summary="test bandit", override=True)


# -- the policy: matrix factorization, one step ---------------------------------------------------
class QueryEncoder(nn.Module):
    def __init__(self, queries: nn.Embedding) -> None:
        super().__init__()
        self.queries, self.latent_dim = queries, queries.embedding_dim

    def forward(self, obs: Tensor) -> Tensor:
        return self.queries(obs.reshape(obs.shape[0], -1)[:, 0].round().long())


class ItemHead(nn.Module):
    def __init__(self, items: nn.Embedding) -> None:
        super().__init__()
        self.items = items

    def forward(self, latent: Tensor) -> Tensor:
        return latent @ self.items.weight.t()


class MFPolicy(nn.Module):
    """pi(d | q) = softmax_d <u_q, v_d>: a one-step scorer policy."""

    def __init__(self, dim: int = 4, seed: int = 0) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.queries = nn.Embedding(N_QUERIES, dim)
            self.items = nn.Embedding(N_ITEMS, dim)

    def logits(self, query: Tensor) -> Tensor:
        return self.queries(query) @ self.items.weight.t()

    def initial_state(self, obs: Tensor) -> None:
        return None

    def act(self, obs, state, *, generator=None, action_mask=None, temperature=1.0):
        actions, log_probs = sample_masked(self.logits(obs[:, 0]), generator, action_mask, temperature)
        return actions, log_probs, state

    def evaluate(self, obs, actions, mask, action_masks=None, *, entropy=True):
        log_p = torch.log_softmax(self.logits(obs[:, :, 0]), dim=-1)  # (B, 1, K)
        picked = log_p.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
        ent = -(log_p.exp() * log_p).sum(-1) if entropy else None
        return torch.where(mask, picked, 0.0), ent

    def sample(self, n, *, generator=None, temperature=1.0):
        queries = torch.randint(0, N_QUERIES, (n,), generator=generator)
        items, _ = sample_masked(self.logits(queries), generator, None, temperature)
        return torch.stack([queries, items], dim=1)

    def actor_modules(self):
        return QueryEncoder(self.queries), ItemHead(self.items)


@GENERATORS.register("test_mf_policy", override=True)
def mf_policy(data: Any, seed: int, dim: int = 4) -> MFPolicy:
    return MFPolicy(dim, seed)


# -- an evaluation metric of the recipe -------------------------------------------------------------
@register_metric("test_relevance", override=True)
def relevance(ctx: Any) -> dict[str, Any]:
    """Precision of the sampled items: the share relevant to their query."""
    hits = relevant(ctx.samples[:, 0]).gather(1, ctx.samples[:, 1:2]).float().mean()
    return {"eval/relevance": float(hits), "eval/relevance_signature": f"relevance|n:{len(ctx.samples)}"}


def config(algorithm: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "bandit",
        "seed": 0,
        "data": {"source": "test_bandit_pairs"},
        "generator": {"name": "test_mf_policy", "kwargs": {"dim": 4}},
        "pretrain": {"epochs": 0},
        "discriminator": {
            "name": "test_pair_scorer",
            "lr": 0.05,
            "batch_size": 32,
            "pretrain_rounds": 1,
            "pretrain_epochs": 1,
            "n_negatives": 128,
        },
        "env": {"name": "test/Bandit-v0", "reward": "test_softplus", "num_envs": 32},
        "algorithm": algorithm,
        "adversarial": {"rounds": 4, "discriminator_rounds": 1, "discriminator_epochs": 1, "lr": 0.05},
        "eval": {"every_rounds": 2, "n_samples": 256, "metrics": ["test_relevance"], "n_print": 0},
        "keep_samples": 5,
    }


ALGORITHMS = {
    "reinforce": {"name": "reinforce", "kwargs": {"discount": 1.0, "baseline": "batch_mean"}},
    "sb3:PPO": {"name": "sb3:PPO", "kwargs": {"n_epochs": 2, "batch_size": 32}},
}


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_a_one_step_bandit_trains_through_the_trainer(train_cli, algorithm):
    trained = train_cli(config(ALGORITHMS[algorithm]))
    rounds = [r for r in trained.records if r["phase"] == "adversarial"]
    assert [r["round"] for r in rounds] == [0, 2, 4]
    assert all(0.0 <= r["eval/relevance"] <= 1.0 for r in rounds)
    assert all("reward/mean" in r for r in rounds[1:])
    policy_moved, discriminator_moved = trained.moved()
    assert policy_moved and discriminator_moved


def test_bandit_forms_pass_the_checkers():
    env = gym.make("test/Bandit-v0").unwrapped
    gym_check_env(env)
    sb3_check_env(env, warn=False)
    vec = BanditVectorEnv(8, autoreset_mode="disabled")
    obs, _ = vec.reset(seed=0)
    assert obs.shape == (8, 1) and vec.single_observation_space.contains(obs[0])
    _, rewards, terminated, truncated, infos = vec.step(np.arange(8) % N_ITEMS)
    assert terminated.all() and not truncated.any() and infos["_sequence"].all()
    assert np.all(rewards > 0)  # softplus of any logit


def test_names_are_listed_where_users_look():
    assert "test_softplus" in REWARDS and "test_mf_policy" in GENERATORS
    assert gym.spec("test/Bandit-v0").vector_entry_point is BanditVectorEnv


def test_sample_rebuilds_a_registered_policy_from_its_run(train_cli, capsys):
    from seqadv.cli import main

    trained = train_cli(config(ALGORITHMS["reinforce"]) | {"adversarial": {"rounds": 1}})
    capsys.readouterr()
    assert main(["sample", str(trained.run), "-n", "2"]) == 0
    first = capsys.readouterr().out.splitlines()
    assert main(["sample", str(trained.run), "-n", "2"]) == 0
    assert capsys.readouterr().out.splitlines() == first and len(first) == 2
    assert all(line.split() and all(t.isdigit() for t in line.split()) for line in first)  # ids
