"""Fixtures of the episode-shape tests: train a YAML config with ``seqadv train`` and check
what moved.

Each test file of this folder defines a recipe with a new episode shape *by registration
only* (its own data source, policy, discriminator, reward, environment family and, where it
needs one, metric) and trains it through the one trainer. These files are the worked examples
that README.md's "Architecture" section points to.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from seqadv.cli import main
from seqadv.config import load_config
from seqadv.runs import load_checkpoint


def _differs(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> bool:
    return any(not torch.equal(before[k], after[k]) for k in before)


class Trained:
    """A finished run: its directory, its metrics and what its training changed."""

    def __init__(self, run: Path, config: Path) -> None:
        self.run, self.config = run, config
        self.records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        self.checkpoint = load_checkpoint(run / "checkpoints" / "last.pt")

    def untrained(self) -> Any:
        """The same config's trainer before any training (same seed: same initial weights)."""
        from seqadv.adversarial import AdversarialTrainer

        return AdversarialTrainer(load_config(self.config))

    def moved(self) -> tuple[bool, bool]:
        """(the policy's weights moved, the discriminator's weights moved)."""
        start = self.untrained()
        policy = _differs(start.generator.state_dict(), self.checkpoint["generator"])
        dis = _differs(
            start.discriminator.state_dict(), self.checkpoint["adversarial"]["discriminator"]
        )
        return policy, dis


@pytest.fixture
def train_cli(tmp_path, capsys):
    """``train_cli(config: dict) -> Trained``: write the YAML, run ``seqadv train`` on it."""

    def run(config: dict[str, Any], name: str = "run") -> Trained:
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        out = tmp_path / name
        code = main(["train", str(path), "--out", str(out)])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        return Trained(out, path)

    return run
