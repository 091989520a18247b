"""How long a run will take, priced on this machine before it starts.

:func:`calibrate` times the units every phase is made of, on fresh models of the run's
sizes (never the run's own: nothing here touches a trainer's models or random streams):

- one MLE step (Adam) on a batch of ``pretrain.batch_size`` rows of the data, so that the
  output layer sees the data's real lengths (the loss projects only tokens up to EOS);
- one sampled row at full length, in a batch as large as the trainer's sampling calls
  (negatives and evaluation) and in a batch of the rollouts' size (``num_envs x n_rollouts``);
- one discriminator training row (a minibatch step, forward and backward) and one scored row
  (forward only, as rewards and rollouts score);
- one checkpoint write.

:func:`phase_costs` turns them into seconds per MLE epoch, evaluation, adversarial round and
discriminator pretraining for a config and data size, and :func:`estimate_seconds` into the
run's duration. The model is a sum of those units; it ignores what is small next to them
(BLEU, logging) and assumes a rollout from prefix t costs (T - t) / T of a full sample. The
calibration takes well under two seconds at the presets' sizes.
"""

from __future__ import annotations

import dataclasses
import io
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from seqadv.config import ExperimentConfig
from seqadv.data.source import TextData
from seqadv.runs import format_duration

__all__ = [
    "UnitCosts",
    "PhaseCosts",
    "calibrate",
    "phase_costs",
    "estimate_seconds",
    "synthetic_data",
    "rollouts_per_step",
    "estimate_run",
    "after_mle_seconds",
    "describe",
]

#: seconds each timed unit may take at most (after one warm-up call)
_UNIT_BUDGET_S = 0.35


@dataclass(frozen=True)
class UnitCosts:
    """Seconds of the units a run is made of, measured on this machine."""

    mle_batch_s: float  # one MLE step on a batch of pretrain.batch_size
    sample_row_s: float  # one full-length sampled row in a large batch
    rollout_row_s: float  # one full-length sampled row in a batch of the rollouts' size
    dis_train_row_s: float  # one discriminator training row (forward + backward + step)
    dis_score_row_s: float  # one discriminator-scored row (forward, no gradient)
    save_s: float  # one checkpoint of the generator and its optimizer
    pretrain_epoch_s: float | None = None  # one epoch of a pretrainer other than MLE, timed whole


@dataclass(frozen=True)
class PhaseCosts:
    """Seconds of each repeated part of a run."""

    epoch_s: float  # one MLE epoch, its checkpoint included
    eval_s: float  # one evaluation
    round_s: float  # one adversarial round
    dis_pretrain_s: float  # the whole discriminator pretraining


