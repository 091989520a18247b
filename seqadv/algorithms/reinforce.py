"""REINFORCE: the policy gradient with a discount and an optional baseline.

SeqGAN is ``reinforce`` with ``discount=0`` on the ``mc_rollout`` reward mode: the weight of
log pi(a_t | s_t) is the step's own reward, a Monte-Carlo estimate of Q(s_t, a_t). With
``discount=1`` on the ``terminal`` mode it is plain REINFORCE.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from seqadv.algorithms.base import EpisodeBatch, Learner
from seqadv.errors import ConfigError

__all__ = ["Reinforce", "discounted_returns"]


def discounted_returns(rewards: Tensor, mask: Tensor, discount: float) -> Tensor:
    """G_t = sum_{k >= t} discount^(k - t) r_k within each episode.

    Args:
        rewards: (B, T) rewards; mask: (B, T) bool steps taken.
        discount: gamma in [0, 1]; 0 gives G_t = r_t.

    Returns:
        (B, T) returns, 0 where the mask is False.
    """
    rewards = rewards * mask
    if discount == 0.0:
        return rewards
    out = torch.zeros_like(rewards)
    running = torch.zeros(rewards.shape[0], dtype=rewards.dtype)
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = rewards[:, t] + discount * running
        out[:, t] = running
    return out * mask


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
            over the tokens taken) or ``"sum"`` (sum over the whole batch, as SeqGAN's
            TensorFlow code does; with its gradient clipping at 5.0 this makes nearly every
            update one of norm 5 whatever the scale of the rewards).
        lr, grad_clip, seed: see :class:`~seqadv.algorithms.base.Learner` (SeqGAN: Adam
            0.01, clip 5.0).
    """

    def __init__(
        self,
        policy: Any,
        discount: float = 0.0,
        baseline: str = "none",
        ema_decay: float = 0.9,
        normalize: bool = False,
        reduction: str = "sequence_mean",
        lr: float = 0.01,
        grad_clip: float | None = 5.0,
        seed: int = 0,
    ) -> None:
        if not 0.0 <= discount <= 1.0:
            raise ConfigError(f"reinforce: discount must be in [0, 1], got {discount}")
        if baseline not in ("none", "batch_mean", "ema"):
            raise ConfigError(
                f"reinforce: baseline must be 'none', 'batch_mean' or 'ema', got {baseline!r}"
            )
        if reduction not in _REDUCTIONS:
            raise ConfigError(
                f"reinforce: reduction must be one of {', '.join(map(repr, _REDUCTIONS))}, "
                f"got {reduction!r}"
            )
        super().__init__(policy, lr=lr, grad_clip=grad_clip, seed=seed)
        self.reduction = reduction
        self.discount = float(discount)
        self.baseline = baseline
        self.ema_decay = ema_decay
        self.normalize = normalize
        self._ema: Tensor | None = None

    def advantages(self, batch: EpisodeBatch) -> Tensor:
        """(B, T) weights of log pi(a_t | s_t): returns minus the baseline, masked."""
        returns = discounted_returns(batch.rewards, batch.mask, self.discount)
        mask = batch.mask.float()
        counts = mask.sum(dim=0).clamp(min=1)
        if self.baseline == "batch_mean":
            returns = returns - (returns.sum(dim=0) / counts)
        elif self.baseline == "ema":
            mean = returns.sum(dim=0) / counts
            base = self._ema if self._ema is not None else torch.zeros_like(mean)
            returns = returns - base
            self._ema = (
                mean
                if self._ema is None
                else self.ema_decay * self._ema + (1 - self.ema_decay) * mean
            )
        if self.normalize:
            std = returns[batch.mask].std() if int(batch.mask.sum()) > 1 else torch.tensor(1.0)
            returns = returns / (std + 1e-8)
        return returns * mask

    def loss(self, batch: EpisodeBatch) -> Tensor:
        """The policy-gradient surrogate (a scalar with gradient)."""
        log_probs = self.policy.token_log_probs(batch.actions)
        weights = self.advantages(batch).detach()
        total = -(log_probs * weights).sum()
        if self.reduction == "sequence_mean":
            return total / batch.batch_size
        if self.reduction == "token_mean":
            return total / batch.mask.sum().clamp(min=1)
        return total

    def update(self, batch: EpisodeBatch) -> dict[str, Any]:
        self.policy.train()
        loss = self.loss(batch)
        norm = self.optimizer_step(loss)
        return {"gen/pg_loss": float(loss.detach()), "gen/grad_norm": norm}

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["ema"] = self._ema
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._ema = state.get("ema")
