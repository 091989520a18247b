"""Rewards contributed to seqadv by another package, through entry points."""

from __future__ import annotations

from typing import Any

import torch

from seqadv.rewards import register_reward


@register_reward("plugin_scaled_prob", level="any")
def scaled_prob(logits: torch.Tensor, scale: float = 1.0, **kwargs: Any) -> torch.Tensor:
    """scale · D(x), from the plugin package."""
    return scale * torch.sigmoid(logits)


def margin(logits: torch.Tensor, **kwargs: Any) -> torch.Tensor:
    """|logit|, how sure the discriminator is (plain entry point, no decorator)."""
    return logits.abs()
