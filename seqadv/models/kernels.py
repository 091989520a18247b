"""Exact fp32 kernels for ``y = x @ W^T + b``, chosen per machine by measurement.

Which GEMM library is fastest for a shape depends on the CPU: on one AMD EPYC, oneDNN ran the
project's hot fp32 GEMMs 2-4x faster than MKL; on an Intel Xeon the two are close. So the
choice is measured, not hard-coded, and every candidate computes in **fp32** (the
``torch.backends.mkldnn.matmul.fp32_precision = "bf16"`` switch is not one: on CPUs with AMX
it really computes in bf16, and it changes the plain path too).

The candidates (:data:`LINEAR_CANDIDATES`: ``plain``, ``onednn``, ``onednn_packed``) are in
:mod:`seqadv.models.onednn`. Non-fp32 inputs, CPU autocast, tensors off the CPU, or a torch without oneDNN fall back to
``plain`` (a float64 model stays float64). Results of different candidates agree within
float rounding (about 1e-6 relative), not bitwise: a run stores its :class:`KernelPlan` and
reuses it on resume and in ``eval``, so one machine reproduces its own bits.

Example:
    >>> import torch
    >>> x, w = torch.randn(4, 8), torch.randn(6, 8)
    >>> y = fast_linear(x, w, None, "plain")
    >>> KernelPlan.from_dict(KernelPlan.plain().to_dict()).mode
    'plain'
"""

from __future__ import annotations

import json
import logging
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqadv.models.onednn import (
    LINEAR_CANDIDATES,
    _onednn_usable,
    _packed_weight,  # noqa: F401 - re-exported for tests and benchmarks
    fast_linear,
    onednn_available,
)
from seqadv.runs import atomic_write_text, cpu_model

__all__ = [
    "LINEAR_CANDIDATES",
    "MODES",
    "KernelLinear",
    "KernelPlan",
    "Timing",
    "cache_path",
    "default_candidates",
    "fast_linear",
    "linear_shape_key",
    "machine_key",
    "measure",
    "onednn_available",
    "select",
    "active_plan",
    "block_rows",
    "linear",
    "use_plan",
    "select_value",
    "set_plan",
    "stored_plan",
]

logger = logging.getLogger("seqadv")

MODES: tuple[str, ...] = ("plain", "auto")
TOLERANCE = 1e-5  #: rtol and atol of a candidate against ``plain``
PLAN_FORMAT = "seqadv-kernel-plan/1"
CACHE_FORMAT = "seqadv-kernel-cache/1"
_MARGIN = 0.05  # a candidate must beat plain by 5% to be chosen (noise prefers plain)
#: GEMMs of fewer multiply-adds than this are not worth measuring: they run ``plain``
MIN_MACS = 1 << 23
#: the sampler's row-block candidates (rows of the output layer projected and searched together)
BLOCK_CANDIDATES: tuple[int, ...] = (16, 32, 64, 128)


# -- measurement ----------------------------------------------------------------------------
Candidate = Callable[..., Tensor]


@dataclass(frozen=True)
class Timing:
    """One candidate's measurement: median seconds per call, or None with the reason."""

    name: str
    seconds: float | None
    max_error: float = 0.0
    reason: str = ""


def default_candidates(backward: bool = False, frozen: bool = True) -> tuple[str, ...]:
    """The built-in candidates worth timing here: ``onednn_packed`` only for a ``frozen``
    weight (one that does not require grad, e.g. the rollout policy's), whose packing is
    reused across calls; a trained weight changes every step and would be repacked."""
    if not onednn_available():
        return ("plain",)
    return LINEAR_CANDIDATES if frozen and not backward else ("plain", "onednn")


