"""PNG learning curves (matplotlib is imported only here, and only when a plot is drawn)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_learning_curve", "plot_series", "metric_label", "DEFAULT_CURVE_KEYS"]

#: what a run's learning curve shows, where the records have it
DEFAULT_CURVE_KEYS = ("eval/nll_oracle", "eval/nll_test", "eval/bleu2", "eval/self_bleu2")

log = logging.getLogger("seqadv")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | os.PathLike) -> Path:
    import io

    from seqadv.runs import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)  # the constrained layout keeps labels inside
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def metric_label(key: str) -> str:
    """A readable axis label for a log key: ``eval/self_bleu3`` -> ``Self-BLEU-3``."""
    name = key.split("/")[-1]
    for prefix, shown in (("self_bleu", "Self-BLEU-"), ("bleu", "BLEU-")):
        if name.startswith(prefix) and name[len(prefix) :].isdigit():
            return shown + name[len(prefix) :]
    if name.startswith("nll_"):
        return "NLL-" + name[4:].replace("_", "-")
    return name.replace("_", " ")


def _panels(plt: Any, n: int, width: float, height: float) -> tuple[Any, list[Any]]:
    """A figure of ``n`` panels, at most three a row, laid out so that no tick label,
    title or legend overlaps a neighbour or the frame."""
    cols = min(3, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(width * cols, height * rows), squeeze=False, layout="constrained"
    )
    flat = [ax for row in axes for ax in row]
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _integer_x(ax: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _x(record: dict[str, Any]) -> float:
    """Position on the shared axis: MLE epochs, then adversarial rounds after them."""
    return float(record.get("x", record.get("epoch", 0)))


def plot_learning_curve(
    records: Sequence[dict[str, Any]],
    path: str | os.PathLike,
    title: str = "",
    controls: dict[str, Sequence[dict[str, Any]]] | None = None,
    keys: Sequence[str] = DEFAULT_CURVE_KEYS,
    reference_lines: dict[str, float] | None = None,
    main_label: str = "this run",
    xlabel: str | None = None,
) -> Path | None:
    """NLL-oracle, NLL-test, BLEU-2 and Self-BLEU-2 (those the records have) over MLE epochs
    and adversarial rounds, on one axis.

    Args:
        records: metric records with ``x`` (or ``epoch``) and the ``keys``.
        path: the PNG to write (atomically).
        controls: other runs' records drawn on the same axes (dashed), by label.
        reference_lines: horizontal lines (e.g. a paper's figure), by label.

    Returns:
        The path written, or None when there was nothing to plot.
    """
    present = [k for k in keys if any(k in r for r in records)]
    if not present:
        return None
    plt = _pyplot()
    fig, axes = _panels(plt, len(present), 4.6, 3.8)
    boundary = next((_x(r) for r in records if r.get("phase") == "adversarial"), None)
    end = max((_x(r) for r in records), default=0.0)
    for ax, key in zip(axes, present):
        pts = [(_x(r), r[key]) for r in records if key in r]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", label=main_label)
        for label, other in (controls or {}).items():
            opts = [(_x(r), r[key]) for r in other if key in r]
            if opts:
                ax.plot([p[0] for p in opts], [p[1] for p in opts], "--", marker=".", label=label)
        for label, value in (reference_lines or {}).items():
            if key == "eval/nll_oracle":
                ax.axhline(value, color="grey", lw=0.8, ls=":")
                ax.annotate(label, (ax.get_xlim()[0], value), fontsize=7, va="bottom")
        if boundary is not None:  # the adversarial phase shaded, named in the legend
            ax.axvspan(boundary, max(end, boundary + 0.5), color="tab:orange", alpha=0.12,
                       lw=0, label="adversarial phase")
        _integer_x(ax)
        ax.set_xlabel(xlabel or ("MLE epochs, then adversarial rounds" if boundary is not None else "MLE epochs"))
        ax.set_ylabel(metric_label(key))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    out = _save(fig, path)
    plt.close(fig)
    return out


def plot_series(
    records: Sequence[dict[str, Any]],
    keys: Sequence[str],
    path: str | os.PathLike,
    title: str = "",
    xlabel: str = "adversarial round",
) -> Path | None:
    """One panel per key present in ``records`` (e.g. reward and discriminator accuracy)."""
    present = [k for k in keys if any(k in r for r in records)]
    if not present:
        return None
    plt = _pyplot()
    fig, axes = _panels(plt, len(present), 4.2, 3.2)
    for ax, key in zip(axes, present):
        pts = [(_x(r), r[key]) for r in records if key in r]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".")
        _integer_x(ax)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    out = _save(fig, path)
    plt.close(fig)
    return out


def plot_run(records: list[dict[str, Any]], folder: Path, name: str, adversarial: bool) -> Path | None:
    """A run's plots in ``folder``: the learning curve of its evaluations and, with an
    adversarial phase, every round's reward and discriminator statistics. Returns the
    learning curve's path (None without matplotlib)."""
    path = plot_learning_curve(records, folder / "learning_curve.png", title=name)
    if adversarial:
        rounds = [{**r, "x": r["round"]} for r in records if r.get("phase") == "round"]
        plot_series(
            rounds,
            ["reward/mean", "reward/std", "dis/acc_real", "dis/acc_fake", "dis/loss"],
            folder / "adversarial.png",
            title=f"{name}: every round's reward and discriminator (train mode)",
        )
    return path
