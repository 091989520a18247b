"""What seqadv knows, for the command line: presets by name, and ``seqadv list``."""

from __future__ import annotations

import argparse
from pathlib import Path

from seqadv.errors import SeqadvError

__all__ = [
    "DEFAULT_PRESET",
    "REGISTRIES",
    "cmd_list",
    "experiment_dirs",
    "find_preset",
    "packaged_presets",
    "trainable_presets",
]

DEFAULT_PRESET = "quickstart"


def packaged_presets() -> dict[str, Path]:
    """Presets shipped inside the package (the built-in default among them)."""
    folder = Path(__file__).with_name("presets")
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def experiment_dirs() -> list[Path]:
    """Where preset names are looked up: ./experiments, then the source tree's experiments/
    (an editable install of the repository), whichever exist."""
    here = Path("experiments")
    tree = Path(__file__).resolve().parents[1] / "experiments"
    return [d for d in dict.fromkeys((here, tree)) if d.is_dir()]


def trainable_presets() -> dict[str, Path]:
    """Preset name -> file in the experiment folders, for configs ``seqadv train`` runs (the
    algorithm comparison's spec, which its own script runs, is left out)."""
    found: dict[str, Path] = {}
    for folder in experiment_dirs():
        for path in sorted(folder.glob("*.yaml")):
            head = path.read_text(encoding="utf-8", errors="replace")
            if "\nalgorithms:" in head and "\nbase:" in head:  # a comparison spec
                continue
            found.setdefault(path.stem, path)
    return found


def find_preset(name_or_path: str | None) -> Path:
    """A config path: a file, a preset name in experiments/ (here or in the source tree), or
    a packaged preset name."""
    if name_or_path is None:
        return packaged_presets()[DEFAULT_PRESET]
    path = Path(name_or_path)
    if path.is_file():
        return path
    presets = trainable_presets()
    if name_or_path in presets:
        return presets[name_or_path]
    builtin = packaged_presets()
    if name_or_path in builtin:
        return builtin[name_or_path]
    known = sorted(set(builtin) | set(presets))
    raise SeqadvError(
        f"{name_or_path}: no such config file or preset; presets: {', '.join(known) or '(none)'}"
    )


# -- list -------------------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    what = args.what
    rows: list[tuple[str, ...]] = []
    if what == "presets":
        for name, path in packaged_presets().items():
            rows.append((name, "built-in", _first_comment(path)))
        for name, path in trainable_presets().items():
            rows.append((name, str(path.parent), _first_comment(path)))
    elif what == "rewards":
        from seqadv.rewards import list_rewards

        rows = [tuple(map(str, r)) for r in list_rewards()]
    elif what == "runs":
        root = Path(args.runs_root)
        for path in sorted(root.glob("*/config.yaml")):
            run = path.parent
            status = (
                "checkpointed" if (run / "checkpoints" / "last.pt").is_file() else "no checkpoint"
            )
            rows.append((str(run), status, ""))
    else:
        registry = _registry(what)
        for entry in registry.entries():
            try:
                summary = entry.summary
            except Exception as exc:  # an entry that fails to import is still listed
                summary = f"(cannot import: {exc})"
            kind = entry.meta.get("kind") or entry.meta.get("level") or ""
            rows.append((entry.name, str(kind), summary))
    if not rows:
        print(f"(no {what})")
        return 0
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(f"{c:<{w}}" for c, w in zip(r[:-1], widths)) + "  " + r[-1])
    return 0


#: ``seqadv list WHAT`` -> the registry it lists ("module:NAME", imported when asked for)
REGISTRIES = {
    "algorithms": "seqadv.algorithms:ALGORITHMS",
    "advantages": "seqadv.algorithms.advantages:ADVANTAGES",
    "data_sources": "seqadv.experiment:DATA_SOURCES",
    "discriminators": "seqadv.models.discriminator:DISCRIMINATORS",
    "envs": "seqadv.envs:ENVIRONMENTS",
    "generators": "seqadv.models.policy:GENERATORS",
    "metrics": "seqadv.evaluation:METRICS",
    "pretrainers": "seqadv.algorithms:PRETRAINERS",
    "reward_schemes": "seqadv.rewards.schemes:REWARD_SCHEMES",
}


def _registry(what: str):
    from seqadv.registry import import_dotted

    if what not in REGISTRIES:
        raise SeqadvError(f"unknown listing {what!r}")
    return import_dotted(REGISTRIES[what])


def _first_comment(path: Path) -> str:
    """The file's leading comment, to the end of its first sentence."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("# ").strip())
    import re

    text = " ".join(lines)
    end = re.search(r"(?<!et al)\.(?=\s)", text)  # "Yu et al. (2017)" is not an end
    return text if end is None else text[: end.end()]


