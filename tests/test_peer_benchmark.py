"""experiments/benchmarks/peer.py refuses to run without a TextGAN-PyTorch checkout outside
the repository, fast and with exit status 2 (no checkout is needed for these tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "experiments" / "benchmarks" / "peer.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


def test_without_peer_says_how_to_get_it():
    result = run()
    assert result.returncode == 2
    assert "git clone https://github.com/williamSYSU/TextGAN-PyTorch" in result.stderr
    assert "--peer" in result.stderr


def test_a_directory_that_is_not_a_checkout_is_named(tmp_path):
    (tmp_path / "config.py").write_text("CUDA = True\n")
    result = run("--peer", str(tmp_path))
    assert result.returncode == 2
    assert str(tmp_path.resolve()) in result.stderr
    assert "not a TextGAN-PyTorch checkout" in result.stderr


def test_a_checkout_inside_the_repository_is_refused():
    for inside in (REPO, REPO / "experiments"):
        result = run("--peer", str(inside))
        assert result.returncode == 2
        assert "inside this repository" in result.stderr
