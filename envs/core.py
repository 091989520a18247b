"""The batched core of the text-generation environments.

One :class:`TextGenerationCore` holds B sequences being written, in torch, and does all the
work: writing actions, ending episodes, advancing the rollout policy's cached state, and
computing rewards in every mode. The single ``gymnasium.Env``, the
``gymnasium.vector.VectorEnv`` and the stable-baselines3 ``VecEnv`` are thin forms around it.

The reward is non-stationary: the discriminator object is shared with the trainer and changes
between generator updates. Rewards are always computed with the discriminator in eval mode
(dropout off) and without gradients; its previous mode is restored afterwards.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from seqadv.data.source import TextData
from seqadv.errors import ConfigError
from seqadv.rewards import BoundReward, resolve_reward
from seqadv.rewards.rollout import MonteCarloRollout, Timers, select_state

__all__ = ["TextGenerationCore", "StepOutput", "REWARD_MODES", "as_text_data", "default_components"]

log = logging.getLogger("seqadv")

REWARD_MODES = ("terminal", "mc_rollout", "mc_rollout_shaped", "per_token")


@dataclass
class StepOutput:
    """What one batched step returns (all tensors have B rows)."""

    rewards: Tensor  # (B,) float32
    terminated: Tensor  # (B,) bool
    truncated: Tensor  # (B,) bool
    finished: Tensor  # (B, T) int64 copies of the sequences that ended this step (others: pad)

    @property
    def ended(self) -> Tensor:
        return self.terminated | self.truncated


def as_text_data(data: Any) -> TextData:
    """Accept a TextData, an oracle (fixed-length sequences) or a Corpus."""
    if isinstance(data, TextData):
        return data
    from seqadv.data.corpus import Corpus
    from seqadv.models.oracle import OracleLSTM

    if isinstance(data, OracleLSTM):
        g = torch.Generator().manual_seed(0)
        return TextData(
            train=data.sample(256, generator=g),
            test=None,
            max_len=data.max_len,
            vocab_size=data.vocab_size,
            start_id=0,
            eos_id=None,
            pad_id=data.vocab_size,
            oracle=data,
            description=f"oracle {data.source}",
        )
    if isinstance(data, Corpus):
        v = data.vocab
        return TextData(
            train=data.to_tensor(),
            test=None,
            max_len=data.max_len,
            vocab_size=len(v),
            start_id=v.bos_id,
            eos_id=v.eos_id,
            pad_id=v.pad_id,
            forbidden_ids=(v.pad_id, v.bos_id),
            vocab=v,
            tokenizer=data.tokenizer,
            description=f"corpus {data.stats.path}",
        )
    raise ConfigError(
        f"data must be a TextData, an OracleLSTM or a Corpus, got {type(data).__name__}"
    )


def default_components(level: str = "sequence") -> tuple[TextData, Any, Any]:
    """A small self-contained problem for ``gymnasium.make`` without arguments.

    A seeded oracle (V = 16, T = 8), an untrained discriminator and rollout policy, all built
    from fixed seeds without touching torch's global random state.
    """
    from seqadv.models.discriminator import make_discriminator
    from seqadv.models.generator import LSTMGenerator
    from seqadv.models.oracle import OracleLSTM

    oracle = OracleLSTM.from_seed(0, vocab_size=16, embed_dim=8, hidden_dim=8, max_len=8)
    data = as_text_data(oracle)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        name = "token_lstm" if level == "token" else "cnn"
        kwargs = {} if level == "token" else {"filter_sizes": [1, 2, 3], "num_filters": [8, 8, 8]}
        disc = make_discriminator(name, vocab_size=16, max_len=8, **kwargs)
        disc.eval()
        policy = LSTMGenerator(16, embed_dim=8, hidden_dim=8, max_len=8)
        policy.init_normal_(0.1, generator=torch.Generator().manual_seed(1))
    return data, disc, policy


class TextGenerationCore:
    """B sequences written token by token, with discriminator rewards.

    Args:
        num_envs: B.
        data: the real data (vocabulary size, length, EOS/PAD ids; references for ``rank``).
        discriminator: scores sequences; shared with the trainer (its training shows up in
            later rewards). Sequence-level for ``terminal`` and the Monte-Carlo modes,
            token-level for ``per_token``.
        reward: a REWARDS name, dotted path, callable or ``{name, kwargs}``.
        reward_mode: ``terminal``, ``mc_rollout``, ``mc_rollout_shaped`` or ``per_token``.
        rollout_policy: completes prefixes in the Monte-Carlo modes (SeqGAN: a lagged copy of
            the generator).
        n_rollouts: completions per prefix in the Monte-Carlo modes.
        n_references: reference and comparison sentences drawn per reset (``rank`` reward).
        block_rows: rows of the rollout policy's output layer sampled together.
    """

    def __init__(
        self,
        num_envs: int,
        data: Any,
        discriminator: Any,
        reward: Any = "prob",
        reward_mode: str = "terminal",
        rollout_policy: Any = None,
        n_rollouts: int = 16,
        n_references: int = 64,
        block_rows: int = 64,
    ) -> None:
        if num_envs < 1:
            raise ConfigError(f"num_envs must be >= 1, got {num_envs}")
        if reward_mode not in REWARD_MODES:
            raise ConfigError(
                f"reward_mode {reward_mode!r} is not one of {', '.join(REWARD_MODES)}"
            )
        self.data = as_text_data(data)
        self.num_envs = num_envs
        self.vocab_size = self.data.vocab_size
        self.max_len = self.data.max_len
        self.eos_id = self.data.eos_id
        self.pad_id = self.data.pad_id
        self.fixed_length = self.eos_id is None
        self.reward_mode = reward_mode
        self.discriminator = discriminator
        self.reward: BoundReward = resolve_reward(reward)
        self._check_components(discriminator, rollout_policy, n_rollouts)
        self.rollout_policy = rollout_policy
        self.n_rollouts = n_rollouts
        self.n_references = n_references
        self.timers = Timers()
        self.rollout = None
        if reward_mode in ("mc_rollout", "mc_rollout_shaped"):
            self.rollout = MonteCarloRollout(
                rollout_policy, n_rollouts, self.score, block_rows, self.timers
            )
        self.torch_generator = torch.Generator().manual_seed(0)
        self.tokens = torch.full((num_envs, self.max_len), self.pad_id, dtype=torch.long)
        self.lengths = torch.zeros(num_envs, dtype=torch.long)
        self.done = torch.zeros(num_envs, dtype=torch.bool)
        self.q_prev = torch.zeros(num_envs)
        self.policy_state: Any = None
        self._references: Tensor | None = None
        self._comparisons: Tensor | None = None

    # -- checks -------------------------------------------------------------------------------
    def _check_components(self, disc: Any, policy: Any, n_rollouts: int) -> None:
        name = type(disc).__name__
        if disc is None or not callable(disc):
            raise ConfigError("discriminator is required (a torch module mapping (B, T) ids to logits)")
        d_vocab = getattr(disc, "vocab_size", None)
        if d_vocab is not None and d_vocab != self.vocab_size:
            raise ConfigError(
                f"discriminator {name} has vocab_size {d_vocab}, but the environment's data "
                f"has {self.vocab_size} tokens"
            )
        d_len = getattr(disc, "max_len", None)
        if d_len is not None and d_len != self.max_len:
            raise ConfigError(
                f"discriminator {name} has max_len {d_len}, but the environment writes "
                f"sequences of {self.max_len} tokens"
            )
        level = getattr(disc, "level", "sequence")
        if self.reward_mode == "per_token" and level != "token":
            raise ConfigError(
                f"reward_mode 'per_token' needs a token-level discriminator; {name} is {level}-level"
            )
        if self.reward_mode != "per_token" and level != "sequence":
            raise ConfigError(
                f"reward_mode {self.reward_mode!r} needs a sequence-level discriminator; "
                f"{name} is {level}-level (use reward_mode 'per_token')"
            )
        self.reward.check_level(level)
        if self.reward_mode in ("mc_rollout", "mc_rollout_shaped"):
            if policy is None:
                raise ConfigError(f"reward_mode {self.reward_mode!r} needs a rollout_policy")
            p_vocab = getattr(policy, "vocab_size", None)
            if p_vocab != self.vocab_size:
                raise ConfigError(
                    f"rollout_policy {type(policy).__name__} has vocab_size {p_vocab}, but the "
                    f"environment's data has {self.vocab_size} tokens"
                )
            if n_rollouts < 1:
                raise ConfigError(f"n_rollouts must be >= 1, got {n_rollouts}")

    def check_actions(self, actions: Tensor) -> Tensor:
        """(B,) int64 actions, or a ValueError naming the bad one."""
        if actions.shape != (self.num_envs,):
            raise ValueError(
                f"actions must have shape ({self.num_envs},), got {tuple(actions.shape)}"
            )
        if actions.dtype.is_floating_point:
            if not torch.equal(actions, actions.round()):
                raise ValueError(f"actions must be integer token ids, got {actions.tolist()}")
        actions = actions.long()
        bad = (actions < 0) | (actions >= self.vocab_size)
        if bool(bad.any()):
            i = int(bad.nonzero()[0])
            raise ValueError(
                f"action {int(actions[i])} (env {i}) is outside the vocabulary "
                f"0..{self.vocab_size - 1} (action space Discrete({self.vocab_size}))"
            )
        return actions

    # -- scoring ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _eval_mode(self):
        module = self.discriminator
        was_training = getattr(module, "training", False)
        if was_training:
            module.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            if was_training:
                module.train(True)

    def score(self, sequences: Tensor) -> Tensor:
        """R(D, sequences): rewards (M,) for sequence-level or (M, T) for token-level D."""
        with self._eval_mode():
            with self.timers("discriminator"):
                logits = self.discriminator(sequences)
                inputs: dict[str, Any] = {"sequences": sequences, "discriminator": self.discriminator}
                needs = self.reward.needs
                if "features" in needs:
                    inputs["features"] = self.discriminator.features(sequences)
                if "reference_features" in needs or "comparison_features" in needs:
                    refs, comps = self._reference_sets()
                    inputs["reference_features"] = self.discriminator.features(refs)
                    inputs["comparison_features"] = self.discriminator.features(comps)
            with self.timers("reward"):
                return self.reward(logits, **inputs).float()

    def _reference_sets(self) -> tuple[Tensor, Tensor]:
        if self._references is None:
            train = self.data.train
            n = min(self.n_references, train.shape[0])
            idx = torch.randperm(train.shape[0], generator=self.torch_generator)
            self._references = train[idx[:n]]
            self._comparisons = train[idx[n : 2 * n]] if train.shape[0] >= 2 * n else train[idx[:n]]
        assert self._comparisons is not None
        return self._references, self._comparisons

    # -- dynamics -----------------------------------------------------------------------------
    def seed(self, seed: int) -> None:
        """Seed the torch generator of the rollouts (and the reference draws)."""
        self.torch_generator.manual_seed(int(seed))

    def reset(self, mask: Tensor | None = None) -> None:
        """Start new episodes in the rows of ``mask`` (all rows when None)."""
        rows = torch.ones(self.num_envs, dtype=torch.bool) if mask is None else mask
        self.tokens[rows] = self.pad_id
        self.lengths[rows] = 0
        self.done[rows] = False
        self.q_prev[rows] = 0.0
        if self.rollout is not None:
            if self.policy_state is None or mask is None:
                self.policy_state = self.rollout_policy.initial_state(self.num_envs)
            else:
                fresh = self.rollout_policy.initial_state(int(rows.sum()))
                for part, new in zip(self.policy_state, fresh, strict=True):
                    part[rows] = new
        if mask is None:
            self._references = self._comparisons = None

    def observations(self) -> Tensor:
        """(B, T) int64: the prefixes, padded."""
        return self.tokens

    def action_masks(self) -> Tensor:
        """(B, V) bool: the tokens that may be written (all but the data's forbidden ids)."""
        mask = torch.ones(self.num_envs, self.vocab_size, dtype=torch.bool)
        if self.data.forbidden_ids:
            mask[:, list(self.data.forbidden_ids)] = False
        return mask

    def step(self, actions: Tensor, skip: Tensor | None = None) -> StepOutput:
        """Write one token in every row that has not ended; compute the rewards.

        Rows that have already ended (and were not reset), and rows in ``skip`` (B,) bool,
        are left as they are: their action is ignored and their reward is 0.
        """
        actions = self.check_actions(torch.as_tensor(actions))
        active = ~self.done if skip is None else ~self.done & ~skip
        rows = active.nonzero().squeeze(1)
        pos = self.lengths[rows]
        self.tokens[rows, pos] = actions[rows]
        self.lengths[rows] += 1
        lengths = self.lengths
        hit_eos = torch.zeros_like(active)
        if self.eos_id is not None:
            hit_eos[rows] = actions[rows] == self.eos_id
        at_limit = active & (lengths >= self.max_len)
        ended = active & (hit_eos | at_limit)
        terminated = ended & (hit_eos | (at_limit & self.fixed_length))
        truncated = ended & ~terminated
        rewards = torch.zeros(self.num_envs)
        prev_state = self.policy_state
        if self.rollout is not None and rows.numel():
            with self.timers("rollout/policy_step"), torch.no_grad():
                _, new_state = self.rollout_policy.hidden_step(
                    actions[rows], select_state(prev_state, rows)
                )
                next_state = tuple(p.clone() for p in prev_state)
                for part, new in zip(next_state, new_state, strict=True):
                    part[rows] = new
                self.policy_state = next_state
        if self.reward_mode == "per_token":
            if rows.numel():
                token_rewards = self.score(self.tokens[rows])
                rewards[rows] = token_rewards[torch.arange(rows.numel()), pos]
        else:
            if bool(ended.any()):
                rewards[ended] = self.score(self.tokens[ended])
            if self.rollout is not None:
                going = active & ~ended
                for length in torch.unique(lengths[going]).tolist():
                    group = (going & (lengths == length)).nonzero().squeeze(1)
                    rewards[group] = self.rollout.estimate(
                        self.tokens[group].clone(),
                        length,
                        select_state(prev_state, group),
                        self.torch_generator,
                    )
            if self.reward_mode == "mc_rollout_shaped":
                q = rewards.clone()
                rewards = torch.where(active, q - self.q_prev, rewards)
                self.q_prev = torch.where(active, q, self.q_prev)
        finished = torch.full_like(self.tokens, self.pad_id)
        finished[ended] = self.tokens[ended]
        self.done |= ended
        return StepOutput(rewards, terminated, truncated, finished)

    def decode(self, ids: Tensor) -> str | None:
        """The text of one finished sequence, when the data have a vocabulary."""
        if self.data.vocab is None:
            return None
        return self.data.decode(ids)
