"""Environment families: one batched core, three forms.

An environment family is one file: a *batched core* (a subclass of :class:`BatchedCore`) that
steps B episodes at once in torch, and the forms made from it by :func:`env_forms`: a single
``gymnasium.Env`` (for ``gymnasium.make``, the env checker and users' own code) and a
batched ``gymnasium.vector.VectorEnv``; ``vector_env.as_sb3()`` gives the stable-baselines3
``VecEnv`` over the same core (:mod:`seqadv.envs.sb3`). The core's constructor is the only
argument list: the forms pass their keyword arguments through (``num_envs`` is 1 for the
single form), and their signatures are the core's.

What a core provides (see :class:`BatchedCore`): its spaces, ``seed``, ``reset(mask)``,
``observations()`` (a tensor, or a mapping of tensors for a ``Dict`` space, B rows),
``step(actions, skip) -> StepOutput``, ``action_masks()``, the info of an ended episode and
a text rendering; and, as public attributes, what the trainer, learners and callbacks may use:
``discriminator``, ``data``, ``rollout_policy``, ``reward_scheme``, ``timers`` and
``max_episode_steps``.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from torch import Tensor

__all__ = [
    "BatchedCore",
    "StepOutput",
    "env_forms",
    "CoreEnv",
    "CoreVectorEnv",
    "as_actions",
    "check_token_actions",
    "discriminator_reward",
    "rollout_free_scheme",
    "scoring_mode",
    "to_numpy",
]


@dataclass
class StepOutput:
    """What one batched step returns (all tensors have B rows)."""

    rewards: Tensor  # (B,) float32
    terminated: Tensor  # (B,) bool
    truncated: Tensor  # (B,) bool
    finished: Tensor  # (B, L) int64 records of the episodes that ended this step (others: pad)

    @property
    def ended(self) -> Tensor:
        return self.terminated | self.truncated


class BatchedCore:
    """B episodes stepped at once in torch; subclasses implement the methods below.

    Attributes every core sets: ``num_envs``, ``max_episode_steps``, ``action_space`` and
    ``observation_space`` (of one episode), ``discriminator``, ``data``, ``rollout_policy``
    (or None), ``reward_scheme`` (or None), ``timers`` and ``rng`` (a torch generator).
    """

    num_envs: int
    max_episode_steps: int
    action_space: spaces.Space
    observation_space: spaces.Space
    discriminator: Any = None
    data: Any = None
    rollout_policy: Any = None
    reward_scheme: Any = None

    def seed(self, seed: int) -> None:
        """Seed the core's torch generator (rollouts, reference draws, episode starts)."""
        self.rng.manual_seed(int(seed))

    def reset(self, mask: Tensor | None = None) -> None:  # pragma: no cover - abstract
        """Start new episodes in the rows of ``mask`` (B,) bool (all rows when None)."""
        raise NotImplementedError

    def observations(self) -> Tensor | dict[str, Tensor]:  # pragma: no cover - abstract
        """The current observations, B rows (the core's own tensors: copy before keeping)."""
        raise NotImplementedError

    def step(self, actions: Tensor, skip: Tensor | None = None) -> StepOutput:  # pragma: no cover
        """Act in every row that has not ended (and is not in ``skip``)."""
        raise NotImplementedError

    def action_masks(self) -> Tensor | None:
        """(B, A) bool: the actions allowed now, or None when every action always is."""
        return None

    def idle_rows(self) -> Tensor | None:
        """(B,) bool: rows that carry no episode since the last reset (a core whose batch
        holds a varying number of episodes, such as one user's block of samples), or None
        when every row does. seqadv's learners leave them out of the batch; the
        stable-baselines3 form refuses a core that has them."""
        return None

    def state_dict(self) -> dict[str, Any]:
        """State that outlives an episode (a position in a sweep over queries), saved in
        checkpoints so that a resumed run continues exactly; empty for most cores."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""

    def episode_info(self, row: int, finished: Tensor) -> dict[str, Any]:
        """The info of an episode that ended in ``row`` (its record: ``finished``)."""
        return {"sequence": finished.numpy().copy()}

    def render_row(self, row: int) -> str:
        obs = self.observations()
        if isinstance(obs, dict):
            return " ".join(f"{k}={v[row].tolist()}" for k, v in obs.items())
        return " ".join(str(int(i)) for i in obs[row])


def as_actions(actions: Any, n: int, space: spaces.Space) -> Tensor:
    """``actions`` as an (n,) int64 tensor, or a ValueError naming what is wrong.

    Integers (Python, numpy, torch, integral floats) are accepted; booleans, strings and other
    objects are refused (``True`` is not the action 1).
    """
    if isinstance(actions, np.ndarray) and actions.dtype.kind in "iu" and actions.size == n:
        return torch.from_numpy(actions.reshape(n).astype(np.int64, copy=False))  # the fast path
    if isinstance(actions, Tensor):
        array = actions.detach().cpu().numpy()
    else:
        try:
            array = np.asarray(actions)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"actions must be integers of {space}, got {actions!r} ({exc})") from None
    kind = array.dtype.kind
    if kind == "b" or kind not in "iuf":
        raise ValueError(
            f"actions must be integers of {space}, got {actions!r} (dtype {array.dtype})"
        )
    if array.size != n:
        raise ValueError(f"expected {n} action(s) of {space}, got an array of shape {array.shape}")
    if kind == "f":
        integral = np.all(np.isfinite(array)) and np.array_equal(array, np.round(array))
        if not integral or np.any(np.abs(array) > 2**53):
            raise ValueError(f"actions must be integers of {space}, got {array.reshape(-1).tolist()}")
    return torch.as_tensor(array.reshape(n).astype(np.int64))


def check_token_actions(actions: Tensor, num_envs: int, vocab_size: int) -> Tensor:
    """(B,) int64 token ids of a ``Discrete(vocab_size)`` family, or a ValueError naming the
    bad one (its row and the action space)."""
    if actions.shape != (num_envs,):
        raise ValueError(f"actions must have shape ({num_envs},), got {tuple(actions.shape)}")
    if actions.dtype.is_floating_point and not torch.equal(actions, actions.round()):
        raise ValueError(f"actions must be integer token ids, got {actions.tolist()}")
    actions = actions.long()
    bad = (actions < 0) | (actions >= vocab_size)
    if bool(bad.any()):
        i = int(bad.nonzero()[0])
        raise ValueError(
            f"action {int(actions[i])} (env {i}) is outside the vocabulary "
            f"0..{vocab_size - 1} (action space Discrete({vocab_size}))"
        )
    return actions


@contextlib.contextmanager
def scoring_mode(module: Any) -> Iterator[None]:
    """Score with ``module`` in eval mode and without gradients; its mode restored after."""
    was_training = getattr(module, "training", False)
    if was_training:
        module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        if was_training:
            module.train(True)


def rollout_free_scheme(num_envs: int, score_precision: str, reward_scheme: Any, family: str) -> Any:
    """The reward scheme of a family without Monte-Carlo rollouts, its common arguments
    checked: ``num_envs`` >= 1, ``score_precision`` fp32 or bf16, a scheme that needs no
    rollout policy (a ConfigError naming ``family`` otherwise)."""
    from seqadv.errors import ConfigError
    from seqadv.rewards.schemes import make_scheme

    if num_envs < 1:
        raise ConfigError(f"num_envs must be >= 1, got {num_envs}")
    if score_precision not in ("fp32", "bf16"):
        raise ConfigError(f"score_precision must be fp32 or bf16, got {score_precision!r}")
    scheme = make_scheme(reward_scheme)
    if "rollout_policy" in scheme.needs:
        raise ConfigError(
            f"reward_scheme {scheme.name!r} uses Monte-Carlo rollouts, which {family} does not "
            "support (use terminal or per_token, or a scheme of your own without rollouts)"
        )
    return scheme


def discriminator_reward(core: Any, examples: Tensor, bf16: bool = False) -> Tensor:
    """``core.reward`` of ``core.discriminator``'s logits of ``examples``, scored in eval mode
    without gradients (bf16 autocast when asked), timed under the core's ``discriminator``
    and ``reward`` timers."""
    with scoring_mode(core.discriminator):
        with core.timers("discriminator"), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            logits = core.discriminator(examples).float()
        with core.timers("reward"):
            return core.reward(logits, sequences=examples, discriminator=core.discriminator).float()


def to_numpy(obs: Tensor | dict[str, Tensor], row: int | None = None) -> Any:
    """Copies of observations as numpy (one row of them when ``row`` is given)."""
    if isinstance(obs, dict):
        return {k: to_numpy(v, row) for k, v in obs.items()}
    part = obs if row is None else obs[row]
    return part.numpy().copy()


def _all_masks(core: BatchedCore) -> np.ndarray:
    masks = core.action_masks()
    if masks is None:
        n = int(core.action_space.n)  # type: ignore[attr-defined]
        return np.ones((core.num_envs, n), dtype=bool)
    return masks.numpy().copy()


class _CoreAccess:
    """Public views of the core for the trainer, learners and callbacks (no ``.core``)."""

    core: BatchedCore

    @property
    def discriminator(self) -> Any:
        return self.core.discriminator

    @property
    def data(self) -> Any:
        return self.core.data

    @property
    def rollout_policy(self) -> Any:
        return self.core.rollout_policy

    @property
    def reward_scheme(self) -> Any:
        return self.core.reward_scheme

    @property
    def timers(self) -> Any:
        return self.core.timers

    @property
    def max_episode_steps(self) -> int:
        return self.core.max_episode_steps


class CoreEnv(_CoreAccess, gym.Env):
    """The single form: one episode of a batched core (B = 1)."""

    core_class: type[BatchedCore]
    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, render_mode: str | None = None, **kwargs: Any) -> None:
        self.core = self.core_class(num_envs=1, **kwargs)
        self.action_space = self.core.action_space
        self.observation_space = self.core.observation_space
        self.render_mode = render_mode
        self._ended = True

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.core.seed(int(self.np_random.integers(2**63 - 1)))
        self.core.reset()
        self._ended = False
        return to_numpy(self.core.observations(), 0), {}

    def step(self, action: Any):
        if self._ended:
            raise RuntimeError("the episode has ended: call reset() before step()")
        out = self.core.step(as_actions(action, 1, self.action_space))
        terminated, truncated = bool(out.terminated[0]), bool(out.truncated[0])
        info: dict[str, Any] = {}
        if terminated or truncated:
            self._ended = True
            info = self.core.episode_info(0, out.finished[0])
        obs = to_numpy(self.core.observations(), 0)
        return obs, float(out.rewards[0]), terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """(A,) bool: the actions allowed now (for MaskablePPO)."""
        return _all_masks(self.core)[0]

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        return self.core.render_row(0)


class CoreVectorEnv(_CoreAccess, VectorEnv):
    """The batched form: B episodes of one core, stepped at once in torch.

    ``autoreset_mode``: ``next_step`` (Gymnasium's default; the step after an episode ends
    resets that row and ignores its action) or ``disabled`` (ended rows stay ended until
    ``reset(options={'reset_mask': mask})``; seqadv's learners collect one episode per row
    this way). Infos follow Gymnasium's vector convention (``info[key]`` and ``info['_key']``,
    which rows have one). ``step_torch`` and ``reset_torch`` skip the numpy conversions;
    ``as_sb3()`` is the stable-baselines3 form over the same core.
    """

    core_class: type[BatchedCore]
    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 8,
        autoreset_mode: str | AutoresetMode = "next_step",
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.core = self.core_class(num_envs=num_envs, **kwargs)
        self.num_envs = num_envs
        self.single_action_space = self.core.action_space
        self.single_observation_space = self.core.observation_space
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        modes = {"next_step": AutoresetMode.NEXT_STEP, "disabled": AutoresetMode.DISABLED}
        mode = autoreset_mode if isinstance(autoreset_mode, AutoresetMode) else modes.get(
            str(autoreset_mode)
        )
        if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.DISABLED):
            raise ValueError(
                f"autoreset_mode must be 'next_step' or 'disabled', got {autoreset_mode!r}"
            )
        self.metadata = {**type(self).metadata, "autoreset_mode": mode}
        self.render_mode = render_mode
        self._pending_reset = torch.zeros(num_envs, dtype=torch.bool)
        self._was_reset = False

    def reset_torch(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """``reset`` returning the core's observations as tensors (not copies)."""
        if seed is not None:
            self._np_random, self._np_random_seed = gym.utils.seeding.np_random(seed)
        mask = None
        if options and "reset_mask" in options:
            mask = torch.as_tensor(np.asarray(options["reset_mask"], dtype=bool))
            if mask.shape != (self.num_envs,):
                raise ValueError(
                    f"reset_mask must have shape ({self.num_envs},), got {tuple(mask.shape)}"
                )
        if mask is not None and not self._was_reset:
            raise RuntimeError("reset the environment (reset() without a reset_mask) first")
        if seed is not None or mask is None:
            self.core.seed(int(self.np_random.integers(2**63 - 1)))
        self.core.reset(mask)
        self._was_reset = True
        if mask is None:
            self._pending_reset[:] = False
        else:
            self._pending_reset[mask] = False
        return self.core.observations()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        return to_numpy(self.reset_torch(seed=seed, options=options)), {}

    def step_torch(self, actions: Tensor):
        """The step without numpy conversions: tensors in, ``(observations, StepOutput)`` out."""
        if not self._was_reset:
            raise RuntimeError("call reset() before step()")
        if isinstance(actions, Tensor) and actions.dtype == torch.bool:
            raise ValueError(f"actions must be integers of {self.single_action_space}, got booleans")
        auto = self.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
        resetting = self._pending_reset.clone() if auto else torch.zeros_like(self._pending_reset)
        if bool(resetting.any()):
            self.core.reset(resetting)
            self._pending_reset[resetting] = False
        out = self.core.step(torch.as_tensor(actions), skip=resetting)
        if auto:
            self._pending_reset |= out.ended
        return self.core.observations(), out

    def step(self, actions: Any):
        obs, out = self.step_torch(as_actions(actions, self.num_envs, self.single_action_space))
        infos: dict[str, Any] = {}
        ended = out.ended
        if bool(ended.any()):
            rows = ended.nonzero().squeeze(1).tolist()
            per_row = {i: self.core.episode_info(i, out.finished[i]) for i in rows}
            mask = ended.numpy().copy()
            for key in {k for info in per_row.values() for k in info}:
                values = np.empty(self.num_envs, dtype=object)
                for i, info in per_row.items():
                    values[i] = info.get(key)
                infos[key], infos[f"_{key}"] = values, mask
        return (
            to_numpy(obs),
            out.rewards.numpy().astype(np.float64),
            out.terminated.numpy().copy(),
            out.truncated.numpy().copy(),
            infos,
        )

    def action_masks(self) -> np.ndarray:
        """(B, A) bool: the actions each row may take now."""
        return _all_masks(self.core)

    def action_masks_torch(self) -> Tensor | None:
        """(B, A) bool tensor of the allowed actions, or None when all always are."""
        return self.core.action_masks()

    def idle_rows_torch(self) -> Tensor | None:
        """(B,) bool: rows without an episode since the last reset (see
        :meth:`BatchedCore.idle_rows`), or None."""
        return self.core.idle_rows()

    def decode(self, ids: Tensor) -> str | None:
        decode = getattr(self.core, "decode", None)
        return decode(ids) if decode is not None else None

    def as_sb3(self):
        """The stable-baselines3 ``VecEnv`` over this env's core (imports stable-baselines3)."""
        from seqadv.envs.sb3 import SB3VecEnv

        return SB3VecEnv(self.core)


