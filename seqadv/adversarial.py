"""AdversarialTrainer: one trainer for every recipe.

Phases, in order, each resumable from its last checkpoint:

1. ``mle``: maximum-likelihood pretraining of the policy (``pretrain.epochs``).
2. ``dis_pretrain``: discriminator pretraining on fresh negatives (when there is an
   adversarial phase).
3. ``adversarial``: rounds of learner steps, each followed by the round callbacks
   (:mod:`seqadv.algorithms.callbacks`): MLE interleave, rollout-policy sync, fresh
   negatives and discriminator training, then evaluation, budget and checkpoint.

Every part is built by name from a registry, never from a concrete class: the data
(DATA_SOURCES), the policy (GENERATORS), the discriminator (DISCRIMINATORS), the environment
(ENVIRONMENTS, with its REWARD_SCHEMES scheme and REWARDS reward), the learner (ALGORITHMS)
and the evaluation (METRICS). A recipe is a config over them.

Evaluation runs every ``eval.every_epochs`` MLE epochs and ``eval.every_rounds`` rounds and
at the end of each phase; every evaluation is a line of ``metrics.jsonl``. Checkpoints hold
every model, optimizer and random-generator state, so a stopped run resumes to the same
result.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import torch

from seqadv.algorithms.callbacks import (
    DiscriminatorStep,
    MLEInterleave,
    RolloutSync,
    Round,
    RoundCallback,
)
from seqadv.config import ExperimentConfig, config_from_dict, config_to_dict, dump_config
from seqadv.data.fingerprint import check_same_data, data_fingerprint
from seqadv.data.vocab import Vocab
from seqadv.errors import CheckpointError, ConfigError
from seqadv.evaluation import evaluate_policy
from seqadv.experiment import TextData, build_data, build_generator
from seqadv.models import kernels
from seqadv.models.kernels import KernelPlan
from seqadv.recipe import (
    EXTENDABLE_KEYS,
    build_discriminator,
    build_env,
    build_learner,
    build_pretrainer,
    check_names,
    extended_config,
    named,
    policy_spec,
    registered_component,
    resolve_paths,
    size_warnings,
    smoke_check,
)
from seqadv.runs import (
    RunDir,
    RunLock,
    check_imports,
    derive_seed,
    draw_seed,
    eta,
    load_checkpoint,
    read_run,
    run_files_signature,
    save_checkpoint,
    versions,
)

__all__ = ["AdversarialTrainer", "registered_component"]

log = logging.getLogger("seqadv")


class AdversarialTrainer:
    """Pretrain, then alternate generator and discriminator, as ``cfg`` says.

    Args:
        cfg: the experiment config (a missing seed is drawn and recorded).
        run: the run directory to write; None trains without writing files.
        base_dir: where relative data paths of the config are looked up first.
        kernel_plan: the GEMM kernels to use (a resumed run's recorded plan); default: a
            fresh plan of ``cfg.kernels`` (``auto`` measures each new shape once per machine).
    """

    def __init__(
        self,
        cfg: ExperimentConfig,
        run: RunDir | None = None,
        base_dir: Path | None = None,
        command: list[str] | None = None,
        vocab: Any = None,
        kernel_plan: KernelPlan | None = None,
    ) -> None:
        check_names(cfg)
        resolve_paths(cfg, base_dir)
        self.command = command
        if cfg.seed is None:
            cfg.seed = draw_seed()
            log.info("no seed given: drew seed %d (recorded in the run's config.yaml)", cfg.seed)
        self.cfg = cfg
        self.seed: int = cfg.seed
        self.run = run
        #: estimated seconds of everything after the MLE phase (for the whole run's ETA)
        self.later_phases_s: float | None = None
        torch.set_num_threads(cfg.threads)
        #: the GEMM kernels and sampler blocks this run uses, measured once per machine
        #: (recorded in every checkpoint and in kernels.json; reused on resume and by eval)
        self.kernel_plan = kernel_plan or KernelPlan(
            mode="plain" if cfg.kernels == "plain" else "auto"
        )
        kernels.set_plan(self.kernel_plan)
        self.data: TextData = named("data.source", lambda: build_data(cfg.data, base_dir, vocab))
        self.data_fingerprint = data_fingerprint(self.data)
        log.info("data: %s", self.data.description)
        for warning in size_warnings(cfg, self.data.train.shape[0]):
            log.warning("%s", warning)
        self.generator = named("generator", lambda: build_generator(cfg, self.data, self.seed))
        if cfg.pretrain.init_checkpoint:
            self._load_initial_generator(cfg.pretrain.init_checkpoint, base_dir)
        self.mle = named("pretrain.method", lambda: build_pretrainer(cfg, self.generator))
        self.rngs = {
            name: torch.Generator().manual_seed(derive_seed(self.seed, name))
            for name in ("mle-order", "negatives", "discriminator")
        }
        self.state: dict[str, Any] = {
            "phase": "mle",
            "mle_epoch": 0,
            "dis_round": 0,
            "round": 0,
            "elapsed_s": 0.0,
            "mle_train_s": 0.0,
            "adversarial_train_s": 0.0,
        }
        self.rollout_policy: Any = None
        self.round_callbacks: list[RoundCallback | Any] = []
        self.adversarial = cfg.adversarial.rounds > 0
        if self.adversarial:
            self._build_adversarial()
        self.records: list[dict[str, Any]] = []
        self.evaluations = 0
        self._clock = time.perf_counter()
        if run is not None:
            self._write_run_files()

    def _load_initial_generator(self, path: str, base_dir: Path | None) -> None:
        from seqadv.experiment import resolve_path

        ckpt = load_checkpoint(resolve_path(path, base_dir) or path)
        spec = policy_spec(self.generator)
        if dict(ckpt.get("generator_spec") or {}) != spec:
            raise CheckpointError(
                f"{ckpt['path']}: its generator {ckpt['generator_spec']} does not fit this "
                f"experiment's {spec} (pretrain.init_checkpoint)"
            )
        self.generator.load_state_dict(ckpt["generator"])
        log.info("generator initialized from %s", ckpt["path"])

    def _build_adversarial(self) -> None:
        """The discriminator, the rollout policy, the environment, the learner, the callbacks."""
        from seqadv.algorithms.discriminator import default_optimizer

        cfg = self.cfg
        self.discriminator = build_discriminator(cfg, self.data, self.seed)
        self.dis_optimizer = default_optimizer(
            self.discriminator, lr=cfg.discriminator.lr, optimizer=cfg.discriminator.optimizer
        )
        self.env, self.rollout_policy = build_env(cfg, self.data, self.discriminator, self.generator)
        self.learner = build_learner(cfg, self.generator, self.seed)
        smoke_check(cfg, self.data, self.discriminator, self.generator)
        dis = cfg.discriminator
        self.dis_step = DiscriminatorStep(
            self.discriminator,
            self.dis_optimizer,
            self.generator,
            self.data.train,
            rounds=cfg.adversarial.discriminator_rounds,
            epochs=cfg.adversarial.discriminator_epochs,
            batch_size=dis.batch_size,
            n_negatives=dis.n_negatives,
            n_real=dis.n_real,
            pad_id=self.data.discriminator_pad_id,
            negatives_rng=self.rngs["negatives"],
            train_rng=self.rngs["discriminator"],
            eval_metrics=False,
            every=cfg.adversarial.discriminator_every,
        )
        adv = cfg.adversarial
        if adv.mle_steps:
            self.round_callbacks.append(
                MLEInterleave(
                    self.mle,
                    self.data.train,
                    adv.mle_steps,
                    cfg.pretrain.batch_size,
                    self.rngs["mle-order"],
                )
            )
        if self.rollout_policy is not None:
            self.round_callbacks.append(
                RolloutSync(self.rollout_policy, self.generator, adv.rollout_update_rate)
            )
        self.round_callbacks += [
            self.dis_step,
            self._round_timing,
            self._budget,
            self._round_log,
            self._round_record,
            self._round_evaluation,
            self._round_checkpoint,
        ]

    def sync_rollout_policy(self) -> None:
        """rollout <- rate * rollout + (1 - rate) * generator (SeqGAN's lagged copy, rate 0.8)."""
        if self.rollout_policy is not None:
            RolloutSync(
                self.rollout_policy, self.generator, self.cfg.adversarial.rollout_update_rate
            )()

    # -- run files ----------------------------------------------------------------------------
    def _write_run_files(self) -> None:
        assert self.run is not None
        self.run.write_text("config.yaml", dump_config(self.cfg))

        self.run.write_text(
            "versions.json", json.dumps(versions(self.cfg.threads), indent=2) + "\n"
        )
        self.run.append_command(self.command)
        if self.data.vocab is not None:
            self.data.vocab.save(self.run.path / "vocab.json")
        recorded = {k: v for k, v in self.data_fingerprint.items() if k != "words"}
        self.run.write_text("data.json", json.dumps(recorded, indent=2) + "\n")

    def _log_record(self, record: dict[str, Any]) -> None:
        """A line of metrics.jsonl and, with ``tensorboard: true``, TensorBoard scalars (step:
        the record's ``x``, MLE epochs then rounds after them)."""
        assert self.run is not None
        self.run.log_metrics(record)
        if not self.cfg.tensorboard:
            return
        if getattr(self, "_tensorboard", None) is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as exc:
                raise ConfigError(
                    "tensorboard: true needs the tensorboard package: pip install tensorboard "
                    f"(or seqadv[tensorboard]) ({exc})"
                ) from None
            self._tensorboard = SummaryWriter(log_dir=str(self.run.path / "tensorboard"))
        step = int(round(float(record.get("x", 0))))
        for key, value in record.items():
            if "/" in key and isinstance(value, (int, float)) and not isinstance(value, bool):
                self._tensorboard.add_scalar(key, value, global_step=step)
        self._tensorboard.flush()

    def _elapsed(self) -> float:
        now = time.perf_counter()
        self.state["elapsed_s"] += now - self._clock
        self._clock = now
        return self.state["elapsed_s"]

    # -- checkpoints ----------------------------------------------------------------------------
    def checkpoint_state(self) -> dict[str, Any]:
        """Everything needed to continue exactly where training is now."""
        self._elapsed()
        return {
            "config": config_to_dict(self.cfg),
            "state": dict(self.state),
            "n_records": len(self.records),
            "evaluations": self.evaluations,
            "generator_name": self.cfg.generator.name,
            "generator_spec": policy_spec(self.generator),
            "generator": self.generator.state_dict(),
            "mle": self.mle.state_dict(),
            "rngs": {k: g.get_state() for k, g in self.rngs.items()},
            "adversarial": self._adversarial_state(),
            "vocab": self.data.vocab.itos if self.data.vocab is not None else None,
            "data": self.data_fingerprint,
            "versions": versions(self.cfg.threads),
            "kernel_plan": self.kernel_plan.to_dict(),
        }

    def _adversarial_state(self) -> dict[str, Any] | None:
        if not self.adversarial:
            return None
        return {
            "discriminator": self.discriminator.state_dict(),
            "dis_optimizer": self.dis_optimizer.state_dict(),
            "rollout_policy": (
                self.rollout_policy.state_dict() if self.rollout_policy is not None else None
            ),
            "learner": self.learner.state_dict(),
            "env": self._env_core().state_dict(),
        }

    def _env_core(self) -> Any:
        """The environment's batched core (its state outlives episodes: a sweep position);
        a stand-in without state for an environment that is not a seqadv core."""
        core = getattr(self.env, "core", None)
        return core if hasattr(core, "state_dict") else _Stateless()

    def save(self, name: str = "last.pt") -> Path | None:
        if self.run is None:
            return None
        path = self.run.path / "checkpoints" / name
        state = self.checkpoint_state()
        save_checkpoint(path, state)
        self.run.write_text("kernels.json", json.dumps(state["kernel_plan"], indent=1) + "\n")
        return path

    def load_state(
        self, ckpt: dict[str, Any], allow_changed_data: bool = False, extended: bool = False
    ) -> None:
        """Restore a checkpoint written by :meth:`save` (same config and data required;
        ``allow_changed_data`` lets the data differ, with a warning; ``extended``: the config
        may differ in :data:`EXTENDABLE_KEYS`, and a finished run goes on)."""
        where = ckpt.get("path", "checkpoint")
        saved = config_to_dict(config_from_dict(ckpt["config"], where=where))
        mine = config_to_dict(self.cfg)
        if extended:
            for key in EXTENDABLE_KEYS:
                section, _, name = key.partition(".")
                saved[section][name] = mine[section][name]
        if saved != mine:
            raise CheckpointError(
                f"{where}: the checkpoint was written with a different "
                "config; resume from the run directory to use its own config.yaml"
            )
        changed = check_same_data(ckpt.get("data"), self.data_fingerprint, where, allow_changed_data)
        for problem in changed:
            log.warning("resuming on changed data (--allow-changed-data): %s", problem)
        try:
            plan = kernels.stored_plan(ckpt.get("kernel_plan"), self.cfg.kernels, where)
        except ValueError as exc:
            raise CheckpointError(str(exc)) from None
        if plan.to_dict() != self.kernel_plan.to_dict():
            self.kernel_plan = plan
        kernels.set_plan(self.kernel_plan)
        self.generator.load_state_dict(ckpt["generator"])
        self.mle.load_state_dict(ckpt["mle"])
        for key, state in ckpt["rngs"].items():
            if key in self.rngs:
                self.rngs[key].set_state(state)
        adv = ckpt.get("adversarial")
        if self.adversarial and adv is not None:
            self.discriminator.load_state_dict(adv["discriminator"])
            self.dis_optimizer.load_state_dict(adv["dis_optimizer"])
            if self.rollout_policy is not None:
                self.rollout_policy.load_state_dict(adv["rollout_policy"])
            self.learner.load_state_dict(adv["learner"])
            self._env_core().load_state_dict(adv.get("env") or {})
        self.state = {**self.state, **ckpt["state"]}
        if extended and self.state["phase"] == "done":
            more_rounds = self.adversarial and self.state["round"] < self.cfg.adversarial.rounds
            self.state["phase"] = "adversarial" if more_rounds else "mle"
        self.evaluations = int(ckpt["evaluations"])
        if self.run is not None:
            self.run.truncate_metrics(int(ckpt["n_records"]))
            self.records = self.run.read_metrics()
        self._clock = time.perf_counter()
        log.info(
            "resumed from %s: phase %s, MLE epoch %d, discriminator round %d, round %d",
            ckpt.get("path"),
            self.state["phase"],
            self.state["mle_epoch"],
            self.state["dis_round"],
            self.state["round"],
        )

    @classmethod
    def resume(
        cls,
        run_dir: str | Path,
        command: list[str] | None = None,
        allow_imports: tuple[str, ...] | list[str] = (),
        allow_changed_data: bool = False,
        extend: list[str] | tuple[str, ...] = (),
    ) -> AdversarialTrainer:
        """Continue the run in ``run_dir`` from its last checkpoint, with its config.yaml.

        Before anything is built or written: config.yaml must equal the checkpoint's config,
        and a dotted path it names (``pkg.mod:attr``) is refused unless ``allow_imports``
        names its module. The data must be those the run recorded (files, encoded splits,
        vocabulary) unless ``allow_changed_data``; then the run's stored vocabulary encodes
        the new data (it is never rewritten). ``extend`` (``--set`` items of
        :data:`EXTENDABLE_KEYS` only) lets a run go on longer: more adversarial rounds, or
        more MLE epochs of a run still in (or ended after) its MLE phase; config.yaml is
        rewritten with them. The trainer holds the run's lock (``trainer.run.close()``).
        """
        path = Path(run_dir)
        if path.is_dir():
            RunLock.check_free(path)  # a second writer is refused first, and at once
        if not (path / "config.yaml").is_file():
            raise CheckpointError(f"{run_dir}: no config.yaml; is this a seqadv run directory?")
        before = run_files_signature(path)
        cfg, ckpt, where = read_run(path)
        check_imports(cfg, registered_component, allow_imports, where)
        run = RunDir.open(path, mode="resume")
        try:
            if run_files_signature(path) != before:  # rewritten before the lock was ours
                cfg, ckpt, where = read_run(path)
                check_imports(cfg, registered_component, allow_imports, where)
            if extend:
                cfg = extended_config(cfg, ckpt, list(extend), where)
            stored = ckpt.get("vocab") if allow_changed_data else None
            vocab = Vocab(stored) if stored else None
            try:  # the run's own kernels from the start (the smoke check runs GEMMs too)
                plan = kernels.stored_plan(ckpt.get("kernel_plan"), cfg.kernels, where)
            except ValueError as exc:
                raise CheckpointError(str(exc)) from None
            trainer = cls(cfg, run=None, command=command, vocab=vocab, kernel_plan=plan)
            check_same_data(  # before anything is written into the run
                ckpt.get("data"), trainer.data_fingerprint, ckpt["path"], allow_changed_data
            )
            trainer.run = run
            run.append_command(command)
            trainer.load_state(ckpt, allow_changed_data, extended=bool(extend))
            if extend:
                run.write_text("config.yaml", dump_config(trainer.cfg))
        except BaseException:
            run.close()
            raise
        return trainer

    # -- evaluation ---------------------------------------------------------------------------
    def evaluate(
        self, phase: str, step: int, x: float, extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Evaluate now, log a record and write samples."""
        start = time.perf_counter()
        metrics, samples = evaluate_policy(
            self.generator, self.data, self.cfg.eval, self.seed, f"{phase}-{step}"
        )
        eval_s = time.perf_counter() - start
        record: dict[str, Any] = {"phase": phase, "step": step, "x": x}
        if phase == "mle":
            record["epoch"] = step
        else:
            record["round"] = step
        record.update(metrics)
        record.update(extra or {})
        record["time/eval_s"] = round(eval_s, 3)
        record["time/elapsed_s"] = round(self._elapsed(), 3)
        self.records.append(record)
        self.evaluations += 1
        shown = ", ".join(
            f"{k.removeprefix('eval/')} {v:.4f}" for k, v in metrics.items() if isinstance(v, float)
        )
        log.info("[%s %d] %s", phase, step, shown)
        for row in samples[: self.cfg.eval.n_print]:
            log.info("  sample: %s", _clip(self.data.decode(row)))
        if self.run is not None:
            self._log_record(record)
            text = "\n".join(self.data.decode(r) for r in samples[: self.cfg.keep_samples])
            self.run.write_text(f"samples/{phase}-{step:04d}.txt", text + "\n")
        self._keep_best(record)
        return record

    def _keep_best(self, record: dict[str, Any]) -> None:
        """``eval.select``: checkpoints/best.pt is the evaluation with the best value of that
        key so far (``state["best"]`` says which), among the adversarial rounds after round 0
        when the run has an adversarial phase (the model it trains), else the MLE epochs."""
        key, e = self.cfg.eval.select, self.cfg.eval
        if key is None:
            return
        if self.adversarial and (record["phase"] != "adversarial" or record["step"] == 0):
            return
        value = record.get(key)
        if not isinstance(value, (int, float)) or value != value:
            if "best" not in self.state:
                log.warning("eval.select: the evaluations have no %r; no best.pt is kept", key)
            return
        best = self.state.get("best")
        better = best is None or (value > best["value"] if e.select_mode == "max" else value < best["value"])
        if better:
            self.state["best"] = {"key": key, "value": float(value), "phase": record["phase"],
                                  "step": int(record["step"])}  # fmt: skip
            self.save("best.pt")

    # -- phases -------------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        """Run every remaining phase; returns the last evaluation's record."""
        if self.state["phase"] == "mle":
            self._pretrain_generator()
            self.state["phase"] = "dis_pretrain" if self.adversarial else "done"
            self.save()
        if self.state["phase"] == "dis_pretrain":
            self._pretrain_discriminator()
            if self.rollout_policy is not None:
                self.rollout_policy.load_state_dict(self.generator.state_dict())
            self.state["phase"] = "adversarial"
            self.save()
        if self.state["phase"] == "adversarial":
            self._adversarial_rounds()
            self.state["phase"] = "done"
        if self.run is not None:
            self.save()
            self.finish()
        return self.records[-1] if self.records else {}

    def _pretrain_generator(self) -> None:
        cfg = self.cfg
        epochs = cfg.pretrain.epochs
        if self.state["mle_epoch"] == 0 and not self.records:
            self.evaluate("mle", 0, 0.0)
            self.save()
        from seqadv.runs import progress

        remaining = range(self.state["mle_epoch"] + 1, epochs + 1)
        for epoch in progress(remaining, total=len(remaining), desc="MLE epochs", log_lines=False):
            stats = self.mle.train_epoch(
                self.data.train, self.rngs["mle-order"], desc=f"MLE epoch {epoch}"
            )
            self.state["mle_epoch"] = epoch
            self.state["mle_train_s"] += stats["time/mle_epoch_s"]
            over = _over_budget(self.state["mle_train_s"], cfg.pretrain.budget_minutes)
            if over:
                log.info(
                    "MLE: training-time budget of %.1f min reached", cfg.pretrain.budget_minutes
                )
                epochs = epoch
            log.info(
                "%s epoch %d%s: loss %.4f (%.1fs; %s)",
                cfg.pretrain.method.upper(),
                epoch,
                "" if cfg.pretrain.budget_minutes is not None and not over else f"/{epochs}",
                stats[self.mle.loss_key],
                stats["time/mle_epoch_s"],
                eta(
                    self.state["mle_train_s"],
                    done_units=epoch,
                    total_units=epochs,
                    budget_minutes=cfg.pretrain.budget_minutes,
                    later_s=self.later_phases_s,
                ),
            )
            if epoch % cfg.eval.every_epochs == 0 or epoch == epochs:
                self.evaluate("mle", epoch, float(epoch), stats)
            self.save()  # every epoch boundary: a stopped run loses at most one epoch
            if over:
                break

    def _train_discriminator(self, epochs: int) -> dict[str, Any]:
        """One round: fresh negatives, then ``epochs`` epochs (times in ``time/...``)."""
        return self.dis_step.train_round(epochs)

    def _pretrain_discriminator(self) -> None:
        from seqadv.runs import progress

        cfg = self.cfg.discriminator
        remaining = range(self.state["dis_round"] + 1, cfg.pretrain_rounds + 1)
        stats: dict[str, Any] = {}
        for r in progress(
            remaining, total=len(remaining), desc="discriminator pretraining", log_lines=False
        ):
            start = time.perf_counter()
            stats = self._train_discriminator(cfg.pretrain_epochs)
            self.state["dis_round"] = r
            log.info(
                "discriminator pretraining %d/%d: loss %.4f, acc real %.3f, fake %.3f (%.1fs)",
                r,
                cfg.pretrain_rounds,
                stats.get("dis/loss", float("nan")),
                stats.get("dis/acc_real", float("nan")),
                stats.get("dis/acc_fake", float("nan")),
                time.perf_counter() - start,
            )
            self.save()

    def _adversarial_rounds(self) -> None:
        from seqadv.runs import progress

        adv = self.cfg.adversarial
        if self.state["round"] == 0 and not any(
            r.get("phase") == "adversarial" for r in self.records
        ):
            self.evaluate("adversarial", 0, float(self.cfg.pretrain.epochs))
        remaining = range(self.state["round"] + 1, adv.rounds + 1)
        for number in progress(
            remaining, total=len(remaining), desc="adversarial rounds", log_lines=False
        ):
            rnd = Round(number)
            rnd.stats.update(self.learner.learn(self.env, adv.generator_steps))
            rnd.stats["time/generator_s"] = time.perf_counter() - rnd.start
            for callback in self.round_callbacks:
                callback(rnd)
            if rnd.stop:
                break

    # -- the trainer's own round callbacks (after the shared ones) --------------------------
    def _round_timing(self, rnd: Round) -> None:
        timers = getattr(self.env, "timers", None) or {}
        rnd.stats["time/rollouts_s"] = float(timers.get("rollout/sample", 0.0)) + float(
            timers.get("discriminator", 0.0)
        )
        if hasattr(timers, "clear"):
            timers.clear()
        self.state["round"] = rnd.number
        self.state["adversarial_train_s"] += time.perf_counter() - rnd.start
        rnd.stats["time/adversarial_train_s"] = self.state["adversarial_train_s"]

    def _budget(self, rnd: Round) -> None:
        budget = self.cfg.adversarial.budget_minutes
        rnd.stop = _over_budget(self.state["adversarial_train_s"], budget)

    def _round_log(self, rnd: Round) -> None:
        stats = rnd.stats
        adv = self.cfg.adversarial
        log.info(
            "adversarial round %d/%d: reward %.4f (mean over the steps taken), D acc real %.3f "
            "fake %.3f (generator %.1fs, discriminator %.1fs; %s)",
            rnd.number,
            adv.rounds,
            stats.get("reward/mean", float("nan")),
            stats.get("dis/acc_real", float("nan")),
            stats.get("dis/acc_fake", float("nan")),
            stats["time/generator_s"],
            stats.get("time/discriminator_s", 0.0),
            eta(
                self.state["adversarial_train_s"],
                done_units=rnd.number,
                total_units=adv.rounds,
                budget_minutes=adv.budget_minutes,
            ),
        )

    def _round_record(self, rnd: Round) -> None:
        """Every round's statistics as a ``phase: round`` line of metrics.jsonl (evaluations
        come as their own ``phase: adversarial`` lines): ``reward/mean`` and ``reward/std``
        (over the steps the round's episodes took), ``reward/final_mean`` (the finished
        sequences' scores), the discriminator's loss and accuracies, the learner's losses and
        gradient norm, timings."""
        if self.run is None:
            return
        record: dict[str, Any] = {"phase": "round", "round": rnd.number}
        record["x"] = float(self.cfg.pretrain.epochs) + rnd.number
        record.update(
            {k: v for k, v in rnd.stats.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        )
        self.records.append(record)
        self._log_record(record)

    def _round_evaluation(self, rnd: Round) -> None:
        every, last = self.cfg.eval.every_rounds, self.cfg.adversarial.rounds
        if rnd.number % every == 0 or rnd.number == last or rnd.stop:
            x = float(self.cfg.pretrain.epochs) + rnd.number
            self.evaluate("adversarial", rnd.number, x, rnd.stats)

    def _round_checkpoint(self, rnd: Round) -> None:
        self.save()
        if rnd.stop:
            log.info(
                "adversarial: training-time budget of %.1f min reached",
                self.cfg.adversarial.budget_minutes,
            )

    # -- the end --------------------------------------------------------------------------------
    def finish(self) -> None:
        """Plots and a summary in the run directory."""
        assert self.run is not None
        if getattr(self, "_tensorboard", None) is not None:
            self._tensorboard.close()
        from seqadv.plots import plot_run

        path = plot_run(self.records, self.run.path / "plots", self.cfg.name, self.adversarial)
        if path is not None:
            log.info("learning curve: %s", path)

class _Stateless:
    """The state of an environment that keeps none between episodes."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def _over_budget(seconds: float, budget_minutes: float | None) -> bool:
    return budget_minutes is not None and seconds >= 60.0 * budget_minutes


def _clip(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