def _median_time(
    fn: Callable[[], Any], budget_s: float = _UNIT_BUDGET_S, most: int = 7, warmup: int = 1
) -> float:
    """Median seconds of ``fn`` after ``warmup`` calls, within about ``budget_s``."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(times) < most and (len(times) < 3 or time.perf_counter() < deadline):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        if times[-1] > budget_s:  # a slow unit: one timing is enough
            break
    return sorted(times)[len(times) // 2]


def rollouts_per_step(cfg: ExperimentConfig) -> int:
    """Monte Carlo rollouts per prefix of the configured reward scheme (0: none)."""
    scheme = cfg.env.reward_scheme
    if scheme is not None:
        if "rollout" not in scheme.name:
            return 0
        return int(scheme.kwargs.get("n_rollouts", 16) or 0)
    return 16 if "MC" in cfg.env.name else 0


def synthetic_data(lengths: Sequence[int], vocab_size: int, max_len: int, rows: int = 256) -> TextData:
    """Random sequences whose lengths (EOS excluded) are drawn from ``lengths``: what the
    calibration needs of a corpus not read yet (ids: pad 0, start 1, EOS 2, words 4..)."""
    rng = random.Random(0)
    g = torch.Generator().manual_seed(0)
    seqs = torch.zeros(rows, max_len, dtype=torch.long)
    for i in range(rows):
        n = max(1, min(max_len - 1, int(rng.choice(lengths)) if lengths else max_len - 1))
        seqs[i, :n] = torch.randint(4, max(vocab_size, 5), (n,), generator=g)
        seqs[i, n] = 2
    return TextData(
        train=seqs,
        test=None,
        max_len=max_len,
        vocab_size=max(vocab_size, 5),
        start_id=1,
        eos_id=2,
        pad_id=0,
        forbidden_ids=(0, 1),
    )


def _rows(data: TextData, n: int) -> torch.Tensor:
    """``n`` training rows (cycled when there are fewer), in a fixed shuffled order."""
    train = data.train
    order = torch.randperm(train.shape[0], generator=torch.Generator().manual_seed(0))
    return train[order.repeat(math.ceil(n / max(len(order), 1)))[:n]]


def calibrate(
    cfg: ExperimentConfig, data: TextData, discriminator: bool | None = None
) -> UnitCosts:
    """Time the units of ``cfg`` on ``data`` (real or :func:`synthetic_data`) at
    ``cfg.threads`` torch threads; fresh models, the global torch RNG restored.

    ``discriminator``: time the discriminator's units too (default: when ``cfg`` has
    adversarial rounds).
    """
    from seqadv.algorithms.discriminator import default_optimizer, train_discriminator
    from seqadv.experiment import build_generator
    from seqadv.recipe import build_discriminator

    previous = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            gen = build_generator(cfg, data, seed=0)
            opt = torch.optim.Adam(gen.parameters(), lr=cfg.pretrain.lr)
            batch = _rows(data, cfg.pretrain.batch_size)

            def mle_step() -> None:
                opt.zero_grad()
                gen.mle_loss(batch).backward()
                opt.step()

            mle_batch_s = _median_time(mle_step, most=5, warmup=4)  # Adam's first steps are slow
            buffer = io.BytesIO()
            start = time.perf_counter()  # the trainer checkpoints every epoch and round
            torch.save({"g": gen.state_dict(), "o": opt.state_dict()}, buffer)
            save_s = 2 * (time.perf_counter() - start) + 0.003
            g = torch.Generator().manual_seed(0)
            large = max(1, min(256, max(cfg.eval.n_samples, cfg.discriminator.n_negatives or 0)))
            with torch.no_grad():
                sample_row_s = _median_time(lambda: gen.sample(large, generator=g), most=2) / large
                roll = max(1, cfg.env.num_envs * max(rollouts_per_step(cfg), 1))
                roll = min(roll, 512)
                rollout_row_s = _median_time(lambda: gen.sample(roll, generator=g), most=2) / roll
            pretrain_epoch_s = None
            if cfg.pretrain.method != "mle" and cfg.pretrain.epochs:  # e.g. DNS: one whole epoch
                from seqadv.recipe import build_pretrainer

                other = build_pretrainer(cfg, build_generator(cfg, data, seed=0))
                start = time.perf_counter()
                other.train_epoch(data.train, torch.Generator().manual_seed(0), desc="calibration")
                pretrain_epoch_s = time.perf_counter() - start
            dis_train_row_s = dis_score_row_s = 0.0
            if cfg.adversarial.rounds > 0 if discriminator is None else discriminator:
                dis = build_discriminator(cfg, data, seed=0)
                dis_opt = default_optimizer(dis, lr=cfg.discriminator.lr, optimizer=cfg.discriminator.optimizer)
                n = 2 * max(2, cfg.discriminator.batch_size // 2) * 2  # two minibatches
                real, fake = _rows(data, n // 2), _rows(data, n // 2).flip(1)

                def dis_epoch() -> None:
                    train_discriminator(
                        dis,
                        real,
                        fake,
                        epochs=1,
                        batch_size=cfg.discriminator.batch_size,
                        optimizer=dis_opt,
                        generator=torch.Generator().manual_seed(0),
                        pad_id=data.discriminator_pad_id,
                        eval_metrics=False,
                    )

                dis_train_row_s = _median_time(dis_epoch, most=3) / n
                scored = _rows(data, 256)
                with torch.no_grad():
                    dis_score_row_s = _median_time(lambda: dis(scored), most=3) / 256
        return UnitCosts(
            mle_batch_s, sample_row_s, rollout_row_s, dis_train_row_s, dis_score_row_s, save_s,
            pretrain_epoch_s,
        )
    finally:
        torch.set_num_threads(previous)


def phase_costs(cfg: ExperimentConfig, n_train: int, n_test: int, unit: UnitCosts) -> PhaseCosts:
    """Seconds of one MLE epoch, one evaluation, one adversarial round and the
    discriminator pretraining of ``cfg`` on ``n_train`` / ``n_test`` sentences."""
    b = max(1, cfg.pretrain.batch_size)
    epoch_s = math.ceil(n_train / b) * unit.mle_batch_s + unit.save_s
    if unit.pretrain_epoch_s is not None:
        epoch_s = unit.pretrain_epoch_s + unit.save_s
    e = cfg.eval
    # sampling; NLL-test and NLL-oracle are forward passes (about a third of an MLE step)
    eval_s = e.n_samples * unit.sample_row_s + 0.05
    eval_s += (math.ceil(n_test / b) + math.ceil(e.n_samples / b)) * unit.mle_batch_s / 3
    dis = cfg.discriminator
    n_real = min(dis.n_real or n_train, n_train) if n_train else dis.n_real or 0
    a = cfg.adversarial
    n_negatives = dis.n_negatives or n_real
    dis_rows = 2 * max(n_negatives, n_real)  # an epoch visits the larger set once
    dis_round_s = n_negatives * unit.sample_row_s
    dis_round_s += a.discriminator_epochs * dis_rows * unit.dis_train_row_s
    t, envs, k = cfg.data.max_len, cfg.env.num_envs, rollouts_per_step(cfg)
    gen_step_s = envs * unit.rollout_row_s  # the episodes themselves
    if k:  # a rollout from every prefix, each scored
        gen_step_s += t * envs * k * (unit.rollout_row_s / 2 + unit.dis_score_row_s)
    else:
        gen_step_s += t * envs * unit.dis_score_row_s  # at most one score per prefix
    gen_step_s += 2 * math.ceil(envs / b) * unit.mle_batch_s  # re-evaluation and the update
    round_s = (
        a.generator_steps * gen_step_s
        + a.discriminator_rounds * dis_round_s / a.discriminator_every
        + a.mle_steps * unit.mle_batch_s
        + unit.save_s
    )
    pretrain_dis_s = n_negatives * unit.sample_row_s
    pretrain_dis_s += dis.pretrain_epochs * dis_rows * unit.dis_train_row_s + unit.save_s
    return PhaseCosts(epoch_s, eval_s, round_s, dis.pretrain_rounds * pretrain_dis_s)


def estimate_seconds(cfg: ExperimentConfig, costs: PhaseCosts, load_s: float = 0.0) -> float:
    """The run's duration: loading, MLE epochs, discriminator pretraining, rounds and every
    evaluation, each phase capped by its time budget when one is set."""
    p, a, e = cfg.pretrain, cfg.adversarial, cfg.eval
    mle = p.epochs * costs.epoch_s
    if p.budget_minutes is not None:
        mle = min(mle, 60 * p.budget_minutes + costs.epoch_s)
    evals = 1 + math.ceil(p.epochs / max(e.every_epochs, 1))
    total = load_s + mle + 0.5
    if a.rounds > 0:
        adv = a.rounds * costs.round_s
        if a.budget_minutes is not None:
            adv = min(adv, 60 * a.budget_minutes + costs.round_s)
        total += costs.dis_pretrain_s + adv
        evals += 1 + math.ceil(a.rounds / max(e.every_rounds, 1))
    return total + evals * costs.eval_s


def after_mle_seconds(cfg: ExperimentConfig, costs: PhaseCosts) -> float:
    """The estimated seconds of the run after its MLE phase (0 for an MLE-only run)."""
    if cfg.adversarial.rounds <= 0:
        return 0.0
    mle_only = dataclasses.replace(cfg, adversarial=dataclasses.replace(cfg.adversarial, rounds=0))
    return estimate_seconds(cfg, costs) - estimate_seconds(mle_only, costs)


def describe(cfg: ExperimentConfig, costs: PhaseCosts, seconds: float) -> str:
    """One line for the log: the estimate and what it is made of."""

    parts = [f"MLE epoch ~{costs.epoch_s:.2f}s", f"evaluation ~{costs.eval_s:.2f}s"]
    if cfg.adversarial.rounds > 0:
        parts.insert(1, f"adversarial round ~{costs.round_s:.2f}s")
    return (
        f"estimated duration: {format_duration(seconds)} ({', '.join(parts)}; "
        "calibrated on this machine)"
    )


def estimate_run(cfg: ExperimentConfig, data: TextData) -> tuple[float, PhaseCosts]:
    """Seconds a new run of ``cfg`` on ``data`` will take, and the phase costs."""
    unit = calibrate(cfg, data)
    n_test = 0 if data.test is None else int(data.test.shape[0])
    costs = phase_costs(cfg, int(data.train.shape[0]), n_test, unit)
    return estimate_seconds(cfg, costs), costs
