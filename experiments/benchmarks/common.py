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


#: the project's hot GEMMs at SeqGAN's sizes: (what, op name, rows, in, out)
HOT_GEMMS = (
    ("CNN filter bank f=5 (64 x 16 prefixes)", "dis/conv5", 16 * 1024, 320, 200),
    ("CNN highway", "dis/highway", 1024, 1720, 3440),
    ("generator output layer, sampling", "gen/output", 64, 32, 5000),
    ("generator output layer, MLE", "gen/output", 1280, 32, 5000),
)


def gemm_rates(repeats: int = 5) -> dict[str, dict[str, float]]:
    """Measured multiply-adds per second of every fp32 kernel (and bf16) on :data:`HOT_GEMMS`,
    printed with the kernel the active plan uses; returns ``op -> kernel -> MAC/s``, with
    ``"used"`` the rate of the plan's kernel (what the floors below are computed with)."""
    import torch

    from seqadv.models import kernels

    plan = kernels.active_plan()
    print(
        f"fp32 GEMM rates, {torch.get_num_threads()} thread(s), kernel plan {plan.mode!r} (GFLOP/s = 2 x MAC/s):"
    )
    rates: dict[str, dict[str, float]] = {}
    for what, op, m, k, n in HOT_GEMMS:
        g = torch.Generator().manual_seed(0)
        x, w, b = (
            torch.randn(m, k, generator=g),
            torch.randn(n, k, generator=g) / k**0.5,
            torch.randn(n, generator=g),
        )
        row: dict[str, float] = {}
        with torch.no_grad():
            for name in kernels.LINEAR_CANDIDATES if kernels.onednn_available() else ("plain",):
                seconds, _ = timed(
                    lambda name=name, x=x, w=w, b=b: kernels.fast_linear(x, w, b, name),
                    repeats,
                    warmup=1,
                )
                row[name] = m * k * n / seconds
            xb, wb, bb = x.bfloat16(), w.bfloat16(), b.bfloat16()
            seconds, _ = timed(
                lambda xb=xb, wb=wb, bb=bb: torch.nn.functional.linear(xb, wb, bb),
                repeats,
                warmup=1,
            )
            row["bf16"] = m * k * n / seconds
            used = plan.choose(op, x, w, b, backward=False)
        row["used"] = row[used]
        rates[f"{op}/{m}"] = row
        cells = "  ".join(f"{name} {2 * r / 1e9:6.1f}" for name, r in row.items() if name != "used")
        print(f"  {what:<40} {m}x{k}x{n}: {cells}  -> uses {used}")
    return rates