def _busy() -> bool:
    """Whether other processes compete for this process's cores now (load average above
    the cores left to them), so that timings are noise: such measurements are not cached."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return False
    return load > (os.cpu_count() or 1) - torch.get_num_threads() + 0.5


def _resolve(candidates: Sequence[str] | Mapping[str, Candidate]) -> dict[str, Candidate]:
    if isinstance(candidates, Mapping):
        resolved = dict(candidates)
    else:
        resolved = {}
        for name in candidates:
            if name not in LINEAR_CANDIDATES:
                raise ValueError(
                    f"unknown kernel {name!r}; choose from {', '.join(LINEAR_CANDIDATES)}"
                )
            resolved[name] = lambda x, w, b=None, _n=name: fast_linear(x, w, b, _n)
    if "plain" not in resolved:
        raise ValueError(f"the candidates {sorted(resolved)} must include 'plain' (the reference)")
    return resolved


def _run(fn: Candidate, inputs: tuple, upstream: Tensor | None) -> list[Tensor]:
    """The output and, with ``upstream``, the gradients of the inputs that require them."""
    if upstream is None:
        with torch.no_grad():
            return [fn(*inputs)]
    leaves = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    out = fn(*inputs)
    return [out.detach(), *torch.autograd.grad(out, leaves, upstream)]


def _widen(inputs: tuple) -> tuple:
    """Float64 copies of the floating-point tensors (same requires_grad), others as they are."""
    return tuple(
        t.detach().double().requires_grad_(t.requires_grad)
        if isinstance(t, Tensor) and t.is_floating_point()
        else t
        for t in inputs
    )


def _max_error(got: list[Tensor], want: list[Tensor], tol: float) -> tuple[float, bool]:
    error, ok = 0.0, len(got) == len(want)
    for a, b in zip(got, want):
        if a.shape != b.shape:
            return math.inf, False
        a, b = a.double(), b.double()
        error = max(error, (a - b).abs().max().item() if a.numel() else 0.0)
        ok = ok and torch.allclose(a, b, rtol=tol, atol=tol)
    return error, ok


def measure(
    candidates: Sequence[str] | Mapping[str, Candidate],
    make_inputs: Callable[[], tuple],
    *,
    backward: bool = False,
    budget_s: float = 0.2,
    max_repeats: int = 15,
    tol: float = TOLERANCE,
) -> dict[str, Timing]:
    """Verify each candidate against ``plain`` and time it (interleaved, median).

    Args:
        candidates: built-in names, or ``name -> fn(*inputs)`` (must contain ``plain``).
        make_inputs: returns the arguments, e.g. ``(x, weight, bias)``, at realistic scale
            (outputs of order 1); with ``backward``, those that require grad are differentiated.
        backward: time forward + backward (each repetition first bumps the weights' versions,
            as an optimizer step would).
        budget_s: the time to spend, all candidates together (at least 3 rounds, at most
            twice the budget).
        max_repeats: at most this many timed rounds.
        tol: rtol and atol of a candidate's output (and gradients) against ``plain``'s.

    Returns:
        name -> :class:`Timing`; ``seconds`` is None for a rejected candidate.
    """
    fns = _resolve(candidates)
    inputs = tuple(make_inputs())
    upstream = None
    if backward:
        probe = fns["plain"](*inputs)
        upstream = torch.randn(
            probe.shape, generator=torch.Generator().manual_seed(1), dtype=probe.dtype
        )
    start = time.perf_counter()
    reference = _run(fns["plain"], inputs, upstream)
    result: dict[str, Timing] = {}
    floats = [t for t in inputs if isinstance(t, Tensor) and t.is_floating_point()]
    if floats and all(t.dtype == torch.float32 for t in floats):
        # plain's fp32 must itself be fp32-exact (not bf16 behind an fp32_precision switch)
        exact = _run(fns["plain"], _widen(inputs), None if upstream is None else upstream.double())
        error, ok = _max_error(reference, exact, 1e-4)
        if not ok:
            logger.warning(
                "kernels: the fp32 'plain' result is %.2g away from float64: fp32 matmuls run at "
                "reduced precision (torch.backends.mkldnn.matmul.fp32_precision=%r?); not measuring",
                error,
                getattr(torch.backends.mkldnn.matmul, "fp32_precision", "?"),
            )
            return {"plain": Timing("plain", None, error, "fp32 reference is not fp32-exact")}
    for name, fn in fns.items():
        try:
            error, ok = _max_error(_run(fn, inputs, upstream), reference, tol)
            _run(fn, inputs, upstream)  # second warm-up
        except Exception as exc:  # a candidate that cannot run is rejected, not fatal
            result[name] = Timing(name, None, math.inf, f"failed: {type(exc).__name__}: {exc}")
            continue
        result[name] = Timing(
            name, 0.0, error, "" if ok else f"disagrees with plain by {error:.3g}"
        )
    alive = [n for n, t in result.items() if t.reason == ""]
    samples: dict[str, list[float]] = {n: [] for n in alive}
    leaves = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad and t.is_leaf]
    rounds = 0
    while rounds < max_repeats:
        for name in alive:
            if backward:
                for leaf in leaves:
                    torch.autograd.graph.increment_version(leaf)
            t0 = time.perf_counter()
            _run(fns[name], inputs, upstream)
            samples[name].append(time.perf_counter() - t0)
        rounds += 1
        spent = time.perf_counter() - start
        if (spent >= budget_s and rounds >= 3) or spent >= 2 * budget_s:
            break
    for name, timing in result.items():
        seconds = statistics.median(samples[name]) if name in samples else None
        result[name] = Timing(name, seconds, timing.max_error, timing.reason)
    return result


def _fastest(timings: Mapping[str, Timing]) -> str:
    best, best_s = "plain", timings["plain"].seconds
    if best_s is None:
        return "plain"
    for name, timing in timings.items():
        if timing.seconds is not None and timing.seconds < best_s * (1 - _MARGIN):
            best, best_s = name, timing.seconds
    return best


# -- the per-machine cache ------------------------------------------------------------------
def cache_path() -> Path:
    """``$SEQADV_CACHE_DIR/kernels.json``, else ``$XDG_CACHE_HOME`` or ``~/.cache``/seqadv."""
    root = os.environ.get("SEQADV_CACHE_DIR")
    if root:
        return Path(root) / "kernels.json"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "seqadv" / "kernels.json"


def machine_key() -> str:
    """CPU model, torch version and thread count: what a measured choice is valid for."""
    return f"{cpu_model()}|torch {torch.__version__}|threads {torch.get_num_threads()}"


def _read_cache(path: Path) -> dict[str, Any]:
    """The cache's entries; a missing file is empty, a corrupt or foreign one is ignored."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        logger.warning("kernels: ignoring unreadable kernel cache %s (%s)", path, exc)
        return {}
    if not (
        isinstance(data, dict)
        and data.get("format") == CACHE_FORMAT
        and isinstance(data.get("entries"), dict)
    ):
        logger.warning("kernels: ignoring %s: not a seqadv kernel cache (%s)", path, CACHE_FORMAT)
        return {}
    return data["entries"]


