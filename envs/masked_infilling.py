"""MaskedInfilling: filling in the missing tokens of a real sentence (MaskGAN).

The family's batched core, :class:`MaskedInfillingCore`, holds B real sentences with some
tokens missing (:mod:`seqadv.data.infilling`: ``contiguous``, ``random`` or
``unconditional`` masks by ``present_rate``). An action writes the next missing token; the
present tokens are copied without an action, so an episode has one step per missing token
and ends when the last one is written. The reward of a step comes from the environment's
reward scheme (``per_token`` by default: the token-level discriminator's judgement of the
token just written, given the masked sentence and the tokens before it, through the REWARDS
registry, ``maskgan`` = log(D + 1e-7) by default). Present positions get no reward: they
are not steps. Forms: :class:`MaskedInfillingEnv`, :class:`MaskedInfillingVectorEnv` and
``MaskedInfillingVectorEnv(...).as_sb3()``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor

from seqadv.data.infilling import (
    MaskSpec,
    draw_present,
    infilling_data,
    masked_sentences,
    real_positions,
)
from seqadv.data.source import TextData
from seqadv.envs.family import (
    BatchedCore,
    StepOutput,
    check_token_actions,
    discriminator_reward,
    env_forms,
    rollout_free_scheme,
)
from seqadv.envs.text_generation import as_text_data
from seqadv.errors import ConfigError
from seqadv.rewards import BoundReward, resolve_reward
from seqadv.rewards.rollout import Timers
from seqadv.rewards.schemes import RewardScheme, StepInfo

__all__ = ["MaskedInfillingCore", "MaskedInfillingEnv", "MaskedInfillingVectorEnv", "default_infilling"]

_DOC = """
    ## Description

    Each episode takes a real sentence of the data, masks some of its tokens and asks for the
    missing ones, left to right. Present tokens are copied without an action; an action writes
    the next missing token. The discriminator that rewards the tokens is trained while the
    policy learns (it is shared with the trainer), so the reward is non-stationary; it scores
    in eval mode, without gradients.

    ## Action space

    ``Discrete(V)``: the token written at the current missing position. An id outside
    ``0..V-1`` raises ``ValueError``; the data's forbidden ids (PAD, BOS) are masked out
    (``action_masks``).

    ## Observation space

    ``Dict``: ``masked`` (T,) int64, the sentence with every missing token replaced by V;
    ``written`` (T,) int64, the tokens so far (present ones copied up to the current
    position; the padding id, V for the oracle, after it); ``position`` (1,) int64, the
    position of the token to write (T once the episode has ended).

    ## Rewards

    ``reward_scheme`` (default ``per_token``): r_t = R(D, example)[position] for the token
    just written, with R the ``reward`` (default ``maskgan``: log(D + 1e-7); ``scratchgan``:
    2D - 1; any token-level REWARDS entry). Schemes with Monte-Carlo rollouts are not
    supported by this family.

    ## Starting state

    A sentence drawn from the data's training examples, masked afresh by ``mask_strategy`` and
    ``present_rate`` (default: the data's own); the present tokens before the first missing
    one are already copied.

    ## Episode end

    Terminated when the last missing token is written (the rest of the sentence is copied).

    ## Info

    At the end of an episode: ``sequence`` (the infilled sentence, T ids), ``masked`` (its
    masked form) and, where the data have a vocabulary, ``text``.

    ## Arguments

    - ``data``: infilling data (the ``infilling`` data source: ``[masked | sentence]``
      examples), or sentences (a ``TextData``, an oracle or a corpus), masked as the
      arguments below say. Default: a small seeded oracle (V=16, T=8).
    - ``discriminator``: token level, reading ``[masked | sentence]`` examples (the
      ``maskgan`` discriminator). Default: an untrained one from a fixed seed.
    - ``reward``, ``reward_scheme``: as above.
    - ``mask_strategy`` (``contiguous``, ``random``, ``unconditional``) and
      ``present_rate`` (the share of tokens kept): default the data's, else contiguous 0.5.
    - ``score_precision``: ``fp32`` (default) or ``bf16`` autocast of the scoring.
    - ``rollout_policy``, ``scoring``: accepted for the trainer's uniform call, unused.

    ## Version history

    - v0: initial version.
"""


def default_infilling(vocab_size: int = 16, max_len: int = 8) -> tuple[TextData, Any]:
    """A small self-contained problem: a seeded oracle's sentences as infilling examples
    (contiguous masks, present rate 0.5) and an untrained infilling discriminator."""
    from seqadv.envs.text_generation import default_components
    from seqadv.models.infilling_discriminator import InfillingDiscriminator

    data, _, _ = default_components("token", vocab_size, max_len)
    data = infilling_data(data, MaskSpec("contiguous", 0.5), seed=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        disc = InfillingDiscriminator(vocab_size, max_len, embedding_dim=8, hidden_size=8)
    return data, disc.eval()


class MaskedInfillingCore(BatchedCore):
    """B masked sentences being infilled (see the module docstring and ``_DOC``)."""

    def __init__(
        self,
        num_envs: int,
        data: Any = None,
        discriminator: Any = None,
        reward: Any = "maskgan",
        reward_scheme: Any = "per_token",
        mask_strategy: str | None = None,
        present_rate: float | None = None,
        rollout_policy: Any = None,
        scoring: str = "fast",
        score_precision: str = "fp32",
    ) -> None:
        scheme = rollout_free_scheme(num_envs, score_precision, reward_scheme, "MaskedInfilling")
        if data is None:
            data, default_disc = default_infilling()
            discriminator = default_disc if discriminator is None else discriminator
        data = data if isinstance(data, TextData) else as_text_data(data)
        own = data.extra.get("infilling") if data.text_start else None
        spec = MaskSpec(
            mask_strategy or (own or {}).get("strategy", "contiguous"),
            present_rate if present_rate is not None else (own or {}).get("present_rate", 0.5),
        )
        spec.check_length(data.max_len)
        if discriminator is None:
            _, discriminator = default_infilling(data.vocab_size, data.max_len)
        self.data, self.spec, self.num_envs = data, spec, num_envs
        self.vocab_size, self.max_len = data.vocab_size, data.max_len
        self.max_episode_steps = data.max_len
        self.pad_id = data.pad_id
        self.sentences_pool = data.train[:, data.max_len :] if data.text_start else data.train
        self.discriminator = discriminator
        self.reward: BoundReward = resolve_reward(reward)
        self.reward_scheme: RewardScheme = scheme
        self.rollout_policy = None
        self.score_precision = score_precision
        self._check_discriminator(discriminator)
        self.timers = Timers()
        self.rng = torch.Generator().manual_seed(0)
        T, V = self.max_len, self.vocab_size
        self.action_space = spaces.Discrete(V)
        high = max(V, self.pad_id)
        self.observation_space = spaces.Dict(
            {
                "masked": spaces.Box(0, V, shape=(T,), dtype=np.int64),
                "written": spaces.Box(0, high, shape=(T,), dtype=np.int64),
                "position": spaces.Box(0, T, shape=(1,), dtype=np.int64),
            }
        )
        self.sentences = torch.full((num_envs, T), self.pad_id, dtype=torch.long)
        self.present = torch.ones(num_envs, T, dtype=torch.bool)
        self.masked = self.sentences.clone()
        self.written = self.sentences.clone()
        self.position = torch.full((num_envs,), T, dtype=torch.long)
        self.done = torch.ones(num_envs, dtype=torch.bool)
        self._allowed: Tensor | None = None
        if data.forbidden_ids:
            allowed = torch.ones(V, dtype=torch.bool)
            allowed[list(data.forbidden_ids)] = False
            self._allowed = allowed.expand(num_envs, -1).contiguous()
        scheme.bind(self)

    def _check_discriminator(self, disc: Any) -> None:
        name = type(disc).__name__
        if disc is None or not callable(disc):
            raise ConfigError("discriminator is required (a token-level module over [masked | sentence])")
        level = getattr(disc, "level", "sequence")
        want = self.reward_scheme.discriminator_level
        if level != want:
            raise ConfigError(
                f"reward_scheme {self.reward_scheme.name!r} needs a {want}-level discriminator; "
                f"{name} is {level}-level (MaskedInfilling uses the token-level 'maskgan')"
            )
        length = getattr(disc, "sentence_len", None)
        if length is not None and length != self.max_len:
            raise ConfigError(
                f"discriminator {name} judges sentences of {length} tokens, but the data's have "
                f"{self.max_len}"
            )
        if getattr(disc, "vocab_size", self.vocab_size) != self.vocab_size:
            raise ConfigError(
                f"discriminator {name} has vocab_size {disc.vocab_size}, but the data have "
                f"{self.vocab_size} tokens"
            )
        self.reward.check_level(level)

    # -- scoring ------------------------------------------------------------------------------
    def score(self, examples: Tensor, rows: Tensor | None = None, **_: Any) -> Tensor:
        """R(D, examples) (M, 2T) for (M, 2T) ``[masked | written]`` examples."""
        return discriminator_reward(self, examples, bf16=self.score_precision == "bf16")

    def examples(self) -> Tensor:
        """(B, 2T) the current ``[masked | written]`` examples."""
        return torch.cat([self.masked, self.written], dim=1)

    # -- dynamics -----------------------------------------------------------------------------
    def _move_to_next_missing(self, rows: Tensor, start: Tensor) -> None:
        """For ``rows``: copy the present tokens from ``start`` up to the next missing position
        (or the end) and set ``position`` there."""
        T = self.max_len
        pos = torch.arange(T)
        after = pos[None, :] >= start[:, None]
        missing = ~self.present[rows] & after
        nxt = torch.where(missing.any(1), missing.long().argmax(1), torch.full_like(start, T))
        copy = after & (pos[None, :] < nxt[:, None])
        self.written[rows] = torch.where(copy, self.sentences[rows], self.written[rows])
        self.position[rows] = nxt

    def reset(self, mask: Tensor | None = None) -> None:
        rows = torch.arange(self.num_envs) if mask is None else mask.nonzero().squeeze(1)
        if rows.numel() == 0:
            return
        idx = torch.randint(0, self.sentences_pool.shape[0], (rows.numel(),), generator=self.rng)
        sentences = self.sentences_pool[idx]
        present = draw_present(self.spec, real_positions(sentences, self.data), self.rng)
        self.sentences[rows] = sentences
        self.present[rows] = present
        self.masked[rows] = masked_sentences(sentences, present, self.vocab_size)
        self.written[rows] = self.pad_id
        self.done[rows] = False
        self._move_to_next_missing(rows, torch.zeros(rows.numel(), dtype=torch.long))
        self.reward_scheme.reset(mask)

    def observations(self) -> dict[str, Tensor]:
        return {"masked": self.masked, "written": self.written, "position": self.position[:, None]}

    def action_masks(self) -> Tensor | None:
        return self._allowed

    def check_actions(self, actions: Tensor) -> Tensor:
        return check_token_actions(actions, self.num_envs, self.vocab_size)

    def step(self, actions: Tensor, skip: Tensor | None = None) -> StepOutput:
        """Write the token at each live row's missing position, then copy up to the next one."""
        actions = self.check_actions(torch.as_tensor(actions))
        active = ~self.done if skip is None else ~self.done & ~skip
        rows = active.nonzero().squeeze(1)
        pos = self.position[rows]
        self.written[rows, pos] = actions[rows]
        lengths = torch.zeros(self.num_envs, dtype=torch.long)
        lengths[rows] = self.max_len + pos + 1  # the column just written, in the example
        ended = torch.zeros(self.num_envs, dtype=torch.bool)
        self._move_to_next_missing(rows, pos + 1)
        ended[rows] = self.position[rows] >= self.max_len
        examples = self.examples()
        rewards = self.reward_scheme.rewards(StepInfo(examples, actions, active, ended, lengths))
        finished = torch.where(ended[:, None], examples, torch.full_like(examples, self.pad_id))
        self.done |= ended
        return StepOutput(rewards, ended, torch.zeros_like(ended), finished)

    def episode_info(self, row: int, finished: Tensor) -> dict[str, Any]:
        T = self.max_len
        info: dict[str, Any] = {
            "sequence": finished[T:].numpy().copy(),
            "masked": finished[:T].numpy().copy(),
        }
        if self.data.vocab is not None:
            info["text"] = self.data.decode(finished if self.data.text_start else finished[T:])
        return info

    def render_row(self, row: int) -> str:
        T, pos = self.max_len, int(self.position[row])
        shown = []
        for t in range(T):
            token = int(self.written[row, t]) if t < pos else int(self.masked[row, t])
            if token == self.vocab_size:
                shown.append("_")
            elif self.data.vocab is not None:
                shown.append(self.data.vocab.itos[token])
            else:
                shown.append(str(token))
        return " ".join(shown)

    def decode(self, ids: Tensor) -> str | None:
        if self.data.vocab is None:
            return None
        return self.data.decode(ids)


MaskedInfillingEnv, MaskedInfillingVectorEnv = env_forms(
    "MaskedInfilling",
    MaskedInfillingCore,
    "Fill in the missing tokens of a real sentence; a token-level discriminator rewards each.\n"
    + _DOC,
    __name__,
)
