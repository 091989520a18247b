"""TextGeneration: writing a sequence token by token, rewarded by a live discriminator.

The family's batched core, :class:`TextGenerationCore`, holds B sequences being written, in
torch, and does the work: writing actions, ending episodes, and handing the reward to its
reward scheme (:mod:`seqadv.rewards.schemes`), which scores through the core's
:meth:`~TextGenerationCore.score` (the one place that assembles a reward's inputs). Its
forms: :class:`TextGenerationEnv` (a ``gymnasium.Env``), :class:`TextGenerationVectorEnv` (a
``gymnasium.vector.VectorEnv``) and ``TextGenerationVectorEnv(...).as_sb3()`` (a
stable-baselines3 ``VecEnv``), all made by :func:`~seqadv.envs.family.env_forms` from the
core's one argument list.

The reward is non-stationary: the discriminator object is shared with the trainer and changes
between generator updates. Rewards are always computed with the discriminator in eval mode
(dropout off) and without gradients; its previous mode is restored afterwards.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor

from seqadv.data.source import TextData
from seqadv.envs.family import BatchedCore, StepOutput, check_token_actions, env_forms, scoring_mode
from seqadv.errors import ConfigError
from seqadv.rewards import BoundReward, resolve_reward
from seqadv.rewards.rollout import Timers
from seqadv.rewards.schemes import RewardScheme, StepInfo, make_scheme

__all__ = [
    "TextGenerationCore",
    "TextGenerationEnv",
    "TextGenerationVectorEnv",
    "StepOutput",
    "as_text_data",
    "default_components",
]

log = logging.getLogger("seqadv")

#: how rollouts are scored: through the shared-prefix path where offered, or row by row
SCORING_MODES = ("fast", "plain")
#: the discriminator's arithmetic when it scores
SCORE_PRECISIONS = ("fp32", "bf16")

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

    ## Rewards (``reward_scheme``)

    A scheme of the REWARD_SCHEMES registry (:mod:`seqadv.rewards.schemes`) decides when the
    discriminator's reward R is handed out:

    - ``terminal``: 0 until the last step, then R(D, sequence).
    - ``mc_rollout`` (SeqGAN): after each action, the mean R(D, completion) of ``n_rollouts``
      completions by the rollout policy (an estimate of Q(s_t, a_t)); at the last step,
      R(D, sequence). SeqGAN is REINFORCE with discount 0 on this scheme.
    - ``mc_rollout_shaped``: the same estimates as differences r_t = Q_t - Q_{t-1} (Q_0 = 0),
      so the undiscounted return of an episode is exactly its final score (for learners that
      sum rewards, such as PPO with discount 1).
    - ``per_token``: r_t = R(D_token, sequence)[t] from a token-level discriminator.
    - any scheme a user registers.

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
    - ``vocab_size``, ``max_len``: V and T of the default seeded oracle, used when ``data``
      is not given (``gymnasium.make(id, vocab_size=12, max_len=5)``); given with ``data``,
      they must equal its V and T (ConfigError otherwise).
    - ``discriminator``: of the level the scheme reads (sequence-level for ``terminal`` and
      the Monte-Carlo schemes, token-level for ``per_token``). Default: an untrained one
      built from a fixed seed.
    - ``reward`` (default ``"prob"``).
    - ``reward_scheme``: a REWARD_SCHEMES name, ``{name, kwargs}`` or a scheme object
      (default ``"terminal"``; each registered id sets its own). ``reward_mode`` is its old
      name (deprecated).
    - ``rollout_policy``: completes prefixes in the Monte-Carlo schemes (default: an
      untrained generator built from a fixed seed; SeqGAN uses a lagged copy of the
      generator).
    - ``n_rollouts``: shorthand for the Monte-Carlo schemes' ``n_rollouts`` (their default:
      16); ``n_references`` (``rank`` reward; default 64).
    - ``scoring``: ``"fast"`` (default) scores a prefix's rollouts through the
      discriminator's ``logits_shared_prefix`` when it has one (the CNN: windows inside the
      shared prefix convolved once; equal within float rounding); ``"plain"`` always calls
      the discriminator on every row.
    - ``score_precision``: ``"fp32"`` (default) or ``"bf16"`` (the discriminator scores under
      bfloat16 autocast: faster where the CPU has bf16 units, rewards off by about 1e-2 at
      most; ``experiments/benchmarks/envs.py`` prints the error).

    Pass live objects at ``make`` time: ``gymnasium.make(id, discriminator=D, ...)`` hands
    over the same object, while kwargs given to ``register`` are deep-copied at every make.

    Randomness: only ``self.np_random`` (seeded by ``reset(seed=...)``), which seeds the
    torch generator of the rollouts.

    ## Version history

    - v0: initial version. (The MC rollouts' start-token fix and the reward schemes as
      components changed no registered variant's interface; see the README's changelog.)
"""


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


