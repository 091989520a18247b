"""Golden runs: every tiny preset, seed 0, gives exactly the recorded metric values.

The goldens in tests/goldens/ hold each evaluation record of ``metrics.jsonl`` (timings
left out). They were recorded before the core was generalized (observation-driven policies,
reward schemes and env families as components) and pin that nothing changed for SeqGAN; see
the README's changelog for the one deliberate change of values since (the Monte-Carlo
rollouts' start token). A record may carry keys the golden lacks only if they are
signatures (``*_signature``): a metric's description, not its value.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqadv.cli import main

REPO = Path(__file__).resolve().parents[1]
GOLDENS = Path(__file__).resolve().parent / "goldens"

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
            if k in have and have[k] != v
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
    changed[-1]["eval/nll_oracle"] += 1e-12
    assert compare(golden, changed) and not compare(golden, golden)
    assert compare(golden, [{**r, "eval/new_metric": 1.0} for r in golden])
