"""The README's examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def readme_block(heading: str, lang: str = "python") -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(rf"```{lang}\n(.*?)```", section, re.S)
    assert match, f"no {lang} block under '## {heading}'"
    return match.group(1)


def test_register_a_reward_snippet_runs_and_is_short(tmp_path):
    code = readme_block("Register a new discriminator reward")
    assert len(code.strip().splitlines()) < 20
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert out.returncode == 0, out.stderr
    value = float(out.stdout.strip().rsplit(" ", 1)[1])
    assert 0.0 < value < 1.0  # a sigmoid of the discriminator's logit


def test_library_example_runs(tmp_path):
    code = readme_block("As a library").replace("10_000", "200")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert float(out.stdout.strip()) > 0


def test_setup_block_has_exactly_two_commands():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text.split("## Set up\n", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    lines = [line for line in block.splitlines() if line.strip()]
    assert len(lines) == 2
    assert lines[0].startswith("pip install torch==2.13.0 && ") and lines[1].startswith("pytest")
