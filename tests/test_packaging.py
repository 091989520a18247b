"""Packaging: cheap imports, envs only as seqadv.envs, the console script, dependencies."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import seqadv

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("stable_baselines3", "sb3_contrib", "matplotlib", "sacrebleu")


def python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter from ``cwd`` (not the repository)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env
    )


def test_import_seqadv_stays_cheap(tmp_path):
    proc = python(
        "import sys\n"
        "for module in ('seqadv', 'seqadv.cli', 'seqadv.config', 'seqadv.registry'):\n"
        "    __import__(module)\n"
        f"    print(module, ','.join(m for m in {HEAVY!r} if m in sys.modules))",
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:4] == [
        "seqadv ", "seqadv.cli ", "seqadv.config ", "seqadv.registry ",
    ]  # fmt: skip


def test_training_modules_do_not_import_plotting_or_rl_libraries(tmp_path):
    """matplotlib loads when a plot is drawn, stable-baselines3 when an sb3 learner is used."""
    proc = python(
        "import sys\n"
        "import seqadv.adversarial, seqadv.experiment, seqadv.runs, seqadv.plots\n"
        "import seqadv.models.generator, seqadv.models.oracle, seqadv.data.corpus\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))",
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_envs_is_importable_only_as_seqadv_envs(tmp_path):
    proc = python(
        "import importlib.util, sys\n"
        "import seqadv.envs\n"
        "print(seqadv.envs.__file__)\n"
        "print('envs' in sys.modules, importlib.util.find_spec('envs') is None)\n"
        "try:\n"
        "    import envs\n"
        "except ModuleNotFoundError:\n"
        "    print('no top-level envs')\n",
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert Path(lines[0]).resolve() == (REPO / "envs" / "__init__.py").resolve()
    assert lines[1:] == ["False True", "no top-level envs"]


def test_package_layout_maps_envs():
    pyproject = _pyproject()
    assert pyproject["tool"]["setuptools"]["package-dir"]["seqadv.envs"] == "envs"
    assert "envs" not in pyproject["tool"]["setuptools"]["packages"]
    assert "seqadv.envs" in pyproject["tool"]["setuptools"]["packages"]


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_dependencies_have_lower_bounds_and_no_pins():
    project = _pyproject()["project"]
    assert project["name"] == "seqadv"
    assert project["requires-python"] == ">=3.10"
    names = {}
    for req in project["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)", req)
        assert match, f"{req!r} should be 'name>=version' (a lower bound, not a pin)"
        names[match.group(1).lower().replace("_", "-")] = match.group(2)
    required = {
        "torch",
        "gymnasium",
        "stable-baselines3",
        "nltk",
        "sacrebleu",
        "numpy",
        "pyyaml",
        "matplotlib",
    }
    assert required <= set(names)
    assert {"tqdm", "rich"} & set(names), "a progress-bar library"
    dev = " ".join(project["optional-dependencies"]["dev"])
    assert "pytest" in dev and ("ruff" in dev or "flake8" in dev)


def test_console_script_is_installed():
    scripts = {e.name: e.value for e in importlib.metadata.entry_points(group="console_scripts")}
    assert scripts.get("seqadv") == "seqadv.cli:main"
    assert _pyproject()["project"]["scripts"]["seqadv"] == "seqadv.cli:main"
    exe = shutil.which("seqadv", path=str(Path(sys.executable).parent)) or shutil.which("seqadv")
    if exe is None:
        pytest.skip("the seqadv console script is not on PATH")
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"seqadv {seqadv.__version__}"


def test_version_matches_the_distribution():
    assert importlib.metadata.version("seqadv") == seqadv.__version__


def test_presets_ship_inside_the_package():
    from seqadv.cli import packaged_presets
    from seqadv.config import load_config

    presets = packaged_presets()
    assert "quickstart" in presets
    package_data = _pyproject()["tool"]["setuptools"]["package-data"]["seqadv.presets"]
    assert "*.yaml" in package_data
    cfg = load_config(presets["quickstart"])
    assert cfg.data.source == "oracle" and cfg.adversarial.rounds > 0  # the default shows a GAN run


@pytest.mark.parametrize(
    "module",
    [
        "seqadv.registry", "seqadv.errors", "seqadv.config", "seqadv.runs", "seqadv.plots",
        "seqadv.data.tokenize", "seqadv.data.vocab", "seqadv.data.corpus", "seqadv.data.oracle",
        "seqadv.models.generator", "seqadv.models.sampling", "seqadv.models.projected_ce",
        "seqadv.models.oracle", "seqadv.algorithms.mle", "seqadv.experiment",
        "seqadv.adversarial", "seqadv.cli",
    ],
)  # fmt: skip
def test_foundation_modules_import(module):
    importlib.import_module(module)


def test_no_pickles_or_data_files_in_the_repository():
    """The shared oracle and pickles stay outside the repository (read from a given path)."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    proc = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    if proc.returncode != 0:
        pytest.skip(proc.stderr)
    bad = [
        f
        for f in proc.stdout.splitlines()
        if f.endswith((".pkl", ".pickle", ".pt", ".npz", ".pth"))
    ]
    assert bad == []


def test_every_package_directory_is_listed_for_the_wheel():
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    root = Path(__file__).resolve().parents[1]
    found = {
        ".".join(("seqadv", *p.parent.relative_to(root / "seqadv").parts))
        for p in (root / "seqadv").rglob("__init__.py")
    }
    found.discard("seqadv.")
    assert found - listed == set(), f"packages missing from pyproject.toml: {found - listed}"


def test_python_dash_m_seqadv_is_the_command_line():
    result = subprocess.run(
        [sys.executable, "-m", "seqadv", "list", "reward_schemes"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "mc_rollout_shaped" in result.stdout
