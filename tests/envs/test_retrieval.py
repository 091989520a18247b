"""Retrieval (IRGAN): one-step episodes, rewards by hand, masks, the MF players, the trainer."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import seqadv  # noqa: F401  (registers the ids)
from seqadv.adversarial import AdversarialTrainer
from seqadv.algorithms.batch import collect_rollout
from seqadv.config import load_config
from seqadv.envs.retrieval import RetrievalVectorEnv, default_retrieval
from seqadv.errors import ConfigError
from seqadv.models.mf_players import MFDiscriminator, mf_policy

TINY = Path(__file__).resolve().parents[2] / "experiments" / "irgan_ml100k_tiny.yaml"


def constant(logit: float, data):
    d = MFDiscriminator(data.vocab_size, 2, n_users=30, n_items=40)
    with torch.no_grad():
        d.mf.users.zero_()
        d.mf.bias.fill_(logit)
    return d.eval()


@pytest.mark.parametrize("reward, want", [("irgan", math.tanh(0.7 / 2)), ("irgan_paper", math.log1p(math.exp(0.7)))])
def test_rewards_by_hand_with_a_constant_discriminator(reward, want):
    data, _ = default_retrieval()
    env = RetrievalVectorEnv(16, data=data, discriminator=constant(0.7, data), reward=reward, autoreset_mode="disabled")
    obs, _ = env.reset(seed=0)
    users = obs[:, 0]
    assert set(users.tolist()) <= set(data.train[:, 0].tolist())  # users with a training positive
    _, rewards, terminated, truncated, info = env.step(np.arange(16) % 40)
    assert terminated.all() and not truncated.any()
    np.testing.assert_allclose(rewards, want, rtol=1e-6)
    assert info["sequence"][3].tolist() == [users[3], 3]


def test_positives_can_be_excluded_from_the_actions():
    data, disc = default_retrieval()
    env = RetrievalVectorEnv(8, data=data, discriminator=disc, exclude_positives=True, autoreset_mode="disabled")
    obs, _ = env.reset(seed=1)
    masks = env.action_masks()
    positives = torch.zeros(30, 40, dtype=torch.bool)
    positives[data.train[:, 0], data.train[:, 1]] = True
    assert np.array_equal(masks, ~positives[torch.as_tensor(obs[:, 0])].numpy())
    bad = np.array([int(positives[int(u)].nonzero()[0]) for u in obs[:, 0]])
    with pytest.raises(ValueError, match="training positive"):
        env.step(bad)
    policy = mf_policy(data, seed=0)
    batch = collect_rollout(policy, env, torch.Generator().manual_seed(0))
    users = batch.obs[:, 0, 0]
    assert not bool(positives[users, batch.actions[:, 0]].any())  # the policy follows the mask
    assert RetrievalVectorEnv(4, data=data, discriminator=disc).action_masks().all()  # default: off


def test_policy_log_probs_and_samples():
    data, disc = default_retrieval()
    env = RetrievalVectorEnv(16, data=data, discriminator=disc, autoreset_mode="disabled")
    policy = mf_policy(data, seed=0, negative_temperature=0.2)
    batch = collect_rollout(policy, env, torch.Generator().manual_seed(0))
    log_probs, entropy = policy.evaluate(batch.obs, batch.actions, batch.mask)
    torch.testing.assert_close(log_probs, batch.log_probs)
    users = batch.obs[:, 0, 0]
    want = torch.log_softmax(policy.all_scores(users), -1).gather(1, batch.actions).squeeze(1)
    torch.testing.assert_close(log_probs[:, 0], want)
    pairs = policy.sample(50, generator=torch.Generator().manual_seed(1))
    assert pairs.shape == (50, 2) and set(pairs[:, 0].tolist()) <= set(data.train[:, 0].tolist())


def test_the_mf_discriminator_penalty_is_irgans_l2():
    d = MFDiscriminator(10, 2, n_users=4, n_items=10, l2=0.5)
    pairs = torch.tensor([[0, 1], [2, 3]])
    d.train()
    d(pairs)
    u, i = d.mf.users[[0, 2]], d.mf.items[[1, 3]]
    want = 0.5 * (u.pow(2).sum() + i.pow(2).sum() + d.mf.bias[[1, 3]].pow(2).sum()) / 2
    torch.testing.assert_close(d.regularization(), want)
    with pytest.raises(ValueError, match="max_len must be 2"):
        MFDiscriminator(10, 3)


@pytest.mark.parametrize("algorithm", ["reinforce", "sb3:PPO"])
def test_the_tiny_preset_trains_with_ranking_metrics(algorithm):
    overrides = [] if algorithm == "reinforce" else ['algorithm={name: "sb3:PPO", kwargs: {n_steps: 1, batch_size: 32, n_epochs: 1}}']
    trainer = AdversarialTrainer(load_config(TINY, overrides))
    before = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    record = trainer.fit()
    moved = [k for k, v in trainer.generator.state_dict().items() if not torch.equal(before[k], v)]
    assert "mf.items" in moved and "mf.users" in moved
    assert record["eval/ranking_users"] > 0 and 0.0 <= record["eval/ndcg@10"] <= 1.0


def test_ratings_source_options_are_checked():
    with pytest.raises(ConfigError, match="validation"):
        AdversarialTrainer(load_config(TINY, ["data.kwargs={validation: 1.5}"]))
    with pytest.raises(ConfigError, match="evaluate_on"):
        AdversarialTrainer(load_config(TINY, ["data.kwargs={evaluate_on: validation}"]))


def test_a_validation_split_is_scored_beside_the_test_split_with_the_protocols_candidates():
    import numpy as np

    from seqadv.evaluation import METRICS, EvalContext
    from seqadv.metrics.ranking import ranking_metrics

    cfg = load_config(TINY, ["data.kwargs={n_items: 40, validation: 0.25}"])
    trainer = AdversarialTrainer(cfg)
    info = trainer.data.extra["ratings"]
    kept, held, whole = info["train"], info["validation"], info["train_all"]
    assert len(kept.ratings) + len(held.ratings) == len(whole.ratings)
    shape = (info["n_users"], info["n_items"])
    # the model learns from the kept positives only
    assert int(trainer.generator.positives.sum()) == int(kept.positives(4.0, shape).sum())
    out = METRICS.get("ranking")(EvalContext(torch.zeros(0, 2), trainer.generator, trainer.data, trainer.cfg.eval))
    scores = trainer.generator.all_scores().detach()
    val = ranking_metrics(scores, torch.from_numpy(held.positives(4.0, shape)),
                          ~torch.from_numpy(kept.positives(4.0, shape)))  # fmt: skip
    test = ranking_metrics(scores, torch.from_numpy(info["test"].positives(4.0, shape)),
                           ~torch.from_numpy(whole.positives(4.0, shape)))  # fmt: skip
    assert out["eval/validation/p@3"] == val["p@3"] and out["eval/validation/mrr"] == val["mrr"]
    assert out["eval/p@3"] == test["p@3"] and out["eval/ndcg@10"] == test["ndcg@10"]
    assert not np.isclose(val["p@3"], test["p@3"]) or val["users"] != test["users"]
    assert out["eval/validation/ranking_signature"] != out["eval/ranking_signature"]


def test_ml100k_u1_through_the_source_matches_the_released_model_figures(shared_data):
    from seqadv.data.safe_pickle import load_numpy_pickle
    from seqadv.evaluation import METRICS, EvalContext
    from seqadv.experiment import build_data
    from seqadv.models.mf import MatrixFactorization
    from seqadv.models.mf_players import MFPolicy

    path = shared_data / "movielens-100k" / "ml-100k.inter"
    cfg = load_config(TINY, [f"data.kwargs={{path: {path}, n_items: 1683}}"])
    data = build_data(cfg.data)
    assert data.extra["ratings"]["n_users"] == 943 and data.extra["ratings"]["n_items"] == 1683
    policy = MFPolicy(MatrixFactorization.from_arrays(load_numpy_pickle(path.parent / "gan_generator.pkl")))
    got = METRICS.get("ranking")(EvalContext(torch.zeros(1, 2, dtype=torch.long), policy, data, cfg.eval))
    assert got["eval/ranking_users"] == 456
    assert [round(got[f"eval/{k}"], 4) for k in ("p@3", "p@5", "p@10", "ndcg@3", "ndcg@5", "ndcg@10")] == [
        0.4057, 0.3785, 0.3184, 0.4228, 0.4053, 0.3775,
    ]  # fmt: skip


def test_irgans_mixture_and_importance_weights_by_hand():
    from seqadv.algorithms import ALGORITHMS

    data, disc = default_retrieval()
    env = RetrievalVectorEnv(32, data=data, discriminator=constant(0.7, data), autoreset_mode="disabled")
    policy = mf_policy(data, seed=0, positive_mix=0.2)
    batch = collect_rollout(policy, env, torch.Generator().manual_seed(0))
    users, actions = batch.obs[:, 0, 0], batch.actions[:, 0]
    pi = torch.softmax(policy.all_scores(users), -1).detach()
    positives = torch.zeros(30, 40, dtype=torch.bool)
    positives[data.train[:, 0], data.train[:, 1]] = True
    pos = positives[users].float()
    pn = 0.8 * pi + 0.2 * pos / pos.sum(1, keepdim=True)
    rows = torch.arange(32)
    torch.testing.assert_close(batch.log_probs[:, 0], pn[rows, actions].log())
    assert float(pos[rows, actions].mean()) > float(pi[rows][pos.bool()[rows]].sum() / 32)  # positives drawn more
    learner = ALGORITHMS.make("reinforce", policy=policy, discount=1.0, importance_weights=True, optimizer="sgd", lr=0.001)
    assert isinstance(learner.optimizer, torch.optim.SGD)
    plain = ALGORITHMS.make("reinforce", policy=policy, discount=1.0)
    reward = math.tanh(0.35)
    log_pi = torch.log(pi[rows, actions])
    want = -(log_pi * reward * pi[rows, actions] / pn[rows, actions]).sum() / 32
    torch.testing.assert_close(learner.loss(batch), want, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(plain.loss(batch), -(log_pi * reward).sum() / 32, rtol=1e-5, atol=1e-7)
    with pytest.raises(ConfigError, match="reinforce: optimizer must be one of"):
        ALGORITHMS.make("reinforce", policy=policy, optimizer="rmsprop")
