"""AdversarialTrainer: one trainer for every recipe.

Phases, in order, each resumable from its last checkpoint:

1. ``mle``: maximum-likelihood pretraining of the generator (``pretrain.epochs``).
2. ``dis_pretrain``: discriminator pretraining on fresh negatives (when there is an
   adversarial phase).
3. ``adversarial``: rounds of generator updates by the configured learner, rollout-policy
   sync, fresh negatives and discriminator training.

Evaluation (NLL-oracle and NLL-test; BLEU and Self-BLEU on corpora) runs every
``eval.every_epochs`` MLE epochs and ``eval.every_rounds`` rounds and at the end of each
phase; every evaluation is a line of ``metrics.jsonl``. Checkpoints hold every model,
optimizer and random-generator state, so a stopped run resumes to the same result.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import torch

from seqadv.algorithms.mle import MLELearner
from seqadv.config import ExperimentConfig, config_from_dict, config_to_dict, dump_config
from seqadv.errors import CheckpointError
from seqadv.experiment import TextData, build_data, build_generator, evaluate_generator
from seqadv.runs import RunDir, derive_seed, draw_seed, load_checkpoint, save_checkpoint, versions

__all__ = ["AdversarialTrainer"]

log = logging.getLogger("seqadv")


class AdversarialTrainer:
    """Pretrain, then alternate generator and discriminator, as ``cfg`` says.

    Args:
        cfg: the experiment config (a missing seed is drawn and recorded).
        run: the run directory to write; None trains without writing files.
        base_dir: where relative data paths of the config are looked up first.
    """

    def __init__(
        self, cfg: ExperimentConfig, run: RunDir | None = None, base_dir: Path | None = None
    ) -> None:
        if cfg.seed is None:
            cfg.seed = draw_seed()
            log.info("no seed given: drew seed %d (recorded in the run's config.yaml)", cfg.seed)
        self.cfg = cfg
        self.seed: int = cfg.seed
        self.run = run
        torch.set_num_threads(cfg.threads)
        self.data: TextData = build_data(cfg.data, base_dir)
        log.info("data: %s", self.data.description)
        self.generator = build_generator(cfg, self.data, self.seed)
        self.mle = MLELearner(
            self.generator,
            lr=cfg.pretrain.lr,
            batch_size=cfg.pretrain.batch_size,
            grad_clip=cfg.pretrain.grad_clip,
        )
        self.rngs = {"mle": torch.Generator().manual_seed(derive_seed(self.seed, "mle-order"))}
        self.state: dict[str, Any] = {"phase": "mle", "mle_epoch": 0, "round": 0, "elapsed_s": 0.0}
        self.records: list[dict[str, Any]] = []
        self.evaluations = 0
        self._clock = time.perf_counter()
        if run is not None:
            self._write_run_files()

    # -- run files ----------------------------------------------------------------------------
    def _write_run_files(self) -> None:
        assert self.run is not None
        self.run.write_text("config.yaml", dump_config(self.cfg))
        import json

        self.run.write_text(
            "versions.json", json.dumps(versions(self.cfg.threads), indent=2) + "\n"
        )
        self.run.append_command()
        if self.data.vocab is not None:
            self.data.vocab.save(self.run.path / "vocab.json")

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
            "generator_spec": {
                **self.generator.spec.__dict__,
                "forbidden_ids": list(self.generator.spec.forbidden_ids),
            },
            "generator": self.generator.state_dict(),
            "mle": self.mle.state_dict(),
            "rngs": {k: g.get_state() for k, g in self.rngs.items()},
            "vocab": self.data.vocab.itos if self.data.vocab is not None else None,
            "versions": versions(self.cfg.threads),
        }

    def save(self, name: str = "last.pt") -> Path | None:
        if self.run is None:
            return None
        path = self.run.path / "checkpoints" / name
        save_checkpoint(path, self.checkpoint_state())
        return path

    def load_state(self, ckpt: dict[str, Any]) -> None:
        """Restore a checkpoint written by :meth:`save` (same config required)."""
        saved = config_from_dict(ckpt["config"], where=ckpt.get("path", "checkpoint"))
        if config_to_dict(saved) != config_to_dict(self.cfg):
            raise CheckpointError(
                f"{ckpt.get('path', 'checkpoint')}: the checkpoint was written with a different "
                "config; resume from the run directory to use its own config.yaml"
            )
        self.generator.load_state_dict(ckpt["generator"])
        self.mle.load_state_dict(ckpt["mle"])
        for key, state in ckpt["rngs"].items():
            if key in self.rngs:
                self.rngs[key].set_state(state)
        self.state = dict(ckpt["state"])
        self.evaluations = int(ckpt["evaluations"])
        if self.run is not None:
            self.run.truncate_metrics(int(ckpt["n_records"]))
            self.records = self.run.read_metrics()
        self._clock = time.perf_counter()
        log.info(
            "resumed from %s: phase %s, MLE epoch %d, round %d",
            ckpt.get("path"),
            self.state["phase"],
            self.state["mle_epoch"],
            self.state["round"],
        )

    @classmethod
    def resume(cls, run_dir: str | Path) -> AdversarialTrainer:
        """Continue the run in ``run_dir`` from its last checkpoint, with its own config."""
        run = RunDir(run_dir)
        if not run.config_path.is_file():
            raise CheckpointError(f"{run_dir}: no config.yaml; is this a seqadv run directory?")
        ckpt = load_checkpoint(run.last_checkpoint)
        cfg = config_from_dict(ckpt["config"], where=str(run.last_checkpoint))
        trainer = cls(cfg, run=None)
        trainer.run = run
        run.append_command()
        trainer.load_state(ckpt)
        return trainer

    # -- evaluation ---------------------------------------------------------------------------
    def evaluate(
        self, phase: str, step: int, x: float, extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Evaluate now, log a record, write samples, and checkpoint when due."""
        metrics, samples = evaluate_generator(
            self.generator, self.data, self.cfg.eval, self.seed, f"{phase}-{step}"
        )
        record: dict[str, Any] = {"phase": phase, "step": step, "x": x}
        if phase == "mle":
            record["epoch"] = step
        else:
            record["round"] = step
        record.update(metrics)
        record.update(extra or {})
        record["time/elapsed_s"] = round(self._elapsed(), 3)
        self.records.append(record)
        self.evaluations += 1
        shown = ", ".join(
            f"{k.split('/')[-1]} {v:.4f}" for k, v in metrics.items() if isinstance(v, float)
        )
        log.info("[%s %d] %s", phase, step, shown)
        for row in samples[: self.cfg.eval.n_print]:
            log.info("  sample: %s", _clip(self.data.decode(row)))
        if self.run is not None:
            self.run.log_metrics(record)
            text = "\n".join(self.data.decode(r) for r in samples[: self.cfg.keep_samples])
            self.run.write_text(f"samples/{phase}-{step:04d}.txt", text + "\n")
        return record

    # -- phases -------------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        """Run every remaining phase; returns the last evaluation's record."""
        if self.state["phase"] == "mle":
            self._pretrain_generator()
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
        from seqadv.runs import progress

        remaining = range(self.state["mle_epoch"] + 1, epochs + 1)
        for epoch in progress(remaining, total=len(remaining), desc="MLE epochs", log_lines=False):
            stats = self.mle.train_epoch(
                self.data.train, self.rngs["mle"], desc=f"MLE epoch {epoch}"
            )
            self.state["mle_epoch"] = epoch
            log.info(
                "MLE epoch %d/%d: loss %.4f (%.1fs)",
                epoch,
                epochs,
                stats["gen/mle_loss"],
                stats["time/mle_epoch_s"],
            )
            if epoch % cfg.eval.every_epochs == 0 or epoch == epochs:
                self.evaluate("mle", epoch, float(epoch), stats)
            self.save()  # every epoch boundary: a stopped run loses at most one epoch

    # -- the end --------------------------------------------------------------------------------
    def finish(self) -> None:
        """Plots and a summary in the run directory."""
        assert self.run is not None
        from seqadv.plots import plot_learning_curve

        path = plot_learning_curve(
            self.records,
            self.run.path / "plots" / "learning_curve.png",
            title=self.cfg.name,
        )
        if path is not None:
            log.info("learning curve: %s", path)


def _clip(text: str, width: int = 100) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
