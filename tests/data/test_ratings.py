"""seqadv.data.ratings: the readers, the splits and the synthetic set."""

from __future__ import annotations

import numpy as np
import pytest

from seqadv.data.ratings import (
    holdout_split,
    read_inter,
    read_irgan,
    read_letor,
    read_udata,
    synthetic_ratings,
    u1_split,
)
from seqadv.errors import DataError


def test_the_three_ratings_forms_read_to_the_same_zero_based_ids(tmp_path):
    inter = tmp_path / "x.inter"
    inter.write_text("item_id:token\tuser_id:token\trating:float\ttimestamp:float\n3\t1\t5\t9\n1\t2\t2\t9\n")
    udata = tmp_path / "u.data"
    udata.write_text("1\t3\t5\t9\n2\t1\t2\t9\n")
    irgan = tmp_path / "irgan.txt"
    irgan.write_text("0 2 5\n1 0 2\n\n")
    for data in (read_inter(inter), read_udata(udata), read_irgan(irgan)):
        assert data.users.tolist() == [0, 1] and data.items.tolist() == [2, 0]
        assert data.ratings.tolist() == [5.0, 2.0] and (data.n_users, data.n_items) == (2, 3)
    assert read_irgan(irgan).positives().tolist() == [[False, False, True], [False, False, False]]


@pytest.mark.parametrize(
    "reader, text, match",
    [
        (read_inter, "user:token\titem_id:token\trating:float\n1\t2\t3\n", r"x:1: a .inter header"),
        (read_inter, "user_id:token\titem_id:token\trating:float\n1\t2\tfive\n", r"x:2: expected user"),
        (read_udata, "1\t2\t3\t4\n0\t2\t3\t4\n", r"x:2: ids must be >= 1"),
        (read_irgan, "", r"x: no ratings"),
        (read_letor, "2 qid:1 1:0.5\n1 1:0.5\n", r"x:2: expected 'rel qid:Q"),
    ],
)
def test_bad_files_name_the_file_and_line(tmp_path, reader, text, match):
    path = tmp_path / "x"
    path.write_text(text)
    with pytest.raises(DataError, match=match):
        reader(path)
    with pytest.raises(DataError, match="file not found"):
        reader(tmp_path / "missing")


def test_letor_rows_become_dense_features(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("2 qid:10 1:0.5 3:1.5 # doc a\n0 qid:10 2:-1\n\n1 qid:11 1:2 # doc c\n")
    data = read_letor(path)
    assert data.labels.tolist() == [2.0, 0.0, 1.0] and data.qids.tolist() == [10, 10, 11]
    assert data.features.tolist() == [[0.5, 0.0, 1.5], [0.0, -1.0, 0.0], [2.0, 0.0, 0.0]]
    assert read_letor(path, n_features=5).features.shape == (3, 5)


def test_splits_are_disjoint_complete_and_seeded():
    data = synthetic_ratings(seed=1)
    assert len(data) > 100 and set(np.unique(data.ratings)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    train, test = u1_split(data, n_test=50)
    assert len(test) == 50 and np.array_equal(test.users, data.users[:50])
    kept, held = holdout_split(data, 0.2, seed=3)
    again = holdout_split(data, 0.2, seed=3)[1]
    other = holdout_split(data, 0.2, seed=4)[1]
    assert len(kept) + len(held) == len(data) and len(held) == round(0.2 * len(data))
    assert np.array_equal(held.users, again.users) and not np.array_equal(held.users, other.users)
    rows = lambda d: set(zip(d.users.tolist(), d.items.tolist()))  # noqa: E731
    assert rows(kept) | rows(held) == rows(data) and not rows(kept) & rows(held)
    with pytest.raises(DataError, match="fraction"):
        holdout_split(data, 1.0, seed=0)


def test_ml100k_inter_u1_split_is_irgans_files(shared_data):
    d = shared_data / "movielens-100k"
    data = read_inter(d / "ml-100k.inter")
    assert (len(data), data.n_users, data.n_items) == (100_000, 943, 1682)
    train, test = u1_split(data)

    def rows(x):
        return sorted(zip(x.users.tolist(), x.items.tolist(), x.ratings.tolist()))

    assert rows(test) == rows(read_irgan(d / "movielens-100k-test.txt"))
    assert rows(train) == rows(read_irgan(d / "movielens-100k-train.txt"))
