"""Reward schemes: *when* an environment hands out rewards, and from what.

A reward (:mod:`seqadv.rewards.registry`) turns a discriminator's output into numbers; a
*scheme* decides at which steps an episode is scored and how: only at its end, after every
step by Monte-Carlo rollouts, as differences of those estimates, or per token. Schemes are
components of the REWARD_SCHEMES registry, chosen by name (``reward_scheme: mc_rollout`` or
``{name: mc_rollout, kwargs: {n_rollouts: 16}}``) and written by users like any other:

.. code-block:: python

    from seqadv.rewards.schemes import RewardScheme, register_scheme

    @register_scheme("halfway")
    class Halfway(RewardScheme):
        '''The final score, paid half at the middle step and half at the end.'''
        def rewards(self, step):
            out = step.zeros()
            ...
            return out

The interface. A scheme declares what it needs in ``needs`` (a subset of
:data:`SCHEME_NEEDS`: ``rollout_policy``, ``references``, ``context``), the level of
discriminator it reads (``discriminator_level``: ``sequence`` or ``token``) and whether each
of its rewards is already an estimate of the final score (``estimates_final_score``: a
learner that sums rewards into returns would count the score T times). The environment's
batched core calls ``bind(core)`` once, ``reset(rows)`` when episodes start and
``rewards(step) -> (B,)`` after every step. Everything a scheme reads about the episodes
comes from the :class:`StepInfo` and from the core's ``score(sequences, rows)``, the one place
that assembles a reward's inputs (the scored sequences with their context, the
discriminator's features, references).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from seqadv.errors import ConfigError
from seqadv.registry import Registry
from seqadv.rewards.rollout import MonteCarloRollout, select_state

__all__ = [
    "REWARD_SCHEMES",
    "SCHEME_NEEDS",
    "RewardScheme",
    "StepInfo",
    "Terminal",
    "MonteCarloRollouts",
    "ShapedMonteCarloRollouts",
    "PerToken",
    "make_scheme",
    "register_scheme",
]

#: What a scheme may need from the environment.
SCHEME_NEEDS = ("rollout_policy", "references", "context")

REWARD_SCHEMES = Registry("reward scheme")


def register_scheme(name: str, **meta: Any):
    """Decorator: register a :class:`RewardScheme` subclass as ``name``."""
    return REWARD_SCHEMES.register(name, **meta)


@dataclass
class StepInfo:
    """One batched step, as a scheme sees it (B rows).

    Attributes:
        tokens: (B, T) the tokens written so far, after this step (``pad_id`` after them).
        actions: (B,) the actions of this step.
        active: (B,) bool, the rows that wrote a token this step.
        ended: (B,) bool, the rows whose episode ended this step.
        lengths: (B,) tokens written so far, after this step.
    """

    tokens: Tensor
    actions: Tensor
    active: Tensor
    ended: Tensor
    lengths: Tensor

    def zeros(self) -> Tensor:
        return torch.zeros(self.tokens.shape[0])


class RewardScheme:
    """Base class of reward schemes (see the module docstring)."""

    needs: tuple[str, ...] = ()
    discriminator_level = "sequence"
    estimates_final_score = False
    registered_name: str | None = None  # the REWARD_SCHEMES name it was built from

    def bind(self, core: Any) -> None:
        """Attach to an environment's batched core (its ``score``, rollout policy, RNG)."""
        self.core = core

    def reset(self, rows: Tensor | None) -> None:
        """Episodes start in ``rows`` (B,) bool (all rows when None)."""

    def rewards(self, step: StepInfo) -> Tensor:  # pragma: no cover - abstract
        """(B,) rewards of this step (0 for rows that did not write)."""
        raise NotImplementedError

    @property
    def name(self) -> str:
        return self.registered_name or type(self).__name__

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _score_ended(scheme: RewardScheme, step: StepInfo, out: Tensor) -> None:
    ended = step.ended
    if bool(ended.any()):
        rows = ended.nonzero().squeeze(1)
        out[rows] = scheme.core.score(step.tokens[rows], rows)


@register_scheme("terminal")
class Terminal(RewardScheme):
    """0 until the last step, then R(D, sequence) (plain REINFORCE with discount 1)."""

    def rewards(self, step: StepInfo) -> Tensor:
        out = step.zeros()
        _score_ended(self, step, out)
        return out


