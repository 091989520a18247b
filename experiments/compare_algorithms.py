"""Compare RL algorithms on the SeqGAN oracle from the same MLE generator.

Every algorithm of ``compare_algorithms.yaml`` (REINFORCE as in SeqGAN, stable-baselines3's
PPO and A2C) trains the same MLE generator against the same discriminator schedule, for the
same training-time budget (``adversarial.budget_minutes``: generator and discriminator
training, evaluations excluded), once per seed. The script writes, into ``--out``::

    mle/                       the shared MLE run (unless --init-checkpoint names one)
    runs/<algorithm>-seed<k>/  one seqadv run directory per algorithm and seed
    results.md, results.json   the table (mean and std over seeds) and every run's numbers
    curves.png                 NLL-oracle and NLL-test over training time, mean over seeds
                               with a min-max band, one curve per algorithm

Runs that finished are reused and stopped runs resume, so the command can be re-run after an
interruption. Runs go one after another (seed 1 of each algorithm, then seed 2, ...) in this
process, so that they share the machine in the same way; the thread count is the base
config's ``threads``.

Usage::

    python experiments/compare_algorithms.py experiments/compare_algorithms.yaml \\
        --out runs/compare_algorithms --budget-minutes 60 [--init-checkpoint runs/mle_oracle-...]

    # smoke test in seconds (tiny oracle, tiny budget)
    python experiments/compare_algorithms.py experiments/compare_algorithms.yaml \\
        --base experiments/seqgan_oracle_tiny.yaml --budget-minutes 0.02 --out /tmp/compare
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import logging
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("seqadv")

METRICS = {
    "eval/nll_oracle": "NLL-oracle",
    "eval/nll_test": "NLL-test",
    "eval/self_bleu3": "Self-BLEU-3",
}


# -- the comparison spec ---------------------------------------------------------------------
#: mappings that replace the base's instead of merging into it (a learner's kwargs make no
#: sense for another learner)
REPLACED = ("algorithm", "kwargs")


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` merged in: mappings recursively, except the ``algorithm``
    component and every ``kwargs`` mapping, which replace; everything else is replaced."""
    out = copy.deepcopy(base)
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in REPLACED:
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_spec(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The comparison spec with the command line's replacements applied."""
    from seqadv.config import read_yaml
    from seqadv.errors import ConfigError

    spec = read_yaml(path)
    known = {"name", "base", "seeds", "budget_minutes", "mle_seed", "config", "algorithms"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}"
        )
    if not spec.get("algorithms"):
        raise ConfigError(f"{path}: 'algorithms' must name at least one algorithm")
    for name, alg in spec["algorithms"].items():
        extra = sorted(set(alg or {}) - {"label", "config"})
        if extra:
            raise ConfigError(f"{path}: algorithms.{name}: unknown key(s) {', '.join(extra)}")
    base = Path(args.base) if args.base else path.parent / spec.get("base", "")
    spec["base"] = str(base.resolve())
    if args.seeds:
        spec["seeds"] = list(args.seeds)
    if args.budget_minutes is not None:
        spec["budget_minutes"] = args.budget_minutes
    if args.algorithms:
        missing = [a for a in args.algorithms if a not in spec["algorithms"]]
        if missing:
            raise ConfigError(
                f"--algorithms: {', '.join(missing)} not in {path} "
                f"({', '.join(spec['algorithms'])})"
            )
        spec["algorithms"] = {a: spec["algorithms"][a] for a in args.algorithms}
    if not spec.get("seeds"):
        raise ConfigError(f"{path}: 'seeds' must list at least one seed")
    if spec.get("budget_minutes") is None or float(spec["budget_minutes"]) <= 0:
        raise ConfigError(f"{path}: budget_minutes must be a positive number")
    return spec


def run_config(spec: dict[str, Any], algorithm: str | None, seed: int, overrides: list[str]):
    """The ExperimentConfig of one run (``algorithm`` None: the shared MLE pretraining)."""
    from seqadv.config import apply_overrides, config_from_dict, read_yaml

    data = read_yaml(spec["base"])
    if algorithm is None:
        data = deep_merge(data, {"adversarial": {"rounds": 0}})
        data["name"] = f"{spec.get('name', 'compare')}-mle"
    else:
        data = deep_merge(data, spec.get("config") or {})
        data = deep_merge(data, (spec["algorithms"][algorithm] or {}).get("config") or {})
        data = deep_merge(data, {"adversarial": {"budget_minutes": float(spec["budget_minutes"])}})
        data["name"] = f"{algorithm}-seed{seed}"
    data["seed"] = int(seed)
    apply_overrides(data, list(overrides))
    return config_from_dict(data, where=f"{spec['base']} + comparison settings")