def _signature(core_class: type, leading: list[inspect.Parameter]) -> inspect.Signature:
    params = [
        p
        for name, p in inspect.signature(core_class.__init__).parameters.items()
        if name not in ("self", "num_envs")
    ]
    extra = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params]
    names = {p.name for p in leading}
    return inspect.Signature(leading + [p for p in extra if p.name not in names])


def env_forms(
    name: str, core_class: type[BatchedCore], doc: str, module: str
) -> tuple[type[CoreEnv], type[CoreVectorEnv]]:
    """The single and batched forms of a family, named ``<name>Env`` and ``<name>VectorEnv``.

    Args:
        name: the family's name (``TextGeneration``).
        core_class: its batched core; its constructor's arguments are the forms' arguments.
        doc: the environment docstring (Gymnasium's sections), shared by both forms.
        module: the module the classes live in (their lazy entry points name it).
    """
    kw = inspect.Parameter.KEYWORD_ONLY
    single = type(
        f"{name}Env",
        (CoreEnv,),
        {"core_class": core_class, "__module__": module, "__doc__": doc},
    )
    single.__signature__ = _signature(  # type: ignore[attr-defined]
        core_class, [inspect.Parameter("render_mode", kw, default=None)]
    )
    vector = type(
        f"{name}VectorEnv",
        (CoreVectorEnv,),
        {
            "core_class": core_class,
            "__module__": module,
            "__doc__": (CoreVectorEnv.__doc__ or "") + "\n" + doc,
        },
    )
    vector.__signature__ = _signature(  # type: ignore[attr-defined]
        core_class,
        [
            inspect.Parameter("num_envs", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=8),
            inspect.Parameter("autoreset_mode", kw, default="next_step"),
            inspect.Parameter("render_mode", kw, default=None),
        ],
    )
    return single, vector
