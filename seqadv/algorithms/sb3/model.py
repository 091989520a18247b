"""Building an SB3 model whose actor is a seqadv policy, and getting the policy back out.

:func:`make_model` is for users who drive SB3 themselves (``model.learn(...)``);
:class:`~seqadv.algorithms.sb3.SB3Learner` builds its model with it. The environment is any
seqadv vector environment (converted with its ``as_sb3()``) or an SB3 ``VecEnv``; seqadv's
defaults for the algorithm are ``n_steps`` = the episode length (``max_episode_steps`` of the
environment, else the policy's ``max_len``), ``gamma`` = 1 and a ``batch_size`` that divides
``n_steps * n_envs``.
"""

from __future__ import annotations

import copy
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.vec_env import VecEnv, VecMonitor, is_vecenv_wrapped
from torch import nn

from seqadv.algorithms.sb3.classes import (
    check_algorithm_kwargs,
    init_parameters,
    policy_base,
    resolve_algorithm_class,
)
from seqadv.algorithms.sb3.policy import generator_policy_class, is_actor_policy
from seqadv.errors import ConfigError

__all__ = ["make_model", "export_generator", "find_policy", "as_vec_env", "env_attr"]


def as_vec_env(env: Any) -> VecEnv:
    """An SB3 VecEnv wrapped in VecMonitor: an SB3 VecEnv passes through, a seqadv vector env
    (anything with ``as_sb3()``) or batched core is converted."""
    if not isinstance(env, VecEnv):
        from seqadv.envs.family import BatchedCore

        if callable(getattr(env, "as_sb3", None)):
            env = env.as_sb3()
        elif isinstance(env, BatchedCore):
            from seqadv.envs.sb3 import to_sb3

            env = to_sb3(env)
        else:
            raise ConfigError(
                f"the sb3 learner needs a seqadv vector environment (one with as_sb3(), e.g. "
                f"TextGenerationVectorEnv) or a stable-baselines3 VecEnv, got "
                f"{type(env).__name__}"
            )
    if not is_vecenv_wrapped(env, VecMonitor):
        env = VecMonitor(env)
    return env


def env_attr(vec_env: VecEnv, name: str, default: Any = None) -> Any:
    """The public attribute ``name`` of ``vec_env``'s first environment, or ``default``."""
    try:
        return vec_env.get_attr(name, indices=[0])[0]
    except AttributeError:
        return default


def _largest_divisor(n: int, at_most: int) -> int:
    for b in range(min(at_most, n), 1, -1):
        if n % b == 0:
            return b
    return min(at_most, n)


def _episode_length(vec_env: VecEnv, policy: Any) -> int | None:
    """``max_episode_steps`` of the environment, else the policy's ``max_len``, else None."""
    steps = env_attr(vec_env, "max_episode_steps")
    if steps is None:
        steps = getattr(policy, "max_len", None)
    return None if steps is None else int(steps)


def _algorithm_kwargs(
    algorithm: type, policy: Any, vec_env: VecEnv, kwargs: dict[str, Any]
) -> dict[str, Any]:
    """seqadv's defaults for the SB3 constructor: n_steps = T, gamma = 1, a dividing batch."""
    params, _ = init_parameters(algorithm)
    out = dict(kwargs)
    if "n_steps" in params:
        steps = _episode_length(vec_env, policy)
        if steps is not None:
            out.setdefault("n_steps", steps)
    if "gamma" in params:
        out.setdefault("gamma", 1.0)
    if "batch_size" in params and "n_steps" in out:
        out.setdefault("batch_size", _largest_divisor(int(out["n_steps"]) * vec_env.num_envs, 64))
    return out


def _device(policy: nn.Module) -> Any:
    first = next(iter(policy.parameters()), None)
    return "cpu" if first is None else first.device


def make_model(
    algorithm: str | type,
    env: Any,
    generator: Any,
    *,
    seed: int | None = 0,
    policy_kwargs: dict[str, Any] | None = None,
    **kwargs: Any,
) -> OnPolicyAlgorithm:
    """An SB3 on-policy model whose actor is ``generator``, for users who drive SB3 themselves.

    Args:
        algorithm: ``"sb3:PPO"``, ``"sb3_contrib:MaskablePPO"``, ``"mypkg.algos:MyPPO"`` or
            the class.
        env: a seqadv vector environment (converted with its ``as_sb3()``) or an SB3 VecEnv
            of the same spaces; it is wrapped in ``VecMonitor``.
        generator: the actor, any seqadv policy (an nn.Module with ``actor_modules()``, such
            as :class:`~seqadv.models.generator.LSTMGenerator`); trained in place.
        seed: passed to SB3 (which seeds Python, numpy and torch globally).
        policy_kwargs: extra policy arguments (``net_arch={"vf": [...]}``,
            ``share_features_extractor``, optimizer settings).
        **kwargs: the algorithm's arguments; seqadv's defaults are ``n_steps`` = the episode
            length, ``gamma`` = 1.0 and a ``batch_size`` that divides ``n_steps * n_envs``.

    Returns:
        The model; ``model.learn(...)`` trains the generator.
    """
    cls = resolve_algorithm_class(algorithm)
    policy_kwargs = dict(policy_kwargs or {})
    if "generator" in policy_kwargs:
        raise ConfigError("policy_kwargs.generator is set by the sb3 learner")
    vec_env = as_vec_env(env)
    base = policy_base(cls)
    assert base is not None
    policy_class = generator_policy_class(base)
    args = _algorithm_kwargs(cls, generator, vec_env, kwargs)
    check_algorithm_kwargs(cls, args, f"algorithm {cls.__name__}")
    device = args.pop("device", _device(generator))
    model = cls(
        policy=policy_class,
        env=vec_env,
        seed=seed,
        device=device,
        policy_kwargs={"generator": generator, **policy_kwargs},
        **args,
    )
    if args.get("verbose", 0) == 0 and args.get("tensorboard_log") is None:
        model.set_logger(Logger(folder=None, output_formats=[]))  # no files, no output
    return model


def find_policy(source: Any) -> nn.Module:
    """The seqadv policy acting in ``source``: a policy itself, an SB3 model or policy built
    by this package, or a learner (its ``policy``)."""
    if is_actor_policy(source):
        return source
    if isinstance(source, BaseAlgorithm):
        source = source.policy
    for attr in ("generator", "policy"):  # an SB3 policy of this package; a learner
        found = getattr(source, attr, None)
        if is_actor_policy(found):
            return found
    raise ConfigError(
        f"{type(source).__name__} is not a generator-acting SB3 policy, model or learner"
    )


def export_generator(source: Any) -> nn.Module:
    """An independent copy of the actor policy of ``source``.

    Args:
        source: an :class:`~seqadv.algorithms.sb3.SB3Learner`, an SB3 model or policy built by
            this package (also after SB3's own ``save``/``load``), or a policy.

    A policy that rebuilds from its ``spec`` (``from_spec``, as the LSTM generator) is rebuilt
    and given the actor's weights; any other is deep-copied.
    """
    policy = find_policy(source)
    spec, from_spec = getattr(policy, "spec", None), getattr(type(policy), "from_spec", None)
    if spec is None or not callable(from_spec):
        return copy.deepcopy(policy)
    out = from_spec(spec).to(_device(policy))
    out.load_state_dict(policy.state_dict())
    return out
