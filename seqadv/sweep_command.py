"""``seqadv eval sweep``: the quality-diversity curve of one or more runs over temperatures.

Usage::

    seqadv eval sweep RUN [RUN ...] [--alphas 0.5 0.75 1 1.5 2] [--n-samples 10000]
        [--seed 0] [--out FILE.jsonl] [--plot FILE.png] [--threads 1]

For each run and each inverse temperature alpha (logits x alpha; tau = 1 / alpha is reported
too), the run's generator samples ``--n-samples`` sequences (the same seed for every run and
alpha) and one JSON line is written:

- on the oracle: ``nll_oracle`` (NLL-oracle), the mean per-token NLL of the samples under
  the oracle (quality: lower is better), and ``nll_test`` (NLL-test), the mean per-token NLL
  of the held-out oracle samples under the *tempered* model (coverage, i.e. diversity: lower
  is better);
- on text: ``bleu5`` (BLEU-5), the mean sentence BLEU-5 of the samples with every test
  sentence as a reference, and ``self_bleu5`` (Self-BLEU-5), each sample against the others
  (diversity: lower is better), both nltk's sentence_bleu with smoothing method1, computed
  exactly by seqadv's fast BLEU (the Texygen protocol).

The plot draws every run's curve with quality on x and diversity on y, lower-left better on
both (for text, x is -BLEU-5): Caccia et al., "Language GANs Falling Short" (ICLR 2020).
The verdict for each pair of runs says whether one's curve dominates the other's: every
point of the dominated curve is matched or beaten on both axes by a point of the other
(at the sampled alphas).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "run", "covers", "dominates", "verdict", "sweep_points"]

#: default inverse temperatures: 20 points from 0.5 to 2.4
DEFAULT_ALPHAS = [round(0.5 + 0.1 * i, 2) for i in range(20)]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run directories (or checkpoints)")
    parser.add_argument("--alphas", type=float, nargs="+", default=DEFAULT_ALPHAS,
                        help="inverse temperatures: logits x alpha (default 20 from 0.5 to 2.4)")  # fmt: skip
    parser.add_argument("--n-samples", type=int, default=10_000, help="samples per point (default 10,000)")
    parser.add_argument("--seed", type=int, default=0, help="the sampling seed, the same for every point")
    parser.add_argument("--n-self-bleu", type=int, default=None,
                        help="text: samples scored by Self-BLEU-5 (default: all of them)")  # fmt: skip
    parser.add_argument("--out", help="write the JSON lines here (default: stdout)")
    parser.add_argument("--plot", help="draw the curves into this PNG")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--allow-import", action="append", default=[], metavar="MODULE",
                        help="a module a run's config names that may be imported")  # fmt: skip


def _check(args: argparse.Namespace) -> None:
    from seqadv.errors import ConfigError

    bad = [a for a in args.alphas if not a > 0]
    if bad:
        raise ConfigError(f"--alphas: every inverse temperature must be > 0, got {bad[0]!r}")
    if args.n_samples < 2:
        raise ConfigError(f"--n-samples must be >= 2, got {args.n_samples}")
    if args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}")


def sweep_points(gen: Any, data: Any, alphas: list[float], n: int, seed: int, n_self_bleu: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """One record per alpha for a policy ``gen`` on ``data`` (see the module docstring)."""
    from seqadv.evaluation import cli_samples, metric_signature

    points = []
    for alpha in alphas:
        tau = 1.0 / alpha
        start = time.perf_counter()
        samples = cli_samples(gen, n, seed, tau)
        point: dict[str, Any] = {"alpha": alpha, "tau": tau, "n_samples": n, "seed": seed}
        if data.oracle is not None:
            point["nll_oracle"] = data.oracle.nll(samples)
            point["nll_test"] = gen.nll(data.test, temperature=tau)
            point["signature"] = metric_signature("sweep-oracle", hyps=n, refs=int(data.test.shape[0]), tau=tau, seed=seed)
        else:
            from seqadv.evaluation import reference_stats
            from seqadv.metrics.self_bleu import self_bleu

            hyps = [data.tokens(row) for row in samples]
            point["bleu5"] = float(reference_stats(data, 5).bleu_many(hyps, ns=(5,))[5].score)  # built once, kept
            m = len(hyps) if n_self_bleu is None else min(n_self_bleu, len(hyps))
            point["self_bleu5"] = float(self_bleu(hyps[:m], n=5).score)
            point["signature"] = metric_signature("sweep-text", hyps=n, refs=len(data.test_tokens),
                                                  self_bleu_hyps=m, n=5, tau=tau, seed=seed)  # fmt: skip
        point["time_s"] = round(time.perf_counter() - start, 3)
        points.append(point)
    return points


def axes(point: dict[str, Any]) -> tuple[float, float]:
    """(quality, diversity), both lower-better: (NLL-oracle, NLL-test) or (-BLEU-5, Self-BLEU-5)."""
    if "nll_oracle" in point:
        return point["nll_oracle"], point["nll_test"]
    return -point["bleu5"], point["self_bleu5"]


def covers(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """Whether every point of curve ``b`` is matched or beaten on both axes by a point of ``a``."""
    pa = [axes(p) for p in a]
    return all(any(qa <= qb and da <= db for qa, da in pa) for qb, db in (axes(p) for p in b))


def dominates(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    """Whether curve ``a`` dominates curve ``b``: ``a`` covers ``b`` (each point of ``b``
    matched or beaten on both axes by a point of ``a``) and ``b`` does not cover ``a``."""
    return covers(a, b) and not covers(b, a)


def verdict(name_a: str, a: list[dict[str, Any]], name_b: str, b: list[dict[str, Any]]) -> str:
    """One line: which curve dominates, or that they match, or that they cross."""
    ab, ba = covers(a, b), covers(b, a)
    if ab and ba:
        return f"{name_a} and {name_b} match (each covers the other)"
    if ab:
        return f"{name_a} dominates {name_b}"
    if ba:
        return f"{name_b} dominates {name_a}"
    return f"neither of {name_a} and {name_b} dominates (the curves cross)"


def _plot(curves: dict[str, list[dict[str, Any]]], path: str) -> None:
    from seqadv.plots import _pyplot, _save

    plt = _pyplot()
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(6.5, 5))
    oracle = "nll_oracle" in next(iter(curves.values()))[0]
    for name, points in curves.items():
        xy = sorted((axes(p) + (p["alpha"],) for p in points), key=lambda t: t[0])
        ax.plot([x for x, _, _ in xy], [y for _, y, _ in xy], marker="o", ms=3, label=name)
        for x, y, alpha in (xy[0], xy[-1]):
            ax.annotate(f"α={alpha:g}", (x, y), fontsize=7, textcoords="offset points", xytext=(3, 3))
    ax.set_xlabel("NLL-oracle of the samples (quality)" if oracle else "−BLEU-5 against the test set (quality)")
    ax.set_ylabel("NLL-test under the tempered model (diversity)" if oracle else "Self-BLEU-5 (diversity)")
    ax.set_title("quality–diversity over temperature (lower-left is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)


def run(args: argparse.Namespace) -> int:
    import torch

    from seqadv.cli import _load_generator, _load_run
    from seqadv.experiment import build_data
    from seqadv.runs import json_safe

    _check(args)
    torch.set_num_threads(args.threads)
    curves: dict[str, list[dict[str, Any]]] = {}
    out = open(args.out, "w") if args.out else None  # noqa: SIM115 - closed below
    try:
        for path in args.runs:
            cfg, ckpt = _load_run(path, args.allow_import)
            data = build_data(cfg.data)
            gen, _, _ = _load_generator(ckpt, cfg, data)
            gen.eval()
            name = Path(path).name
            if name in curves:
                name = str(path)
            curves[name] = sweep_points(gen, data, list(args.alphas), args.n_samples, args.seed, args.n_self_bleu)
            for point in curves[name]:
                line = json.dumps(json_safe({"run": str(path), **point}), allow_nan=False)
                print(line, file=out) if out else print(line)
    finally:
        if out:
            out.close()
    names = list(curves)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            print(f"# {verdict(a, curves[a], b, curves[b])}")
    if args.plot:
        _plot(curves, args.plot)
        print(f"# plot: {args.plot}")
    return 0
