"""IRGAN on MovieLens-100k, reproduced by one command: three seeds, then the table.

Trains ``experiments/irgan_ml100k.yaml`` once per seed (at most ``--jobs`` runs at a time,
one torch thread each), resuming a run directory that was interrupted and skipping one that
finished, then prints ``experiments/irgan_table.py``'s table (the DNS start and IRGAN, test
figures, the model selected on validation, the test-selected upper bound beside it) and
draws its plot:

    python experiments/irgan_reproduce.py --out runs/irgan [--seeds 0 1 2] [--jobs 2]

Each run logs to ``OUT/sSEED.log``; about 45 minutes per run on one core of a 2-core AMD EPYC
(DNS 80 epochs, 1,600 discriminator epochs, 750 generator epochs).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def finished(run: Path) -> bool:
    """Whether ``run`` holds a finished seqadv run (its last checkpoint's phase is done)."""
    ckpt = run / "checkpoints" / "last.pt"
    if not ckpt.is_file():
        return False
    import torch

    return torch.load(ckpt, map_location="cpu", weights_only=True)["state"]["phase"] == "done"


def command(run: Path, seed: int, preset: Path) -> list[str]:
    if (run / "checkpoints" / "last.pt").is_file():
        return [sys.executable, "-m", "seqadv", "train", "--resume", str(run)]
    return [sys.executable, "-m", "seqadv", "train", str(preset), "--set", f"seed={seed}", "--out", str(run)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="directory of the runs (one per seed)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (one torch thread each)")
    parser.add_argument("--preset", type=Path, default=HERE / "irgan_ml100k.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="passed to every new run (e.g. adversarial.rounds=50 for a short check)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    args.out.mkdir(parents=True, exist_ok=True)
    runs = {seed: args.out / f"s{seed}" for seed in args.seeds}
    todo = [s for s, run in runs.items() if not finished(run)]
    running: dict[int, subprocess.Popen] = {}
    start = time.perf_counter()
    failed = []
    while todo or running:
        while todo and len(running) < args.jobs:
            seed = todo.pop(0)
            cmd = command(runs[seed], seed, args.preset)
            if "--resume" not in cmd:
                cmd += [a for kv in args.set for a in ("--set", kv)]
            log = open(args.out / f"s{seed}.log", "a")  # noqa: SIM115 - closed with the process
            print(f"seed {seed}: {' '.join(cmd[1:])} (log: {log.name})", flush=True)
            running[seed] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        time.sleep(2)
        for seed, proc in list(running.items()):
            if proc.poll() is not None:
                del running[seed]
                print(f"seed {seed}: exit {proc.returncode} after {(time.perf_counter() - start) / 60:.1f} min", flush=True)
                if proc.returncode:
                    failed.append(seed)
    if failed:
        print(f"error: seeds {failed} failed; see their logs in {args.out}", file=sys.stderr)
        return 1
    table = [sys.executable, str(HERE / "irgan_table.py"), *map(str, runs.values()),
             "--plot", str(args.out / "irgan_ml100k.png")]  # fmt: skip
    return subprocess.run(table).returncode


if __name__ == "__main__":
    sys.exit(main())
