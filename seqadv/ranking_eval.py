"""The ``ranking`` metric: P@k, NDCG@k, MAP and MRR of a policy's item scores (IRGAN).

It scores the policy's ``all_scores()`` (every user x every item) with
:func:`seqadv.metrics.ranking.ranking_metrics` under IRGAN's protocol, from the data's
``extra["ratings"]``: relevant = held-out rating >= threshold; candidates = every item minus
the user's training positives; evaluated users = those with a relevant candidate. Keys
``eval/p@3`` ... ``eval/mrr``, ``eval/ranking_users`` and the signature. Nothing for data
without ratings or a policy without item scores.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["ranking"]

KS = (3, 5, 10)


def ranking(ctx: Any) -> dict[str, Any]:
    from seqadv.evaluation import metric_signature
    from seqadv.metrics.ranking import PROTOCOL, ranking_metrics

    info = ctx.data.extra.get("ratings")
    if info is None or not hasattr(ctx.policy, "all_scores"):
        return {}
    shape = (info["n_users"], info["n_items"])
    with torch.no_grad():
        scores = ctx.policy.all_scores()
    relevant = torch.from_numpy(info["test"].positives(info["threshold"], shape))
    positives = torch.from_numpy(info["train"].positives(info["threshold"], shape))
    result = ranking_metrics(scores, relevant, ~positives, ks=KS)
    out: dict[str, Any] = {f"eval/{k}": v for k, v in result.items() if k != "users"}
    out["eval/ranking_users"] = result["users"]
    out["eval/ranking_signature"] = metric_signature(
        "ranking",
        split=info.get("evaluate_on", "test"),
        relevant=f"rating>={info['threshold']:g}",
        candidates=f"all-{shape[1]}-items-minus-train-positives",
        protocol=PROTOCOL,
    )
    return out
