"""The CNN's shared-prefix scoring equals its plain forward pass (eval mode)."""

from __future__ import annotations

import pytest
import torch

from seqadv.models.discriminator import make_discriminator


@pytest.mark.parametrize(
    "filters, chunk",
    [(((1, 2, 3, 4, 5, 6, 7, 8, 9, 10), (3,) * 10), 128), (((1, 3, 8), (4, 5, 6)), 8)],
)
def test_logits_shared_prefix_equal_the_forward_pass_at_every_length(filters, chunk):
    sizes, counts = filters
    torch.manual_seed(0)
    d = make_discriminator(
        "cnn", vocab_size=30, max_len=10, filter_sizes=sizes, num_filters=counts, chunk_size=chunk
    ).eval()
    groups, n = 5, 4
    for length in range(0, 11):
        prefixes = torch.randint(0, 30, (groups, 10))
        full = prefixes.repeat_interleave(n, dim=0)
        full[:, length:] = torch.randint(0, 31, (groups * n, 10 - length))  # 30: padding
        plain = d(full)
        shared = d.logits_shared_prefix(full, length, n)
        assert shared.shape == plain.shape
        torch.testing.assert_close(shared, plain, atol=1e-5, rtol=1e-5)


def test_rows_that_do_not_share_the_prefix_give_other_logits():
    """The shortcut relies on the grouping: rows that break it are scored wrongly, which
    shows the prefix windows really are computed once per group."""
    torch.manual_seed(1)
    d = make_discriminator("cnn", vocab_size=30, max_len=10, filter_sizes=(2, 3), num_filters=(8, 8))
    d.eval()
    full = torch.randint(0, 30, (8, 10))  # no shared prefix at all
    assert not torch.allclose(d.logits_shared_prefix(full, 6, 4), d(full), atol=1e-4)


def test_bad_groups_are_refused():
    d = make_discriminator("cnn", vocab_size=30, max_len=10, filter_sizes=(2,), num_filters=(4,))
    with pytest.raises(ValueError, match="groups of 3"):
        d.logits_shared_prefix(torch.zeros(8, 10, dtype=torch.long), 2, 3)
    with pytest.raises(ValueError, match="length 11"):
        d.logits_shared_prefix(torch.zeros(8, 10, dtype=torch.long), 11, 4)
