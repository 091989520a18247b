"""seqadv.models.mf: IRGAN's factorization, its initialization and its released parameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqadv.data.safe_pickle import load_numpy_pickle
from seqadv.models.mf import MatrixFactorization


def test_scores_pairs_and_all_items_alike_and_init_is_irgans():
    mf = MatrixFactorization(7, 11, dim=5, seed=3)
    assert float(mf.users.abs().max()) <= 0.05 and float(mf.items.abs().max()) <= 0.05
    assert torch.equal(mf.bias, torch.zeros(11))
    assert torch.equal(MatrixFactorization(7, 11, seed=3).users, mf.users)
    with torch.no_grad():
        mf.bias.copy_(torch.arange(11.0))
    users = torch.tensor([0, 3, 6])
    table = mf.all_scores(users)
    for row, u in enumerate(users.tolist()):
        items = torch.arange(11)
        torch.testing.assert_close(table[row], mf(torch.full((11,), u), items))
    want = float(mf.users[3] @ mf.items[4] + 4.0)
    assert float(mf(torch.tensor([3]), torch.tensor([4]))[0]) == pytest.approx(want, rel=1e-6)
    with pytest.raises(ValueError, match="n_items"):
        MatrixFactorization(3, 0)
    with pytest.raises(ValueError, match="shapes"):
        MatrixFactorization.from_arrays([np.zeros((3, 5)), np.zeros((4, 5)), np.zeros(3)])


def test_released_generator_loads_to_the_same_scores(shared_data):
    arrays = load_numpy_pickle(shared_data / "movielens-100k" / "gan_generator.pkl")
    mf = MatrixFactorization.from_arrays(arrays)
    assert (mf.n_users, mf.n_items) == (943, 1683)
    want = arrays[0] @ arrays[1].T + arrays[2]
    np.testing.assert_allclose(mf.all_scores().detach().numpy(), want, rtol=1e-5, atol=1e-6)
