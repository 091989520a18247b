"""Learners: the ALGORITHMS registry.

Names map to learner factories, registered lazily so that importing seqadv does not import
them (nor stable-baselines3):

- ``reinforce``: seqadv's REINFORCE (SeqGAN is reinforce with discount 0 on the
  ``mc_rollout`` reward scheme).
- ``actor_critic``: the policy gradient with a learned critic and GAE (or any estimator).
- ``sb3:PPO``, ``sb3:A2C``, ``sb3_contrib:RecurrentPPO``, ``sb3_contrib:MaskablePPO``:
  stable-baselines3 / sb3-contrib on-policy algorithms whose actor is the policy (any policy
  with ``actor_modules()``; see the package :mod:`seqadv.algorithms.sb3`). Use them with the
  ``mc_rollout_shaped`` reward scheme and ``gamma`` 1 (their default here): they sum rewards
  into returns.

Any other on-policy SB3 class resolves by the same ``package:Class`` form
(``stable_baselines3:PPO``, ``sb3_contrib:TRPO``) or by a dotted path to a user's class
(``"mypkg.algos:MyPPO"``), through the registry's resolver; an off-policy class (SAC, DQN)
fails with a ConfigError saying why. A dotted path to anything else is a seqadv learner
factory, as in every registry.

PRETRAINERS holds the generator's pretraining methods (``pretrain.method``): ``mle``
(maximum likelihood, :class:`~seqadv.algorithms.mle.MLELearner`) and ``dns`` (IRGAN's
dynamic negative sampling, :class:`~seqadv.algorithms.dns.DNSLearner`). A pretrainer is
built as ``factory(policy, lr=, batch_size=, grad_clip=, **pretrain.kwargs)`` and has
``train_epoch(data, generator, desc)``, ``step(batch)`` (for interleaved steps),
``state_dict``/``load_state_dict`` and ``loss_key``, the statistic its epochs report.
"""

from __future__ import annotations

import sys

from seqadv.registry import Entry, Registry, import_dotted

__all__ = ["ALGORITHMS", "PRETRAINERS", "SB3_PACKAGES"]

#: ``package`` prefixes of ``package:Class`` names that name stable-baselines3 classes
SB3_PACKAGES = ("sb3", "stable_baselines3", "sb3_contrib")


def _is_sb3_class(obj: object) -> bool:
    """True for a stable-baselines3 algorithm class (never imports stable-baselines3)."""
    base_class = sys.modules.get("stable_baselines3.common.base_class")
    if base_class is None or not isinstance(obj, type):
        return False
    return issubclass(obj, base_class.BaseAlgorithm)


def _resolve(name: str) -> Entry | None:
    """Entries for unregistered ``package:Class`` SB3 names and dotted paths to SB3 classes.

    Known SB3 packages import stable-baselines3 (the user asked for it); a dotted path is
    imported, and if it names an SB3 algorithm class (its module imported stable-baselines3)
    it becomes an sb3 learner. Anything else is left to the registry (None).
    """
    if ":" not in name:
        return None
    if name.partition(":")[0] not in SB3_PACKAGES and not _is_sb3_class(import_dotted(name)):
        return None
    from seqadv.algorithms.sb3 import sb3_entry

    return sb3_entry(name)


ALGORITHMS = Registry("algorithm", resolver=_resolve)
ALGORITHMS.add("reinforce", "seqadv.algorithms.reinforce:Reinforce", kind="seqadv")
ALGORITHMS.add(
    "actor_critic",
    "seqadv.algorithms.actor_critic:ActorCritic",
    kind="seqadv",
    summary="policy gradient with a learned critic (a copy of the policy's encoder); GAE by default",
)
_SB3_SUMMARY = (
    "{}: policy as actor, separate critic; use env.reward_scheme mc_rollout_shaped, gamma 1"
)
for _name, _factory in (
    ("sb3:PPO", "ppo"),
    ("sb3:A2C", "a2c"),
    ("sb3_contrib:RecurrentPPO", "recurrent_ppo"),
    ("sb3_contrib:MaskablePPO", "maskable_ppo"),
):
    ALGORITHMS.add(
        _name,
        f"seqadv.algorithms.sb3.learner:{_factory}",
        kind="sb3",
        summary=_SB3_SUMMARY.format(_name.split(":")[1]),
    )

PRETRAINERS = Registry("pretrainer")
PRETRAINERS.add(
    "mle", "seqadv.algorithms.mle:MLELearner", summary="maximum likelihood (teacher forcing), Adam"
)
PRETRAINERS.add(
    "dns",
    "seqadv.algorithms.dns:DNSLearner",
    summary="IRGAN's dynamic negative sampling (BPR on hard negatives, SGD) for irgan_mf",
)
