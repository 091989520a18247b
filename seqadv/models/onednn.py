"""Exact fp32 ``y = x @ W^T + b`` through oneDNN, forward and backward.

Candidates of :mod:`seqadv.models.kernels` (which chooses among them by measurement):

* ``plain`` -- ``torch.nn.functional.linear`` (MKL's sgemm). Native autograd.
* ``onednn`` -- ``torch.ops.mkldnn._linear_pointwise`` on the dense weight (oneDNN reorders
  it on each call). Autograd through :class:`_OneDNNLinear`: ``grad_x = g @ W`` and
  ``grad_W = g^T @ x`` are oneDNN GEMMs too (that op has no autograd kernel of its own: called
  directly, it silently returns no gradient).
* ``onednn_packed`` -- the same with the weight prepacked once by
  ``torch.ops.mkldnn._reorder_linear_weight`` and cached until the weight changes (its
  ``_version`` bumps, as every optimizer step and ``load_state_dict`` do).

Non-fp32 inputs, CPU autocast, tensors off the CPU, or a torch without oneDNN fall back to
``plain`` (a float64 model stays float64).
"""

from __future__ import annotations

import logging
import weakref
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = ["LINEAR_CANDIDATES", "fast_linear", "onednn_available"]

logger = logging.getLogger("seqadv")

LINEAR_CANDIDATES: tuple[str, ...] = ("plain", "onednn", "onednn_packed")
_warned_unavailable = False

# -- the oneDNN path ------------------------------------------------------------------------
def _has_onednn_ops() -> bool:
    try:
        torch.ops.mkldnn._linear_pointwise.default  # noqa: B018 - raises when absent
        torch.ops.mkldnn._reorder_linear_weight.default  # noqa: B018
    except (AttributeError, RuntimeError):
        return False
    return torch.backends.mkldnn.is_available()


_HAS_ONEDNN_OPS = _has_onednn_ops()


def onednn_available() -> bool:
    """Whether this torch has oneDNN's linear ops and oneDNN is enabled."""
    return _HAS_ONEDNN_OPS and bool(torch.backends.mkldnn.enabled)


def _lp(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


class _OneDNNLinear(torch.autograd.Function):
    """``x @ W^T + b`` through oneDNN, forward and backward (``packed``: W prepacked or None)."""

    @staticmethod
    def forward(
        ctx: Any, x: Tensor, weight: Tensor, bias: Tensor | None, packed: Tensor | None
    ) -> Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return _lp(x, weight if packed is None else packed, bias)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        g = grad.reshape(-1, grad.shape[-1])
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = _lp(g, weight.t(), None).view(x.shape)  # (M, N) @ (N, K)
        if ctx.needs_input_grad[1]:
            gw = _lp(g.t(), x.reshape(-1, x.shape[-1]).t(), None)  # (N, M) @ (M, K)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gb = g.sum(0)
        return gx, gw, gb, None


# (data_ptr, shape, stride) -> (weakref to the weight's base, its _version, packed weight)
_PACKED: dict[tuple, tuple[weakref.ref, int, Tensor]] = {}
_PACKED_MAX = 64


def _packed_weight(weight: Tensor) -> Tensor | None:
    """The prepacked copy of ``weight``, repacked when it changed; None if untrackable."""
    try:
        version = weight._version
    except RuntimeError:  # an inference-mode tensor has no version counter: do not cache
        return None
    base = weight._base if weight._base is not None else weight
    key = (weight.data_ptr(), tuple(weight.shape), weight.stride(), weight.dtype)
    entry = _PACKED.get(key)
    if entry is not None and entry[0]() is base and entry[1] == version:
        return entry[2]
    packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach().contiguous())

    def forget(ref: weakref.ref, key: tuple = key) -> None:
        if key in _PACKED and _PACKED[key][0] is ref:
            del _PACKED[key]

    _PACKED.pop(key, None)
    while len(_PACKED) >= _PACKED_MAX:
        _PACKED.pop(next(iter(_PACKED)))
    _PACKED[key] = (weakref.ref(base, forget), version, packed)
    return packed


def _onednn_usable(x: Tensor, weight: Tensor, bias: Tensor | None) -> bool:
    tensors = (x, weight) if bias is None else (x, weight, bias)
    return (
        all(t.dtype == torch.float32 and t.device.type == "cpu" for t in tensors)
        and weight.dim() == 2
        and x.dim() >= 1
        and x.shape[-1] == weight.shape[1]
        and x.numel() > 0
        and not torch.is_autocast_enabled("cpu")
    )


def fast_linear(
    x: Tensor, weight: Tensor, bias: Tensor | None = None, choice: str = "plain"
) -> Tensor:
    """``F.linear(x, weight, bias)`` by the kernel ``choice`` (one of :data:`LINEAR_CANDIDATES`).

    Args:
        x: (..., K) input, any strides.
        weight: (N, K).
        bias: (N,) or None.
        choice: the candidate; non-fp32, autocast or non-CPU inputs always run ``plain``.

    Returns:
        (..., N); differentiable with respect to x, weight and bias for every choice.
    """
    global _warned_unavailable
    if choice == "plain":
        return F.linear(x, weight, bias)
    if choice not in LINEAR_CANDIDATES:
        raise ValueError(f"unknown kernel {choice!r}; choose one of {', '.join(LINEAR_CANDIDATES)}")
    if not onednn_available():
        if not _warned_unavailable:
            logger.warning("kernel %r needs oneDNN, which this torch lacks: using 'plain'", choice)
            _warned_unavailable = True
        return F.linear(x, weight, bias)
    if not _onednn_usable(x, weight, bias):
        return F.linear(x, weight, bias)
    packed = _packed_weight(weight) if choice == "onednn_packed" else None
    grads = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (x, weight, bias)
    )
    if grads:
        return _OneDNNLinear.apply(x, weight, bias, packed)
    return _lp(x, weight if packed is None else packed, bias)
