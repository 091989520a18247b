"""experiments/irgan_table.py at toy size: selection on validation, test figures reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from seqadv.cli import main

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "experiments" / "irgan_table.py"
TINY = REPO / "experiments" / "irgan_ml100k_tiny.yaml"


def train(path: Path, seed: int) -> None:
    sets = ["seed=" + str(seed), "data.kwargs={n_items: 40, validation: 0.25}", "adversarial.rounds=4",
            "eval.every_rounds=1"]  # fmt: skip
    assert main(["train", str(TINY), *[a for s in sets for a in ("--set", s)], "--out", str(path)]) == 0


def test_the_table_selects_each_runs_round_on_validation_and_reports_its_test_figures(tmp_path):
    runs = [tmp_path / "s0", tmp_path / "s1"]
    for seed, path in enumerate(runs):
        train(path, seed)
    out = subprocess.run([sys.executable, str(SCRIPT), *map(str, runs), "--plot", str(tmp_path / "p.png")],
                         capture_output=True, text=True, check=True)  # fmt: skip
    lines = out.stdout.splitlines()
    assert lines[0].startswith("machine:")
    records = [json.loads(x) for x in (runs[0] / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r.get("phase") == "adversarial"]
    best = max((r for r in evals if r["round"] > 0), key=lambda r: (r["eval/validation/ndcg@3"], -r["round"]))
    row = next(x for x in lines if x.startswith("| s0 | IRGAN, validation ndcg@3"))
    assert f"(round {best['round']})" in row
    assert row.split("|")[3].strip() == f"{best['eval/p@3']:.4f}"  # the test figure of that round
    dns = next(x for x in lines if x.startswith("| s0 | DNS start"))
    assert dns.split("|")[3].strip() == f"{evals[0]['eval/p@3']:.4f}"
    upper = next(x for x in lines if x.startswith("| s0 | IRGAN, test ndcg@3"))
    assert float(upper.split("|")[7]) >= float(row.split("|")[7])  # test-selected NDCG@3 is an upper bound
    assert any(x.startswith("| mean ± sd of 2 | IRGAN, validation") for x in lines)
    assert sum(x.startswith("bar ") for x in lines) == 2
    assert (tmp_path / "p.png").stat().st_size > 0


def test_a_run_without_validation_figures_gets_its_upper_bound_only(tmp_path):
    assert main(["train", str(TINY), "--set", "adversarial.rounds=2", "--out", str(tmp_path / "r")]) == 0
    out = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "r")], capture_output=True, text=True, check=True)
    rows = [x for x in out.stdout.splitlines() if x.startswith("| r |")]
    assert [x.split("|")[2].strip().split(" (")[0] for x in rows] == [
        "DNS start", "IRGAN, last round", "IRGAN, test ndcg@3: upper bound"]  # fmt: skip
    assert "bar: no run has a validation split" in out.stdout
    out = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "missing")], capture_output=True, text=True)
    assert out.returncode == 2 and "metrics.jsonl" in out.stderr


def test_one_command_trains_the_seeds_then_prints_the_table_and_skips_finished_runs(tmp_path):
    script = REPO / "experiments" / "irgan_reproduce.py"
    args = [sys.executable, str(script), "--out", str(tmp_path), "--seeds", "0", "1", "--preset", str(TINY),
            "--set", "data.kwargs={n_items: 40, validation: 0.25}", "--set", "adversarial.rounds=2",
            "--set", "eval.every_rounds=1"]  # fmt: skip
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    assert "seed 0: -m seqadv train" in out.stdout and "seed 1: exit 0" in out.stdout
    assert any(x.startswith("| mean ± sd of 2 | IRGAN, validation") for x in out.stdout.splitlines())
    assert (tmp_path / "irgan_ml100k.png").is_file()
    again = subprocess.run(args, capture_output=True, text=True, check=True)
    assert "seed 0:" not in again.stdout and "| mean ± sd of 2 |" in again.stdout  # nothing retrained
