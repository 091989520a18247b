"""Monte-Carlo rollouts: Q(s_t, a_t) estimated by completing a prefix N times.

SeqGAN's reward for writing token a_t after prefix x_<t is the mean discriminator reward of
N completions sampled by a *rollout policy* (a lagged copy of the generator). Here the
completions start from the rollout policy's cached recurrent state after x_<t — the prefix is
never re-read — and all B x N completions of one step are sampled together, block-wise, with
inverse-CDF sampling (see :mod:`seqadv.models.sampling`).

The rollout policy is any object with the generator's incremental interface:
``zero_state(B)``, ``start_tokens(B)``, ``hidden_step(tokens, state)`` and ``continue_sequences(last_tokens,
state, steps, generator, ...)`` (:class:`~seqadv.models.generator.LSTMGenerator` has them).
Where the environment restricts the actions (a ``next_action_mask(prefixes, length)`` rule),
the completions are drawn one step at a time through the policy's ``act`` with the mask of
each step, so that no completion contains a masked action.
"""

from __future__ import annotations

import inspect
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import Tensor

__all__ = ["MonteCarloRollout", "RolloutPolicy", "Timers"]


class RolloutPolicy(Protocol):
    """What a rollout policy must offer (an LSTMGenerator does)."""

    vocab_size: int

    def zero_state(self, batch_size: int) -> Any: ...

    def start_tokens(self, batch_size: int) -> Tensor: ...

    def hidden_step(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]: ...

    def continue_sequences(
        self, last_tokens: Tensor, state: Any, steps: int, generator: torch.Generator | None = ...
    ) -> Tensor: ...


class Timers(defaultdict):
    """Seconds spent per named phase (``with timers("rollout"): ...``)."""

    def __init__(self) -> None:
        super().__init__(float)

    def __call__(self, name: str) -> _Timer:
        return _Timer(self, name)


class _Timer:
    def __init__(self, timers: Timers, name: str) -> None:
        self.timers, self.name = timers, name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.timers[self.name] += time.perf_counter() - self.start


def _repeat_state(state: Any, n: int) -> Any:
    if isinstance(state, Tensor):
        return state.repeat_interleave(n, dim=0)
    return type(state)(_repeat_state(s, n) for s in state)


def select_state(state: Any, rows: Tensor) -> Any:
    """Rows of a (nested tuple of) batch-first state tensors."""
    if isinstance(state, Tensor):
        return state[rows]
    return type(state)(select_state(s, rows) for s in state)


class MonteCarloRollout:
    """Estimates Q(prefix + token) as the mean score of N sampled completions.

    Args:
        policy: the rollout policy.
        n_rollouts: N, completions per prefix (SeqGAN: 16).
        score: maps complete sequences (M, T), and the env rows (M,) they belong to, to
            rewards (M,); if it takes a ``shared_prefix`` keyword, it is told
            ``(length, n_rollouts)``: the rows come in groups sharing ``length`` tokens.
        block_rows: rows of the output layer sampled together (None: the kernel plan's).
        timers: optional :class:`Timers`; sampling the completions is timed as
            "rollout/sample" (``score`` times itself).
        next_action_mask: optional rule ``(prefixes (M, T), length) -> (M, V)`` bool, the
            actions allowed after ``length`` written tokens.
    """

    def __init__(
        self,
        policy: RolloutPolicy,
        n_rollouts: int,
        score: Callable[[Tensor, Tensor], Tensor],
        block_rows: int | None = None,
        timers: Timers | None = None,
        next_action_mask: Callable[[Tensor, int], Tensor] | None = None,
    ) -> None:
        if n_rollouts < 1:
            raise ValueError(f"n_rollouts must be >= 1, got {n_rollouts}")
        self.policy = policy
        self.n_rollouts = n_rollouts
        self.score = score
        self.block_rows = block_rows
        self.timers = timers if timers is not None else Timers()
        self.next_action_mask = next_action_mask
        self._shared_prefix_ok: bool | None = None  # whether score takes shared_prefix

    @torch.no_grad()
    def estimate(
        self,
        prefixes: Tensor,
        length: int,
        state_before_last: Any,
        generator: torch.Generator | None,
        rows: Tensor | None = None,
    ) -> Tensor:
        """Q estimates for B prefixes that all have ``length`` tokens written.

        Args:
            prefixes: (B, T) sequences whose first ``length`` positions are written (the last
                of them, position ``length - 1``, is the action being valued).
            length: tokens written so far (1 <= length < T).
            state_before_last: the policy's state after the first ``length - 1`` tokens,
                before the last one: completions feed the last token from it.
            generator: the random source of the completions.
            rows: (B,) the env rows of the prefixes (passed to ``score``).

        Returns:
            (B,) the mean score of ``n_rollouts`` completions of each prefix.
        """
        batch, max_len = prefixes.shape
        n = self.n_rollouts
        remaining = max_len - length
        if remaining <= 0:
            raise ValueError(f"nothing to roll out: length {length} >= T {max_len}")
        with self.timers("rollout/sample"):
            state = _repeat_state(state_before_last, n)
            last = prefixes[:, length - 1].repeat_interleave(n)
            full = prefixes.repeat_interleave(n, dim=0)
            if self.next_action_mask is None:
                full[:, length:] = self.policy.continue_sequences(
                    last, state, steps=remaining, generator=generator, block_rows=self.block_rows
                )
            else:
                self._continue_masked(full, length, (*state, last), generator)
        if rows is None:
            rows = torch.arange(batch)
        scores = self._score(full, rows.repeat_interleave(n), length, n)
        # rows are (prefix b, rollout k) in row-major order: b * n + k
        return scores.view(batch, n).mean(dim=1)

    def _score(self, full: Tensor, rows: Tensor, length: int, group: int) -> Tensor:
        """Score the completions, telling a scorer that accepts it that the rows come in
        groups of ``group`` sharing their first ``length`` tokens."""
        if self._shared_prefix_ok is None:
            try:
                params = inspect.signature(self.score).parameters
            except (TypeError, ValueError):
                params = {}
            self._shared_prefix_ok = "shared_prefix" in params
        if self._shared_prefix_ok:
            return self.score(full, rows, shared_prefix=(length, group))
        return self.score(full, rows)

    def _continue_masked(
        self, full: Tensor, length: int, state: Any, generator: torch.Generator | None
    ) -> None:
        """Complete ``full`` (M, T) in place from ``length`` on, one masked step at a time."""
        eos = getattr(self.policy, "eos_id", None)
        pad = getattr(self.policy, "pad_id", None)
        done = torch.zeros(full.shape[0], dtype=torch.bool)
        for pos in range(length, full.shape[1]):
            mask = self.next_action_mask(full, pos)
            tokens, _, state = self.policy.act(
                full, state, generator=generator, action_mask=mask
            )
            if eos is not None:
                tokens = tokens.masked_fill(done, pad)
                done |= tokens == eos
            full[:, pos] = tokens