@register_scheme("mc_rollout")
class MonteCarloRollouts(RewardScheme):
    """SeqGAN: after each action, the mean R(D, completion) of N rollouts; at the end, R(D, x).

    Every reward estimates Q(s_t, a_t), so SeqGAN is REINFORCE with discount 0 on this
    scheme. The completions start from the rollout policy's cached state (advanced here one
    token per step, never by re-reading the prefix) and the B x N continuations of one step
    are sampled together; where the environment restricts actions (its
    ``next_action_mask``), the completions honour the mask at every step.

    Args:
        n_rollouts: N, completions per prefix (SeqGAN: 16).
        block_rows: rows of the rollout policy's output layer sampled together.
    """

    needs = ("rollout_policy",)
    estimates_final_score = True

    def __init__(self, n_rollouts: int = 16, block_rows: int | None = None) -> None:
        if not isinstance(n_rollouts, int) or n_rollouts < 1:
            raise ConfigError(f"n_rollouts must be an integer >= 1, got {n_rollouts!r}")
        self.n_rollouts = n_rollouts
        self.block_rows = block_rows
        self.state: Any = None

    def bind(self, core: Any) -> None:
        super().bind(core)
        policy = core.rollout_policy
        self.rollout = MonteCarloRollout(
            policy,
            self.n_rollouts,
            score=core.score,
            block_rows=self.block_rows,
            timers=core.timers,
            next_action_mask=getattr(core, "next_action_mask", None),
        )

    def _start_state(self, n: int) -> Any:
        """The rollout policy's state after reading the start token (before the first
        action), as the policy itself is when it writes the first token."""
        policy = self.core.rollout_policy
        with torch.no_grad():
            _, state = policy.hidden_step(policy.start_tokens(n), policy.zero_state(n))
        return state

    def reset(self, rows: Tensor | None) -> None:
        if self.state is None or rows is None:
            self.state = self._start_state(self.core.num_envs)
            return
        fresh = self._start_state(int(rows.sum()))
        for part, new in zip(self.state, fresh, strict=True):
            part[rows] = new

    def _advance(self, step: StepInfo) -> Any:
        """Feed this step's actions to the rollout policy; return the state before them."""
        prev = self.state
        rows = step.active.nonzero().squeeze(1)
        if rows.numel():
            with self.core.timers("rollout/policy_step"), torch.no_grad():
                _, new_state = self.core.rollout_policy.hidden_step(
                    step.actions[rows], select_state(prev, rows)
                )
                nxt = tuple(p.clone() for p in prev)
                for part, new in zip(nxt, new_state, strict=True):
                    part[rows] = new
                self.state = nxt
        return prev

    def rewards(self, step: StepInfo) -> Tensor:
        prev = self._advance(step)
        out = step.zeros()
        _score_ended(self, step, out)
        going = step.active & ~step.ended
        for length in torch.unique(step.lengths[going]).tolist():
            group = (going & (step.lengths == length)).nonzero().squeeze(1)
            out[group] = self.rollout.estimate(
                step.tokens[group].clone(),
                length,
                select_state(prev, group),
                self.core.rng,
                rows=group,
            )
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_rollouts={self.n_rollouts})"


@register_scheme("mc_rollout_shaped")
class ShapedMonteCarloRollouts(MonteCarloRollouts):
    """The Monte-Carlo estimates as differences r_t = Q_t - Q_{t-1} (Q_0 = 0).

    The undiscounted return of an episode is exactly its final score, and the return-to-go
    from step t is the final score minus a Monte-Carlo baseline: the scheme for learners
    that sum rewards (stable-baselines3's PPO and A2C with gamma 1).
    """

    estimates_final_score = False

    def reset(self, rows: Tensor | None) -> None:
        super().reset(rows)
        if rows is None or getattr(self, "q_prev", None) is None:
            self.q_prev = torch.zeros(self.core.num_envs)
        else:
            self.q_prev[rows] = 0.0

    def rewards(self, step: StepInfo) -> Tensor:
        q = super().rewards(step)
        out = torch.where(step.active, q - self.q_prev, q)
        self.q_prev = torch.where(step.active, q, self.q_prev)
        return out


@register_scheme("per_token")
class PerToken(RewardScheme):
    """r_t = R(D_token, sequence)[t] from a token-level discriminator (MaskGAN-style)."""

    discriminator_level = "token"

    def rewards(self, step: StepInfo) -> Tensor:
        out = step.zeros()
        rows = step.active.nonzero().squeeze(1)
        if rows.numel():
            token_rewards = self.core.score(step.tokens[rows], rows)
            out[rows] = token_rewards[torch.arange(rows.numel()), step.lengths[rows] - 1]
        return out


def make_scheme(spec: Any, **kwargs: Any) -> RewardScheme:
    """A scheme from a name, ``{name, kwargs}``, a class or an instance.

    ``kwargs`` are added to the spec's own kwargs (the spec's win).
    """
    if isinstance(spec, RewardScheme):
        return spec
    name, own = spec, {}
    if isinstance(spec, dict):
        if "name" not in spec:
            raise ConfigError(f"a reward scheme is a name or {{name, kwargs}}, got {spec!r}")
        name, own = spec["name"], dict(spec.get("kwargs") or {})
    if isinstance(name, type) and issubclass(name, RewardScheme):
        scheme = name(**{**kwargs, **own})
    else:
        scheme = REWARD_SCHEMES.make(str(name), **{**kwargs, **own})
        scheme.registered_name = str(name)
    if not isinstance(scheme, RewardScheme):
        raise ConfigError(
            f"reward scheme {name!r} built a {type(scheme).__name__}, not a RewardScheme"
        )
    return scheme
