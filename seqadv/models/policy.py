"""The policy protocol and the GENERATORS registry.

A *policy* is what a learner trains and an environment's actions come from. It is driven by
observations, whatever their shape (a padded prefix, a ``Dict`` of a context and the tokens
written so far, a query id), and carries a recurrent state between steps so that nothing has
to re-read a prefix:

- ``initial_state(obs)`` -> state: the state at the start of an episode, from its first
  observation (a batch of B rows).
- ``act(obs, state, *, generator, action_mask=None, temperature=1.0)`` -> ``(actions,
  log_probs, state)``: (B,) actions drawn with the explicit ``torch.Generator``, their (B,)
  log-probabilities and the state after them. ``action_mask`` (B, A) bool, when the
  observation or the environment supplies one, lists the actions allowed: a masked action is
  never drawn, and the log-probabilities are those of the masked distribution.
- ``evaluate(obs, actions, mask, action_masks=None, *, entropy=True)`` -> ``(log_probs,
  entropy)``: the (B, S) log-probabilities (and entropies, or None when not asked for) of
  stored actions (B, S), 0 where ``mask`` (B, S) is False. ``obs`` holds the observation
  before each action, (B, S, ...) (a mapping of such tensors for a ``Dict`` space), and
  ``action_masks`` (B, S, A) the masks in force, if any. With gradient.
- ``sample(n, *, generator, temperature=1.0)`` -> (n, L) int64: ``n`` complete examples in
  the layout the discriminator and the data use (a sequence; a context followed by its
  continuation; a (query, item) pair). The trainer's negatives and evaluations come from it.
- ``actor_modules()`` -> ``(encoder, head)``: for the stable-baselines3 bridge, an
  ``nn.Module`` mapping a batch of observations (as SB3 hands them over: float tensors or a
  mapping of them) to latent features (N, ``encoder.latent_dim``), and an ``nn.Module``
  mapping those to action logits (N, A). They share the policy's parameters (training them
  trains the policy); the bridge builds the critic from a copy of the encoder.
- optionally ``recurrent_modules()`` -> ``(token_encoder, lstm, head)`` for
  sb3-contrib's RecurrentPPO; optionally ``mle_loss(batch)`` for maximum-likelihood
  pretraining and ``nll(sequences)`` for NLL-test.

:class:`~seqadv.models.generator.LSTMGenerator` implements all of it (a contextual policy
and a one-step scorer policy in ``tests/test_episode_shapes.py`` implement the required
part). Policies are built by name from the GENERATORS registry: a factory takes the
experiment's data (``data``: vocabulary size, length, special ids), ``seed`` (an int that
seeds the initialization) and the config's kwargs.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from seqadv.registry import Registry

__all__ = [
    "GENERATORS",
    "Policy",
    "register_generator",
    "masked_log_softmax",
    "sample_masked",
    "sample_grouped",
]

GENERATORS = Registry("generator")
GENERATORS.add(
    "lstm",
    "seqadv.models.generator:lstm_policy",
    summary="SeqGAN's LSTM generator (embedding, one LSTM layer, output layer)",
)
GENERATORS.add(
    "maskgan",
    "seqadv.models.infilling_generator:infilling_policy",
    summary="MaskGAN's seq2seq infilling generator (infilling data: [masked | sentence])",
)
GENERATORS.add(
    "irgan_mf",
    "seqadv.models.mf_players:mf_policy",
    summary="IRGAN's matrix-factorization item policy (ratings data, one step)",
)
GENERATORS.add(
    "irgan_ltr",
    "seqadv.models.ltr_players:ltr_policy",
    summary="IRGAN's feature-scorer document policy over a query's candidates (letor data)",
)


def register_generator(name: str, **meta: Any):
    """Decorator: register a policy factory ``factory(data, seed, **kwargs)`` as ``name``."""
    return GENERATORS.register(name, **meta)


@runtime_checkable
class Policy(Protocol):
    """What learners, environments and the trainer call (see the module docstring)."""

    def initial_state(self, obs: Any) -> Any: ...

    def act(
        self,
        obs: Any,
        state: Any,
        *,
        generator: torch.Generator,
        action_mask: Tensor | None = None,
        temperature: float = 1.0,
    ) -> tuple[Tensor, Tensor, Any]: ...

    def evaluate(
        self,
        obs: Any,
        actions: Tensor,
        mask: Tensor,
        action_masks: Tensor | None = None,
        *,
        entropy: bool = True,
    ) -> tuple[Tensor, Tensor | None]: ...

    def sample(
        self, n: int, *, generator: torch.Generator | None = None, temperature: float = 1.0
    ) -> Tensor: ...


def masked_log_softmax(logits: Tensor, action_mask: Tensor | None) -> Tensor:
    """``log_softmax`` over the allowed actions: masked entries are -inf. Shapes (..., A)."""
    if action_mask is not None:
        logits = logits.masked_fill(~action_mask, float("-inf"))
    return torch.log_softmax(logits, dim=-1)


def sample_masked(
    logits: Tensor,
    generator: torch.Generator | None,
    action_mask: Tensor | None = None,
    temperature: float = 1.0,
) -> tuple[Tensor, Tensor]:
    """Draw one action per row of ``logits`` (B, A) and return it with its log-probability.

    Inverse-CDF sampling with one uniform per row from ``generator``; masked actions
    (``action_mask`` False) have probability 0 and are never drawn.
    """
    from seqadv.models.sampling import sample_logits

    if action_mask is not None:
        if not bool(action_mask.any(dim=-1).all()):
            raise ValueError("an action mask allows no action in some row")
        logits = logits.masked_fill(~action_mask, float("-inf"))
    actions = sample_logits(logits, generator, temperature)
    log_probs = torch.log_softmax(logits / temperature, dim=-1)
    return actions, log_probs.gather(-1, actions.unsqueeze(-1)).squeeze(-1)


def sample_grouped(log_probs: Tensor, groups: Tensor, generator: torch.Generator | None) -> Tensor:
    """One action per row from a few shared distributions: row r draws from
    ``log_probs[groups[r]]`` ((G, A) normalized log-probabilities; ``groups`` (B,) int64).

    Inverse-CDF with one uniform per row from ``generator``, on the G cumulative sums laid
    end to end in float64 (group g's in [g, g + 1]), so that B rows cost G softmax rows, not
    B. Zero-probability actions are never drawn.
    """
    n_groups, n_actions = log_probs.shape
    cdf = log_probs.double().exp().cumsum(dim=1)
    cdf = cdf / cdf[:, -1:]
    flat = (cdf + torch.arange(n_groups, dtype=torch.float64)[:, None]).flatten()
    uniforms = torch.rand(groups.shape[0], generator=generator, dtype=torch.float64)
    index = torch.searchsorted(flat, groups.double() + uniforms, right=True)
    return (index - groups * n_actions).clamp_(0, n_actions - 1)
