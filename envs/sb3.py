"""stable-baselines3 form of every seqadv environment family: a ``VecEnv`` over its batched core.

stable-baselines3 accepts a subclass of its own ``VecEnv`` directly (it rejects a
``gymnasium.vector.VectorEnv``). Ended rows are reset in the same step, the last observation
goes to ``info["terminal_observation"]`` and ``info["TimeLimit.truncated"]`` is set for
truncated episodes (SB3 bootstraps only those). Importing this module imports
stable-baselines3; ``import seqadv`` does not.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from stable_baselines3.common.vec_env import VecEnv

from seqadv.envs.family import BatchedCore, to_numpy

__all__ = ["SB3VecEnv", "SB3TextGenerationVecEnv", "to_sb3"]


class SB3VecEnv(VecEnv):
    """A stable-baselines3 ``VecEnv`` stepping the B episodes of one batched core at once.

    Args:
        core: the :class:`~seqadv.envs.family.BatchedCore` (shared, not copied); build it
            with ``vector_env.as_sb3()`` or :func:`to_sb3`.

    The core's public attributes (``discriminator``, ``data``, ``rollout_policy``,
    ``reward_scheme``, ``timers``) are attributes here too, so ``get_attr`` finds them.
    """

    def __init__(self, core: BatchedCore) -> None:
        if not isinstance(core, BatchedCore):
            raise TypeError(f"SB3VecEnv needs a seqadv batched core, got {type(core).__name__}")
        if core.idle_rows() is not None:
            from seqadv.errors import ConfigError

            raise ConfigError(
                f"{type(core).__name__}: this configuration fills a varying number of rows per "
                "batch (idle rows), which stable-baselines3 cannot skip; use seqadv's own "
                "learners (reinforce, actor_critic) or turn the option off"
            )
        self.core = core
        self.render_mode = None  # read by VecEnv.__init__
        super().__init__(core.num_envs, core.observation_space, core.action_space)
        self._actions: np.ndarray | None = None

    discriminator = property(lambda self: self.core.discriminator)
    data = property(lambda self: self.core.data)
    rollout_policy = property(lambda self: self.core.rollout_policy)
    reward_scheme = property(lambda self: self.core.reward_scheme)
    timers = property(lambda self: self.core.timers)
    max_episode_steps = property(lambda self: self.core.max_episode_steps)

    def reset(self) -> np.ndarray:
        seed = self._seeds[0] if self._seeds and self._seeds[0] is not None else None
        if seed is not None:
            self.core.seed(int(seed))
        self._reset_seeds()
        self._reset_options()
        self.core.reset()
        return to_numpy(self.core.observations())

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions).reshape(self.num_envs)

    def step_wait(self):
        assert self._actions is not None, "step_async must come before step_wait"
        out = self.core.step(torch.as_tensor(self._actions))
        ended = out.ended
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if bool(ended.any()):
            last_obs = self.core.observations()
            for i in ended.nonzero().squeeze(1).tolist():
                infos[i].update(self.core.episode_info(i, out.finished[i]))
                infos[i]["terminal_observation"] = to_numpy(last_obs, i)
                infos[i]["TimeLimit.truncated"] = bool(out.truncated[i])
            self.core.reset(ended)
        return (
            to_numpy(self.core.observations()),
            out.rewards.numpy().astype(np.float32),
            ended.numpy().copy(),
            infos,
        )

    def close(self) -> None:
        pass

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list[Any]:
        idx = self._indices(indices)
        if method_name == "action_masks":
            masks = self.action_masks()
            return [masks[i] for i in idx]
        result = getattr(self, method_name)(*args, **kwargs)
        return [result] * len(idx)

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def action_masks(self) -> np.ndarray:
        masks = self.core.action_masks()
        if masks is None:
            return np.ones((self.num_envs, int(self.action_space.n)), dtype=bool)
        return masks.numpy().copy()

    def _indices(self, indices: Any) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, int):
            return [indices]
        return list(indices)


SB3TextGenerationVecEnv = SB3VecEnv  # the name of the first core, kept for users' code


def to_sb3(env: Any) -> SB3VecEnv:
    """The stable-baselines3 form of a seqadv vector env (or of a batched core)."""
    if isinstance(env, BatchedCore):
        return SB3VecEnv(env)
    if hasattr(env, "as_sb3"):
        return env.as_sb3()
    raise TypeError(
        f"to_sb3 needs a seqadv vector environment (one with as_sb3()), got {type(env).__name__}"
    )