def _write_cache(path: Path, key: str, entry: dict[str, Any]) -> None:
    entries = _read_cache(path)
    entries[key] = entry
    text = json.dumps({"format": CACHE_FORMAT, "entries": entries}, indent=1, sort_keys=True)
    try:
        atomic_write_text(path, text + "\n")
    except OSError as exc:
        logger.warning("kernels: could not write the kernel cache %s (%s)", path, exc)


def select(
    op_name: str,
    shape_key: str,
    candidates: Sequence[str] | Mapping[str, Candidate],
    make_inputs: Callable[[], tuple],
    *,
    backward: bool = False,
    budget_s: float = 0.2,
    use_cache: bool = True,
    kind: str | None = None,
) -> str:
    """The fastest candidate that agrees with ``plain``, cached per machine.

    Args:
        op_name: the operation, e.g. ``"dis/highway"``.
        shape_key: its shape, e.g. :func:`linear_shape_key`.
        candidates, make_inputs, backward, budget_s: as :func:`measure`.
        use_cache: look up and store the choice in :func:`cache_path` (JSON, atomic writes).

    Returns:
        A candidate name; ``plain`` unless another is verified and at least 5% faster.
    """
    names = list(_resolve(candidates))
    kind = kind or ("train" if backward else "infer")
    key = f"{machine_key()}|{op_name}|{shape_key}|{kind}"
    cached = _cached_choice(key, names) if use_cache else None
    if cached is not None:
        return cached
    timings = measure(candidates, make_inputs, backward=backward, budget_s=budget_s)
    choice = _fastest(timings)
    for t in timings.values():
        if t.reason:
            logger.info("kernels: %s %s: %s rejected (%s)", op_name, shape_key, t.name, t.reason)
    logger.info(
        "kernels: %s %s -> %s (%s)",
        op_name,
        shape_key,
        choice,
        ", ".join(f"{t.name} {t.seconds * 1e3:.3f} ms" for t in timings.values() if t.seconds),
    )
    if use_cache and timings["plain"].seconds is not None:
        _store_choice(key, choice, {t.name: t.seconds for t in timings.values()})
    return choice


