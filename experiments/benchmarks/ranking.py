"""Ranking metrics over all users: seqadv's vectorized P@k/NDCG@k/MAP/MRR against IRGAN's loop.

The baseline is IRGAN's evaluation written as its code does it: per user, ``sorted`` of
(item, score) pairs over the candidates, then ``np.mean(r[:k])`` and a DCG per cut-off
(one process; the original spreads users over a multiprocessing pool). Both score the same
matrix: IRGAN's released generator on MovieLens-100k when the shared files are there
(943 users x 1,683 items, IRGAN's protocol), otherwise a random one of that size. The
figures of both are printed side by side; they must agree.

    python experiments/benchmarks/ranking.py [--threads 1] [--data ../shared/data/movielens-100k]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine_line, report, setup_threads  # noqa: E402

KS = (3, 5, 10)


def irgan_loop(scores, relevant, candidates):
    import numpy as np

    sums = {f"{m}@{k}": 0.0 for k in KS for m in ("p", "ndcg")}
    users = 0
    for u in range(scores.shape[0]):
        items = np.flatnonzero(candidates[u])
        ranked = sorted(((int(i), scores[u, i]) for i in items), key=lambda x: x[1], reverse=True)
        r = [1.0 if relevant[u, i] else 0.0 for i, _ in ranked]
        if not sum(r):
            continue
        users += 1
        for k in KS:
            sums[f"p@{k}"] += float(np.mean(r[:k]))
            top = np.asarray(r[:k])
            ideal = np.asarray(sorted(r, reverse=True)[:k])
            disc = 1.0 / np.log2(np.arange(2, top.size + 2))
            sums[f"ndcg@{k}"] += float(np.sum(top * disc) / np.sum(ideal * disc))
    return {k: v / users for k, v in sums.items()} | {"users": users}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2].parent / "shared" / "data" / "movielens-100k"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    setup_threads(args.threads)
    import numpy as np
    import torch

    from seqadv.data.safe_pickle import load_numpy_pickle
    from seqadv.metrics.ranking import ranking_metrics

    print(machine_line())
    d = Path(args.data)
    if (d / "gan_generator.pkl").is_file():
        users, items, bias = load_numpy_pickle(d / "gan_generator.pkl")
        scores = users @ items.T + bias
        train = np.loadtxt(d / "movielens-100k-train.txt", dtype=np.int64)
        test = np.loadtxt(d / "movielens-100k-test.txt", dtype=np.int64)
        positives = np.zeros(scores.shape, dtype=bool)
        keep = train[:, 2] >= 4
        positives[train[keep, 0], train[keep, 1]] = True
        relevant = np.zeros(scores.shape, dtype=bool)
        keep = test[:, 2] >= 4
        relevant[test[keep, 0], test[keep, 1]] = True
        what = f"IRGAN's released generator, {d}"
    else:
        rng = np.random.default_rng(0)
        scores = rng.standard_normal((943, 1683)).astype(np.float32)
        relevant = rng.random((943, 1683)) < 0.01
        positives = rng.random((943, 1683)) < 0.03
        what = "a random 943 x 1,683 matrix (shared data not found)"
    print(f"scores: {what}; P@3/5/10, NDCG@3/5/10 (seqadv also MAP, MRR)")
    candidates = ~positives
    t_scores, t_rel, t_cand = torch.from_numpy(scores), torch.from_numpy(relevant), torch.from_numpy(candidates)

    times, ours = [], None
    for _ in range(args.repeats):
        start = time.perf_counter()
        ours = ranking_metrics(t_scores, t_rel, t_cand, ks=KS)
        times.append(time.perf_counter() - start)
    t_ours = sorted(times)[len(times) // 2]
    start = time.perf_counter()
    theirs = irgan_loop(scores, relevant, candidates)
    t_loop = time.perf_counter() - start
    worst = max(abs(ours[k] - theirs[k]) for k in theirs if k != "users")
    print(f"users evaluated: {ours['users']} (loop: {theirs['users']}); largest difference {worst:.3g}")
    print("seqadv: " + ", ".join(f"{k} {v:.4f}" for k, v in ours.items() if k != "users"))
    report(
        [(f"P/NDCG@3,5,10 of {scores.shape[0]} users x {scores.shape[1]} items", t_loop, t_ours)],
        f"ranking metrics, {torch.get_num_threads()} torch thread(s); seqadv median of {args.repeats}, the loop once",
    )
    if not math.isclose(worst, 0.0, abs_tol=1e-9):
        sys.exit("the two disagree")


if __name__ == "__main__":
    main()
