"""actor_critic: a learned critic feeds the advantage estimator through the rollout batch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqadv.adversarial import AdversarialTrainer
from seqadv.algorithms import ALGORITHMS
from seqadv.config import load_config
from seqadv.envs.text_generation import TextGenerationVectorEnv
from seqadv.errors import ConfigError
from seqadv.models.generator import LSTMGenerator

PRESET = Path(__file__).resolve().parents[2] / "experiments" / "seqgan_oracle_tiny.yaml"


def learner_and_env(**kwargs):
    env = TextGenerationVectorEnv(
        8, autoreset_mode="disabled", reward_scheme="terminal", reward={"name": "constant", "kwargs": {"value": 0.7}}
    )
    policy = LSTMGenerator(16, embed_dim=8, hidden_dim=8, max_len=8)
    return ALGORITHMS.make("actor_critic", policy=policy, lr=0.05, **kwargs), env


def test_the_critic_learns_the_value_of_a_constant_reward():
    learner, env = learner_and_env(advantage={"name": "gae", "kwargs": {"gamma": 1.0, "lam": 1.0}})
    first = learner.learn(env, 1)
    assert first["gen/value_loss"] == pytest.approx(0.7**2, rel=1e-5)  # V starts at 0, G_t = 0.7
    for _ in range(60):
        stats = learner.learn(env, 1)
    assert stats["gen/value_loss"] < 0.01 * first["gen/value_loss"]
    batch = learner.collect(env)
    assert batch.values is not None and torch.allclose(
        batch.values[batch.mask], torch.full_like(batch.values[batch.mask], 0.7), atol=0.1
    )


def test_values_are_stored_and_the_state_round_trips():
    learner, env = learner_and_env(entropy_coef=0.01)
    stats = learner.learn(env, 2)
    assert {"gen/pg_loss", "gen/value_loss", "gen/entropy", "gen/grad_norm"} <= set(stats)
    twin, _ = learner_and_env(entropy_coef=0.01)
    twin.load_state_dict(learner.state_dict())
    for key, value in learner.critic.state_dict().items():
        assert torch.equal(value, twin.critic.state_dict()[key])
    assert torch.equal(twin.rng.get_state(), learner.rng.get_state())
    assert twin.optimizer.state_dict()["param_groups"] == learner.optimizer.state_dict()["param_groups"]


def test_bad_arguments_are_named():
    policy = LSTMGenerator(16, embed_dim=8, hidden_dim=8, max_len=8)
    with pytest.raises(ConfigError, match="actor_critic: reduction"):
        ALGORITHMS.make("actor_critic", policy=policy, reduction="mean")
    with pytest.raises(ConfigError, match="actor_critic: .*unknown argument"):
        ALGORITHMS.make("actor_critic", policy=policy, advantage={"name": "gae", "kwargs": {"x": 1}})


def test_actor_critic_trains_through_the_trainer():
    cfg = load_config(
        PRESET,
        ["algorithm={name: actor_critic}", "env.reward_scheme.name=mc_rollout_shaped", "adversarial.rounds=2"],
    )
    trainer = AdversarialTrainer(cfg)
    start = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    final = trainer.fit()
    assert final["phase"] == "adversarial" and "gen/value_loss" in final
    assert any(not torch.equal(start[k], v) for k, v in trainer.generator.state_dict().items())
