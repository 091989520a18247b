"""The package's layers import downwards only, and no file is over 700 lines.

data and metrics -> models -> rewards -> envs -> algorithms -> composition (experiment,
evaluation, plots) -> trainer -> command line; ``errors``, ``registry``, ``config`` and
``runs`` sit below everything. Every import counts, including those inside functions (lazy
imports are still dependencies). Learners never import a concrete environment family, and
nothing reaches into an environment's ``.core``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: module prefix -> layer (the longest matching prefix wins)
LAYERS = {
    "seqadv.errors": 0,
    "seqadv.registry": 0,
    "seqadv.config": 0,
    "seqadv.runs": 0,
    "seqadv.rundir": 0,
    "seqadv.presets": 0,
    "seqadv.data": 1,
    "seqadv.metrics": 1,
    "seqadv.models": 2,
    "seqadv.rewards": 3,
    "seqadv.envs": 4,
    "seqadv.algorithms": 5,
    "seqadv.experiment": 6,
    "seqadv.evaluation": 6,
    "seqadv.ngram_eval": 6,
    "seqadv.ranking_eval": 6,
    "seqadv.recipe": 6,
    "seqadv.own_text": 6,
    "seqadv.estimate": 6,
    "seqadv.plots": 6,
    "seqadv.adversarial": 7,
    "seqadv.cli": 8,
    "seqadv.cli_args": 8,
    "seqadv.cli_catalog": 8,
    "seqadv.bleu_command": 8,
    "seqadv.irgan_command": 8,
    "seqadv.sweep_command": 8,
    "seqadv.__main__": 8,
}


def layer(module: str) -> int | None:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len, default=None)
    return None if best is None else LAYERS[best]


def modules() -> list[tuple[str, Path]]:
    out = []
    for root, package in ((REPO / "seqadv", "seqadv"), (REPO / "envs", "seqadv.envs")):
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            out.append((name, path))
    return out


def imports(path: Path, module: str) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = module.split(".")[: -node.level] if not path.name == "__init__.py" else module.split(".")[: len(module.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
    # lazy registry entries name modules too: "seqadv.x.y:attr" strings
    for match in re.finditer(r"[\"'](seqadv(?:\.\w+)+):\w+", path.read_text(encoding="utf-8")):
        line = path.read_text(encoding="utf-8")[: match.start()].count("\n") + 1
        found.append((line, match.group(1)))
    return [(line, name) for line, name in found if name.startswith("seqadv")]


@pytest.mark.parametrize(("module", "path"), modules(), ids=[m for m, _ in modules()])
def test_imports_go_downwards(module, path):
    if module == "seqadv":  # the root package registers the environment ids on import
        return
    own = layer(module)
    assert own is not None, f"{module} has no layer in tests/test_layering.py"
    upward = [
        f"{path.relative_to(REPO)}:{line} imports {target} (layer {layer(target)} > {own})"
        for line, target in imports(path, module)
        if (layer(target) or 0) > own
    ]
    assert not upward, "\n".join(upward)


def test_learners_never_import_a_concrete_environment_and_nothing_reaches_into_core():
    offenders = []
    for module, path in modules():
        text = path.read_text(encoding="utf-8")
        targets = [t for _, t in imports(path, module)]
        if module.startswith("seqadv.algorithms") and any(
            t.startswith("seqadv.envs.") and t not in ("seqadv.envs.sb3", "seqadv.envs.family")
            for t in targets
        ):
            offenders.append(f"{path}: imports a concrete env family")
        if not module.startswith("seqadv.envs") and re.search(r"\benv\w*\.core\b", text):
            offenders.append(f"{path}: reaches into an environment's .core")
    assert not offenders, "\n".join(offenders)


def test_no_file_is_over_700_lines():
    long = [
        f"{path.relative_to(REPO)}: {n} lines"
        for _, path in modules()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 700
    ]
    assert not long, "\n".join(long)
