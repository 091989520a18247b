"""Where one SeqGAN adversarial epoch spends its time, on one thread.

Builds the trainer of a preset (default: the paper protocol, experiments/seqgan_oracle.yaml),
skips pretraining, runs one adversarial epoch and one evaluation, and prints the time of each
part: the generator step (collecting the episode batch, of which Monte-Carlo rollouts and
their discriminator scoring, and the policy-gradient update), fresh negatives, discriminator
epochs and the evaluation (NLL-oracle and NLL-test of 10,000 sequences, Self-BLEU).

    python experiments/benchmarks/seqgan_epoch.py [--config experiments/seqgan_oracle_cpu.yaml]
        [--set discriminator.n_real=5000 ...] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import gemm_rates, machine_line, setup_threads  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "experiments" / "seqgan_oracle.yaml"))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    setup_threads(args.threads)

    import torch

    from seqadv.adversarial import AdversarialTrainer
    from seqadv.config import load_config

    overrides = [
        "pretrain.epochs=0",
        "discriminator.pretrain_rounds=0",
        "adversarial.rounds=1",
        "seed=0",
        f"threads={args.threads}",
        *args.set,
    ]
    cfg = load_config(args.config, overrides)
    print(machine_line())
    print(f"preset: {args.config} ({' '.join(args.set) or 'as written'})")
    trainer = AdversarialTrainer(cfg, base_dir=Path(args.config).resolve().parent)
    gemm_rates()  # with the run's kernel plan (kernels: auto measures, --set kernels=plain pins)
    trainer.state["phase"] = "adversarial"
    trainer.records.append({"phase": "adversarial", "note": "skip the round-0 evaluation"})

    start = time.perf_counter()
    trainer._adversarial_rounds()
    total = time.perf_counter() - start
    record = trainer.records[-1]
    gen = record["time/generator_s"]
    rollouts = record["time/rollouts_s"]
    neg = record["time/negatives_s"]
    dis = record["time/dis_train_s"]
    ev = record["time/eval_s"]
    adv = cfg.adversarial
    rows = [
        ("generator step (episode batch + update)", gen),
        ("  of which rollouts and their scoring", rollouts),
        (f"fresh negatives ({adv.discriminator_rounds} x {cfg.discriminator.n_negatives})", neg),
        (
            f"discriminator epochs ({adv.discriminator_rounds} x {adv.discriminator_epochs})",
            dis,
        ),
        (f"evaluation ({cfg.eval.n_samples} samples)", ev),
    ]
    print(f"\none adversarial epoch, {torch.get_num_threads()} torch thread(s):")
    for name, secs in rows:
        print(f"  {name:<48} {secs:8.2f} s")
    print(f"  {'total (with bookkeeping)':<48} {total:8.2f} s")
    configured = load_config(args.config, args.set)
    epochs, every = configured.adversarial.rounds, configured.eval.every_rounds
    evals = epochs // every + 1
    minutes = (epochs * (total - ev) + evals * ev) / 60
    print(
        f"  the preset's {epochs} adversarial epochs at this rate, with {evals} evaluations: "
        f"{minutes:,.1f} min = {minutes / 60:.1f} h (pretraining not included)"
    )
    print(
        f"\nB={cfg.env.batch_size}, N={cfg.env.n_rollouts}, discriminator {cfg.discriminator.name} "
        f"{cfg.discriminator.kwargs or '(SeqGAN defaults)'}"
    )


if __name__ == "__main__":
    main()
