"""TextGeneration: writing a sequence token by token, rewarded by a live discriminator.

Two forms share one :class:`~seqadv.envs.core.TextGenerationCore`: :class:`TextGenerationEnv`
(a ``gymnasium.Env`` for ``gymnasium.make``, the env checker and users' own code) and
:class:`TextGenerationVectorEnv` (a ``gymnasium.vector.VectorEnv`` stepping B sequences at once
in torch). :func:`seqadv.envs.sb3.to_sb3` adapts the same core to stable-baselines3.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from seqadv.envs.core import REWARD_MODES, TextGenerationCore, default_components

__all__ = ["TextGenerationEnv", "TextGenerationVectorEnv"]

_DOC = """
    ## Description

    An episode writes one sequence, one token per step. The reward comes from a
    discriminator that is trained *while* the policy learns: the discriminator object is shared
    with the trainer and changes between generator updates, so the reward is non-stationary.
    Rewards are computed with the discriminator in eval mode (dropout off), without gradients.

    ## Action space

    ``Discrete(V)``: the next token id. An id outside ``0..V-1`` raises ``ValueError``.

    ## Observation space

    ``Box(low=0, high=max(V-1, pad_id), shape=(T,), dtype=int64)``: the tokens written so far,
    then ``pad_id``. The synthetic oracle has no PAD token, so its padding value is ``V``
    (outside the vocabulary), and the Box's upper bound says so.

    ## Rewards (``reward_mode``)

    - ``terminal``: 0 until the last step, then R(D, sequence).
    - ``mc_rollout`` (SeqGAN): after each action, the mean R(D, completion) of ``n_rollouts``
      completions by the rollout policy (an estimate of Q(s_t, a_t)); at the last step,
      R(D, sequence). SeqGAN is REINFORCE with discount 0 on this mode.
    - ``mc_rollout_shaped``: the same estimates as differences r_t = Q_t - Q_{t-1} (Q_0 = 0),
      so the undiscounted return of an episode is exactly its final score (for learners that
      sum rewards, such as PPO with discount 1).
    - ``per_token``: r_t = R(D_token, sequence)[t] from a token-level discriminator.

    R is a reward of the REWARDS registry (``reward=``: a name, a dotted path, a callable or
    ``{name, kwargs}``).

    ## Starting state

    An empty sequence: every position holds ``pad_id``.

    ## Episode end

    EOS is written (terminated), or T tokens are written: truncated for data with an EOS
    token, terminated for fixed-length data (the oracle).

    ## Info

    At the end of an episode: ``sequence`` (the token ids, an int64 array) and, where the data
    have a vocabulary, ``text``.

    ## Arguments

    - ``data``: a ``TextData``, an ``OracleLSTM`` or a ``Corpus`` (vocabulary size V, length
      T, EOS and PAD ids, reference sentences). Default: a small seeded oracle (V=16, T=8).
    - ``discriminator``: sequence-level for ``terminal`` and the Monte-Carlo modes,
      token-level for ``per_token``. Default: an untrained one built from a fixed seed.
    - ``reward`` (default ``"prob"``), ``reward_mode`` (default ``"terminal"``).
    - ``rollout_policy``: completes prefixes in the Monte-Carlo modes (default: an untrained
      generator built from a fixed seed; SeqGAN uses a lagged copy of the generator).
    - ``n_rollouts`` (default 16), ``n_references`` (``rank`` reward; default 64).

    Pass live objects at ``make`` time: ``gymnasium.make(id, discriminator=D, ...)`` hands
    over the same object, while kwargs given to ``register`` are deep-copied at every make.

    Randomness: only ``self.np_random`` (seeded by ``reset(seed=...)``), which seeds the
    torch generator of the rollouts.

    ## Version history

    - v0: initial version.
