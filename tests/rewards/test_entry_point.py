"""A reward from another installed package, found through the entry-point group seqadv.rewards.

tests/rewards/plugin_pkg is a tiny package that declares two entry points: one to a function
decorated with ``register_reward`` (which fills in its level) and one to a plain function.
It is installed into a temporary directory, and a fresh interpreter with that directory on
PYTHONPATH resolves both rewards by name through REWARDS and calls them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

PLUGIN_SOURCE = Path(__file__).resolve().parent / "plugin_pkg"

CHECK_SCRIPT = textwrap.dedent(
    """
    import json
    import torch
    from seqadv.errors import ConfigError
    from seqadv.rewards import REWARDS, list_rewards, resolve_reward

    rows = {row[0]: row for row in list_rewards()}  # before anything resolved them
    scaled = resolve_reward({"name": "plugin_scaled_prob", "kwargs": {"scale": 2.0}})
    margin = resolve_reward("plugin_margin")
    x = torch.tensor([0.0, -3.0])
    try:
        resolve_reward({"name": "plugin_scaled_prob", "kwargs": {"scael": 2.0}})
        error = ""
    except ConfigError as exc:
        error = str(exc)
    print(json.dumps({
        "names": REWARDS.names(),
        "rows": {k: list(v) for k, v in rows.items() if k.startswith("plugin_")},
        "scaled": [scaled.name, scaled.level, list(scaled.needs), scaled(x).tolist()],
        "margin": [margin.name, margin.level, list(margin.needs), margin(x).tolist()],
        "error": error,
    }))
    """
)


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    """Install plugin_pkg with pip into a temporary directory (no network, no deps)."""
    if importlib.util.find_spec("pip") is None:
        pytest.skip("pip is not installed in this interpreter: cannot install the test plugin")
    try:
        setuptools_version = version("setuptools")
    except PackageNotFoundError:
        pytest.skip("setuptools is not installed: cannot build the test plugin without isolation")
    if int(setuptools_version.split(".")[0]) < 61:
        pytest.skip(f"setuptools {setuptools_version} < 61 cannot build a pyproject [project]")
    root = tmp_path_factory.mktemp("reward_plugin")
    source = root / "src"  # build a copy, so that build/ and *.egg-info stay out of the repo
    shutil.copytree(
        PLUGIN_SOURCE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    site = root / "site"
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--disable-pip-version-check",
        "--quiet",
        "--target",
        str(site),
        str(source),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"pip install failed:\n{result.stdout}\n{result.stderr}"
    return site


def test_plugin_reward_resolves_by_name(plugin_site):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(plugin_site), env.get("PYTHONPATH", "")) if p
    )
    result = subprocess.run(
        [sys.executable, "-c", CHECK_SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])

    assert {"plugin_scaled_prob", "plugin_margin", "prob", "kl"} <= set(report["names"])
    assert report["rows"] == {
        "plugin_scaled_prob": [
            "plugin_scaled_prob",
            "any",
            "scale · D(x), from the plugin package.",
        ],
        "plugin_margin": [
            "plugin_margin",
            "sequence",
            "|logit|, how sure the discriminator is (plain entry point, no decorator).",
        ],
    }
    name, level, needs, values = report["scaled"]
    assert (name, level, needs) == ("plugin_scaled_prob", "any", [])
    assert values == pytest.approx([1.0, 2.0 / (1.0 + 2.718281828459045**3)])
    assert report["margin"] == ["plugin_margin", "sequence", [], [0.0, 3.0]]
    assert "'scael'" in report["error"] and "accepts: scale" in report["error"]


def test_plugin_not_visible_without_the_package():
    """Without the plugin on the path its name is unknown (and the message says so)."""
    code = (
        "from seqadv.errors import UnknownNameError\n"
        "from seqadv.rewards import resolve_reward\n"
        "try:\n"
        "    resolve_reward('plugin_scaled_prob')\n"
        "except UnknownNameError as exc:\n"
        "    print(exc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "unknown reward 'plugin_scaled_prob'" in result.stdout
