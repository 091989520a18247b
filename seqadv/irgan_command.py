"""``seqadv irgan score``: IRGAN's released models (or any such pickle) scored by seqadv.

Usage::

    seqadv irgan score MODEL.pkl --train TRAIN --test TEST [--format irgan|inter|udata]
        [--ks 3 5 10] [--threshold 4] [--json]

MODEL.pkl is a pickle of ``[user embeddings (U, d), item embeddings (I, d), item bias (I,)]``
(IRGAN's ``gan_generator.pkl``, ``model_dns_ori.pkl``), read by an unpickler that admits
numpy arrays only. The protocol is IRGAN's, and it is printed with the figures: relevant =
test rating >= threshold; evaluated users = those with a relevant test item; candidates =
every item row of the model minus the user's training items rated >= threshold.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_arguments", "run"]

READERS = {"irgan": "read_irgan", "inter": "read_inter", "udata": "read_udata"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="irgan_cmd", metavar="IRGAN_COMMAND")
    q = sub.add_parser("score", help="ranking metrics of a released model (numpy-only unpickling)")
    q.add_argument("model", metavar="MODEL", help="pickle of [user emb, item emb, item bias]")
    q.add_argument("--train", required=True, help="training ratings (their positives are not ranked)")
    q.add_argument("--test", required=True, help="test ratings (the relevant items)")
    q.add_argument("--format", choices=sorted(READERS), default="irgan", help="ratings file form (default irgan: 0-based 'user item rating')")
    q.add_argument("--ks", type=int, nargs="+", default=[3, 5, 10], help="cut-offs (default 3 5 10)")
    q.add_argument("--threshold", type=float, default=4.0, help="a rating >= this is a positive (default 4)")
    q.add_argument("--json", action="store_true", help="one JSON object instead of a table")


def run(args: argparse.Namespace) -> int:
    import torch

    from seqadv.cli_args import check_input_file
    from seqadv.data import ratings
    from seqadv.data.safe_pickle import load_numpy_pickle
    from seqadv.errors import SeqadvError
    from seqadv.metrics.ranking import PROTOCOL, ranking_metrics
    from seqadv.models.mf import MatrixFactorization

    if args.irgan_cmd != "score":
        raise SeqadvError("give an irgan command: seqadv irgan score MODEL --train ... --test ...")
    for arg, path, what in (("MODEL", args.model, "model pickle"), ("--train", args.train, "ratings"),
                            ("--test", args.test, "ratings")):  # fmt: skip
        check_input_file(path, arg, what)
    if any(k < 1 for k in args.ks):
        raise SeqadvError(f"--ks: cut-offs must be >= 1, got {args.ks}")
    try:
        model = MatrixFactorization.from_arrays(load_numpy_pickle(args.model))
    except ValueError as exc:
        raise SeqadvError(f"MODEL {args.model}: {exc}") from None
    reader = getattr(ratings, READERS[args.format])
    train, test = reader(args.train), reader(args.test)
    n_users, n_items = model.n_users, model.n_items
    for name, data in (("--train", train), ("--test", test)):
        if data.n_users > n_users or data.n_items > n_items:
            raise SeqadvError(
                f"{name} {data.source}: ids up to user {data.n_users - 1}, item {data.n_items - 1} do not fit "
                f"the model's {n_users} users x {n_items} items (wrong --format?)"
            )
    with torch.no_grad():
        scores = model.all_scores()
    relevant = torch.from_numpy(test.positives(args.threshold, (n_users, n_items)))
    positives = torch.from_numpy(train.positives(args.threshold, (n_users, n_items)))
    result: dict[str, Any] = ranking_metrics(scores, relevant, ~positives, ks=args.ks)
    result["protocol"] = (
        f"relevant:test-rating>={args.threshold:g}|candidates:all-{n_items}-items-minus-train-rating>="
        f"{args.threshold:g}|{PROTOCOL}"
    )
    result["model"] = str(args.model)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:<10} {value:.4f}" if isinstance(value, float) else f"{key:<10} {value}")
    return 0
