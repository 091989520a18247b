"""The ``ranking`` metric: P@k, NDCG@k, MAP and MRR of a policy's item scores (IRGAN).

It scores the policy's ``all_scores()`` (every user x every item) with
:func:`seqadv.metrics.ranking.ranking_metrics` under IRGAN's protocol, from the data's
``extra["ratings"]``: relevant = held-out rating >= threshold; candidates = every item minus
the user's training positives; evaluated users = those with a relevant candidate. Keys
``eval/p@3`` ... ``eval/mrr``, ``eval/ranking_users`` and the signature. With a validation
split carved from training, the same for it as ``eval/validation/p@3`` ... (candidates: every
item minus the remaining training positives), and the test split's candidates exclude the
validation positives too (every original training positive, as in IRGAN's protocol). For
learning-to-rank data (``candidates`` in the ratings), only a query's own documents are
candidates. Nothing
for data without ratings or a policy without item scores.
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
    threshold = info["threshold"]

    def positives(split: str) -> torch.Tensor:
        return torch.from_numpy(info[split].positives(threshold, shape))

    splits = [("eval/", "test", "train_all" if "validation" in info else "train")]
    if "validation" in info:
        splits.append(("eval/validation/", "validation", "train"))
    out: dict[str, Any] = {}
    for prefix, split, seen in splits:
        candidates = ~positives(seen)
        if "candidates" in info:  # learning to rank: each query's own documents
            candidates &= info["candidates"]
        result = ranking_metrics(scores, positives(split), candidates, ks=KS)
        out.update({f"{prefix}{k}": v for k, v in result.items() if k != "users"})
        out[f"{prefix}ranking_users"] = result["users"]
        out[f"{prefix}ranking_signature"] = metric_signature(
            "ranking",
            split=split,
            relevant=f"rating>={threshold:g}",
            candidates=(f"{'query-documents' if 'candidates' in info else f'all-{shape[1]}-items'}-minus-"
                        f"{'all-' if seen == 'train_all' else ''}train-positives"),
            protocol=PROTOCOL,
        )
    return out