def default_components(
    level: str = "sequence", vocab_size: int = 16, max_len: int = 8
) -> tuple[TextData, Any, Any]:
    """A small self-contained problem for ``gymnasium.make`` without arguments.

    A seeded oracle (default V = 16, T = 8), an untrained discriminator and rollout policy of
    that size, all built from fixed seeds without touching torch's global random state.
    """
    from seqadv.models.discriminator import make_discriminator
    from seqadv.models.generator import LSTMGenerator
    from seqadv.models.oracle import OracleLSTM

    oracle = OracleLSTM.from_seed(
        0, vocab_size=vocab_size, embed_dim=8, hidden_dim=8, max_len=max_len
    )
    data = as_text_data(oracle)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        name = "token_lstm" if level == "token" else "cnn"
        kwargs = {} if level == "token" else {"filter_sizes": [1, 2, 3], "num_filters": [8, 8, 8]}
        disc = make_discriminator(name, vocab_size=vocab_size, max_len=max_len, **kwargs)
        disc.eval()
        policy = LSTMGenerator(vocab_size, embed_dim=8, hidden_dim=8, max_len=max_len)
        policy.init_normal_(0.1, generator=torch.Generator().manual_seed(1))
    return data, disc, policy


class TextGenerationCore(BatchedCore):
    """B sequences written token by token, with discriminator rewards.

    Args:
        num_envs: B.
        data: the real data (vocabulary size, length, EOS/PAD ids; references for ``rank``).
        discriminator: scores sequences; shared with the trainer (its training shows up in
            later rewards). Sequence-level for ``terminal`` and the Monte-Carlo modes,
            token-level for ``per_token``.
        reward: a REWARDS name, dotted path, callable or ``{name, kwargs}``.
        reward_scheme: a REWARD_SCHEMES name, ``{name, kwargs}`` or scheme object.
        rollout_policy: completes prefixes in the Monte-Carlo schemes (SeqGAN: a lagged copy
            of the generator).
        n_rollouts: shorthand for the Monte-Carlo schemes' ``n_rollouts``.
        n_references: reference and comparison sentences drawn per reset (``rank`` reward).
        reward_mode: the old name of ``reward_scheme`` (deprecated).
        vocab_size: V of the default data (a seeded oracle; default 16) when ``data`` is
            None; with ``data``, it must equal the data's (ConfigError otherwise).
        max_len: T of the default data (default 8), likewise.
        scoring: ``"fast"`` or ``"plain"`` (see above).
        score_precision: ``"fp32"`` or ``"bf16"`` (see above).

    Missing ``data``, ``discriminator`` or (for a scheme that needs one) ``rollout_policy``
    are built from fixed seeds, of the data's size: a small self-contained problem (see
    :func:`default_components`).
    """

    def __init__(
        self,
        num_envs: int,
        data: Any = None,
        discriminator: Any = None,
        reward: Any = "prob",
        reward_scheme: Any = "terminal",
        rollout_policy: Any = None,
        n_rollouts: int | None = None,
        n_references: int = 64,
        reward_mode: str | None = None,
        vocab_size: int | None = None,
        max_len: int | None = None,
        scoring: str = "fast",
        score_precision: str = "fp32",
    ) -> None:
        if scoring not in SCORING_MODES:
            raise ConfigError(f"scoring must be one of {', '.join(SCORING_MODES)}, got {scoring!r}")
        if score_precision not in SCORE_PRECISIONS:
            raise ConfigError(
                f"score_precision must be one of {', '.join(SCORE_PRECISIONS)}, "
                f"got {score_precision!r}"
            )
        if num_envs < 1:
            raise ConfigError(f"num_envs must be >= 1, got {num_envs}")
        for arg, value, least in (("vocab_size", vocab_size, 2), ("max_len", max_len, 1)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < least
            ):
                raise ConfigError(f"{arg} must be an integer >= {least}, got {value!r}")
        if reward_mode is not None:
            warnings.warn(
                "reward_mode is deprecated: pass reward_scheme (same values)",
                DeprecationWarning,
                stacklevel=3,
            )
            reward_scheme = reward_mode
        scheme = make_scheme(reward_scheme)
        if n_rollouts is not None and "rollout_policy" in scheme.needs:
            scheme = make_scheme(reward_scheme, n_rollouts=n_rollouts)
        if data is not None:
            data = as_text_data(data)
            wrong = [
                f"{arg}={value} but the data has {arg} {have}"
                for arg, value, have in (
                    ("vocab_size", vocab_size, data.vocab_size),
                    ("max_len", max_len, data.max_len),
                )
                if value is not None and value != have
            ]
            if wrong:
                raise ConfigError(
                    "vocab_size and max_len size the default data; with data given they must "
                    f"match it: {'; '.join(wrong)}"
                )
        if data is None or discriminator is None or rollout_policy is None:
            if data is None:
                size = (vocab_size or 16, max_len or 8)
            else:
                size = (data.vocab_size, data.max_len)
            d_data, d_disc, d_policy = default_components(scheme.discriminator_level, *size)
            data = d_data if data is None else data
            discriminator = d_disc if discriminator is None else discriminator
            if rollout_policy is None and "rollout_policy" in scheme.needs:
                rollout_policy = d_policy
        self.data = as_text_data(data)
        self.num_envs = num_envs
        self.vocab_size = self.data.vocab_size
        self.max_len = self.max_episode_steps = self.data.max_len
        self.eos_id = self.data.eos_id
        self.pad_id = self.data.pad_id
        self.fixed_length = self.eos_id is None
        high = max(self.vocab_size - 1, self.pad_id)
        self.action_space = spaces.Discrete(self.vocab_size)
        self.observation_space = spaces.Box(low=0, high=high, shape=(self.max_len,), dtype=np.int64)
        self.discriminator = discriminator
        self.reward: BoundReward = resolve_reward(reward)
        self.reward_scheme: RewardScheme = scheme
        self._check_components(discriminator, rollout_policy)
        self.rollout_policy = rollout_policy
        self.n_references = n_references
        self.scoring, self.score_precision = scoring, score_precision
        self.timers = Timers()
        self.rng = torch.Generator().manual_seed(0)
        self.tokens = torch.full((num_envs, self.max_len), self.pad_id, dtype=torch.long)
        self.lengths = torch.zeros(num_envs, dtype=torch.long)
        self.done = torch.zeros(num_envs, dtype=torch.bool)
        self._references: Tensor | None = None
        self._comparisons: Tensor | None = None
        self._allowed: Tensor | None = None
        if self.data.forbidden_ids:
            allowed = torch.ones(self.vocab_size, dtype=torch.bool)
            allowed[list(self.data.forbidden_ids)] = False
            self._allowed = allowed.expand(num_envs, -1).contiguous()
        scheme.bind(self)

    # -- checks -------------------------------------------------------------------------------
    def _check_components(self, disc: Any, policy: Any) -> None:
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
        scheme = self.reward_scheme
        want = scheme.discriminator_level
        if level != want:
            hint = " (use reward_scheme 'per_token')" if level == "token" else ""
            raise ConfigError(
                f"reward_scheme {scheme.name!r} needs a {want}-level discriminator; "
                f"{name} is {level}-level{hint}"
            )
        self.reward.check_level(level)
        if "rollout_policy" in scheme.needs:
            if policy is None:
                raise ConfigError(f"reward_scheme {scheme.name!r} needs a rollout_policy")
            p_vocab = getattr(policy, "vocab_size", None)
            if p_vocab != self.vocab_size:
                raise ConfigError(
                    f"rollout_policy {type(policy).__name__} has vocab_size {p_vocab}, but the "
                    f"environment's data has {self.vocab_size} tokens"
                )

    def check_actions(self, actions: Tensor) -> Tensor:
        """(B,) int64 actions, or a ValueError naming the bad one."""
        return check_token_actions(actions, self.num_envs, self.vocab_size)

    # -- scoring ------------------------------------------------------------------------------
    def _autocast(self) -> Any:
        """bf16 autocast of the discriminator's scoring when ``score_precision`` says so."""
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.score_precision == "bf16")

    def score(
        self,
        sequences: Tensor,
        rows: Tensor | None = None,
        shared_prefix: tuple[int, int] | None = None,
    ) -> Tensor:
        """R(D, sequences): rewards (M,) for sequence-level or (M, T) for token-level D.

        The one place where a reward's inputs are assembled. ``rows`` (M,) are the env rows
        the sequences belong to (this family has no per-row context, so they are not read).
        ``shared_prefix`` (length, group): the rows come in groups of ``group`` sharing
        their first ``length`` tokens (Monte-Carlo rollouts); with ``scoring="fast"`` a
        discriminator that offers ``logits_shared_prefix`` scores them through it.
        """
        shared = (
            shared_prefix is not None
            and self.scoring == "fast"
            and hasattr(self.discriminator, "logits_shared_prefix")
        )
        with scoring_mode(self.discriminator):
            with self.timers("discriminator"), self._autocast():
                if shared:
                    logits = self.discriminator.logits_shared_prefix(sequences, *shared_prefix)
                else:
                    logits = self.discriminator(sequences)
                logits = logits.float()
                inputs: dict[str, Any] = {"sequences": sequences, "discriminator": self.discriminator}
                needs = self.reward.needs
                if "features" in needs:
                    inputs["features"] = self.discriminator.features(sequences).float()
                if "reference_features" in needs or "comparison_features" in needs:
                    refs, comps = self._reference_sets()
                    inputs["reference_features"] = self.discriminator.features(refs).float()
                    inputs["comparison_features"] = self.discriminator.features(comps).float()
            with self.timers("reward"):
                return self.reward(logits, **inputs).float()

    def _reference_sets(self) -> tuple[Tensor, Tensor]:
        if self._references is None:
            train = self.data.train
            n = min(self.n_references, train.shape[0])
            idx = torch.randperm(train.shape[0], generator=self.rng)
            self._references = train[idx[:n]]
            self._comparisons = train[idx[n : 2 * n]] if train.shape[0] >= 2 * n else train[idx[:n]]
        assert self._comparisons is not None
        return self._references, self._comparisons

    # -- dynamics -----------------------------------------------------------------------------
    def reset(self, mask: Tensor | None = None) -> None:
        """Start new episodes in the rows of ``mask`` (all rows when None)."""
        rows = torch.ones(self.num_envs, dtype=torch.bool) if mask is None else mask
        self.tokens[rows] = self.pad_id
        self.lengths[rows] = 0
        self.done[rows] = False
        self.reward_scheme.reset(mask)
        if mask is None:
            self._references = self._comparisons = None

    def observations(self) -> Tensor:
        """(B, T) int64: the prefixes, padded."""
        return self.tokens

    def action_masks(self) -> Tensor | None:
        """(B, V) bool: the tokens that may be written (all but the data's forbidden ids);
        None when every token may."""
        return self._allowed  # static: one (B, V) tensor, built once (callers copy it)

    def step(self, actions: Tensor, skip: Tensor | None = None) -> StepOutput:
        """Write one token in every row that has not ended; the scheme gives the rewards.

        Rows that have already ended (and were not reset), and rows in ``skip`` (B,) bool,
        are left as they are: their action is ignored and their reward is 0.
        """
        actions = self.check_actions(torch.as_tensor(actions))
        active = ~self.done if skip is None else ~self.done & ~skip
        rows = active.nonzero().squeeze(1)
        pos = self.lengths[rows]
        self.tokens[rows, pos] = actions[rows]
        self.lengths[rows] += 1
        hit_eos = torch.zeros_like(active)
        if self.eos_id is not None:
            hit_eos[rows] = actions[rows] == self.eos_id
        at_limit = active & (self.lengths >= self.max_len)
        ended = active & (hit_eos | at_limit)
        terminated = ended & (hit_eos | (at_limit & self.fixed_length))
        truncated = ended & ~terminated
        info = StepInfo(self.tokens, actions, active, ended, self.lengths)
        rewards = self.reward_scheme.rewards(info)
        finished = torch.full_like(self.tokens, self.pad_id)
        finished[ended] = self.tokens[ended]
        self.done |= ended
        return StepOutput(rewards, terminated, truncated, finished)

    def episode_info(self, row: int, finished: Tensor) -> dict[str, Any]:
        """``sequence`` (the token ids) and, where the data have a vocabulary, ``text``."""
        info: dict[str, Any] = {"sequence": finished.numpy().copy()}
        text = self.decode(finished)
        if text is not None:
            info["text"] = text
        return info

    def render_row(self, row: int) -> str:
        n = int(self.lengths[row])
        written = self.tokens[row, :n]
        text = self.decode(written)
        return text if text is not None else " ".join(str(int(i)) for i in written)

    def decode(self, ids: Tensor) -> str | None:
        """The text of one finished sequence, when the data have a vocabulary."""
        if self.data.vocab is None:
            return None
        return self.data.decode(ids)


TextGenerationEnv, TextGenerationVectorEnv = env_forms(
    "TextGeneration",
    TextGenerationCore,
    "Write one sequence token by token; a live discriminator gives the reward.\n" + _DOC,
    __name__,
)