def _cached_choice(key: str, names: Sequence[str]) -> str | None:
    """The cached choice of ``key`` if it is one of ``names``."""
    entry = _read_cache(cache_path()).get(key)
    if isinstance(entry, dict) and entry.get("choice") in names:
        return str(entry["choice"])
    return None


def _store_choice(key: str, choice: str, seconds: Mapping[str, float | None]) -> None:
    """Cache a measured choice, unless the machine was busy (then warn once)."""
    if _busy():
        _warn_busy()
        return
    entry = {"choice": choice, "seconds": dict(seconds), "measured": time.time()}
    _write_cache(cache_path(), key, entry)


_warned_busy = False


def _warn_busy() -> None:
    global _warned_busy
    if not _warned_busy:
        logger.warning(
            "kernels: other processes are using this machine's cores (load average %.1f), so "
            "kernel timings are noisy: this run records its choices, but they are not cached "
            "for later runs (%s)",
            os.getloadavg()[0],
            cache_path(),
        )
        _warned_busy = True


def select_value(
    op_name: str,
    shape_key: str,
    candidates: Mapping[str, Callable[[], Any]],
    default: str,
    budget_s: float = 0.2,
    use_cache: bool = True,
) -> str:
    """The fastest of ``candidates`` (callables doing the same work a different way, e.g. with
    another block size; no output is compared), cached per machine like :func:`select`;
    ``default`` unless another is at least 5% faster."""
    key = f"{machine_key()}|{op_name}|{shape_key}|value"
    cached = _cached_choice(key, list(candidates)) if use_cache else None
    if cached is not None:
        return cached
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for fn in candidates.values():
        fn()  # warm-up (and any nested measurement)
    start, rounds = time.perf_counter(), 0
    while rounds < 15:
        for name, fn in candidates.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
        rounds += 1
        spent = time.perf_counter() - start
        if (spent >= budget_s and rounds >= 3) or spent >= 2 * budget_s:
            break
    seconds = {name: statistics.median(times) for name, times in samples.items()}
    choice = default
    for name, s in seconds.items():
        if s < seconds[choice] * (1 - _MARGIN):
            choice = name
    logger.info(
        "kernels: %s %s -> %s (%s)",
        op_name,
        shape_key,
        choice,
        ", ".join(f"{n} {s * 1e3:.3f} ms" for n, s in seconds.items()),
    )
    if use_cache:
        _store_choice(key, choice, seconds)
    return choice


# -- plans ----------------------------------------------------------------------------------
def linear_shape_key(rows: int, in_features: int, out_features: int) -> str:
    """``"128x1720x3440"``: rows rounded up to a power of two (one measurement per bucket)."""
    bucket = 1 << max(int(rows) - 1, 0).bit_length()
    return f"{bucket}x{int(in_features)}x{int(out_features)}"


def _linear_inputs(rows: int, k: int, n: int, bias: bool, grad: bool) -> Callable[[], tuple]:
    def make() -> tuple:
        g = torch.Generator().manual_seed(0)  # never the global RNG: measuring draws nothing
        x = torch.randn(rows, k, generator=g)
        w = torch.randn(n, k, generator=g) / math.sqrt(k)
        b = torch.randn(n, generator=g) * 0.1 if bias else None
        return tuple(t.requires_grad_(grad) if t is not None else None for t in (x, w, b))

    return make


