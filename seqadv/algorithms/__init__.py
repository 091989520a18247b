"""Learners: the ALGORITHMS registry.

Names map to learner factories, registered lazily so that importing seqadv does not import
them (nor stable-baselines3): ``reinforce`` (seqadv's REINFORCE; SeqGAN is reinforce with
discount 0 on Monte-Carlo rollout rewards).
"""

from __future__ import annotations

from seqadv.registry import Registry

__all__ = ["ALGORITHMS"]

ALGORITHMS = Registry("algorithm")
ALGORITHMS.add("reinforce", "seqadv.algorithms.reinforce:Reinforce", kind="seqadv")
