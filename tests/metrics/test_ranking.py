"""seqadv.metrics.ranking: hand-computed cases, a per-user reference, IRGAN's released models."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch

from seqadv.data.safe_pickle import load_numpy_pickle
from seqadv.errors import DataError
from seqadv.metrics.ranking import ranking_metrics


def reference(scores, relevant, candidates, ks=(3, 5, 10)):
    """IRGAN's per-user loop, written plainly (sorted() over items in index order)."""
    out = {f"{m}@{k}": [] for k in ks for m in ("p", "ndcg")} | {"map": [], "mrr": []}
    for u in range(scores.shape[0]):
        items = [i for i in range(scores.shape[1]) if candidates[u, i]]
        ranked = sorted(items, key=lambda i: -float(scores[u, i]))
        r = [1.0 if relevant[u, i] else 0.0 for i in ranked]
        if not sum(r):
            continue
        for k in ks:
            out[f"p@{k}"].append(float(np.mean(r[:k])))
            dcg = sum(x / math.log2(j + 2) for j, x in enumerate(r[:k]))
            ideal = sorted(r, reverse=True)[:k]
            out[f"ndcg@{k}"].append(dcg / sum(x / math.log2(j + 2) for j, x in enumerate(ideal)))
        hits, ap = 0, 0.0
        for j, x in enumerate(r):
            if x:
                hits += 1
                ap += hits / (j + 1)
        out["map"].append(ap / sum(r))
        out["mrr"].append(1.0 / (r.index(1.0) + 1))
    return {k: float(np.mean(v)) for k, v in out.items()}


def test_hand_computed_values_with_ties_and_a_user_without_relevant_items():
    scores = torch.tensor([[0.9, 0.5, 0.5, 0.1], [1.0, 2.0, 3.0, 4.0], [0.3, 0.2, 0.1, 0.0]])
    relevant = torch.tensor([[False, False, True, True], [False] * 4, [True, False, False, False]])
    candidates = torch.ones(3, 4, dtype=torch.bool)
    r = ranking_metrics(scores, relevant, candidates, ks=(1, 3))
    assert r["users"] == 2  # user 1 has no relevant item
    # user 0: ranking 0, 1, 2, 3 (the tie 1/2 broken by the lower index): r = 0 0 1 1
    # user 2: ranking 0, 1, 2, 3: r = 1 0 0 0
    assert r["p@1"] == pytest.approx((0 + 1) / 2)
    assert r["p@3"] == pytest.approx((1 / 3 + 1 / 3) / 2)
    ndcg3_u0 = (1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert r["ndcg@3"] == pytest.approx((ndcg3_u0 + 1.0) / 2)
    assert r["map"] == pytest.approx(((1 / 3 + 2 / 4) / 2 + 1.0) / 2)
    assert r["mrr"] == pytest.approx((1 / 3 + 1) / 2)


def test_k_larger_than_the_candidates_and_non_candidates_never_rank():
    scores = torch.tensor([[5.0, 4.0, 3.0, 2.0, 1.0]])
    relevant = torch.tensor([[True, False, True, False, False]])
    candidates = torch.tensor([[False, True, True, False, False]])  # item 0 is a training positive
    r = ranking_metrics(scores, relevant, candidates, ks=(1, 10))
    # candidates ranked: 1, 2 -> r = 0 1; P@10 = mean(r[:10]) over the 2 candidates
    assert r["p@1"] == 0.0 and r["p@10"] == pytest.approx(0.5)
    assert r["ndcg@10"] == pytest.approx(1 / math.log2(3)) and r["mrr"] == pytest.approx(0.5)
    none = ranking_metrics(scores, torch.zeros(1, 5, dtype=torch.bool), candidates)
    assert none["users"] == 0 and math.isnan(none["p@3"])


def test_equal_to_the_per_user_reference_on_random_cases():
    g = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 6, (40, 30), generator=g).float()  # many ties
    relevant = torch.rand(40, 30, generator=g) < 0.15
    candidates = torch.rand(40, 30, generator=g) < 0.8
    got = ranking_metrics(scores, relevant, candidates)
    want = reference(scores, relevant, candidates)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-12), key


def test_bad_inputs_are_named():
    s = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="relevant must be a bool tensor"):
        ranking_metrics(s, torch.zeros(2, 3), torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="ks must be"):
        ranking_metrics(s, s.bool(), s.bool(), ks=(0,))


def test_the_numpy_unpickler_refuses_code_and_reads_arrays(tmp_path):
    arrays = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(3)]
    good = tmp_path / "model.pkl"
    good.write_bytes(pickle.dumps(arrays, protocol=0))
    got = load_numpy_pickle(good)
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(got, arrays, strict=True))

    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    bad = tmp_path / "evil.pkl"
    bad.write_bytes(pickle.dumps([Evil()], protocol=0))
    with pytest.raises(DataError, match=r"evil.pkl: refused to load (builtins|__builtin__).print"):
        load_numpy_pickle(bad)
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="junk.pkl: not a readable pickle"):
        load_numpy_pickle(tmp_path / "junk.pkl")


@pytest.mark.parametrize(
    "name, want",
    [
        ("gan_generator.pkl", (0.4057, 0.3785, 0.3184, 0.4228, 0.4053, 0.3775)),
        ("model_dns_ori.pkl", (0.3845, 0.3474, 0.2967, 0.3986, 0.3749, 0.3518)),
    ],
)
def test_irgans_released_models_score_their_published_figures(shared_data, name, want):
    d = shared_data / "movielens-100k"
    train = np.loadtxt(d / "movielens-100k-train.txt", dtype=np.int64)
    test = np.loadtxt(d / "movielens-100k-test.txt", dtype=np.int64)
    users, items, bias = load_numpy_pickle(d / name)
    scores = torch.from_numpy(users @ items.T + bias)
    positives = torch.zeros(scores.shape, dtype=torch.bool)
    keep = train[:, 2] >= 4
    positives[train[keep, 0], train[keep, 1]] = True
    relevant = torch.zeros(scores.shape, dtype=torch.bool)
    keep = test[:, 2] >= 4
    relevant[test[keep, 0], test[keep, 1]] = True
    r = ranking_metrics(scores, relevant, ~positives)
    assert r["users"] == 456
    got = tuple(round(r[k], 4) for k in ("p@3", "p@5", "p@10", "ndcg@3", "ndcg@5", "ndcg@10"))
    assert got == want