# -- running -----------------------------------------------------------------------------------
def train(cfg: Any, run_path: Path, base_dir: Path, command: list[str]) -> None:
    """Train ``cfg`` into ``run_path``, resuming a stopped run and skipping a finished one."""
    from seqadv.adversarial import AdversarialTrainer
    from seqadv.runs import RunDir, load_checkpoint

    last = run_path / "checkpoints" / "last.pt"
    if last.is_file():
        state = load_checkpoint(last)["state"]
        if state.get("phase") == "done":
            log.info("%s: finished earlier, reused", run_path)
            return
        log.info("%s: resuming (phase %s, round %s)", run_path, state["phase"], state["round"])
        trainer = AdversarialTrainer.resume(run_path, command=command)
    else:
        trainer = AdversarialTrainer(cfg, run=RunDir(run_path), base_dir=base_dir, command=command)
    trainer.fit()


def summarize_run(run_path: Path, algorithm: str, label: str, seed: int) -> dict[str, Any]:
    """Start and final metrics, budget use, updates and the curve of one finished run."""
    from seqadv.runs import RunDir, load_checkpoint

    records = RunDir(run_path).read_metrics()
    adv = [r for r in records if r.get("phase") == "adversarial"]
    if not adv:
        raise RuntimeError(f"{run_path}: no adversarial evaluations in metrics.jsonl")
    ckpt = load_checkpoint(run_path / "checkpoints" / "last.pt")
    learner = (ckpt.get("adversarial") or {}).get("learner") or {}
    model = learner.get("model") or {}
    final = adv[-1]
    scored = [r for r in adv if "eval/nll_oracle" in r]
    best = min(scored, key=lambda r: r["eval/nll_oracle"]) if scored else {}
    curve = [
        {
            "round": r.get("round", 0),
            "train_s": float(r.get("time/adversarial_train_s", 0.0)),
            **{k: r[k] for k in METRICS if k in r},
        }
        for r in adv
    ]
    return {
        "algorithm": algorithm,
        "label": label,
        "seed": seed,
        "run_dir": str(run_path),
        "rounds": int(ckpt["state"]["round"]),
        "updates": int(learner.get("num_updates", 0)),
        "env_steps": int(model["num_timesteps"]) if "num_timesteps" in model else None,
        "adversarial_train_s": float(ckpt["state"].get("adversarial_train_s", 0.0)),
        "wall_s": float(final.get("time/elapsed_s", 0.0)),
        "start": {k: adv[0][k] for k in adv[0] if k.startswith("eval/")},
        "final": {k: final[k] for k in final if k.startswith("eval/")},
        "best_nll_oracle": best.get("eval/nll_oracle"),
        "best_round": best.get("round"),
        "curve": curve,
    }


# -- reporting ---------------------------------------------------------------------------------
def mean_std(values: list[float]) -> dict[str, Any]:
    values = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not values:
        return {"mean": None, "std": None, "n": 0, "values": []}
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "std": std, "n": len(values), "values": values}


