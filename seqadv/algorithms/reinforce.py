"""REINFORCE: the policy gradient with a discount and an optional baseline.

SeqGAN is ``reinforce`` with ``discount=0`` on the ``mc_rollout`` reward scheme: the weight
of log pi(a_t | s_t) is the step's own reward, a Monte-Carlo estimate of Q(s_t, a_t). With
``discount=1`` on the ``terminal`` scheme it is plain REINFORCE. The weights come from an
advantage estimator (:mod:`seqadv.algorithms.advantages`): by default ``discounted`` built
from ``discount``, ``baseline``, ``ema_decay`` and ``normalize``; ``advantage: {name, kwargs}``
picks any other (``gae`` with a critic, ``mc_q``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from seqadv.algorithms.advantages import DiscountedReturn, discounted_returns, make_estimator
from seqadv.algorithms.base import Learner
from seqadv.algorithms.batch import RolloutBatch
from seqadv.errors import ConfigError

__all__ = ["Reinforce", "discounted_returns"]


_REDUCTIONS = ("sequence_mean", "token_mean", "sum")


class Reinforce(Learner):
    """REINFORCE on a vector environment of token actions.

    Loss: -(1/B) sum_{b,t} log pi(a_bt | s_bt) (G_bt - baseline_t), over the steps taken
    (``reduction="sequence_mean"``).

    Args:
        policy: the generator.
        discount: gamma of the returns (SeqGAN: 0 on ``mc_rollout`` rewards).
        baseline: ``"none"`` (SeqGAN), ``"batch_mean"`` (the mean return of the batch at
            each step) or ``"ema"`` (an exponential moving average of past mean returns at
            each step).
        ema_decay: decay of the ``"ema"`` baseline.
        normalize: divide the advantages by their standard deviation over the batch.
        reduction: how the per-token terms become the loss: ``"sequence_mean"`` (sum over
            the tokens of each sequence, mean over the B sequences), ``"token_mean"`` (mean
            over the tokens taken; IRGAN's mean over a user's samples) or ``"sum"`` (sum over the whole batch, as SeqGAN's
            TensorFlow code does; with its gradient clipping at 5.0 this makes nearly every
            update one of norm 5 whatever the scale of the rewards).
        advantage: an estimator name or ``{name, kwargs}`` of the ADVANTAGES registry,
            instead of ``discount``, ``baseline``, ``ema_decay`` and ``normalize``.
        importance_weights: multiply each weight by pi(a | s) / b(a | s), the policy's
            probability of the action over the probability it was drawn with (the batch's
            ``log_probs``): for a policy that acts from another distribution than its own,
            such as IRGAN's mixture with the user's positives (``positive_mix``). 1 when the
            two are the same.
        lr, grad_clip, seed, optimizer: see :class:`~seqadv.algorithms.base.Learner`
            (SeqGAN: Adam 0.01, clip 5.0; IRGAN: SGD 0.001).
    """

    def __init__(
        self,
        policy: Any,
        discount: float = 0.0,
        baseline: str = "none",
        ema_decay: float = 0.9,
        normalize: bool = False,
        reduction: str = "sequence_mean",
        advantage: Any = None,
        importance_weights: bool = False,
        lr: float = 0.01,
        grad_clip: float | None = 5.0,
        seed: int = 0,
        optimizer: str = "adam",
    ) -> None:
        if baseline not in ("none", "batch_mean", "ema"):
            raise ConfigError(
                f"reinforce: baseline must be 'none', 'batch_mean' or 'ema', got {baseline!r} "
                "(a critic baseline needs a learner with a critic)"
            )
        if reduction not in _REDUCTIONS:
            raise ConfigError(
                f"reinforce: reduction must be one of {', '.join(map(repr, _REDUCTIONS))}, "
                f"got {reduction!r}"
            )
        try:
            super().__init__(policy, lr=lr, grad_clip=grad_clip, seed=seed, optimizer=optimizer)
        except ConfigError as exc:
            raise ConfigError(f"reinforce: {exc}") from None
        self.reduction = reduction
        self.importance_weights = bool(importance_weights)
        try:
            self.estimator = (
                make_estimator(advantage)
                if advantage is not None
                else DiscountedReturn(discount, baseline, ema_decay, normalize)
            )
        except ConfigError as exc:
            raise ConfigError(f"reinforce: {exc}") from None
        if self.estimator.needs_values:
            raise ConfigError(
                f"reinforce: the advantage estimator {type(self.estimator).__name__} needs a "
                "critic's values; reinforce has no critic"
            )

    def advantages(self, batch: RolloutBatch) -> Tensor:
        """(B, T) weights of log pi(a_t | s_t): the estimator's advantages, masked."""
        return self.estimator(batch)[0]

    def loss(self, batch: RolloutBatch) -> Tensor:
        """The policy-gradient surrogate (a scalar with gradient)."""
        log_probs, _ = self.policy.evaluate(
            batch.obs, batch.actions, batch.mask, batch.action_masks, entropy=False
        )
        weights = self.advantages(batch).detach()
        if self.importance_weights:
            if batch.log_probs is None:
                raise ConfigError("reinforce: importance_weights needs the batch's log_probs")
            ratio = torch.exp(log_probs.detach() - batch.log_probs)
            weights = weights * torch.where(batch.mask, ratio, torch.zeros_like(ratio))
        total = -(log_probs * weights).sum()
        if self.reduction == "sequence_mean":  # over the episodes (an env's idle rows have none)
            return total / batch.mask.any(dim=1).sum().clamp(min=1)
        if self.reduction == "token_mean":
            return total / batch.mask.sum().clamp(min=1)
        return total

    def update(self, batch: RolloutBatch) -> dict[str, Any]:
        self.policy.train()
        loss = self.loss(batch)
        norm = self.optimizer_step(loss, "the policy-gradient loss")
        return {"gen/pg_loss": float(loss.detach()), "gen/grad_norm": norm}

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["advantage"] = self.estimator.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.estimator.load_state_dict(state.get("advantage", {"ema": state.get("ema")}))
