"""Cross-entropy of a large output layer, computed block by block.

``F.cross_entropy(F.linear(h, W, b), y)`` builds (M, V) logits, then their log-softmax, then
in the backward pass the softmax again and the gradient: at M = 1,280 rows (a batch of 64
sequences of 20 tokens) and V = 5,000, several 25 MB arrays that never stay in cache. Here
each block of rows is projected, normalized in place into probabilities while it is in cache,
and kept; the backward pass turns them into the logits' gradient in place (softmax minus
one-hot) and does the two matrix products. Same values to float rounding; see
``experiments/benchmarks/mle.py`` for the speed-up.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from seqadv.models import kernels

__all__ = ["projected_cross_entropy", "projected_nll"]

DEFAULT_BLOCK = 128


def _block_probs(hidden: Tensor, weight_t: Tensor, bias: Tensor, out: Tensor) -> Tensor:
    """Softmax of ``hidden @ weight_t + bias`` written into ``out``; returns log-normalizers."""
    if kernels.active_plan().mode == "plain":
        torch.addmm(bias, hidden, weight_t, out=out)
    else:
        out.copy_(kernels.linear("gen/output", hidden, weight_t.t(), bias))
    top = out.amax(dim=1, keepdim=True)
    out.sub_(top).exp_()
    total = out.sum(dim=1, keepdim=True)
    out.div_(total)
    return (total.log_() + top).squeeze(1)


class _ProjectedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden: Tensor, weight: Tensor, bias: Tensor, targets: Tensor, block: int):
        rows, vocab = hidden.shape[0], weight.shape[0]
        probs = torch.empty(rows, vocab, dtype=hidden.dtype, device=hidden.device)
        losses = torch.empty(rows, dtype=hidden.dtype, device=hidden.device)
        weight_t = weight.t()
        for s in range(0, rows, block):
            blk = probs[s : s + block]
            lse = _block_probs(hidden[s : s + block], weight_t, bias, blk)
            losses[s : s + block] = -blk.gather(1, targets[s : s + block, None]).squeeze(1).log()
            # log p(y) directly from logits would be exact; recover it from the normalizer
            # when the probability underflowed.
            small = losses[s : s + block].isinf()
            if bool(small.any()):
                h = hidden[s : s + block][small]
                logit = (h * weight[targets[s : s + block][small]]).sum(1) + bias[
                    targets[s : s + block][small]
                ]
                losses[s : s + block][small] = lse[small] - logit
        ctx.save_for_backward(hidden, weight, probs, targets)
        return losses

    @staticmethod
    @once_differentiable  # the backward is not itself differentiable: fail loudly, not silently
    def backward(ctx, grad_losses: Tensor):
        hidden, weight, probs, targets = ctx.saved_tensors
        # dL/dlogits = (softmax - onehot) * dL/dloss, built in place in the saved buffer.
        probs[torch.arange(probs.shape[0]), targets] -= 1.0
        probs.mul_(grad_losses[:, None])
        # probs @ W and probs^T @ h, by the kernel plan (F.linear(x, A) is x @ A^T)
        grad_h = (
            kernels.linear("gen/output-grad-h", probs, weight.t())
            if ctx.needs_input_grad[0]
            else None
        )
        grad_w = (
            kernels.linear("gen/output-grad-w", probs.t(), hidden.t())
            if ctx.needs_input_grad[1]
            else None
        )
        grad_b = probs.sum(dim=0) if ctx.needs_input_grad[2] else None
        return grad_h, grad_w, grad_b, None, None


def projected_cross_entropy(
    hidden: Tensor, weight: Tensor, bias: Tensor, targets: Tensor, block: int = DEFAULT_BLOCK
) -> Tensor:
    """Per-row cross-entropy of ``softmax(hidden @ weight.T + bias)`` at ``targets``.

    The backward pass may run once (it reuses the forward's buffer in place).

    Args:
        hidden: (M, H) float rows.
        weight: (V, H) output-layer weight; ``bias``: (V,).
        targets: (M,) int64 token ids.
        block: rows normalized together.

    Returns:
        (M,) losses, differentiable with respect to hidden, weight and bias.
    """
    return _ProjectedCrossEntropy.apply(hidden.contiguous(), weight, bias, targets, block)


@torch.no_grad()
def projected_nll(
    hidden: Tensor, weight: Tensor, bias: Tensor, targets: Tensor, block: int = DEFAULT_BLOCK
) -> Tensor:
    """Per-row negative log-likelihood (M,) without a graph and without keeping (M, V)."""
    rows = hidden.shape[0]
    out = torch.empty(rows, dtype=hidden.dtype, device=hidden.device)
    for s in range(0, rows, block):
        logits = kernels.linear("gen/output", hidden[s : s + block], weight, bias)
        picked = logits.gather(1, targets[s : s + block, None]).squeeze(1)
        top = logits.amax(dim=1, keepdim=True)
        lse = logits.sub_(top).exp_().sum(dim=1).log_() + top.squeeze(1)
        out[s : s + block] = lse - picked
    return out
