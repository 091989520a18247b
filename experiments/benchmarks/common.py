"""Shared helpers of the benchmarks: thread setup, machine description, timing."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any


def setup_threads(threads: int) -> None:
    """Pin torch (and the BLAS it uses) to ``threads`` threads."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("MKL_NUM_THREADS", str(threads))
    import torch

    torch.set_num_threads(threads)


def machine_line() -> str:
    import torch

    from seqadv.runs import cpu_model

    cpu = cpu_model()
    load = ""
    try:
        load = " load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        pass
    return (
        f"machine: {platform.machine()} {cpu}, {os.cpu_count()} cores{load}; "
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"torch threads {torch.get_num_threads()}"
    )


def timed(fn: Callable[[], Any], repeats: int = 3, warmup: int = 0) -> tuple[float, Any]:
    """Median wall time of ``repeats`` calls (after ``warmup`` calls) and the last result."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def report(rows: list[tuple[str, float, float]], title: str) -> None:
    """Print a table of (unit of work, baseline seconds, seqadv seconds) with ratios."""
    print(f"\n{title}")
    width = max(len(r[0]) for r in rows)
    print(f"{'unit of work':<{width}}  {'baseline s':>11}  {'seqadv s':>9}  {'speed-up':>8}")
    for name, base, ours in rows:
        print(f"{name:<{width}}  {base:>11.3f}  {ours:>9.3f}  {base / ours:>7.1f}x")
