"""experiments/maskgan_table.py at toy size: runs scored alike, one markdown row each."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from seqadv.cli import main

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "experiments" / "maskgan_table.py"
ORACLE = [
    "data.kwargs={base: oracle, strategy: random, present_rate: 0.5}",
    "data.vocab_size=30", "data.n_train=200", "data.n_test=60", "data.max_len=10",
    "eval.metrics=[nll_test]",
]  # fmt: skip


def test_the_table_scores_an_lm_and_infilling_runs_the_same_way(tmp_path):
    sets = [a for o in ORACLE for a in ("--set", o)]
    lm = ["train", str(REPO / "experiments" / "mle_oracle_tiny.yaml"), "--set", "seed=0",
          *sets[2:-2]]  # fmt: skip
    assert main([*lm, "--out", str(tmp_path / "lm")]) == 0
    preset = REPO / "experiments" / "maskgan_ptb_tiny.yaml"
    assert main(["train", str(preset), "--set", "seed=0", *sets, "--out", str(tmp_path / "gan")]) == 0
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--lm", str(tmp_path / "lm"), "--runs", str(tmp_path / "lm"),
         str(tmp_path / "gan"), "--n-samples", "50"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = out.stdout.splitlines()
    assert lines[0].startswith("machine:") and "torch threads 1" in lines[0]
    header = next(line for line in lines if line.startswith("| run |"))
    assert "LM perplexity of samples" in header and "unique 4-grams %" in header
    rows = [line for line in lines if line.startswith("| lm |") or line.startswith("| gan |")]
    assert len(rows) == 2 and all("—" not in r.split("|")[2] for r in rows)  # both have a perplexity
    again = subprocess.run(
        [sys.executable, str(SCRIPT), "--lm", str(tmp_path / "lm"), "--runs", str(tmp_path / "gan"),
         "--n-samples", "50"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert rows[1] in again.stdout  # the same seed, the same figures
