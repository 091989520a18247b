"""The duration estimate: calibration leaves no trace, costs follow the config and data."""

from __future__ import annotations

import dataclasses
import math

import torch

from seqadv.cli import main
from seqadv.config import load_config
from seqadv.estimate import (
    UnitCosts,
    calibrate,
    estimate_seconds,
    phase_costs,
    rollouts_per_step,
    synthetic_data,
)
from seqadv.experiment import build_data

from .test_adversarial import PRESET

UNIT = UnitCosts(
    mle_batch_s=0.01,
    sample_row_s=1e-4,
    rollout_row_s=2e-4,
    dis_train_row_s=5e-5,
    dis_score_row_s=1e-5,
    save_s=0.002,
)


def tiny(overrides=()):
    return load_config(PRESET, list(overrides))


def test_calibration_is_positive_and_leaves_the_global_rng_alone():
    cfg = tiny()
    data = build_data(cfg.data)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    threads = torch.get_num_threads()
    unit = calibrate(cfg, data)
    assert torch.equal(before, torch.get_rng_state())
    assert torch.get_num_threads() == threads
    for name, value in dataclasses.asdict(unit).items():
        if name == "pretrain_epoch_s":  # timed only for a pretrainer other than MLE
            assert value is None
            continue
        assert math.isfinite(value) and value > 0, name


def test_synthetic_data_follows_the_given_lengths():
    data = synthetic_data([3, 3, 3], vocab_size=50, max_len=10, rows=20)
    assert data.train.shape == (20, 10)
    assert (data.train[:, 3] == data.eos_id).all()  # three words, then EOS
    assert (data.train[:, 4:] == data.pad_id).all()
    assert (data.train[:, :3] >= 4).all() and (data.train[:, :3] < 50).all()
    long = synthetic_data([99], vocab_size=50, max_len=10, rows=2)  # clipped to fit EOS
    assert (long.train[:, 9] == long.eos_id).all()


def test_rollouts_per_step_reads_the_scheme():
    assert rollouts_per_step(tiny(["env.reward_scheme.name=terminal"])) == 0
    four = ["env.reward_scheme.name=mc_rollout", "env.reward_scheme.kwargs.n_rollouts=4"]
    assert rollouts_per_step(tiny(four)) == 4


def test_costs_scale_with_data_and_schedule():
    cfg = tiny(["adversarial.rounds=4"])
    n = 30 * cfg.pretrain.batch_size
    base = phase_costs(cfg, n, 100, UNIT)
    double = phase_costs(cfg, 2 * n, 100, UNIT)
    assert math.isclose(double.epoch_s - UNIT.save_s, 2 * (base.epoch_s - UNIT.save_s))
    more_rollouts = phase_costs(
        tiny(["adversarial.rounds=4", "env.reward_scheme.name=mc_rollout",
              "env.reward_scheme.kwargs.n_rollouts=32"]), n, 100, UNIT
    )
    assert more_rollouts.round_s > base.round_s
    short = estimate_seconds(cfg, base)
    longer = estimate_seconds(tiny(["adversarial.rounds=8"]), base)
    assert math.isclose(longer - short, 4 * base.round_s + base.eval_s *
                        (math.ceil(8 / cfg.eval.every_rounds) - math.ceil(4 / cfg.eval.every_rounds)))
    capped = estimate_seconds(tiny(["adversarial.rounds=8", "adversarial.budget_minutes=0.0001"]), base)
    assert capped < longer


def test_a_preset_run_logs_its_estimate_before_it_starts(tmp_path, capsys):
    assert main(["train", str(PRESET), "--out", str(tmp_path / "run")]) == 0
    lines = [line.split(" ", 1)[-1] for line in capsys.readouterr().err.splitlines()]
    at = next(i for i, m in enumerate(lines) if m.startswith("estimated duration:"))
    first_epoch = next(i for i, m in enumerate(lines) if m.startswith("MLE epoch 1"))
    assert at < first_epoch
    assert "calibrated on this machine" in lines[at]


def test_after_mle_is_the_adversarial_share():
    from seqadv.estimate import after_mle_seconds

    costs = phase_costs(tiny(["adversarial.rounds=4"]), 640, 100, UNIT)
    assert after_mle_seconds(tiny(["adversarial.rounds=0"]), costs) == 0.0
    four = after_mle_seconds(tiny(["adversarial.rounds=4", "eval.every_rounds=1"]), costs)
    eight = after_mle_seconds(tiny(["adversarial.rounds=8", "eval.every_rounds=1"]), costs)
    assert math.isclose(eight - four, 4 * (costs.round_s + costs.eval_s))
    assert four > costs.dis_pretrain_s
