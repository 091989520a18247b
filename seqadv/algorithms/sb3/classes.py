"""Which SB3 algorithm classes the bridge drives, and which arguments they take.

``"sb3:PPO"``, ``"sb3_contrib:MaskablePPO"``, a dotted path ``"mypkg.algos:MyPPO"`` or a
class resolve to an on-policy algorithm class with an actor-critic policy (checked, with a
ConfigError saying why a class cannot be used: off-policy, not on-policy, no actor-critic
policy, a constructor that does not take what the learner passes). ``sb3_entry`` makes the
ALGORITHMS registry entry of such a name.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy

from seqadv.algorithms.sb3.policy import is_maskable
from seqadv.errors import ConfigError
from seqadv.registry import Entry, import_dotted

__all__ = [
    "PACKAGES",
    "RESERVED",
    "policy_base",
    "check_algorithm_class",
    "resolve_algorithm_class",
    "init_parameters",
    "check_algorithm_kwargs",
    "sb3_entry",
]

#: package prefixes of ``package:Class`` names and the modules they stand for
PACKAGES = {
    "sb3": "stable_baselines3",
    "stable_baselines3": "stable_baselines3",
    "sb3_contrib": "sb3_contrib",
}

#: SB3 constructor arguments the learner sets itself
RESERVED = ("policy", "env", "seed", "_init_setup_model")


def policy_base(algorithm: type) -> type | None:
    """The actor-critic policy class an SB3 algorithm builds by default, if it has one."""
    aliases = getattr(algorithm, "policy_aliases", {}) or {}
    for key in ("MlpPolicy", "MlpLstmPolicy"):
        base = aliases.get(key)
        if isinstance(base, type) and (issubclass(base, ActorCriticPolicy) or is_maskable(base)):
            return base
    return None


def _on_policy_names(module: Any) -> list[str]:
    names = []
    for attr in getattr(module, "__all__", dir(module)):
        obj = getattr(module, attr, None)
        if isinstance(obj, type) and issubclass(obj, OnPolicyAlgorithm) and policy_base(obj):
            names.append(attr)
    return sorted(names)


def check_algorithm_class(algorithm: Any, name: str) -> type:
    """``algorithm`` if it is an on-policy SB3 class the policy adapter fits, else ConfigError."""
    where = f"algorithm {name!r}"
    if not isinstance(algorithm, type) or not issubclass(algorithm, BaseAlgorithm):
        raise ConfigError(
            f"{where}: {algorithm!r} is not a stable-baselines3 algorithm class (a subclass of "
            "stable_baselines3.common.base_class.BaseAlgorithm)"
        )
    cls = algorithm.__name__
    need = (
        "the sb3 learner needs an on-policy algorithm (a subclass of OnPolicyAlgorithm with an "
        "actor-critic policy over Discrete(V) token actions, e.g. PPO, A2C, TRPO, "
        "RecurrentPPO, MaskablePPO)"
    )
    if issubclass(algorithm, OffPolicyAlgorithm):
        raise ConfigError(
            f"{where}: {cls} is an off-policy algorithm (a subclass of OffPolicyAlgorithm, which "
            f"learns from a replay buffer); {need}: the reward comes from a discriminator that "
            "keeps training, so replayed transitions would carry the rewards of discriminators "
            "that no longer exist"
        )
    if not issubclass(algorithm, OnPolicyAlgorithm):
        bases = ", ".join(b.__name__ for b in algorithm.__bases__)
        raise ConfigError(
            f"{where}: {cls} is not an on-policy algorithm (it derives from {bases}, not "
            f"OnPolicyAlgorithm); {need}"
        )
    if policy_base(algorithm) is None:
        aliases = ", ".join(
            f"{k}={getattr(v, '__name__', v)}"
            for k, v in getattr(algorithm, "policy_aliases", {}).items()
        )
        raise ConfigError(
            f"{where}: {cls}'s policies ({aliases or 'none'}) are not actor-critic policies "
            "(ActorCriticPolicy, MaskableActorCriticPolicy or RecurrentActorCriticPolicy), so "
            "the generator cannot be its actor"
        )
    params, complete = init_parameters(algorithm)
    missing = [
        p for p in ("policy", "env", "learning_rate", "policy_kwargs", "seed") if p not in params
    ]
    if missing and complete:
        raise ConfigError(
            f"{where}: {cls}.__init__ does not accept {', '.join(missing)}, which the sb3 "
            "learner passes"
        )
    return algorithm


def resolve_algorithm_class(name: str | type) -> type:
    """The algorithm class of ``"sb3:PPO"``, ``"sb3_contrib:MaskablePPO"``, a dotted path
    ``"mypkg.algos:MyPPO"`` or a class; ConfigError (saying why) if it cannot be used."""
    if isinstance(name, type):
        return check_algorithm_class(name, name.__name__)
    if not isinstance(name, str) or ":" not in name:
        raise ConfigError(
            f"algorithm {name!r}: expected 'package:Class' (sb3:PPO, sb3_contrib:RecurrentPPO) "
            "or a dotted path 'mypkg.module:Class'"
        )
    package, _, attr = name.partition(":")
    if package in PACKAGES:
        module = importlib.import_module(PACKAGES[package])
        obj = getattr(module, attr, None)
        if obj is None:
            known = _on_policy_names(module)
            close = difflib.get_close_matches(attr, known, n=1)
            hint = f" Did you mean {package}:{close[0]}?" if close else ""
            raise ConfigError(
                f"algorithm {name!r}: {PACKAGES[package]} has no algorithm {attr!r}.{hint} "
                f"On-policy algorithms there: {', '.join(known) or '(none)'}"
            )
    else:
        obj = import_dotted(name)
    return check_algorithm_class(obj, name)


def init_parameters(algorithm: type) -> tuple[list[str], bool]:
    """The keyword arguments ``algorithm(...)`` accepts, following ``**kwargs`` up the MRO.

    Returns:
        The names, and whether the list is complete (False if some ``__init__`` on the way
        takes ``**kwargs`` that no base class names).
    """
    names: list[str] = []
    for klass in algorithm.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        for p in params:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self":
                if p.name not in names:
                    names.append(p.name)
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return names, True
    return names, False


def check_algorithm_kwargs(algorithm: type, kwargs: dict[str, Any], what: str) -> None:
    """ConfigError for keys that neither the class nor its bases accept, or that seqadv sets."""
    reserved = [k for k in RESERVED if k in kwargs]
    if reserved:
        raise ConfigError(
            f"{what}: {', '.join(map(repr, reserved))} cannot be set (the sb3 learner sets "
            "them: policy is the generator adapter, env comes from learn(), seed from seed)"
        )
    accepted, complete = init_parameters(algorithm)
    unknown = [k for k in kwargs if k not in accepted]
    if unknown and complete:
        raise ConfigError(
            f"{what} got unknown argument(s) {', '.join(map(repr, unknown))}; "
            f"{algorithm.__name__} accepts: "
            f"{', '.join(k for k in accepted if k not in RESERVED)}"
        )


def sb3_entry(name: str) -> Entry:
    """A registry entry whose factory builds an :class:`~seqadv.algorithms.sb3.SB3Learner`
    for ``name``.

    Resolves (and checks) the class at once, so an off-policy or incompatible class fails
    when the name is looked up.
    """
    from seqadv.algorithms.sb3.learner import SB3Learner  # the learner imports this module

    algorithm = resolve_algorithm_class(name)
    factory = functools.partial(SB3Learner, algorithm)
    return Entry(
        name, factory, {"kind": "sb3", "summary": f"stable-baselines3 {algorithm.__name__}"}
    )