def aggregate(runs: list[dict[str, Any]], algorithms: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in algorithms:
        mine = [r for r in runs if r["algorithm"] == name]
        row: dict[str, Any] = {
            "label": mine[0]["label"] if mine else name,
            "seeds": [r["seed"] for r in mine],
        }
        for key in METRICS:
            row[key] = mean_std([r["final"].get(key) for r in mine])
        for key in (
            "best_nll_oracle",
            "best_round",
            "rounds",
            "updates",
            "adversarial_train_s",
            "wall_s",
        ):
            row[key] = mean_std([r[key] for r in mine])
        out[name] = row
    return out


def _fmt(stat: dict[str, Any], digits: int = 3, scale: float = 1.0) -> str:
    if stat["mean"] is None:
        return "-"
    if stat["n"] == 1:
        return f"{stat['mean'] * scale:.{digits}f}"
    return f"{stat['mean'] * scale:.{digits}f} ± {stat['std'] * scale:.{digits}f}"


def machine_line(threads: int) -> str:
    from seqadv.runs import cpu_model

    load = ""
    try:
        load = ", load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        pass
    return (
        f"{platform.machine()} {cpu_model()}, {os.cpu_count()} cores{load}; torch threads {threads}"
    )


def write_markdown(path: Path, result: dict[str, Any]) -> None:
    from seqadv.runs import atomic_write_text

    summary = result["summary"]
    start = result["start"]
    budget = result["budget_minutes"]
    lines = [
        f"# {result['name']}: {', '.join(r['label'] for r in summary.values())}",
        "",
        f"- command: `{result['command']}`",
        f"- base config: `{result['base']}`; MLE generator: `{result['init_checkpoint']}`",
        f"- seeds: {', '.join(map(str, result['seeds']))}; budget: {budget:g} min of adversarial "
        "training (generator + discriminator) per run",
        f"- machine: {result['machine']}",
        "",
        "| algorithm | NLL-oracle | NLL-test | Self-BLEU-3 | best NLL-oracle (round) | rounds "
        "| generator updates | training min | wall min |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    mle = [start.get(k) for k in METRICS]
    lines.append(
        "| MLE start | "
        + " | ".join("-" if v is None else f"{v:.3f}" for v in mle)
        + " | - | 0 | 0 | 0 | - |"
    )
    for row in summary.values():
        lines.append(
            f"| {row['label']} | {_fmt(row['eval/nll_oracle'])} | {_fmt(row['eval/nll_test'])} "
            f"| {_fmt(row['eval/self_bleu3'])} | {_fmt(row['best_nll_oracle'])} "
            f"({_fmt(row['best_round'], 0)}) | {_fmt(row['rounds'], 1)} "
            f"| {_fmt(row['updates'], 1)} | {_fmt(row['adversarial_train_s'], 2, 1 / 60)} "
            f"| {_fmt(row['wall_s'], 2, 1 / 60)} |"
        )
    lines += [
        "",
        "Mean ± sample standard deviation over the seeds, at each run's last evaluation (the "
        "round in which its budget ran out).",
        "",
        f"- **NLL-oracle**: mean per-token negative log-likelihood under the oracle of "
        f"{result['eval']['n_samples']} sequences sampled from the generator (temperature "
        f"{result['eval']['temperature']:g}); lower: samples the oracle finds likely.",
        "- **NLL-test**: mean per-token negative log-likelihood under the generator of the "
        "held-out oracle samples; lower: the generator covers the data (NLL-oracle alone "
        "rewards mode collapse).",
        f"- **Self-BLEU-3**: Texygen protocol (nltk sentence_bleu, uniform weights, smoothing "
        f"method1) of each of {result['eval']['n_self_bleu']} generated sequences (token ids) "
        "against the others; higher: less diverse.",
        "- **training min**: adversarial training time (generator updates including the "
        "Monte-Carlo rollouts, rollout-policy sync, discriminator training; evaluations "
        "excluded), the quantity the budget caps. **wall min**: the whole run (discriminator "
        "pretraining and evaluations included).",
        "- **best NLL-oracle**: the lowest NLL-oracle of any evaluation of the run, and the "
        "round it came at (reported to show the shape of the curve; the final value is the "
        "result).",
        "",
        "Each algorithm's settings (over the base config and the comparison's own):",
        "",
        *(f"- {line}" for line in result.get("settings", [])),
        "",
        "Curves: `curves.png` (mean over seeds, band = min..max).",
    ]
    atomic_write_text(path, "\n".join(lines) + "\n")


def plot_curves(path: Path, runs: list[dict[str, Any]], result: dict[str, Any]) -> Path | None:
    """NLL-oracle and NLL-test over training minutes: mean over seeds, min-max band."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import numpy as np

    from seqadv.runs import atomic_write_bytes

    keys = [
        k
        for k in ("eval/nll_oracle", "eval/nll_test")
        if any(k in p for r in runs for p in r["curve"])
    ]
    if not keys:
        return None
    fig, axes = plt.subplots(1, len(keys), figsize=(5.8 * len(keys), 4.2), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for name, row in result["summary"].items():
            curves = []
            for run in (r for r in runs if r["algorithm"] == name):
                pts = [(p["train_s"] / 60, p[key]) for p in run["curve"] if key in p]
                if pts:
                    curves.append(np.array(pts))
            if not curves:
                continue
            end = min(c[-1, 0] for c in curves)
            grid = np.linspace(0.0, end, 60) if end > 0 else np.array([0.0])
            ys = np.stack([np.interp(grid, c[:, 0], c[:, 1]) for c in curves])
            (line,) = ax.plot(grid, ys.mean(0), label=f"{row['label']} (n={len(curves)})")
            ax.fill_between(grid, ys.min(0), ys.max(0), color=line.get_color(), alpha=0.2)
        start = result["start"].get(key)
        if start is not None:
            ax.axhline(start, color="grey", lw=0.8, ls=":", label="MLE start")
        ax.set_xlabel("adversarial training time (min)")
        ax.set_ylabel(METRICS[key])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(
        f"{result['name']}: seeds {', '.join(map(str, result['seeds']))}, "
        f"budget {result['budget_minutes']:g} min/run (mean, band min..max)",
        fontsize=10,
    )
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


# -- main ------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", type=Path, help="the comparison YAML (compare_algorithms.yaml)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--base", help="replace the spec's base experiment config")
    parser.add_argument("--budget-minutes", type=float, help="adversarial training time per run")
    parser.add_argument("--seeds", type=int, nargs="+", help="replace the spec's seeds")
    parser.add_argument("--algorithms", nargs="+", help="run only these algorithms of the spec")
    parser.add_argument(
        "--init-checkpoint",
        help="the MLE generator: a run directory or .pt (default: pretrain once)",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="override applied to every run's config, e.g. eval.n_samples=2000",
    )  # fmt: skip
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    from seqadv.runs import atomic_write_text, versions

    command = [sys.executable, *sys.argv] if argv is None else ["compare_algorithms.py", *argv]
    spec = load_spec(args.spec, args)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    base_dir = Path(spec["base"]).parent
    started = time.perf_counter()

    init = args.init_checkpoint or ((spec.get("config") or {}).get("pretrain") or {}).get(
        "init_checkpoint"
    )
    if init is None:
        mle_cfg = run_config(spec, None, int(spec.get("mle_seed", 0)), args.set)
        log.info("pretraining the shared MLE generator into %s", out / "mle")
        train(mle_cfg, out / "mle", base_dir, command)
        init = str((out / "mle").resolve())
    init_overrides = [f"pretrain.init_checkpoint={json.dumps(str(init))}"]

    runs: list[dict[str, Any]] = []
    settings: dict[str, str] = {}
    cfg = None
    for seed in spec["seeds"]:
        for name, alg in spec["algorithms"].items():
            label = (alg or {}).get("label", name)
            cfg = run_config(spec, name, seed, [*init_overrides, *args.set])
            settings[name] = (
                f"{label}: `{cfg.algorithm.name}` {json.dumps(dict(cfg.algorithm.kwargs))}, "
                f"learning rate {cfg.adversarial.lr:g}, reward scheme `{cfg.env.reward_scheme.name if cfg.env.reward_scheme else cfg.env.name}`"
            )
            path = out / "runs" / f"{name}-seed{seed}"
            log.info("== %s, seed %d -> %s", label, seed, path)
            train(cfg, path, base_dir, command)
            runs.append(summarize_run(path, name, label, seed))
    assert cfg is not None

    # the adversarial phase's round-0 evaluation: the MLE generator (samples drawn per seed)
    first_alg = runs[0]["algorithm"]
    start = {
        k: mean_std([r["start"].get(k) for r in runs if r["algorithm"] == first_alg])["mean"]
        for k in METRICS
    }
    result = {
        "name": spec.get("name", "compare_algorithms"),
        "command": " ".join(command),
        "base": spec["base"],
        "init_checkpoint": init,
        "seeds": spec["seeds"],
        "budget_minutes": float(spec["budget_minutes"]),
        "machine": machine_line(cfg.threads),
        "versions": versions(cfg.threads),
        "eval": {
            "n_samples": cfg.eval.n_samples,
            "temperature": cfg.eval.temperature,
            "n_self_bleu": min(cfg.eval.n_self_bleu or cfg.eval.n_samples, cfg.eval.n_samples),
        },
        "metrics": {
            "eval/nll_oracle": "mean per-token NLL of generated samples under the oracle",
            "eval/nll_test": "mean per-token NLL of held-out oracle samples under the generator",
            "eval/self_bleu3": "Self-BLEU-3, Texygen protocol, on generated token-id sequences",
            "adversarial_train_s": "adversarial training time (evaluations excluded): the budget",
            "wall_s": "wall time of the whole run",
        },
        "start": start,
        "settings": list(settings.values()),
        "spec": spec,
        "summary": aggregate(runs, spec["algorithms"]),
        "runs": runs,
        "total_wall_s": time.perf_counter() - started,
    }
    atomic_write_text(out / "results.json", json.dumps(result, indent=2) + "\n")
    write_markdown(out / "results.md", result)
    plot = plot_curves(out / "curves.png", runs, result)
    print((out / "results.md").read_text(encoding="utf-8"))
    print(f"results: {out / 'results.md'}, {out / 'results.json'}; curves: {plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
