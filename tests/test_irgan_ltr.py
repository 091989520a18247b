"""IRGAN's learning to rank: LETOR rows as items, a query's documents as its candidates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import seqadv  # noqa: F401  (registers the ids)
from seqadv.adversarial import AdversarialTrainer
from seqadv.algorithms.batch import collect_rollout
from seqadv.config import load_config
from seqadv.data.letor import letor_data, synthetic_letor
from seqadv.data.ratings import LetorData, read_letor
from seqadv.envs.retrieval import RetrievalVectorEnv
from seqadv.errors import ConfigError
from seqadv.models.ltr_players import LTRDiscriminator, ltr_policy

TINY = Path(__file__).resolve().parents[1] / "experiments" / "irgan_ltr_tiny.yaml"


def split(rows: LetorData, test_queries: int = 3) -> tuple[LetorData, LetorData]:
    test = np.isin(rows.qids, np.unique(rows.qids)[:test_queries])
    pick = lambda m: LetorData(rows.labels[m], rows.qids[m], rows.features[m])  # noqa: E731
    return pick(~test), pick(test)


def write_letor(path: Path, rows: LetorData) -> None:
    lines = [f"{int(rel)} qid:{q} " + " ".join(f"{k + 1}:{v:.6f}" for k, v in enumerate(f)) + " # doc"
             for rel, q, f in zip(rows.labels, rows.qids, rows.features)]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")


def test_letor_rows_become_items_and_each_query_ranks_its_own(tmp_path):
    rows = synthetic_letor(n_queries=6, docs=5, n_features=4, seed=1)
    write_letor(tmp_path / "all.txt", rows)
    back = read_letor(tmp_path / "all.txt")
    np.testing.assert_allclose(back.features, rows.features, atol=1e-6)
    assert np.array_equal(back.qids, rows.qids) and np.array_equal(back.labels, rows.labels)
    train, test = split(rows, 2)
    data = letor_data(train, test, threshold=1)
    info = data.extra["ratings"]
    assert info["n_users"] == 6 and info["n_items"] == 30
    cand = info["candidates"]
    assert cand.sum(1).tolist() == [5] * 6 and cand.sum(0).tolist() == [1] * 30  # a row, one query
    assert torch.equal(info["features"][: len(train.labels)], torch.from_numpy(train.features))
    # the real pairs are the training rows labelled >= 1, each a candidate of its query
    assert bool(cand[data.train[:, 0], data.train[:, 1]].all())
    assert len(data.train) == int((train.labels >= 1).sum())


def test_the_policy_and_the_env_act_only_on_a_querys_documents():
    data = letor_data(*split(synthetic_letor(seed=2)))
    cand = data.extra["ratings"]["candidates"]
    policy = ltr_policy(data, seed=0, hidden=8, positive_mix=0.2)
    scores = policy.all_scores()
    assert bool(torch.isinf(scores[~cand]).all()) and bool(torch.isfinite(scores[cand]).all())
    disc = LTRDiscriminator(data.vocab_size, 2, data=data, hidden=8).eval()
    env = RetrievalVectorEnv(32, data=data, discriminator=disc, autoreset_mode="disabled")
    batch = collect_rollout(policy, env, torch.Generator().manual_seed(0))
    users = batch.obs[:, 0, 0]
    assert bool(cand[users, batch.actions[:, 0]].all())
    assert torch.equal(batch.action_masks[:, 0], cand[users])
    log_probs, _ = policy.evaluate(batch.obs, batch.actions, batch.mask, batch.action_masks)
    want = torch.log_softmax(policy.all_scores(users), -1).gather(1, batch.actions).squeeze(1)
    torch.testing.assert_close(log_probs[:, 0], want)
    env.reset(seed=0)
    outside = (~cand[torch.as_tensor(env.core.user[:, 0])]).float().argmax(1).numpy()
    with pytest.raises(ValueError, match="not a candidate"):
        env.step(outside)
    pairs = policy.sample(40, generator=torch.Generator().manual_seed(0))
    assert bool(cand[pairs[:, 0], pairs[:, 1]].all())


def test_the_ltr_discriminator_scores_features_with_irgans_weight_decay():
    data = letor_data(*split(synthetic_letor(seed=3)))
    disc = LTRDiscriminator(data.vocab_size, 2, data=data, hidden=5, l2=0.3)
    pairs = data.train[:4]
    s = disc.scorer
    x = data.extra["ratings"]["features"][pairs[:, 1]]
    want = torch.tanh(x @ s.hidden.weight.T + s.hidden.bias) @ s.out.weight.T[:, 0] + s.out.bias
    torch.testing.assert_close(disc(pairs), want)
    decay = 0.3 * sum(p.pow(2).sum() for p in s.parameters()) / 2
    torch.testing.assert_close(disc.regularization(), decay)
    assert float(s.hidden.weight.abs().max()) <= 0.2 + 1e-6  # truncated at 2 std (0.1)


def test_the_tiny_ltr_preset_trains_and_ranks_only_candidates():
    trainer = AdversarialTrainer(load_config(TINY))
    before = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    record = trainer.fit()
    assert not torch.equal(before["scorer.hidden.weight"], trainer.generator.state_dict()["scorer.hidden.weight"])
    start = trainer.records[0]
    assert record["eval/ranking_users"] == start["eval/ranking_users"] > 0
    assert record["eval/ndcg@5"] > start["eval/ndcg@5"]
    assert "query-documents" in record["eval/ranking_signature"]
    with pytest.raises(ConfigError, match="stable-baselines3"):
        AdversarialTrainer(load_config(TINY, ['algorithm={name: "sb3:PPO", kwargs: {n_steps: 1}}', "env.kwargs={}"])).fit()
    with pytest.raises(ConfigError, match="letor"):
        AdversarialTrainer(load_config(TINY, ["data.source=ratings", "data.kwargs={}"]))
