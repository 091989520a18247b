"""IRGAN's training shapes: one user's block per generator update, the discriminator's data,
DNS pretraining, and the trainer options they go through."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import seqadv  # noqa: F401  (registers the ids)
from seqadv.adversarial import AdversarialTrainer
from seqadv.algorithms.batch import collect_rollout
from seqadv.algorithms.dns import DNSLearner, _sgd_triples, dns_negatives
from seqadv.algorithms.reinforce import Reinforce
from seqadv.config import load_config
from seqadv.envs.retrieval import RetrievalVectorEnv, default_retrieval
from seqadv.errors import ConfigError
from seqadv.models.mf_players import mf_policy
from seqadv.models.policy import sample_grouped

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "experiments" / "irgan_ml100k_tiny.yaml"


def block_env(k=2, num_envs=None, **kwargs):
    data, disc = default_retrieval()
    counts = torch.bincount(data.train[:, 0], minlength=30)
    rows = num_envs or int(k * counts.max())
    env = RetrievalVectorEnv(rows, data=data, discriminator=disc, samples_per_positive=k,
                             autoreset_mode="disabled", **kwargs)  # fmt: skip
    return env, data, counts


def test_each_batch_is_one_users_block_in_a_sweep_over_the_users():
    env, data, counts = block_env(k=2)
    sweep = counts.nonzero().squeeze(1).tolist()
    policy = mf_policy(data, seed=0, positive_mix=0.2)
    rng = torch.Generator().manual_seed(0)
    seen = []
    for n in range(len(sweep) + 2):
        batch = collect_rollout(policy, env, rng)
        live = batch.mask[:, 0]
        users = batch.obs[:, 0, 0]
        assert int(live.sum()) == 2 * int(counts[sweep[n % len(sweep)]])  # 2 x |positives|
        assert set(users[live].tolist()) == {sweep[n % len(sweep)]}
        assert not batch.rewards[~live].any() and not batch.log_probs[~live].any()
        seen.append(int(users[0]))
    assert seen == sweep + sweep[:2]  # ascending ids, then again


def test_the_sweep_position_round_trips_and_too_few_rows_are_refused():
    env, data, counts = block_env(k=2)
    env.reset(seed=0)
    env.reset(seed=0)
    state = env.core.state_dict()
    again, _, _ = block_env(k=2)
    again.core.load_state_dict(state)
    assert int(env.reset(seed=1)[0][0, 0]) == int(again.reset(seed=1)[0][0, 0])
    with pytest.raises(ConfigError, match=r"num_envs >= \d+"):
        block_env(k=2, num_envs=int(2 * counts.max()) - 1)
    with pytest.raises(ConfigError, match="samples_per_positive"):
        block_env(k=0, num_envs=100)
    with pytest.raises(ConfigError, match="stable-baselines3"):
        env.as_sb3()


def test_one_update_is_irgans_mean_over_the_users_samples_with_importance_weights():
    env, data, counts = block_env(k=2)
    policy = mf_policy(data, seed=0, positive_mix=0.2)
    learner = Reinforce(policy, discount=1.0, reduction="token_mean", importance_weights=True,
                        optimizer="sgd", lr=0.001, grad_clip=None)  # fmt: skip
    batch = collect_rollout(policy, env, torch.Generator().manual_seed(3))
    live = batch.mask[:, 0]
    user = int(batch.obs[0, 0, 0])
    items, rewards = batch.actions[live, 0], batch.rewards[live, 0]
    # IRGAN's generator loss, by hand: -mean(log p(i) * reward * p(i) / p_n(i))
    log_p = torch.log_softmax(policy.all_scores(torch.tensor([user])), -1)[0]
    pos = policy.positives[user]
    p_n = 0.8 * log_p.exp() + 0.2 * pos.float() / pos.sum()
    torch.testing.assert_close(batch.log_probs[live, 0], p_n.log()[items])
    weights = (rewards * log_p.exp()[items] / p_n[items]).detach()
    want = -(log_p[items] * weights).mean()
    torch.testing.assert_close(learner.loss(batch), want)


def test_grouped_sampling_draws_each_rows_own_distribution():
    log_p = torch.log_softmax(torch.tensor([[0.0, 1.0, -1.0], [2.0, -30.0, 0.0]]), -1)
    log_p[1, 1] = -math.inf  # a zero-probability action
    groups = torch.tensor([0, 1]).repeat(20000)
    draws = sample_grouped(log_p, groups, torch.Generator().manual_seed(0))
    for g in (0, 1):
        freq = torch.bincount(draws[groups == g], minlength=3).double() / 20000
        torch.testing.assert_close(freq, log_p[g].exp().double(), atol=0.012, rtol=0)
    assert not bool((draws[groups == 1] == 1).any())
    again = sample_grouped(log_p, groups, torch.Generator().manual_seed(0))
    assert torch.equal(draws, again)


def test_negatives_pair_every_positive_with_one_generated_item():
    data, _ = default_retrieval()
    policy = mf_policy(data, seed=0)
    n = data.train.shape[0]
    pairs = policy.sample(n, generator=torch.Generator().manual_seed(0))
    assert torch.equal(pairs[:, 0], data.train[:, 0])  # one per positive, in order
    more = policy.sample(2 * n + 3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.bincount(more[: 2 * n, 0]), 2 * torch.bincount(data.train[:, 0]))


def test_dns_negatives_are_the_best_of_k_uniform_non_positives():
    positives = torch.tensor([[1, 1, 0, 0, 1], [0, 0, 0, 0, 1]], dtype=torch.bool)
    pairs = positives.nonzero()
    scores = torch.tensor([[0.0, 0.0, 1.0, 2.0, 0.0], [5.0, 1.0, 2.0, 3.0, 9.0]])
    g = torch.Generator().manual_seed(0)
    many = pairs.repeat(4000, 1)
    one = dns_negatives(scores, positives, many, 1, g)  # k = 1: uniform over non-positives
    assert not bool(positives[many[:, 0], one].any())
    user1 = one[many[:, 0] == 1]
    freq = torch.bincount(user1, minlength=5)[:4].double() / user1.numel()
    torch.testing.assert_close(freq, torch.full((4,), 0.25, dtype=torch.float64), atol=0.02, rtol=0)
    best = dns_negatives(scores, positives, many, 5, g)
    # the best of 5 draws from {2, 3} (user 0) is 3 unless all five are 2: P = 1/32
    share = (best[many[:, 0] == 0] == 3).double().mean()
    assert abs(float(share) - 31 / 32) < 0.01


def test_dns_sgd_is_irgans_bpr_step_by_hand():
    users = torch.tensor([[0.1, -0.2], [0.3, 0.4]], dtype=torch.float64)
    items = torch.tensor([[0.5, 0.1], [-0.3, 0.2], [0.05, -0.1]], dtype=torch.float64)
    P, Q = users.clone(), items.clone()
    lr, l2 = 0.05, 0.1
    want_loss = 0.0
    for u, i, j in [(0, 0, 1), (0, 2, 1), (1, 1, 0)]:
        pu, qi, qj = P[u].clone(), Q[i].clone(), Q[j].clone()
        x = float(pu @ (qi - qj))
        want_loss += -math.log(1 / (1 + math.exp(-x)))
        g = 1 / (1 + math.exp(x))  # sigmoid(-x)
        P[u] = pu - lr * (-g * (qi - qj) + l2 * pu)
        Q[i] = qi - lr * (-g * pu + l2 * qi)
        Q[j] = qj - lr * (g * pu + l2 * qj)
    loss = _sgd_triples(users, items, [0, 0, 1], [0, 2, 1], [1, 1, 0], lr, l2)
    torch.testing.assert_close(users, P)
    torch.testing.assert_close(items, Q)
    assert loss == pytest.approx(want_loss)


def test_dns_pretraining_improves_ranking_and_is_reproducible():
    overrides = ["pretrain={method: dns, epochs: 20, lr: 0.5, batch_size: 1}", "adversarial.rounds=0",
                 "eval.every_epochs=20"]  # fmt: skip
    first = AdversarialTrainer(load_config(TINY, overrides))
    record = first.fit()
    start = first.records[0]
    assert record["gen/bpr_loss"] < math.log(2)
    assert record["eval/ndcg@10"] > start["eval/ndcg@10"]
    assert torch.equal(first.generator.mf.bias, torch.zeros_like(first.generator.mf.bias))  # not trained
    second = AdversarialTrainer(load_config(TINY, overrides))
    second.fit()
    assert torch.equal(first.generator.mf.users, second.generator.mf.users)
    with pytest.raises(ConfigError, match="batch_size to 1"):
        AdversarialTrainer(load_config(TINY, ["pretrain={method: dns, epochs: 1, batch_size: 4}"]))
    with pytest.raises(ConfigError, match="pretrain.method"):
        AdversarialTrainer(load_config(TINY, ["pretrain={method: nope, epochs: 1}"]))
    with pytest.raises(ConfigError, match="factorization"):
        DNSLearner(torch.nn.Linear(2, 2))


def test_mle_pretraining_of_the_mf_policy_lowers_its_nll():
    overrides = ["pretrain={method: mle, epochs: 3, lr: 0.05, batch_size: 16}", "adversarial.rounds=0"]
    trainer = AdversarialTrainer(load_config(TINY, overrides))
    before = trainer.generator.nll(trainer.data.train)
    trainer.fit()
    after = trainer.generator.nll(trainer.data.train)
    assert after < before
    pairs = trainer.data.train[:5]
    want = -torch.log_softmax(trainer.generator.all_scores(pairs[:, 0]), -1).gather(1, pairs[:, 1:]).mean()
    torch.testing.assert_close(trainer.generator.mle_loss(pairs), want)


def test_the_tiny_irgan_shape_trains_resumes_and_trains_the_discriminator_every_nth_round(tmp_path):
    from seqadv.runs import RunDir

    overrides = [
        "env.num_envs=64", "env.kwargs={samples_per_positive: 2}",
        "algorithm.kwargs={discount: 1.0, reduction: token_mean, importance_weights: true, optimizer: sgd}",
        "generator.kwargs={dim: 5, positive_mix: 0.2}", "discriminator.optimizer=sgd",
        "discriminator.n_negatives=null", "adversarial.rounds=4", "adversarial.generator_steps=3",
        "adversarial.discriminator_every=2", "eval.every_rounds=2",
    ]  # fmt: skip
    cfg = load_config(TINY, overrides)
    counts = torch.bincount(AdversarialTrainer(cfg).data.train[:, 0])
    assert 2 * int(counts.max()) <= 64
    whole = AdversarialTrainer(load_config(TINY, overrides), run=RunDir(tmp_path / "whole"))
    assert isinstance(whole.dis_optimizer, torch.optim.SGD)
    whole.fit()
    whole.run.close()
    rounds = [r for r in whole.records if r.get("phase") == "round"]
    assert ["dis/loss" in r for r in rounds] == [False, True, False, True]
    # stop after round 2, resume: the same weights as the uninterrupted run
    shorter = [o if o != "adversarial.rounds=4" else "adversarial.rounds=2" for o in overrides]
    part = AdversarialTrainer(load_config(TINY, shorter), run=RunDir(tmp_path / "part"))
    part.fit()
    part.run.close()
    assert part._env_core().state_dict()["cursor"] == 6 % int((counts > 0).sum())
    resumed = AdversarialTrainer.resume(tmp_path / "part", extend=["adversarial.rounds=4"])
    resumed.fit()
    resumed.run.close()
    for key, value in whole.generator.state_dict().items():
        torch.testing.assert_close(resumed.generator.state_dict()[key], value, rtol=0, atol=0)


def test_sequence_mean_divides_by_the_episodes_not_the_idle_rows():
    data, _ = default_retrieval()
    env, data, counts = block_env(k=1, num_envs=int(torch.bincount(data.train[:, 0]).max()) + 1)
    policy = mf_policy(data, seed=0)
    batch = collect_rollout(policy, env, torch.Generator().manual_seed(0))
    live = int(batch.mask.any(1).sum())
    assert live < batch.batch_size
    seq = Reinforce(policy, discount=1.0, reduction="sequence_mean").loss(batch)
    tok = Reinforce(policy, discount=1.0, reduction="token_mean").loss(batch)
    torch.testing.assert_close(seq, tok)  # one step per episode: the two means agree
    assert np.isfinite(float(seq))


def test_eval_select_keeps_the_best_validation_round_in_best_pt(tmp_path):
    from seqadv.runs import RunDir, load_checkpoint

    overrides = ["data.kwargs={n_items: 40, validation: 0.25}", "adversarial.rounds=4", "eval.every_rounds=1",
                 "eval.select=eval/validation/ndcg@3"]  # fmt: skip
    trainer = AdversarialTrainer(load_config(TINY, overrides), run=RunDir(tmp_path / "run"))
    trainer.fit()
    trainer.run.close()
    evals = [r for r in trainer.records if r.get("phase") == "adversarial" and r["round"] > 0]
    best = max(evals, key=lambda r: (r["eval/validation/ndcg@3"], -r["round"]))
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")
    assert ckpt["state"]["best"]["step"] == best["round"]
    assert ckpt["state"]["best"]["value"] == best["eval/validation/ndcg@3"]
    assert ckpt["state"]["round"] == best["round"]
    with pytest.raises(ConfigError, match="select_mode"):
        load_config(TINY, ["eval.select_mode=biggest"])


def test_each_run_seed_starts_from_its_own_discriminator():
    first = AdversarialTrainer(load_config(TINY, ["seed=1"]))
    again = AdversarialTrainer(load_config(TINY, ["seed=1"]))
    other = AdversarialTrainer(load_config(TINY, ["seed=2"]))
    assert torch.equal(first.discriminator.mf.users, again.discriminator.mf.users)
    assert not torch.equal(first.discriminator.mf.users, other.discriminator.mf.users)
    pinned = [AdversarialTrainer(load_config(TINY, [f"seed={s}", "discriminator.kwargs={dim: 5, seed: 0}"]))
              for s in (1, 2)]  # fmt: skip
    assert torch.equal(pinned[0].discriminator.mf.users, pinned[1].discriminator.mf.users)


def test_a_run_can_start_from_irgans_released_dns_model(shared_data):
    from seqadv.evaluation import METRICS, EvalContext

    d = shared_data / "movielens-100k"
    preset = ROOT / "experiments" / "irgan_ml100k_released_dns.yaml"
    cfg = load_config(preset, [f"data.kwargs={{path: {d / 'ml-100k.inter'}, n_items: 1683}}",
                               f"generator.kwargs={{dim: 5, positive_mix: 0.2, init_path: {d / 'model_dns_ori.pkl'}}}"])  # fmt: skip
    trainer = AdversarialTrainer(cfg)
    got = METRICS.get("ranking")(EvalContext(torch.zeros(0, 2), trainer.generator, trainer.data, trainer.cfg.eval))
    want = {"p@3": 0.3845, "p@5": 0.3474, "p@10": 0.2967, "ndcg@3": 0.3986, "ndcg@5": 0.3749, "ndcg@10": 0.3518}
    assert {k: round(got[f"eval/{k}"], 4) for k in want} == want
    bad = load_config(preset, [f"data.kwargs={{path: {d / 'ml-100k.inter'}, n_items: 1700}}",
                               f"generator.kwargs={{init_path: {d / 'model_dns_ori.pkl'}}}"])  # fmt: skip
    with pytest.raises(ConfigError, match="init_path"):
        AdversarialTrainer(bad)