@dataclass
class KernelPlan:
    """The kernel of every (op, shape): ``"op/shape/train|infer" -> candidate``.

    ``mode="plain"`` never measures and always answers ``plain``; ``mode="auto"`` answers a
    recorded choice, and measures (:func:`select`) and records a new (op, shape). Store
    :meth:`to_dict` in the run directory and rebuild with :meth:`from_dict` on resume and in
    ``eval``: the same choices, hence the same bits, whatever the timing noise. A plan is
    shared, not copied, when a model holding it is deep-copied.
    """

    mode: str = "auto"
    choices: dict[str, str] = field(default_factory=dict)
    budget_s: float = 0.2
    #: "op/shape" -> row-block size (the sampler's), measured like the kernels
    blocks: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(
                f"unknown kernel plan mode {self.mode!r}; choose one of {', '.join(MODES)}"
            )
        for key, choice in self.choices.items():
            if choice not in LINEAR_CANDIDATES:
                raise ValueError(
                    f"kernel plan entry {key!r}: unknown kernel {choice!r}; "
                    f"known: {', '.join(LINEAR_CANDIDATES)}"
                )
        for key, rows in self.blocks.items():
            if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
                raise ValueError(f"kernel plan block {key!r}: {rows!r} is not a positive int")

    @classmethod
    def plain(cls) -> KernelPlan:
        """The plan that pins ``plain`` everywhere (no measurement)."""
        return cls(mode="plain")

    @classmethod
    def auto(cls) -> KernelPlan:
        return cls(mode="auto")

    def __deepcopy__(self, memo: dict) -> KernelPlan:
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data: format, mode, choices and the machine they were measured on."""
        return {
            "format": PLAN_FORMAT,
            "mode": self.mode,
            "machine": machine_key(),
            "choices": dict(sorted(self.choices.items())),
            "blocks": dict(sorted(self.blocks.items())),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KernelPlan:
        """Rebuild a plan from :meth:`to_dict`; a ValueError names the key at fault."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a kernel plan must be a mapping, got {type(data).__name__}")
        if data.get("format", PLAN_FORMAT) != PLAN_FORMAT:
            raise ValueError(f"kernel plan format {data.get('format')!r} is not {PLAN_FORMAT!r}")
        choices = data.get("choices", {})
        if not isinstance(choices, Mapping) or not all(isinstance(k, str) for k in choices):
            raise ValueError("kernel plan 'choices' must map 'op/shape/mode' strings to kernels")
        if data.get("machine") not in (None, machine_key()):
            logger.info("kernels: plan measured on %s, used on %s", data["machine"], machine_key())
        blocks = data.get("blocks", {})
        if not isinstance(blocks, Mapping) or not all(isinstance(k, str) for k in blocks):
            raise ValueError("kernel plan 'blocks' must map 'op/shape' strings to row counts")
        return cls(mode=str(data.get("mode", "auto")), choices=dict(choices), blocks=dict(blocks))

    def choose(
        self,
        op_name: str,
        x: Tensor,
        weight: Tensor,
        bias: Tensor | None = None,
        *,
        backward: bool | None = None,
    ) -> str:
        """The kernel for ``F.linear(x, weight, bias)`` under ``op_name`` (measured once).

        ``backward`` defaults to "grad is enabled and some argument requires it".
        """
        if self.mode == "plain":
            return "plain"
        if backward is None:
            backward = torch.is_grad_enabled() and any(
                t is not None and t.requires_grad for t in (x, weight, bias)
            )
        rows = x.numel() // max(x.shape[-1], 1)
        shape = linear_shape_key(rows, weight.shape[1], weight.shape[0])
        frozen = not backward and not (
            weight.requires_grad or (bias is not None and bias.requires_grad)
        )
        kind = "train" if backward else "frozen" if frozen else "infer"
        key = f"{op_name}/{shape}/{kind}"
        choice = self.choices.get(key)
        if choice is None:
            if (
                not _onednn_usable(x, weight, bias)
                or not onednn_available()
                or rows * weight.shape[0] * weight.shape[1] < MIN_MACS
            ):
                return "plain"  # nothing to choose (and nothing recorded)
            bucket = int(shape.split("x")[0])
            make = _linear_inputs(
                bucket, weight.shape[1], weight.shape[0], bias is not None, backward
            )
            choice = select(
                op_name,
                shape,
                default_candidates(backward, frozen),
                make,
                backward=backward,
                budget_s=self.budget_s,
                kind=kind,
            )
            self.choices[key] = choice
        return choice


    def block_rows(
        self,
        op_name: str,
        shape_key: str,
        run: Callable[[int], Any],
        default: int,
        candidates: Sequence[int] = BLOCK_CANDIDATES,
    ) -> int:
        """The fastest row-block size for ``op_name`` at ``shape_key`` (measured once).

        ``run(block)`` does a representative unit of the work with that block size; ``plain``
        mode answers ``default`` without measuring.
        """
        if self.mode == "plain":
            return default
        key = f"{op_name}/{shape_key}"
        rows = self.blocks.get(key)
        if rows is None:
            timed = {str(b): (lambda b=b: run(b)) for b in sorted({*candidates, default})}
            rows = int(select_value(op_name, shape_key, timed, str(default), self.budget_s))
            self.blocks[key] = rows
        return rows


