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


# -- MaskGAN's critic: a head on the environment's discriminator ------------------------------
def infilling_learner(**kwargs):
    from seqadv.envs.masked_infilling import MaskedInfillingVectorEnv, default_infilling
    from seqadv.models.infilling_generator import infilling_policy

    data, disc = default_infilling()
    env = MaskedInfillingVectorEnv(8, data=data, discriminator=disc, autoreset_mode="disabled")
    policy = infilling_policy(data, seed=0, embed_dim=8, hidden_dim=8)
    kwargs.setdefault("advantage", {"name": "discounted", "kwargs": {"baseline": "critic", "time_key": "position"}})
    return ALGORITHMS.make("actor_critic", policy=policy, critic="discriminator", lr=0.01, **kwargs), env


def test_the_discriminator_critic_is_a_head_on_its_states_and_learns_the_returns():
    learner, env = infilling_learner(critic_lr=0.05)
    assert not learner.critic.bound and learner.critic_optimizer is None
    disc_before = {k: v.clone() for k, v in env.discriminator.state_dict().items()}
    first = learner.learn(env, 1)
    assert learner.critic.bound and learner.critic.head.in_features == 8
    assert "gen/critic_grad_norm" in first
    # only the head is the critic's: the discriminator's weights are its own loss's
    assert [n for n, _ in learner.critic.named_parameters()] == ["head.weight", "head.bias"]
    for _ in range(40):
        stats = learner.learn(env, 1)
    assert stats["gen/value_loss"] < 0.2 * first["gen/value_loss"]
    for k, v in env.discriminator.state_dict().items():
        assert torch.equal(v, disc_before[k]), k
    # the policy's optimizer does not hold the head
    held = {id(p) for g in learner.optimizer.param_groups for p in g["params"]}
    assert not held & {id(p) for p in learner.critic.parameters()}


def test_the_discriminator_critic_round_trips_before_and_after_binding():
    learner, env = infilling_learner()
    learner.learn(env, 2)
    state = learner.state_dict()
    assert {"critic", "critic_optimizer"} <= set(state)
    twin, _ = infilling_learner()
    twin.load_state_dict(state)  # not bound yet: kept until the first collection
    assert not twin.critic.bound and twin.state_dict()["critic"].keys() == state["critic"].keys()
    twin.policy.load_state_dict(learner.policy.state_dict())
    a, b = learner.learn(env, 1), twin.learn(env, 1)
    assert a["gen/value_loss"] == b["gen/value_loss"] and a["gen/pg_loss"] == b["gen/pg_loss"]
    for key, value in learner.critic.state_dict().items():
        assert torch.equal(value, twin.critic.state_dict()[key])
    assert list(learner.critic.state_dict()) == ["head.weight", "head.bias"]


def test_the_discriminator_critic_needs_critic_features():
    policy = LSTMGenerator(16, embed_dim=8, hidden_dim=8, max_len=8)
    with pytest.raises(ConfigError, match="actor_critic: critic must be one of"):
        ALGORITHMS.make("actor_critic", policy=policy, critic="value_net")
    learner = ALGORITHMS.make("actor_critic", policy=policy, critic="discriminator")
    env = TextGenerationVectorEnv(4, autoreset_mode="disabled", reward_scheme="terminal")
    with pytest.raises(ConfigError, match="critic_features"):
        learner.collect(env)
