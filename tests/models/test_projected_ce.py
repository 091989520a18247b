"""seqadv.models.projected_ce: the block-wise cross-entropy equals F.cross_entropy."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from seqadv.models.projected_ce import projected_cross_entropy, projected_nll


def make(rows=37, hidden=8, vocab=13, dtype=torch.float64, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    h = (torch.randn(rows, hidden, generator=g, dtype=dtype) * scale).requires_grad_()
    w = torch.randn(vocab, hidden, generator=g, dtype=dtype).requires_grad_()
    b = torch.randn(vocab, generator=g, dtype=dtype).requires_grad_()
    y = torch.randint(0, vocab, (rows,), generator=g)
    return h, w, b, y


def reference(h, w, b, y):
    return F.cross_entropy(F.linear(h, w, b), y, reduction="none")


@pytest.mark.parametrize("block", [1, 5, 16, 37, 128])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_values_and_gradients_equal_cross_entropy(block, dtype):
    h, w, b, y = make(dtype=dtype)
    upstream = torch.rand(h.shape[0], generator=torch.Generator().manual_seed(9), dtype=dtype)
    ours = projected_cross_entropy(h, w, b, y, block=block)
    ref = reference(h, w, b, y)
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-10}
    torch.testing.assert_close(ours, ref, **tol)
    g_ours = torch.autograd.grad((ours * upstream).sum(), (h, w, b))
    g_ref = torch.autograd.grad((ref * upstream).sum(), (h, w, b))
    for a, r in zip(g_ours, g_ref):
        torch.testing.assert_close(a, r, **tol)
    assert ours.dtype == dtype and ours.shape == (h.shape[0],)


def test_gradients_only_for_what_requires_them():
    h, w, b, y = make()
    w.requires_grad_(False)
    loss = projected_cross_entropy(h, w, b, y).sum()
    gh, gb = torch.autograd.grad(loss, (h, b))
    ref_h, ref_b = torch.autograd.grad(reference(h, w, b, y).sum(), (h, b))
    torch.testing.assert_close(gh, ref_h)
    torch.testing.assert_close(gb, ref_b)


def test_mean_reduction_through_backward_matches():
    h, w, b, y = make(rows=64, vocab=50)
    projected_cross_entropy(h, w, b, y, block=10).mean().backward()
    ours = [t.grad.clone() for t in (h, w, b)]
    for t in (h, w, b):
        t.grad = None
    F.cross_entropy(F.linear(h, w, b), y).backward()
    for a, t in zip(ours, (h, w, b)):
        torch.testing.assert_close(a, t.grad)


def test_underflowed_probabilities_give_the_exact_large_loss():
    """exp underflows to 0 for the target: the loss is recovered from the log-normalizer."""
    h, w, b, y = make(rows=6, scale=60.0, dtype=torch.float32)
    logits = F.linear(h, w, b)
    y = logits.argmin(dim=1)  # the least likely token: probability ~ exp(-thousands)
    ours = projected_cross_entropy(h, w, b, y, block=4)
    ref = reference(h, w, b, y)
    assert torch.isfinite(ours).all() and (ours > 100).all()
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(projected_nll(h, w, b, y, block=4), ref, rtol=1e-5, atol=1e-3)


def test_minus_inf_bias_entries_are_forbidden_tokens():
    h, w, b, y = make(vocab=9)
    mask = torch.zeros(9, dtype=torch.float64)
    mask[[0, 1]] = float("-inf")
    bias = b + mask
    y = y.clamp(min=2)
    ours = projected_cross_entropy(h, w, bias, y, block=8)
    ref = reference(h, w, bias, y)
    torch.testing.assert_close(ours, ref)
    g_ours = torch.autograd.grad(ours.sum(), (h, w, b))
    g_ref = torch.autograd.grad(ref.sum(), (h, w, b))
    for a, r in zip(g_ours, g_ref):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, r)
    assert g_ours[2][:2].abs().max() == 0  # no gradient flows to forbidden logits
    forbidden_target = projected_cross_entropy(h[:1], w, bias, torch.tensor([0]))
    assert torch.isinf(forbidden_target).all() and forbidden_target.item() > 0


def test_non_contiguous_hidden():
    h, w, b, y = make(rows=8, hidden=6)
    ht = h.detach().T.contiguous().T.requires_grad_()  # same values, transposed strides
    assert not ht.is_contiguous()
    torch.testing.assert_close(
        projected_cross_entropy(ht, w, b, y, block=3), reference(ht, w, b, y)
    )


@pytest.mark.parametrize("block", [1, 7, 128])
def test_projected_nll_equals_cross_entropy_without_a_graph(block):
    h, w, b, y = make()
    out = projected_nll(h, w, b, y, block=block)
    assert not out.requires_grad
    torch.testing.assert_close(out, reference(h, w, b, y).detach())
    before = (h.clone(), w.clone(), b.clone())
    projected_nll(h, w, b, y, block=block)
    for x, x0 in zip((h, w, b), before):
        assert torch.equal(x, x0), "inputs must not be modified"


def test_second_backward_fails_loudly():
    """The backward reuses its buffer in place: running it twice must not be silently wrong."""
    h, w, b, y = make()
    loss = projected_cross_entropy(h, w, b, y).sum()
    first = torch.autograd.grad(loss, (h,), retain_graph=True)[0]
    torch.testing.assert_close(first, torch.autograd.grad(reference(h, w, b, y).sum(), (h,))[0])
    with pytest.raises(RuntimeError):
        torch.autograd.grad(loss, (h,))


def test_double_backward_fails_loudly():
    """Second derivatives are not implemented: an error, never a silent zero."""
    h, w, b, y = make()
    loss = projected_cross_entropy(h, w, b, y).sum()
    with pytest.raises(RuntimeError):
        grad = torch.autograd.grad(loss, (h,), create_graph=True)[0]
        torch.autograd.grad(grad.sum(), (h,), allow_unused=True)


def test_empty_input():
    h, w, b, y = make(rows=0)
    assert projected_cross_entropy(h, w, b, y).shape == (0,)
    assert projected_nll(h, w, b, y).shape == (0,)