"""


def _build_core(
    num_envs: int,
    data: Any,
    discriminator: Any,
    reward: Any,
    reward_mode: str,
    rollout_policy: Any,
    n_rollouts: int,
    n_references: int,
) -> TextGenerationCore:
    if reward_mode not in REWARD_MODES:
        from seqadv.errors import ConfigError

        raise ConfigError(f"reward_mode {reward_mode!r} is not one of {', '.join(REWARD_MODES)}")
    if data is None or discriminator is None or rollout_policy is None:
        level = "token" if reward_mode == "per_token" else "sequence"
        d_data, d_disc, d_policy = default_components(level)
        data = d_data if data is None else data
        discriminator = d_disc if discriminator is None else discriminator
        if rollout_policy is None and reward_mode in ("mc_rollout", "mc_rollout_shaped"):
            rollout_policy = d_policy
    return TextGenerationCore(
        num_envs,
        data,
        discriminator,
        reward=reward,
        reward_mode=reward_mode,
        rollout_policy=rollout_policy,
        n_rollouts=n_rollouts,
        n_references=n_references,
    )


def _spaces(core: TextGenerationCore) -> tuple[spaces.Discrete, spaces.Box]:
    high = max(core.vocab_size - 1, core.pad_id)
    obs = spaces.Box(low=0, high=high, shape=(core.max_len,), dtype=np.int64)
    return spaces.Discrete(core.vocab_size), obs


class TextGenerationEnv(gym.Env):
    __doc__ = "Write one sequence token by token; a live discriminator gives the reward." + _DOC

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        data: Any = None,
        discriminator: Any = None,
        reward: Any = "prob",
        reward_mode: str = "terminal",
        rollout_policy: Any = None,
        n_rollouts: int = 16,
        n_references: int = 64,
        render_mode: str | None = None,
    ) -> None:
        self.core = _build_core(
            1, data, discriminator, reward, reward_mode, rollout_policy, n_rollouts, n_references
        )
        self.action_space, self.observation_space = _spaces(self.core)
        self.render_mode = render_mode
        self._ended = True

    @property
    def discriminator(self) -> Any:
        return self.core.discriminator

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.core.seed(int(self.np_random.integers(2**63 - 1)))
        self.core.reset()
        self._ended = False
        return self.core.observations()[0].numpy().copy(), {}

    def step(self, action: Any):
        if self._ended:
            raise RuntimeError("the episode has ended: call reset() before step()")
        if isinstance(action, np.ndarray) and action.shape not in ((), (1,)):
            raise ValueError(f"action must be one token id, got an array of shape {action.shape}")
        out = self.core.step(torch.as_tensor(np.asarray(action).reshape(1)))
        terminated, truncated = bool(out.terminated[0]), bool(out.truncated[0])
        info: dict[str, Any] = {}
        if terminated or truncated:
            self._ended = True
            seq = out.finished[0]
            info["sequence"] = seq.numpy().copy()
            text = self.core.decode(seq)
            if text is not None:
                info["text"] = text
        obs = self.core.observations()[0].numpy().copy()
        return obs, float(out.rewards[0]), terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """(V,) bool: tokens the policy may write (for MaskablePPO)."""
        return self.core.action_masks()[0].numpy()

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        row = self.core.observations()[0]
        n = int(self.core.lengths[0])
        text = self.core.decode(row[:n]) if self.core.data.vocab is not None else None
        return text if text is not None else " ".join(str(int(i)) for i in row[:n])


class TextGenerationVectorEnv(VectorEnv):
    __doc__ = (
        "B sequences written at once in torch; a live discriminator gives the reward.\n\n"
        "    The batched form of :class:`TextGenerationEnv` (same arguments, plus ``num_envs``"
        " and ``autoreset_mode``: ``next_step`` (Gymnasium's default; the step after an "
        "episode ends resets that row and ignores its action) or ``disabled`` (ended rows "
        "stay ended until ``reset(options={'reset_mask': mask})``; learners that collect one "
        "episode per row use this). Infos follow Gymnasium's vector convention: "
        "``info['sequence']`` and ``info['_sequence']`` (which rows have one).\n" + _DOC
    )

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        num_envs: int = 8,
        data: Any = None,
        discriminator: Any = None,
        reward: Any = "prob",
        reward_mode: str = "terminal",
        rollout_policy: Any = None,
        n_rollouts: int = 16,
        n_references: int = 64,
        autoreset_mode: str | AutoresetMode = "next_step",
        render_mode: str | None = None,
    ) -> None:
        self.core = _build_core(
            num_envs, data, discriminator, reward, reward_mode, rollout_policy, n_rollouts, n_references
        )
        self.num_envs = num_envs
        self.single_action_space, self.single_observation_space = _spaces(self.core)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        mode = AutoresetMode(autoreset_mode) if isinstance(autoreset_mode, AutoresetMode) else {
            "next_step": AutoresetMode.NEXT_STEP,
            "disabled": AutoresetMode.DISABLED,
        }.get(str(autoreset_mode))
        if mode not in (AutoresetMode.NEXT_STEP, AutoresetMode.DISABLED):
            raise ValueError(
                f"autoreset_mode must be 'next_step' or 'disabled', got {autoreset_mode!r}"
            )
        self.metadata = {**type(self).metadata, "autoreset_mode": mode}
        self.render_mode = render_mode
        self._pending_reset = torch.zeros(num_envs, dtype=torch.bool)

    @property
    def discriminator(self) -> Any:
        return self.core.discriminator

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self._np_random, self._np_random_seed = gym.utils.seeding.np_random(seed)
        mask = None
        if options and "reset_mask" in options:
            mask = torch.as_tensor(np.asarray(options["reset_mask"], dtype=bool))
            if mask.shape != (self.num_envs,):
                raise ValueError(f"reset_mask must have shape ({self.num_envs},), got {tuple(mask.shape)}")
        if seed is not None or mask is None:
            self.core.seed(int(self.np_random.integers(2**63 - 1)))
        self.core.reset(mask)
        if mask is None:
            self._pending_reset[:] = False
        else:
            self._pending_reset[mask] = False
        return self.core.observations().numpy().copy(), {}

    def step_torch(self, actions: torch.Tensor):
        """The step without numpy conversions: tensors in, tensors out (for seqadv learners)."""
        auto = self.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
        resetting = self._pending_reset.clone() if auto else torch.zeros_like(self._pending_reset)
        if bool(resetting.any()):
            self.core.reset(resetting)
            self._pending_reset[resetting] = False
        out = self.core.step(actions, skip=resetting)
        if auto:
            self._pending_reset |= out.ended
        return self.core.observations(), out

    def step(self, actions: Any):
        obs, out = self.step_torch(torch.as_tensor(np.asarray(actions)))
        infos: dict[str, Any] = {}
        ended = out.ended
        if bool(ended.any()):
            mask = ended.numpy().copy()
            seqs = np.empty(self.num_envs, dtype=object)
            texts = np.empty(self.num_envs, dtype=object)
            for i in ended.nonzero().squeeze(1).tolist():
                seqs[i] = out.finished[i].numpy().copy()
                texts[i] = self.core.decode(out.finished[i])
            infos["sequence"], infos["_sequence"] = seqs, mask
            if self.core.data.vocab is not None:
                infos["text"], infos["_text"] = texts, mask
        return (
            obs.numpy().copy(),
            out.rewards.numpy().astype(np.float64),
            out.terminated.numpy().copy(),
            out.truncated.numpy().copy(),
            infos,
        )

    def action_masks(self) -> np.ndarray:
        """(B, V) bool: tokens each row may write."""
        return self.core.action_masks().numpy()
