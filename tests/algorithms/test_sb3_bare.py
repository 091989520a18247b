"""Bare stable-baselines3 users: ``make_model`` + ``model.learn(callback=AdversarialCallback())``."""

from __future__ import annotations

import doctest
import logging

import pytest
import torch

from seqadv.algorithms.sb3 import AdversarialCallback, make_model
from seqadv.algorithms.sb3 import callback as callback_module
from seqadv.envs.text_generation import TextGenerationVectorEnv
from seqadv.models.generator import LSTMGenerator


def _gen() -> LSTMGenerator:
    return LSTMGenerator(16, embed_dim=8, hidden_dim=8, max_len=8)


def test_the_callback_trains_the_discriminator_inside_model_learn():
    env = TextGenerationVectorEnv(4, reward_scheme="terminal")
    before = {k: v.clone() for k, v in env.discriminator.state_dict().items()}
    model = make_model("sb3:PPO", env, _gen(), n_epochs=1)
    callback = AdversarialCallback(n_negatives=32, batch_size=16)
    model.learn(64, callback=callback)
    after = env.discriminator.state_dict()
    assert callback.rounds >= 1
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_the_docstring_example_runs():
    finder = doctest.DocTestFinder()
    (test,) = [t for t in finder.find(callback_module) if t.name.endswith("AdversarialCallback")]
    test.globs = {}  # the example imports all it needs
    result = doctest.DocTestRunner().run(test)
    assert result.failed == 0 and result.attempted > 0


def _summing_model(scheme: str, gamma: float):
    env = TextGenerationVectorEnv(4, reward_scheme=scheme, n_rollouts=2)
    return make_model("sb3:PPO", env, _gen(), n_epochs=1, gamma=gamma)


def test_a_summing_model_on_score_estimates_is_warned_once(caplog):
    model = _summing_model("mc_rollout", 1.0)
    callback = AdversarialCallback(n_negatives=32, batch_size=16)
    with caplog.at_level(logging.WARNING, logger="seqadv"):
        model.learn(32, callback=callback)
        model.learn(32, callback=callback, reset_num_timesteps=False)
    warnings = [r for r in caplog.records if "mc_rollout_shaped" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
    assert "gamma=1" in warnings[0].getMessage() and "'mc_rollout'" in warnings[0].getMessage()


@pytest.mark.parametrize(("scheme", "gamma"), [("mc_rollout", 0.0), ("mc_rollout_shaped", 1.0)])
def test_no_warning_when_the_return_is_the_score(caplog, scheme, gamma):
    model = _summing_model(scheme, gamma)
    with caplog.at_level(logging.WARNING, logger="seqadv"):
        model.learn(32, callback=AdversarialCallback(n_negatives=32, batch_size=16))
    assert not [r for r in caplog.records if "mc_rollout_shaped" in r.getMessage()]


def test_token_policy_lets_a_bare_ppo_learn_on_token_observations():
    from stable_baselines3 import PPO

    from seqadv.algorithms.sb3 import TokenPolicy
    from seqadv.envs.text_generation import TextGenerationVectorEnv

    env = TextGenerationVectorEnv(4, reward_scheme="terminal").as_sb3()
    model = PPO(TokenPolicy, env, n_steps=8, batch_size=16, n_epochs=1, seed=0)
    extractor = model.policy.features_extractor
    assert isinstance(extractor.embedding, torch.nn.Embedding) and extractor.n_ids == 17  # V + pad
    before = {k: v.clone() for k, v in model.policy.state_dict().items()}
    model.learn(32)
    assert any(not torch.equal(before[k], v) for k, v in model.policy.state_dict().items())
    obs = env.reset()
    action, _ = model.predict(obs)
    assert action.shape == (4,) and ((0 <= action) & (action < 16)).all()
