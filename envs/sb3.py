"""stable-baselines3 form of the text environments: a ``VecEnv`` over the same batched core.

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

from seqadv.envs.core import TextGenerationCore

__all__ = ["SB3TextGenerationVecEnv", "to_sb3"]


class SB3TextGenerationVecEnv(VecEnv):
    """A stable-baselines3 ``VecEnv`` stepping B sequences of one core at once.

    Args:
        env: a :class:`~seqadv.envs.text_generation.TextGenerationVectorEnv` (its core is
            shared, not copied) or a :class:`~seqadv.envs.core.TextGenerationCore`.
    """

    def __init__(self, env: Any) -> None:
        core = env if isinstance(env, TextGenerationCore) else env.core
        from seqadv.envs.text_generation import _spaces

        self.core = core
        action_space, observation_space = _spaces(core)
        self.render_mode = None  # read by VecEnv.__init__
        super().__init__(core.num_envs, observation_space, action_space)
        self._actions: np.ndarray | None = None
        self._seed_offset = 0

    @property
    def discriminator(self) -> Any:
        return self.core.discriminator

    def reset(self) -> np.ndarray:
        seed = self._seeds[0] if self._seeds and self._seeds[0] is not None else None
        if seed is not None:
            self.core.seed(int(seed))
        self._reset_seeds()
        self._reset_options()
        self.core.reset()
        return self.core.observations().numpy().copy()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions).reshape(self.num_envs)

    def step_wait(self):
        assert self._actions is not None, "step_async must come before step_wait"
        out = self.core.step(torch.as_tensor(self._actions))
        ended = out.ended
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if bool(ended.any()):
            last_obs = self.core.observations().numpy().copy()
            for i in ended.nonzero().squeeze(1).tolist():
                infos[i]["terminal_observation"] = last_obs[i]
                infos[i]["TimeLimit.truncated"] = bool(out.truncated[i])
                infos[i]["sequence"] = out.finished[i].numpy().copy()
                text = self.core.decode(out.finished[i])
                if text is not None:
                    infos[i]["text"] = text
            self.core.reset(ended)
        return (
            self.core.observations().numpy().copy(),
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
            masks = self.core.action_masks().numpy()
            return [masks[i] for i in idx]
        result = getattr(self, method_name)(*args, **kwargs)
        return [result] * len(idx)

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def action_masks(self) -> np.ndarray:
        return self.core.action_masks().numpy()

    def _indices(self, indices: Any) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, int):
            return [indices]
        return list(indices)


def to_sb3(env: Any) -> SB3TextGenerationVecEnv:
    """Adapt a TextGenerationVectorEnv (or its core) to stable-baselines3."""
    return SB3TextGenerationVecEnv(env)
