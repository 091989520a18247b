"""The models' hot GEMMs under a plan that picks oneDNN everywhere equal the plain path to 1e-5
(values and gradients), and a plain plan is bit-for-bit the code before plans existed."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from seqadv.models import kernels
from seqadv.models.cnn_discriminator import CNNDiscriminator
from seqadv.models.generator import LSTMGenerator
from seqadv.models.projected_ce import projected_cross_entropy, projected_nll
from seqadv.models.sampling import sample_projected

pytestmark = pytest.mark.skipif(not kernels.onednn_available(), reason="torch without oneDNN")
TOL = {"rtol": 1e-5, "atol": 1e-5}


class Everywhere(kernels.KernelPlan):
    """A plan that answers ``choice`` for every GEMM and counts the ops it was asked about."""

    def __init__(self, choice: str) -> None:
        super().__init__(mode="auto")
        self.choice, self.ops = choice, set()

    def choose(self, op_name, x, weight, bias=None, *, backward=None):
        self.ops.add(op_name)
        return self.choice


def discriminator():
    torch.manual_seed(0)
    return CNNDiscriminator(
        50, 12, embedding_dim=16, filter_sizes=(1, 2, 5), num_filters=(6, 8, 4)
    ).eval()


def grads(model, loss_fn):
    model.zero_grad()
    loss_fn().backward()
    return [p.grad.clone() for p in model.parameters() if p.grad is not None]


@pytest.mark.parametrize("choice", ["onednn", "onednn_packed"])
def test_the_cnn_discriminator_agrees_with_plain(choice):
    model = discriminator()
    seqs = torch.randint(0, 50, (40, 12), generator=torch.Generator().manual_seed(1))
    labels = (torch.arange(40) % 2).float()
    loss = lambda: F.binary_cross_entropy_with_logits(model(seqs), labels)
    want, want_grads = model(seqs).detach(), grads(model, loss)
    want_shared = model.logits_shared_prefix(seqs, 5, 4)
    plan = Everywhere(choice)
    with kernels.use_plan(plan):
        got, got_grads = model(seqs).detach(), grads(model, loss)
        got_shared = model.logits_shared_prefix(seqs, 5, 4)
    assert {"dis/highway", "dis/conv1", "dis/conv5", "dis/conv2-grad-w"} <= plan.ops
    torch.testing.assert_close(got, want, **TOL)
    torch.testing.assert_close(got_shared, want_shared, **TOL)
    for a, b in zip(got_grads, want_grads, strict=True):
        torch.testing.assert_close(a, b, **TOL)


def test_the_generator_agrees_with_plain():
    torch.manual_seed(0)
    gen = LSTMGenerator(vocab_size=300, max_len=10, embed_dim=16, hidden_dim=24)
    seqs = gen.sample(32, generator=torch.Generator().manual_seed(2))
    want_loss, want_grads = gen.mle_loss(seqs).item(), grads(gen, lambda: gen.mle_loss(seqs))
    want_nll = gen.sequence_nll(seqs)
    plan = Everywhere("onednn")
    with kernels.use_plan(plan):
        got_loss, got_grads = gen.mle_loss(seqs).item(), grads(gen, lambda: gen.mle_loss(seqs))
        got_nll = gen.sequence_nll(seqs)
        again = gen.sample(32, generator=torch.Generator().manual_seed(2))
    assert plan.ops >= {"gen/output"}
    assert got_loss == pytest.approx(want_loss, rel=1e-5)
    torch.testing.assert_close(got_nll, want_nll, **TOL)
    for a, b in zip(got_grads, want_grads, strict=True):
        torch.testing.assert_close(a, b, **TOL)
    # sampling inverts the same uniforms through logits equal to 1e-5: the same tokens
    assert (again == seqs).float().mean() > 0.99


def test_projected_losses_and_their_gradients_agree_with_plain():
    g = torch.Generator().manual_seed(3)
    h = torch.randn(300, 24, generator=g).requires_grad_()
    w = (torch.randn(500, 24, generator=g) / 5).requires_grad_()
    b = torch.randn(500, generator=g).requires_grad_()
    y = torch.randint(0, 500, (300,), generator=g)
    upstream = torch.rand(300, generator=g)

    def run():
        losses = projected_cross_entropy(h, w, b, y)
        return [
            losses.detach(),
            *torch.autograd.grad(losses, (h, w, b), upstream),
            projected_nll(h, w, b, y),
        ]

    want = run()
    plan = Everywhere("onednn")
    with kernels.use_plan(plan):
        got = run()
    assert plan.ops == {"gen/output", "gen/output-grad-h", "gen/output-grad-w"}
    for a, c in zip(got, want, strict=True):
        torch.testing.assert_close(a, c, **TOL)


def test_a_plain_plan_is_bitwise_the_plain_computation():
    g = torch.Generator().manual_seed(4)
    h, w, b = (
        torch.randn(200, 24, generator=g),
        torch.randn(500, 24, generator=g),
        torch.randn(500, generator=g),
    )
    u = torch.rand(200, generator=g)
    tokens = sample_projected(h, w, b, uniforms=u, block_rows=64)
    logits = torch.addmm(b, h, w.t())
    cdf = torch.softmax(logits, 1).cumsum(1)
    naive = torch.searchsorted(cdf, (u * cdf[:, -1]).unsqueeze(1), right=True).squeeze(1)
    assert (tokens == naive.clamp(max=499)).float().mean() > 0.99
    assert kernels.active_plan().mode == "plain"
    assert torch.equal(sample_projected(h, w, b, uniforms=u), tokens)  # None: 64 under plain


def test_the_scoring_chunk_comes_from_the_plan_and_changes_nothing_but_rounding(monkeypatch):
    model = CNNDiscriminator(
        60, 12, embedding_dim=16, filter_sizes=(1, 3), num_filters=(64, 64)
    ).eval()
    seqs = torch.randint(0, 60, (300, 12), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        want = model(seqs)  # plain: chunks of 128
        sizes = []
        real = kernels.linear
        monkeypatch.setattr(
            kernels, "linear", lambda op, x, *a: sizes.append((op, x.shape[0])) or real(op, x, *a)
        )
        plan = kernels.KernelPlan(blocks={"dis/chunk/12x16x128": 32})
        with kernels.use_plan(plan):
            got = model(seqs)
    assert ("dis/conv3", 10 * 32) in sizes and ("dis/conv3", 10 * 128) not in sizes
    torch.testing.assert_close(got, want, **TOL)
    model.chunk_size = 7  # an explicit chunk_size wins over the plan
    assert model._chunk(300) == 7
