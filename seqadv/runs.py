"""Atomic writes and checkpoints, seeds, versions, ETAs and progress display.

The run directory itself (its files, its lock, what loading a run may do) is
:mod:`seqadv.rundir`, whose names are importable from here too.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import platform
import secrets
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from seqadv.errors import CheckpointError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, one writer is on trust
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "derive_seed",
    "eta",
    "json_safe",
    "draw_seed",
    "atomic_write_bytes",
    "atomic_write_text",
    "save_checkpoint",
    "load_checkpoint",
    "progress",
    "versions",
]

log = logging.getLogger("seqadv")
CHECKPOINT_FORMAT = "seqadv.checkpoint/1"


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, inf) as None, so JSON writes ``null``."""
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def draw_seed() -> int:
    """A fresh random seed (31 bits, so every library accepts it)."""
    return secrets.randbits(31)


def derive_seed(seed: int, *names: object) -> int:
    """A seed for one purpose, derived from the master seed and names (stable everywhere)."""
    text = "/".join([str(int(seed)), *map(str, names)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 2


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a temporary file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Save a checkpoint atomically; ``state`` must hold only tensors and plain data."""
    import torch

    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, **state}, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint with ``torch.load(weights_only=True)``: no code runs from the file."""
    import pickle

    import torch

    path = Path(path)
    if path.is_dir():
        candidate = path / "checkpoints" / "last.pt"
        if not candidate.is_file():
            raise CheckpointError(f"{path}: no checkpoints/last.pt in this run directory")
        path = candidate
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path}: refused or unreadable checkpoint (loaded with weights_only=True): {exc}"
        ) from exc
    except Exception as exc:  # truncated or foreign files raise many types (IndexError, ...)
        raise CheckpointError(
            f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a seqadv checkpoint (format {CHECKPOINT_FORMAT!r})")
    state["path"] = str(path)
    return state


def versions(threads: int | None = None) -> dict[str, Any]:
    """Versions of what a result depends on."""
    from importlib.metadata import PackageNotFoundError, version

    import seqadv

    out: dict[str, Any] = {
        "seqadv": seqadv.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
    }
    for pkg in ("torch", "numpy", "gymnasium", "stable-baselines3", "nltk", "sacrebleu"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    if threads is not None:
        out["torch_threads"] = threads
    return out


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# -- progress --------------------------------------------------------------------------------
def eta(
    spent_s: float,
    done_units: int,
    total_units: int,
    budget_minutes: float | None = None,
    later_s: float | None = None,
) -> str:
    """"ETA 3m20s" for a phase that took ``spent_s`` for ``done_units`` of ``total_units``
    (the mean so far times what is left), capped by a training-time budget; with
    ``later_s`` (the estimated seconds of the phases after this one), the whole run's ETA
    too: "ETA 3m20s; run 5m10s"."""
    left = spent_s / max(done_units, 1) * max(total_units - done_units, 0)
    note = ""
    if budget_minutes is not None:
        budget_left = max(60.0 * budget_minutes - spent_s, 0.0)
        if budget_left < left:
            left, note = budget_left, " (budget)"
    run = f"; run {format_duration(left + later_s)}" if later_s else ""
    return f"ETA {format_duration(left)}{note}{run}"


def format_duration(seconds: float) -> str:
    """"45s", "3m20s", "2h05m"."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def progress(
    iterable: Iterable[Any],
    total: int | None = None,
    desc: str = "",
    every: int | None = None,
    log_lines: bool = True,
) -> Iterator[Any]:
    """A progress bar on a terminal (tqdm), plain log lines otherwise.

    Off a terminal, a line is logged about every 10% (or every ``every`` items), unless
    ``log_lines`` is False (for inner loops whose caller logs a summary).
    """
    if sys.stderr.isatty() and not os.environ.get("SEQADV_NO_PROGRESS"):
        from tqdm.auto import tqdm

        yield from tqdm(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True)
        return
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    if not log_lines:
        yield from iterable
        return
    step = every or (max(1, total // 10) if total else 100)
    start = time.perf_counter()
    for i, item in enumerate(iterable, 1):
        yield item
        if i % step == 0 or (total is not None and i == total):
            elapsed = time.perf_counter() - start
            of = f"/{total}" if total else ""
            left = f", ETA {elapsed / i * (total - i):.0f}s" if total else ""
            log.info("%s %d%s (%.1fs%s)", desc, i, of, elapsed, left)


_RUNDIR_NAMES = frozenset(['RunDir', 'RunLock', 'RunInUseError', 'NotARunError', 'ForeignCodeError', 'ConfigMismatchError', 'DottedName', 'component_names', 'check_imports', 'read_run', 'run_files_signature', 'remove_stale_temporaries'])


def __getattr__(name: str) -> Any:
    """The run-directory names of :mod:`seqadv.rundir` (imported on first use)."""
    if name in _RUNDIR_NAMES:
        import seqadv.rundir

        return getattr(seqadv.rundir, name)
    raise AttributeError(f"module 'seqadv.runs' has no attribute {name!r}")
