"""Layering: seqadv.metrics depends on nothing but numpy/torch and the tokenizer it is given."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import seqadv.metrics

METRICS = Path(seqadv.metrics.__file__).resolve().parent
FORBIDDEN = (
    "seqadv.data",
    "seqadv.models",
    "seqadv.envs",
    "seqadv.algorithms",
    "seqadv.experiment",
    "seqadv.adversarial",
    "seqadv.cli",
    "seqadv.bleu_command",
)
MODULES = sorted(METRICS.rglob("*.py"))


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports (``from a import b`` also yields ``a.b``), with its line."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against seqadv.metrics
                package = "seqadv.metrics" + "".join(
                    f".{p}" for p in path.relative_to(METRICS).parent.parts
                )
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            out.append((node.lineno, module))
            out.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
    return out


def test_the_metrics_package_has_modules() -> None:
    names = {p.name for p in MODULES}
    assert {"bleu.py", "self_bleu.py", "corpus_bleu.py", "bleu_signature.py"} <= names
    assert "bleu_cli.py" not in names  # the command lives in seqadv.bleu_command


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_metrics_import_no_higher_layer(path: Path) -> None:
    bad = [
        f"{path.name}:{line}: {module}"
        for line, module in imported_modules(path)
        if any(module == f or module.startswith(f + ".") for f in FORBIDDEN)
    ]
    assert not bad, "seqadv.metrics must not import " + ", ".join(bad)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_metrics_modules_stay_small(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) < 500


def test_the_checker_sees_lazy_imports(tmp_path: Path) -> None:
    module = tmp_path / "lazy.py"
    module.write_text("def f():\n    from seqadv.data.tokenize import get_tokenizer\n")
    assert (2, "seqadv.data.tokenize") in imported_modules(module)
    module.write_text("from seqadv import data\nimport seqadv.models.generator as g\n")
    found = {m for _, m in imported_modules(module)}
    assert {"seqadv.data", "seqadv.models.generator"} <= found
