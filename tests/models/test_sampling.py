"""seqadv.models.sampling: block-wise inverse-CDF sampling draws the softmax distribution."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqadv.models.sampling import _chunk_size, _inverse_cdf, sample_logits, sample_projected


def chi2_bound(df: int, z: float = 5.0) -> float:
    """Wilson-Hilferty upper quantile of chi-square(df) at about 3e-7 (z = 5)."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def chi2(counts: np.ndarray, probs: np.ndarray) -> float:
    expected = probs * counts.sum()
    keep = expected > 0
    assert counts[~keep].sum() == 0, "a zero-probability category was drawn"
    return float((((counts - expected) ** 2)[keep] / expected[keep]).sum())


@pytest.mark.parametrize("vocab", [2, 3, 5, 12, 16, 37])
def test_chunk_size_divides_the_vocabulary(vocab):
    k = _chunk_size(vocab)
    assert vocab % k == 0
    if k > 1:
        assert abs(k - math.isqrt(vocab)) <= math.isqrt(vocab)
    assert _chunk_size(5000) == 50


@pytest.mark.parametrize("vocab", [3, 5, 12, 16])  # one-level (3, 5) and two-level (12, 16)
@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_draws_follow_the_softmax(vocab, temperature):
    g = torch.Generator().manual_seed(vocab)
    logits = torch.randn(vocab, generator=g) * 2
    logits[1] = -50.0  # (almost) never
    n = 40_000
    draws = sample_logits(logits.expand(n, vocab), generator=g, temperature=temperature)
    counts = np.bincount(draws.numpy(), minlength=vocab)
    probs = torch.softmax(logits.double() / temperature, 0).numpy()
    assert chi2(counts, probs) < chi2_bound(vocab - 1)
    # and the test can tell distributions apart: the untempered one is rejected
    if temperature != 1.0:
        assert chi2(counts, torch.softmax(logits.double(), 0).numpy()) > chi2_bound(vocab - 1)


def test_lower_temperature_is_sharper():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(16, generator=g)
    top = int(logits.argmax())
    share = {}
    for t in (0.25, 1.0, 4.0):
        draws = sample_logits(logits.expand(5000, 16), torch.Generator().manual_seed(1), t)
        share[t] = float((draws == top).float().mean())
    assert share[0.25] > share[1.0] > share[4.0]


def test_forbidden_logits_are_never_drawn():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(300, 16, generator=g) * 5
    forbidden = [0, 3, 7, 8, 15]
    logits[:, forbidden] = float("-inf")
    for seed in range(20):
        draws = sample_logits(logits, torch.Generator().manual_seed(seed))
        assert not torch.isin(draws, torch.tensor(forbidden)).any()


def _boundary_uniforms(weights: torch.Tensor, k: int) -> torch.Tensor:
    """Uniforms at and just below every chunk boundary of the CDF (where rounding bites)."""
    chunk_cdf = weights.view(-1, k).sum(1).cumsum(0)
    out = []
    for edge in (chunk_cdf / chunk_cdf[-1]).tolist():
        u = np.float32(edge)
        for _ in range(8):
            if 0 <= u < 1:
                out.append(u)
            u = np.nextafter(u, np.float32(-1))
    return torch.tensor(np.array(out, dtype=np.float32))


def test_zero_weight_tokens_at_chunk_ends_are_never_drawn():
    """Regression: rounding could push a draw past a chunk's last positive token."""
    vocab, k = 16, _chunk_size(16)
    forbidden = torch.arange(k - 1, vocab, k)  # the last token of every chunk
    g = torch.Generator().manual_seed(0)
    for _ in range(400):
        logits = torch.randn(vocab, generator=g) * 20 * torch.rand(1, generator=g)
        logits[forbidden] = float("-inf")
        u = _boundary_uniforms(torch.softmax(logits, 0), k)
        draws = _inverse_cdf(logits.expand(len(u), vocab).contiguous(), u)
        assert not torch.isin(draws, forbidden).any(), logits


@settings(max_examples=200, deadline=None)
@given(
    data=st.lists(st.floats(-30, 30), min_size=12, max_size=12),
    mask=st.lists(st.booleans(), min_size=12, max_size=12),
    u=st.floats(0.0, 1.0, exclude_max=True, width=32),
)
def test_inverse_cdf_picks_the_interval_containing_u(data, mask, u):
    logits = torch.tensor(data, dtype=torch.float32)
    if all(mask):
        mask[0] = False
    logits[torch.tensor(mask)] = float("-inf")
    pick = int(_inverse_cdf(logits[None], torch.tensor([u], dtype=torch.float32))[0])
    w = torch.softmax(logits.double(), 0).numpy()
    assert w[pick] > 0
    cdf = np.concatenate([[0.0], np.cumsum(w)])
    assert cdf[pick] - 1e-5 <= u <= cdf[pick + 1] + 1e-5


def test_same_generator_state_same_draws_and_blocks_do_not_matter():
    logits = torch.randn(200, 12, generator=torch.Generator().manual_seed(0))
    a = sample_logits(logits, torch.Generator().manual_seed(5))
    b = sample_logits(logits, torch.Generator().manual_seed(5), block_rows=7)
    c = sample_logits(logits, torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.dtype == torch.long and a.shape == (200,)


def test_projected_sampling_equals_sampling_the_logits():
    g = torch.Generator().manual_seed(0)
    hidden, weight, bias = (
        torch.randn(150, 8, generator=g),
        torch.randn(12, 8, generator=g),
        torch.randn(12, generator=g),
    )
    logits = hidden @ weight.T + bias
    for t in (1.0, 0.7):
        a = sample_projected(
            hidden, weight, bias, torch.Generator().manual_seed(1), t, block_rows=16
        )
        b = sample_logits(logits, torch.Generator().manual_seed(1), t, block_rows=64)
        assert torch.equal(a, b)
    no_bias = sample_projected(hidden, weight, None, torch.Generator().manual_seed(1))
    assert torch.equal(no_bias, sample_logits(hidden @ weight.T, torch.Generator().manual_seed(1)))


def test_projected_sampling_logit_mask():
    g = torch.Generator().manual_seed(0)
    hidden, weight = torch.randn(2000, 4, generator=g), torch.randn(9, 4, generator=g)
    mask = torch.zeros(9)
    mask[[2, 4]] = float("-inf")
    draws = sample_projected(hidden, weight, None, g, logit_mask=mask)
    assert not torch.isin(draws, torch.tensor([2, 4])).any()
    assert len(draws.unique()) == 7


def test_extreme_logits_pick_the_maximum():
    logits = torch.tensor([[0.0, 1e4, -1e4, 5.0], [1e30, 0.0, 0.0, 0.0]])
    draws = sample_logits(logits, torch.Generator().manual_seed(0))
    assert draws.tolist() == [1, 0]


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_temperature_must_be_positive(bad):
    with pytest.raises(ValueError, match="temperature"):
        sample_logits(torch.zeros(2, 3), temperature=bad)
    with pytest.raises(ValueError, match="temperature"):
        sample_projected(torch.zeros(2, 3), torch.zeros(4, 3), None, temperature=bad)


def test_empty_batch():
    assert sample_logits(torch.zeros(0, 5)).shape == (0,)
