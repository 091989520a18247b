"""MaskGAN through the trainer: tiny presets, MaskMLE -> MaskGAN, eval of the runs, PTB data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from seqadv.adversarial import AdversarialTrainer
from seqadv.cli import main
from seqadv.config import load_config

REPO = Path(__file__).resolve().parents[1]
PTB_TINY = REPO / "experiments" / "maskgan_ptb_tiny.yaml"
COCO_TINY = REPO / "experiments" / "maskgan_coco_tiny.yaml"
#: the PTB tiny preset on the seeded oracle's sentences: no shared data needed
ORACLE = [
    "data.kwargs={base: oracle, strategy: random, present_rate: 0.5}",
    "data.vocab_size=30", "data.n_train=200", "data.n_test=60", "data.max_len=10",
    "eval.metrics=[nll_test, unique_ngrams, ngrams_in_train]",
]  # fmt: skip


def trained_weights(overrides: list[str]):
    cfg = load_config(PTB_TINY, ORACLE + overrides)
    trainer = AdversarialTrainer(cfg)
    trainer._pretrain_generator()
    before = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    trainer.state["phase"] = "dis_pretrain"
    record = trainer.fit()
    after = trainer.generator.state_dict()
    return trainer, record, [k for k in before if not torch.equal(before[k], after[k])]


def test_actor_critic_trains_the_tiny_preset():
    trainer, record, moved = trained_weights([])
    assert record["round"] == 2 and "dis/acc_real" in record
    assert "output.weight" in moved and "body.decoder.weight_hh_l0" in moved
    assert trainer.learner.critic.bound  # the head on the discriminator's states
    assert math.isfinite(record["eval/unique_4gram_pct"])


def test_sb3_ppo_trains_the_tiny_preset_through_a_dict_observation():
    algorithm = 'algorithm={name: "sb3:PPO", kwargs: {gamma: 0.89072, n_steps: 5, batch_size: 20, n_epochs: 1}}'
    trainer, record, moved = trained_weights([algorithm])
    assert "output.weight" in moved and "body.encoder.weight_ih_l0" in moved
    assert "gen/approx_kl" in record and trainer.learner.num_updates == 2


def test_mask_mle_then_maskgan_from_its_checkpoint_and_eval_of_the_run(tmp_path, capsys):
    base = ["train", str(PTB_TINY), "--set", "seed=0"] + [a for o in ORACLE for a in ("--set", o)]
    assert main([*base, "--set", "adversarial.rounds=0", "--out", str(tmp_path / "mle")]) == 0
    mle = torch.load(tmp_path / "mle" / "checkpoints" / "last.pt", weights_only=True)
    args = [*base, "--set", "pretrain.epochs=0", "--set", f"pretrain.init_checkpoint={tmp_path / 'mle'}"]
    assert main([*args, "--out", str(tmp_path / "gan")]) == 0
    records = [json.loads(x) for x in (tmp_path / "gan" / "metrics.jsonl").read_text().splitlines()]
    first = next(r for r in records if "eval/nll_test" in r)
    mle_records = [json.loads(x) for x in (tmp_path / "mle" / "metrics.jsonl").read_text().splitlines()]
    last_mle = [r for r in mle_records if "eval/nll_test" in r][-1]
    assert first["eval/nll_test"] == last_mle["eval/nll_test"]  # it starts where MaskMLE ended
    assert mle["generator_name"] == "maskgan"
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "gan"), "--json", "--n-samples", "40"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert main(["eval", str(tmp_path / "gan"), "--json", "--n-samples", "40"]) == 0
    assert json.loads(capsys.readouterr().out) == one and "eval/unique_2gram_pct" in one
    assert main(["sample", str(tmp_path / "gan"), "-n", "3"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_lm_perplexity_scores_the_samples_under_an_lm_run(tmp_path, capsys):
    lm_args = ["train", str(REPO / "experiments" / "mle_oracle_tiny.yaml"), "--set", "seed=0",
               "--set", "data.vocab_size=30", "--set", "data.n_train=200", "--set", "data.n_test=60",
               "--set", "data.max_len=10"]  # fmt: skip
    assert main([*lm_args, "--out", str(tmp_path / "lm")]) == 0
    cfg = load_config(PTB_TINY, ORACLE + ["adversarial.rounds=0", "pretrain.epochs=1",
                                          f"eval.lm={tmp_path / 'lm'}", "eval.metrics=[lm_perplexity]"])  # fmt: skip
    trainer = AdversarialTrainer(cfg)
    record = trainer.fit()
    from seqadv.ngram_eval import load_lm

    lm = load_lm(tmp_path / "lm", trainer.data)
    samples = trainer.generator.sample(64, generator=torch.Generator().manual_seed(0))
    from seqadv.evaluation import evaluate_policy

    got, _ = evaluate_policy(trainer.generator, trainer.data, cfg.eval, 0, "x", samples=samples)
    assert got["eval/lm_perplexity"] == pytest.approx(math.exp(lm.nll(samples[:, 10:])), rel=1e-9)
    assert "eval/lm_perplexity" in record
    from seqadv.errors import CheckpointError, ConfigError

    bad = load_config(PTB_TINY, ORACLE + [f"eval.lm={tmp_path / 'none'}", "eval.metrics=[lm_perplexity]"])
    with pytest.raises(CheckpointError, match="none"):
        evaluate_policy(trainer.generator, trainer.data, bad.eval, 0, "x", samples=samples)
    not_lm = load_config(PTB_TINY, ORACLE + [f"eval.lm={tmp_path / 'gan'}", "eval.metrics=[lm_perplexity]"])
    main(["train", str(PTB_TINY), *[a for o in ORACLE for a in ("--set", o)], "--set", "adversarial.rounds=0",
          "--set", "pretrain.epochs=1", "--out", str(tmp_path / "gan")])  # fmt: skip
    with pytest.raises(ConfigError, match="eval.lm: .* holds a 'maskgan' policy"):
        evaluate_policy(trainer.generator, trainer.data, not_lm.eval, 0, "x", samples=samples)


def test_ptb_source_reads_the_official_streams(shared_data):
    from seqadv.experiment import build_data

    cfg = load_config(PTB_TINY, [f"data.kwargs={{base: ptb, path: {shared_data / 'ptb'}}}"])
    data = build_data(cfg.data)
    base = data.extra  # infilling over ptb
    assert base["infilling"]["strategy"] == "contiguous"
    assert data.train.shape == (929589 // 20, 40) and data.vocab_size == 10002
    assert data.eos_id is None and data.text_start == 20
    words = data.tokens(data.train[0])
    assert len(words) == 20 and "<eos>" in [data.vocab.itos[i] for i in data.train[:50, 20:].flatten().tolist()]
    first = (shared_data / "ptb" / "ptb.train.txt").read_text().replace("\n", " <eos> ").split()[:20]
    assert words == first


@pytest.mark.parametrize("preset", [PTB_TINY, COCO_TINY])
def test_tiny_presets_run_on_the_shared_data(preset, shared_data, tmp_path):
    args = ["train", str(preset), "--set", "seed=0", "--set", "kernels=plain"]
    if "coco" in preset.name:
        args += ["--set", f"data.train_path={shared_data / 'coco' / 'train.txt'}"]
        args += ["--set", f"data.test_path={shared_data / 'coco' / 'test.txt'}"]
    else:
        args += ["--set", f"data.kwargs.path={shared_data / 'ptb'}"]
    assert main([*args, "--out", str(tmp_path / "run")]) == 0
    last = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["round"] == 2
    wanted = "eval/bleu2" if "coco" in preset.name else "eval/unique_4gram_pct"
    assert wanted in last
