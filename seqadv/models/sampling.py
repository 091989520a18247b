"""Fast categorical sampling for large vocabularies on the CPU.

``torch.multinomial`` over 5,000 logits is slow on this CPU. Inverse-CDF sampling draws the
same distribution: exponentiate the shifted logits, take the cumulative sum, draw one uniform
per row and binary-search it in the cumulative sum (two-level: first the chunk of about
sqrt(V) tokens, then the token inside it). Done in row blocks of about 64 rows at
V = 5000 so that the block stays in cache, it is several times faster than one huge batch
(see DESIGN.md, "Reward modes").
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

from seqadv.models import kernels

__all__ = ["sample_logits", "sample_projected", "DEFAULT_BLOCK_ROWS", "projected_block_rows"]

DEFAULT_BLOCK_ROWS = 64  #: the block under ``kernels: plain`` (and the default to beat)
_MEASURE_ROWS = 1024  # rows of the representative sampling call a block size is timed on


@functools.lru_cache(maxsize=64)
def _chunk_size(vocab_size: int) -> int:
    """A divisor of ``vocab_size`` near its square root (1 when there is none)."""
    root = math.isqrt(vocab_size)
    for k in sorted(range(max(2, root // 2), 2 * root + 1), key=lambda k: abs(k - root)):
        if vocab_size % k == 0:
            return k
    return 1


def _inverse_cdf(logits: Tensor, uniforms: Tensor) -> Tensor:
    """One draw per row of ``logits`` (R, V) using ``uniforms`` (R,) in [0, 1).

    Two-level search: the softmax is summed in chunks of about sqrt(V) columns, the chunk is
    found in the cumulative sum of chunk totals, then the token inside that chunk. This reads
    the (R, V) weights once instead of running a V-long cumulative sum per row.
    """
    rows, vocab = logits.shape
    weights = torch.softmax(logits, dim=1)
    k = _chunk_size(vocab)
    if k == 1:
        cdf = torch.cumsum(weights, dim=1)
        targets = (uniforms * cdf[:, -1]).unsqueeze(1)
        return torch.searchsorted(cdf, targets, right=True).squeeze(1).clamp_(max=vocab - 1)
    n_chunks = vocab // k
    chunks = weights.view(rows, n_chunks, k)
    chunk_cdf = chunks.sum(dim=2).cumsum_(dim=1)
    targets = (uniforms * chunk_cdf[:, -1]).unsqueeze(1)
    chunk = torch.searchsorted(chunk_cdf, targets, right=True).clamp_(max=n_chunks - 1)
    before = chunk_cdf.gather(1, (chunk - 1).clamp_(min=0)).masked_fill_(chunk == 0, 0.0)
    inside = chunks[torch.arange(rows, device=logits.device), chunk.squeeze(1)].cumsum_(dim=1)
    offset = torch.searchsorted(inside, targets - before, right=True)
    # Rounding (the chunk totals and the cumulative sum inside a chunk are summed in different
    # orders) can put the target at or past the chunk's own total: clamp to the chunk's last
    # token of positive weight, never to a zero-probability (e.g. forbidden) token after it.
    last_positive = (inside < inside[:, -1:]).sum(dim=1, keepdim=True)
    offset = torch.minimum(offset, last_positive)
    return (chunk * k + offset).squeeze(1)


def sample_logits(
    logits: Tensor,
    generator: torch.Generator | None = None,
    temperature: float = 1.0,
    block_rows: int = DEFAULT_BLOCK_ROWS,
) -> Tensor:
    """Draw one category per row from unnormalized ``logits``.

    Args:
        logits: (R, V) float tensor.
        generator: the explicit source of randomness (one uniform per row is drawn).
        temperature: divides the logits; 1.0 samples the model's own distribution.
        block_rows: rows processed together (cache-sized blocks are fastest).

    Returns:
        (R,) int64 category ids.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    rows = logits.shape[0]
    uniforms = torch.rand(rows, generator=generator, dtype=logits.dtype, device=logits.device)
    out = torch.empty(rows, dtype=torch.long, device=logits.device)
    with torch.no_grad():
        for start in range(0, rows, block_rows):
            block = logits[start : start + block_rows]
            if temperature != 1.0:
                block = block / temperature
            out[start : start + block_rows] = _inverse_cdf(
                block, uniforms[start : start + block_rows]
            )
    return out


def sample_projected(
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    generator: torch.Generator | None = None,
    temperature: float = 1.0,
    block_rows: int | None = None,
    logit_mask: Tensor | None = None,
    uniforms: Tensor | None = None,
) -> Tensor:
    """Sample from ``softmax((hidden @ weight.T + bias) / temperature)`` block by block.

    The (R, V) logits are never materialized at once: each block of rows is projected,
    exponentiated, summed and searched while it is in cache.

    Args:
        hidden: (R, H) states.
        weight: (V, H) output-layer weight; ``bias``: (V,) or None.
        block_rows: rows projected and searched together; None: the active kernel plan's
            measured choice for this (V, H) (:func:`projected_block_rows`).
        logit_mask: optional (V,) additive mask (``-inf`` forbids a token).
        uniforms: (R,) the uniforms in [0, 1) to invert (default: R drawn from ``generator``).

    Returns:
        (R,) int64 token ids.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    rows = hidden.shape[0]
    if uniforms is None:
        uniforms = torch.rand(rows, generator=generator, dtype=hidden.dtype, device=hidden.device)
    out = torch.empty(rows, dtype=torch.long, device=hidden.device)
    scale = 1.0 / temperature
    if block_rows is None:
        block_rows = projected_block_rows(weight, bias, rows)
    with torch.no_grad():
        for start in range(0, rows, block_rows):
            h = hidden[start : start + block_rows]
            logits = kernels.linear("gen/output", h, weight, bias)
            if scale != 1.0:
                logits.mul_(scale)
            if logit_mask is not None:
                logits.add_(logit_mask)
            out[start : start + block_rows] = _inverse_cdf(
                logits, uniforms[start : start + block_rows]
            )
    return out


def projected_block_rows(weight: Tensor, bias: Tensor | None, rows: int) -> int:
    """The row block of :func:`sample_projected` for this output layer: the active kernel
    plan's measured fastest (timed once per machine on a 1,024-row call with each candidate),
    :data:`DEFAULT_BLOCK_ROWS` under a ``plain`` plan or for calls of at most one block."""
    if rows <= DEFAULT_BLOCK_ROWS or weight.dtype != torch.float32 or weight.device.type != "cpu":
        return DEFAULT_BLOCK_ROWS
    vocab, hidden = weight.shape
    if vocab * hidden * _MEASURE_ROWS < kernels.MIN_MACS:  # too small for the block to matter
        return DEFAULT_BLOCK_ROWS

    def run(block: int) -> None:
        g = torch.Generator().manual_seed(0)  # its own stream: measuring draws nothing
        h = torch.randn(_MEASURE_ROWS, hidden, generator=g)
        sample_projected(
            h, weight.detach(), None if bias is None else bias.detach(), g, block_rows=block
        )

    return kernels.block_rows("gen/sample", f"{vocab}x{hidden}", run, DEFAULT_BLOCK_ROWS)
