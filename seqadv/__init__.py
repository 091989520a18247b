"""seqadv: text GANs trained with reinforcement learning.

Importing seqadv is cheap: it defines names and registers the Gymnasium environment ids,
and imports torch-heavy or optional modules (stable-baselines3, sacrebleu, matplotlib) only
when they are used.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

from seqadv.envs import register_envs as _register_envs  # noqa: E402

_register_envs()
