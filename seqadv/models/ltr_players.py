"""IRGAN's learning-to-rank players: a feature scorer as a policy and as a discriminator.

Both score a query-document row from its LETOR features with IRGAN's network (its
``ltr-gan`` code): s(x) = w_2 . tanh(W_1 x + b_1) + b_2, weights from a normal of std 0.1
truncated at two standard deviations, biases 0.

- :class:`LTRPolicy` (GENERATORS ``irgan_ltr``): pi(d | q) = softmax over q's candidate rows
  of s(x_d) (the other rows score -inf); everything else (IRGAN's mixture, the negatives,
  the MLE loss) is :class:`~seqadv.models.mf_players.ItemPolicy`'s. No stable-baselines3
  form: its actions are rows of a query's candidate set.
- :class:`LTRDiscriminator` (DISCRIMINATORS ``irgan_ltr``): logit s(x_d) of ``[query, row]``
  pairs, with IRGAN's weight decay ``l2 * sum |w|^2 / 2`` over all its weights.

The data come from the ``letor`` data source (``seqadv.data.letor``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from seqadv.models.discriminator_base import Discriminator
from seqadv.models.mf_players import ItemPolicy

__all__ = ["FeatureScorer", "LTRPolicy", "LTRDiscriminator", "ltr_policy"]


class FeatureScorer(nn.Module):
    """s(x) = w_2 . tanh(W_1 x + b_1) + b_2 (IRGAN's LTR network), seeded."""

    def __init__(self, n_features: int, hidden: int = 46, std: float = 0.1, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(int(seed))
        self.hidden = nn.Linear(n_features, hidden)
        self.out = nn.Linear(hidden, 1)
        with torch.no_grad():
            for layer in (self.hidden, self.out):
                w = torch.randn(layer.weight.shape, generator=g)
                while bool((w.abs() > 2).any()):  # truncated at two standard deviations
                    redo = w.abs() > 2
                    w[redo] = torch.randn(int(redo.sum()), generator=g)
                layer.weight.copy_(w * std)
                layer.bias.zero_()

    def forward(self, x: Tensor) -> Tensor:
        return self.out(torch.tanh(self.hidden(x))).squeeze(-1)


def _ratings(data: Any, what: str) -> dict[str, Any]:
    from seqadv.errors import ConfigError

    info = getattr(data, "extra", {}).get("ratings")
    if info is None or "features" not in info:
        raise ConfigError(f"{what} 'irgan_ltr' needs LETOR data: set data.source to 'letor'")
    return info


class LTRPolicy(ItemPolicy):
    """pi(d | q) over q's candidate rows (see the module docstring)."""

    def __init__(self, features: Tensor, candidates: Tensor, pool: Tensor | None = None, hidden: int = 46,
                 seed: int = 0, negative_temperature: float = 0.2, positive_mix: float = 0.0) -> None:  # fmt: skip
        super().__init__(candidates.shape[0], candidates.shape[1], pool, negative_temperature, positive_mix)
        self.scorer = FeatureScorer(features.shape[1], hidden, seed=seed)
        self.register_buffer("row_features", features.float(), persistent=False)
        self.register_buffer("candidates", candidates.bool(), persistent=False)

    def all_scores(self, users: Tensor | None = None) -> Tensor:
        """s(x_d) for every row, -inf outside each user's candidates: (B, n_items)."""
        scores = self.scorer(self.row_features)
        mask = self.candidates if users is None else self.candidates[users]
        return scores.expand(mask.shape[0], -1).masked_fill(~mask, float("-inf"))

    def actor_modules(self) -> tuple[nn.Module, nn.Module]:
        from seqadv.errors import ConfigError

        raise ConfigError("generator 'irgan_ltr' has no stable-baselines3 form; use reinforce or actor_critic")


def ltr_policy(data: Any, seed: int, hidden: int = 46, negative_temperature: float = 0.2,
               positive_mix: float = 0.0) -> LTRPolicy:  # fmt: skip
    """The GENERATORS factory of ``irgan_ltr``."""
    info = _ratings(data, "generator")
    return LTRPolicy(info["features"], info["candidates"], pool=data.train, hidden=hidden, seed=seed,
                     negative_temperature=negative_temperature, positive_mix=positive_mix)  # fmt: skip


class LTRDiscriminator(Discriminator):
    """logit s(x_d) of (B, 2) ``[query, row]`` pairs; ``regularization`` is IRGAN's weight
    decay ``l2 * sum |w|^2 / 2`` over every weight and bias.

    Args:
        vocab_size: the shared id range (``max(n_queries, n_rows)``); max_len: 2.
        data: the experiment's data (the trainer passes it): its rows' features are read.
        features: (n_rows, F) the rows' features instead of ``data``.
        hidden: the network's width; l2: the weight decay (0 by default).
        seed: seeds the initialization; None (default): drawn from the torch RNG (seeded by
            the trainer from the run's seed).
    """

    level = "sequence"

    def __init__(self, vocab_size: int, max_len: int = 2, pad_id: int | None = None, data: Any = None,
                 features: Tensor | None = None, hidden: int = 46, l2: float = 0.0, seed: int | None = None) -> None:  # fmt: skip
        super().__init__(vocab_size, max_len, pad_id)
        if seed is None:  # from the torch RNG, which the trainer seeds from the run's seed
            seed = int(torch.randint(0, 2**62, (1,)))
        if max_len != 2:
            raise ValueError(f"an LTR discriminator judges [query, row] pairs: max_len must be 2, got {max_len}")
        if features is None:
            features = _ratings(data, "discriminator")["features"]
        self.register_buffer("row_features", torch.as_tensor(features).float(), persistent=False)
        self.scorer = FeatureScorer(self.row_features.shape[1], hidden, seed=seed)
        self.l2 = float(l2)

    def forward(self, sequences: Tensor) -> Tensor:
        self.check_tokens(sequences)
        if sequences.shape[1] != 2:
            raise ValueError(f"sequences must be [query, row] pairs (B, 2), got {tuple(sequences.shape)}")
        return self.scorer(self.row_features[sequences[:, 1]])

    def regularization(self) -> Tensor:
        if not self.l2:
            return self.row_features.new_zeros(())
        return self.l2 * sum(p.pow(2).sum() for p in self.scorer.parameters()) / 2
