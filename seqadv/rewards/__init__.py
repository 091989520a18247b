"""Rewards: the REWARDS registry and the built-in discriminator rewards.

Importing this package does not import torch: the built-ins are registered as lazy
``"seqadv.rewards.builtin:<name>"`` entries, and the functions themselves
(``seqadv.rewards.prob``, ``seqadv.rewards.kl``, ...) are imported on first attribute access.
See :mod:`seqadv.rewards.registry` for the reward contract and :mod:`seqadv.rewards.builtin`
for the definitions.
"""

from __future__ import annotations

import importlib
from typing import Any

from seqadv.rewards.registry import BUILTIN_FUNCTIONS as _BUILTINS
from seqadv.rewards.registry import (
    REWARD_INPUTS,
    REWARD_LEVELS,
    REWARDS,
    BoundReward,
    check_reward_output,
    list_rewards,
    register_reward,
    resolve_reward,
)

__all__ = [
    "REWARDS",
    "REWARD_INPUTS",
    "REWARD_LEVELS",
    "BoundReward",
    "check_reward_output",
    "list_rewards",
    "register_reward",
    "resolve_reward",
    *_BUILTINS,
]


def __getattr__(name: str) -> Any:
    """Import the built-in reward functions (and torch) only when one is asked for."""
    if name in _BUILTINS:
        return getattr(importlib.import_module("seqadv.rewards.builtin"), name)
    raise AttributeError(f"module 'seqadv.rewards' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_BUILTINS))
