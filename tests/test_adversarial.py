"""AdversarialTrainer on the tiny SeqGAN preset: weights move, sync, determinism, resume."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch

from seqadv.adversarial import AdversarialTrainer
from seqadv.algorithms.callbacks import DiscriminatorStep
from seqadv.config import load_config
from seqadv.errors import ConfigError
from seqadv.runs import RunDir

PRESET = Path(__file__).resolve().parents[1] / "experiments" / "seqgan_oracle_tiny.yaml"


def tiny(overrides=()):
    return load_config(PRESET, list(overrides))


def eval_values(run_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k.startswith(("eval/", "phase", "step"))} for r in rows]


def test_training_moves_generator_and_discriminator():
    trainer = AdversarialTrainer(tiny(["pretrain.epochs=1", "adversarial.rounds=2"]))
    trainer._pretrain_generator()
    gen_before = copy.deepcopy(trainer.generator.state_dict())
    dis_before = copy.deepcopy(trainer.discriminator.state_dict())
    trainer.state["phase"] = "dis_pretrain"
    trainer.fit()
    moved_gen = [k for k in gen_before if not torch.equal(gen_before[k], trainer.generator.state_dict()[k])]
    moved_dis = [k for k in dis_before if not torch.equal(dis_before[k], trainer.discriminator.state_dict()[k])]
    assert "output.weight" in moved_gen and "lstm.weight_hh_l0" in moved_gen
    assert len(moved_dis) >= len(dis_before) // 2


def test_rollout_policy_is_the_lagged_blend_after_a_sync():
    trainer = AdversarialTrainer(tiny(["pretrain.epochs=0"]))
    with torch.no_grad():
        for p in trainer.generator.parameters():
            p.add_(torch.randn_like(p))
    lagged = {k: v.clone() for k, v in trainer.rollout_policy.state_dict().items()}
    current = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    trainer.sync_rollout_policy()
    after = trainer.rollout_policy.state_dict()
    for key in current:  # every parameter, the embedding included
        torch.testing.assert_close(after[key], 0.8 * lagged[key] + 0.2 * current[key])
    assert not torch.equal(after["embedding.weight"], lagged["embedding.weight"])


def test_same_seed_same_run(tmp_path):
    for name in ("a", "b"):
        AdversarialTrainer(tiny(), run=RunDir(tmp_path / name)).fit()
    assert eval_values(tmp_path / "a") == eval_values(tmp_path / "b")
    for f in (tmp_path / "a" / "samples").iterdir():
        assert f.read_text() == (tmp_path / "b" / "samples" / f.name).read_text()
    other = tmp_path / "c"
    AdversarialTrainer(tiny(["seed=8"]), run=RunDir(other)).fit()
    assert eval_values(tmp_path / "a") != eval_values(other)


@pytest.mark.parametrize("stop_in", ["dis_pretrain", "adversarial"])
def test_stop_and_resume_gives_the_same_result(tmp_path, monkeypatch, stop_in):
    straight = tmp_path / "straight"
    t1 = AdversarialTrainer(tiny(), run=RunDir(straight))
    t1.fit()

    resumed = tmp_path / "resumed"
    t2 = AdversarialTrainer(tiny(), run=RunDir(resumed))
    calls = {"n": 0}
    original = DiscriminatorStep.train_round

    def interrupt(self, epochs=None):
        calls["n"] += 1
        limit = 2 if stop_in == "dis_pretrain" else 4  # 2 pretraining rounds, then 1 per round
        if calls["n"] == limit:
            raise KeyboardInterrupt
        return original(self, epochs)

    monkeypatch.setattr(DiscriminatorStep, "train_round", interrupt)
    with pytest.raises(KeyboardInterrupt):
        t2.fit()
    monkeypatch.setattr(DiscriminatorStep, "train_round", original)
    t3 = AdversarialTrainer.resume(resumed)
    t3.fit()
    assert eval_values(straight) == eval_values(resumed)
    for key, value in t1.generator.state_dict().items():
        assert torch.equal(value, t3.generator.state_dict()[key]), key
    for key, value in t1.discriminator.state_dict().items():
        assert torch.equal(value, t3.discriminator.state_dict()[key]), key


def test_training_time_budget_stops_the_adversarial_phase(tmp_path):
    cfg = tiny(["adversarial.rounds=50", "adversarial.budget_minutes=0.0001"])
    trainer = AdversarialTrainer(cfg, run=RunDir(tmp_path / "run"))
    final = trainer.fit()
    assert trainer.state["round"] == 1  # the first round already exceeds 6 ms
    assert final["phase"] == "adversarial" and final["round"] == 1
    assert trainer.state["phase"] == "done"


def test_time_breakdown_is_recorded():
    trainer = AdversarialTrainer(tiny(["adversarial.rounds=2", "eval.every_rounds=1"]))
    final = trainer.fit()
    for key in ("time/generator_s", "time/rollouts_s", "time/negatives_s", "time/dis_train_s", "time/eval_s"):
        assert final[key] >= 0.0, key
    assert final["time/rollouts_s"] <= final["time/generator_s"]


def test_tiny_coco_preset_reports_bleu_with_its_signature(tmp_path, shared_data):
    preset = PRESET.with_name("seqgan_coco_tiny.yaml")
    cfg = load_config(
        preset,
        [
            f"data.train_path={shared_data / 'coco' / 'train.txt'}",
            f"data.test_path={shared_data / 'coco' / 'test.txt'}",
        ],
    )
    trainer = AdversarialTrainer(cfg, run=RunDir(tmp_path / "run"))
    final = trainer.fit()
    for n in range(2, 6):
        assert 0.0 <= final[f"eval/bleu{n}"] <= 1.0
        assert 0.0 <= final[f"eval/self_bleu{n}"] <= 1.0
    assert final["eval/bleu2"] >= final["eval/bleu3"] >= final["eval/bleu4"]
    sig = final["eval/bleu_signature"]
    assert "nrefs:200" in sig and "nhyps:64" in sig and "tok:nltk" in sig and "case:lc" in sig
    text = (tmp_path / "run" / "samples" / "adversarial-0002.txt").read_text().splitlines()
    assert text and all("<pad>" not in line and "<bos>" not in line for line in text)


@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ("data.source=web", ["data.source", "unknown data source 'web'", "corpus, infilling, letor, oracle"]),
        ("env.reward_scheme=dense", ["env.reward_scheme.name", "unknown reward scheme 'dense'"]),
        ("env.name=seqadv/TextGen-v0", ["env.name", "Did you mean", "TextGeneration-v0"]),
        ("generator.name=gru", ["generator.name", "unknown generator 'gru'", "lstm"]),
    ],
)
def test_unknown_component_names_fail_before_anything_is_built(override, fragments):
    with pytest.raises(ConfigError) as info:
        AdversarialTrainer(tiny(["adversarial.rounds=1", override]))
    for fragment in fragments:
        assert fragment in str(info.value)


def test_a_reward_that_fails_is_caught_before_the_mle_phase(tmp_path):
    from seqadv.rewards import REWARDS, register_reward

    @register_reward("test_broken_reward", level="any", override=True)
    def broken(logits, **kwargs):
        """Fails on its first call."""
        raise ZeroDivisionError("boom")

    try:
        cfg = tiny(["env.reward=test_broken_reward", "pretrain.epochs=1000"])
        with pytest.raises(ConfigError, match=r"^env: .*'test_broken_reward'.*ZeroDivisionError: boom"):
            AdversarialTrainer(cfg, run=RunDir(tmp_path / "run"))
        assert not (tmp_path / "run" / "metrics.jsonl").exists()  # no epoch ran
    finally:
        REWARDS.remove("test_broken_reward")


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("generator.kwargs.embed_dim=0", "generator: ValueError: kwargs.embed_dim must be an integer >= 1"),
        ("generator.kwargs.init_std=-1", "generator: ValueError: kwargs.init_std must be"),
        ("discriminator.kwargs.embedding_dim=0", "discriminator: ValueError: embedding_dim must be an int >= 1"),
        ("discriminator.kwargs.dropout=2", "discriminator: ValueError: dropout must lie in [0, 1)"),
        ("env.reward.kwargs.temperature=2", "env: reward 'prob' got unknown argument(s) 'temperature'"),
    ],
)
def test_bad_component_arguments_name_the_component(override, fragment):
    with pytest.raises(ConfigError) as info:
        AdversarialTrainer(tiny(["adversarial.rounds=1", override]))
    assert fragment in str(info.value)


def test_every_round_writes_its_statistics(tmp_path):
    run = tmp_path / "run"
    AdversarialTrainer(tiny(["adversarial.rounds=3", "eval.every_rounds=3"]), run=RunDir(run)).fit()
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    rounds = [r for r in records if r["phase"] == "round"]
    assert [r["round"] for r in rounds] == [1, 2, 3]
    for r in rounds:
        for key in ("reward/mean", "reward/std", "dis/loss", "dis/acc_real", "gen/pg_loss", "gen/grad_norm"):
            assert isinstance(r[key], float), key
        assert r["reward/std"] >= 0.0
    assert (run / "plots" / "adversarial.png").is_file()


def test_tensorboard_event_files_are_written_when_asked(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    AdversarialTrainer(tiny(["adversarial.rounds=2", "tensorboard=true"]), run=RunDir(run)).fit()
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"eval/nll_oracle", "reward/mean", "dis/loss"} <= tags
    steps = [e.step for e in events.Scalars("reward/mean")]
    assert steps == sorted(steps) and len(steps) >= 2  # every round, after the MLE epochs


def test_a_preset_that_does_not_fit_the_data_says_so(caplog):
    import logging

    cfg = tiny(["discriminator.n_real=1000", "discriminator.n_negatives=2000", "eval.n_samples=5000"])
    with caplog.at_level(logging.WARNING, logger="seqadv"):
        AdversarialTrainer(cfg)
    text = caplog.text
    assert "discriminator.n_real=1000 but the data have 256" in text
    assert "--set discriminator.n_negatives=256" in text and "--set eval.n_samples=256" in text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="seqadv"):
        AdversarialTrainer(tiny())
    assert "discriminator." not in caplog.text
