"""Golden runs: every tiny preset, seed 0, gives exactly the recorded metric values.

The goldens in tests/goldens/ hold each evaluation record of ``metrics.jsonl`` (timings
left out). They were recorded before the core was generalized (observation-driven policies,
reward schemes and env families as components) and pin that nothing changed for SeqGAN; see
the README's changelog for the one deliberate change of values since (the Monte-Carlo
rollouts' start token). A record may carry keys the golden lacks only if they are
signatures (``*_signature``): a metric's description, not its value.

Floats are compared to a relative 1e-5 (or 1e-7 absolute, for values near 0 such as PPO's
policy loss, a difference of near-equal terms): the goldens were recorded on an Intel CPU, and on
an AMD EPYC the same code and seed differ from 1e-10 to 2e-7 relative (float32 GEMMs of
other instruction sets round differently), which a real change of behaviour far exceeds.
That one machine repeats a run bit for bit is tested apart
(``tests/test_train.py::test_same_seed_same_metrics_and_samples``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from seqadv.cli import main

REPO = Path(__file__).resolve().parents[1]
GOLDENS = Path(__file__).resolve().parent / "goldens"

REL_TOL, ABS_TOL = 1e-5, 1e-7

RUNS = {
    "mle_oracle_tiny": ("mle_oracle_tiny", []),
    "seqgan_oracle_tiny": ("seqgan_oracle_tiny", []),
    "seqgan_coco_tiny": ("seqgan_coco_tiny", []),
    "seqgan_oracle_tiny_ppo": (
        "seqgan_oracle_tiny",
        [
            'algorithm={name: "sb3:PPO", kwargs: {gamma: 1.0, n_steps: 6, batch_size: 48, n_epochs: 1}}',
            "env.reward_scheme.name=mc_rollout_shaped",
        ],
    ),
}


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _same(want: object, have: object) -> bool:
    """Equal, floats to REL_TOL (see the module docstring), everything else exactly."""
    if isinstance(want, float) and isinstance(have, int | float) and not isinstance(have, bool):
        return math.isclose(want, have, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return want == have


def compare(golden: list[dict], got: list[dict]) -> list[str]:
    """The differences between two runs' records (timings ignored)."""
    problems = []
    if len(golden) != len(got):
        return [f"{len(got)} records, the golden has {len(golden)}"]
    for i, (want, have) in enumerate(zip(golden, got)):
        have = {k: v for k, v in have.items() if not k.startswith("time/")}
        extra = [k for k in have if k not in want and not k.endswith("_signature")]
        missing = [k for k in want if k not in have]
        if extra or missing:
            problems.append(f"record {i}: extra keys {extra}, missing keys {missing}")
        problems += [
            f"record {i}: {k} = {have[k]!r}, golden {v!r}"
            for k, v in want.items()
            if k in have and not _same(v, have[k])
        ]
    return problems


@pytest.mark.parametrize("name", sorted(RUNS))
def test_tiny_presets_reproduce_their_goldens(name, tmp_path, capsys, request):
    preset, overrides = RUNS[name]
    args = ["train", str(REPO / "experiments" / f"{preset}.yaml"), "--set", "seed=0"]
    args += ["--set", "kernels=plain"]  # measured kernels may differ by machine in the last bits
    if "coco" in preset:
        shared = request.getfixturevalue("shared_data")  # skips when the shared data are absent
        args += ["--set", f"data.train_path={shared / 'coco' / 'train.txt'}"]
        args += ["--set", f"data.test_path={shared / 'coco' / 'test.txt'}"]
    for item in overrides:
        args += ["--set", item]
    assert main([*args, "--out", str(tmp_path / "run")]) == 0, capsys.readouterr().err
    problems = compare(_records(GOLDENS / f"{name}.jsonl"), _records(tmp_path / "run" / "metrics.jsonl"))
    assert not problems, "\n".join(problems[:20])


def test_the_comparison_catches_a_changed_value():
    golden = _records(GOLDENS / "mle_oracle_tiny.jsonl")
    changed = [dict(r) for r in golden]
    changed[-1]["eval/nll_oracle"] *= 1 + 1e-4
    assert compare(golden, changed) and not compare(golden, golden)
    nudged = [dict(r) for r in golden]
    nudged[-1]["eval/nll_oracle"] *= 1 + 1e-7  # another CPU's rounding
    assert not compare(golden, nudged)
    assert compare(golden, [{**r, "eval/new_metric": 1.0} for r in golden])