def stored_plan(stored: Any, mode: str, where: str) -> KernelPlan:
    """The plan a checkpoint recorded (``stored``: its ``kernel_plan`` entry), for a run's
    ``kernels`` setting ``mode``: ``plain`` pins plain; a checkpoint without a plan was
    written with plain kernels. A bad entry raises ValueError naming ``where``."""
    if mode == "plain" or stored is None:
        return KernelPlan.plain()
    try:
        return KernelPlan.from_dict(stored)
    except ValueError as exc:
        raise ValueError(f"{where}: kernel_plan: {exc}") from None


# -- the plan in use ------------------------------------------------------------------------
_ACTIVE: list[KernelPlan] = [KernelPlan(mode="plain")]


def active_plan() -> KernelPlan:
    """The plan the models' hot operations consult (``plain`` unless a run set one)."""
    return _ACTIVE[-1]


@contextmanager
def use_plan(plan: KernelPlan) -> Iterator[KernelPlan]:
    """Make ``plan`` the active one inside the block (nestable)."""
    _ACTIVE.append(plan)
    try:
        yield plan
    finally:
        _ACTIVE.pop()


def set_plan(plan: KernelPlan) -> None:
    """Make ``plan`` the active one until the next call (a run's whole life)."""
    _ACTIVE[0] = plan


def linear(op_name: str, x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``F.linear(x, weight, bias)`` by the active plan's kernel for ``op_name`` at this shape."""
    plan = _ACTIVE[-1]
    if plan.mode == "plain":
        return F.linear(x, weight, bias)
    return fast_linear(x, weight, bias, plan.choose(op_name, x, weight, bias))


def block_rows(
    op_name: str,
    shape_key: str,
    run: Callable[[int], Any],
    default: int,
    candidates: Sequence[int] = BLOCK_CANDIDATES,
) -> int:
    """The active plan's row-block size for ``op_name`` (see :meth:`KernelPlan.block_rows`)."""
    return _ACTIVE[-1].block_rows(op_name, shape_key, run, default, candidates)


class KernelLinear(nn.Linear):
    """``nn.Linear`` whose GEMM kernel comes from a :class:`KernelPlan` (same state_dict).

    Args:
        in_features, out_features, bias: as ``nn.Linear``.
        op_name: the name under which the plan records this layer's choice.
        plan: the run's plan (default: pinned ``plain``).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        op_name: str,
        plan: KernelPlan | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(in_features, out_features, bias, **kwargs)
        self.op_name = op_name
        self.plan = plan if plan is not None else KernelPlan.plain()

    @classmethod
    def from_linear(
        cls, linear: nn.Linear, op_name: str, plan: KernelPlan | None = None
    ) -> KernelLinear:
        """A KernelLinear sharing ``linear``'s parameters."""
        layer = cls(
            linear.in_features,
            linear.out_features,
            linear.bias is not None,
            op_name=op_name,
            plan=plan,
            device="meta",
        )
        layer.weight, layer.bias = linear.weight, linear.bias
        return layer

    def forward(self, x: Tensor) -> Tensor:
        """(..., in_features) -> (..., out_features)."""
        choice = self.plan.choose(self.op_name, x, self.weight, self.bias)
        return fast_linear(x, self.weight, self.bias, choice)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, op_name={self.op_name!r}, plan={self.plan.mode!r}"
