"""experiments/compare_algorithms.py at toy size: every learner of the spec, one table."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "experiments" / "compare_algorithms.py"
SPEC = REPO / "experiments" / "compare_algorithms.yaml"
TINY = REPO / "experiments" / "seqgan_oracle_tiny.yaml"


def load_script():
    spec = importlib.util.spec_from_file_location("compare_algorithms", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_comparison_runs_every_algorithm_and_reuses_finished_runs(tmp_path):
    compare = load_script()
    out = tmp_path / "compare"
    args = [str(SPEC), "--base", str(TINY), "--budget-minutes", "0.005", "--seeds", "1"]
    assert compare.main([*args, "--out", str(out)]) == 0
    result = json.loads((out / "results.json").read_text())
    names = list(result["summary"])
    assert names == ["reinforce", "ppo_seqgan", "ppo", "a2c"]  # every algorithm of the spec
    for run in result["runs"]:
        assert run["rounds"] >= 1 and run["updates"] >= 1, run["algorithm"]
        assert run["best_nll_oracle"] == min(p["eval/nll_oracle"] for p in run["curve"])
    assert len(result["settings"]) == 4 and "critic" in result["settings"][1]
    table = (out / "results.md").read_text()
    assert all(row["label"] in table for row in result["summary"].values())
    assert (out / "curves.png").read_bytes().startswith(b"\x89PNG")

    # a second call trains nothing and gives the same numbers
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/metrics.jsonl")}
    assert compare.main([*args, "--out", str(out)]) == 0
    assert {p: p.stat().st_mtime_ns for p in out.glob("runs/*/metrics.jsonl")} == stamps
    again = json.loads((out / "results.json").read_text())
    assert [r["final"] for r in again["runs"]] == [r["final"] for r in result["runs"]]


def test_unknown_algorithm_is_named(tmp_path):
    compare = load_script()
    from seqadv.errors import ConfigError

    with pytest.raises(ConfigError, match="'?sac'?.*not in"):
        compare.main([str(SPEC), "--out", str(tmp_path), "--algorithms", "sac"])
