"""The IRGAN table: the DNS start and IRGAN on the test split, the model selected on validation.

Reads the ``metrics.jsonl`` of finished ``experiments/irgan_ml100k.yaml`` runs (one per seed;
every evaluation scored the validation and the test split with seqadv's exact ranking
metrics) and prints, as markdown:

- per run: the DNS start (the adversarial phase's round-0 evaluation: the generator after DNS
  pretraining, in the same run), IRGAN at the round whose *validation* figure
  (``--select``, default NDCG@3) is best (test figures of that round only), and IRGAN at the
  round whose *test* figure is best: an upper bound, the way IRGAN's own code picked its
  released model (over every evaluation, on the test split);
- the means and standard deviations over the runs with a validation split, the bar of the
  issue checked on them, and each run's wall time. A run without a validation split (IRGAN's
  own setting, ``experiments/irgan_ml100k_released_dns.yaml``) gets its test-selected upper
  bound only.

    python experiments/irgan_table.py runs/irgan_s0 runs/irgan_s1 runs/irgan_s2 [--plot FILE.png]

``--plot`` draws each run's test and validation P@3 over the rounds, with the DNS start.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "benchmarks"))

from common import machine_line  # noqa: E402

METRICS = ["p@3", "p@5", "p@10", "ndcg@3", "ndcg@5", "ndcg@10", "map", "mrr"]
NAMES = ["P@3", "P@5", "P@10", "NDCG@3", "NDCG@5", "NDCG@10", "MAP", "MRR"]
#: the issue's bar: IRGAN's mean test P@3 and NDCG@3, and their least gain over the DNS start
BAR = {"p@3": 0.400, "ndcg@3": 0.415}
MIN_GAIN = 0.01


def fail(message: str) -> None:
    """Bad input: the message on stderr, exit status 2."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def read_run(path: Path) -> list[dict]:
    """The adversarial-phase evaluations of a run (round 0 first), each with test and
    validation figures."""
    file = path / "metrics.jsonl"
    if not file.is_file():
        fail(f"{path}: no metrics.jsonl; is it a seqadv run directory?")
    rows = []
    for number, line in enumerate(file.read_text().splitlines(), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            fail(f"{file}, line {number}: not JSON ({exc.msg})")
        if record.get("phase") == "adversarial" and "eval/p@3" in record:
            rows.append(record)
    if not rows or rows[0].get("round") != 0:
        fail(f"{file}: no adversarial evaluations with ranking metrics from round 0")
    return rows


def test_figures(record: dict) -> dict[str, float]:
    return {m: float(record[f"eval/{m}"]) for m in METRICS}


def summarize(path: Path, select: str) -> dict:
    rows = read_run(path)
    rounds = [r for r in rows if r["round"] > 0]
    if not rounds:
        fail(f"{path}: no adversarial evaluation after round 0")
    has_validation = f"eval/validation/{select}" in rows[0]
    by_validation = max(rounds, key=lambda r: (r[f"eval/validation/{select}"], -r["round"])) if has_validation else None
    by_test = max(rounds, key=lambda r: (r[f"eval/{select}"], -r["round"]))
    return {
        "run": path.name,
        "dns": test_figures(rows[0]),
        "validation": test_figures(by_validation) if by_validation else None,
        "validation_round": by_validation["round"] if by_validation else None,
        "test": test_figures(by_test),
        "test_round": by_test["round"],
        "last": test_figures(rows[-1]),
        "last_round": rows[-1]["round"],
        "elapsed_s": float(rows[-1].get("time/elapsed_s", math.nan)),
        "users": int(rows[0]["eval/ranking_users"]),
        "rows": rows,
    }


def _threads(path: Path) -> str:
    for line in (path / "config.yaml").read_text().splitlines() if (path / "config.yaml").is_file() else []:
        if line.startswith("threads:"):
            return line.split(":", 1)[1].strip()
    return "?"


def cells(values: dict[str, float]) -> str:
    return " | ".join(f"{values[m]:.4f}" for m in METRICS)


def mean_cells(dicts: list[dict[str, float]]) -> tuple[str, dict[str, float]]:
    means = {m: statistics.fmean(d[m] for d in dicts) for m in METRICS}
    sds = {m: statistics.stdev(d[m] for d in dicts) if len(dicts) > 1 else 0.0 for m in METRICS}
    return " | ".join(f"{means[m]:.4f} ± {sds[m]:.4f}" for m in METRICS), means


def table(runs: list[dict], select: str) -> list[str]:
    head = "| run | model (selection) | " + " | ".join(NAMES) + " |"
    lines = [head, "|" + "---|" * (len(NAMES) + 2)]
    for r in runs:
        lines.append(f"| {r['run']} | DNS start (round 0) | {cells(r['dns'])} |")
        if r["validation"] is not None:
            lines.append(f"| {r['run']} | IRGAN, validation {select} (round {r['validation_round']}) | {cells(r['validation'])} |")
        lines.append(f"| {r['run']} | IRGAN, last round ({r['last_round']}) | {cells(r['last'])} |")
        lines.append(f"| {r['run']} | IRGAN, test {select}: upper bound (round {r['test_round']}) | {cells(r['test'])} |")
    selected = [r for r in runs if r["validation"] is not None]
    if len(selected) > 1:
        n = len(selected)
        for key, label in (("dns", "DNS start"), ("validation", f"IRGAN, validation {select}"),
                           ("last", "IRGAN, last round"), ("test", f"IRGAN, test {select}: upper bound")):  # fmt: skip
            text, _ = mean_cells([r[key] for r in selected])
            lines.append(f"| mean ± sd of {n} | {label} | {text} |")
    return lines


def bar_lines(runs: list[dict]) -> list[str]:
    runs = [r for r in runs if r["validation"] is not None]
    if not runs:
        return ["bar: no run has a validation split, so none is validation-selected"]
    _, dns = mean_cells([r["dns"] for r in runs])
    _, gan = mean_cells([r["validation"] for r in runs])
    out = []
    for m, low in BAR.items():
        gain = gan[m] - dns[m]
        ok = gan[m] >= low and gain >= MIN_GAIN
        out.append(
            f"bar {m}: IRGAN (validation-selected) mean {gan[m]:.4f} (>= {low}: {'yes' if gan[m] >= low else 'no'}), "
            f"DNS start {dns[m]:.4f}, gain {gain:+.4f} (>= {MIN_GAIN}: {'yes' if gain >= MIN_GAIN else 'no'}) -> "
            f"{'met' if ok else 'NOT met'}"
        )
    return out


def plot(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    for r in runs:
        x = [row["round"] for row in r["rows"]]
        for ax, split in zip(axes, ("eval/", "eval/validation/")):
            if f"{split}p@3" not in r["rows"][0]:
                continue
            (line,) = ax.plot(x, [row[f"{split}p@3"] for row in r["rows"]], label=r["run"])
            ax.axhline(r["rows"][0][f"{split}p@3"], color=line.get_color(), ls=":", lw=1)
    for ax, title in zip(axes, ("test P@3", "validation P@3")):
        ax.set_title(f"{title} (dotted: the DNS start)")
        ax.set_xlabel("round (generator epoch)")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"plot: {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="finished irgan_ml100k run directories")
    parser.add_argument("--select", default="ndcg@3", choices=METRICS, help="the validation figure that selects the round")
    parser.add_argument("--plot", type=Path, help="write the curves to this PNG")
    args = parser.parse_args(argv)
    runs = [summarize(p, args.select) for p in args.runs]
    print(machine_line())
    threads = sorted({_threads(p) for p in args.runs})
    print(f"the runs' torch threads (their config.yaml): {', '.join(map(str, threads))}")
    users = sorted({r["users"] for r in runs})
    print(f"test users evaluated: {users}; figures on the test split; selection as labelled")
    print()
    print("\n".join(table(runs, args.select)))
    print()
    print("\n".join(bar_lines(runs)))
    for r in runs:
        print(f"{r['run']}: wall time {r['elapsed_s'] / 60:.1f} min (DNS, discriminator and {r['last_round']} rounds, evaluations)")
    if args.plot:
        plot(runs, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
