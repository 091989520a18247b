"""Maximum-likelihood (teacher-forcing) training of a generator."""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import Tensor

from seqadv.errors import NonFiniteError
from seqadv.models.generator import LSTMGenerator
from seqadv.runs import progress

__all__ = ["MLELearner"]


class MLELearner:
    """Adam on the mean per-token negative log-likelihood, with gradient-norm clipping.

    Args:
        generator: the model to train.
        lr: Adam learning rate (SeqGAN: 0.01).
        batch_size: sequences per update (SeqGAN: 64).
        grad_clip: clip the global gradient norm to this value (None: no clipping).
        drop_last: skip the last incomplete batch of an epoch (as SeqGAN's loader does).
    """

    loss_key = "gen/mle_loss"

    def __init__(
        self,
        generator: LSTMGenerator,
        lr: float = 0.01,
        batch_size: int = 64,
        grad_clip: float | None = 5.0,
        drop_last: bool = True,
    ) -> None:
        self.generator = generator
        self.batch_size = batch_size
        self.grad_clip = grad_clip
        self.drop_last = drop_last
        self.optimizer = torch.optim.Adam(generator.parameters(), lr=lr)

    def step(self, batch: Tensor, where: str | None = None) -> float:
        """One update on ``batch`` (B, T); returns the loss before the update.

        Args:
            batch: (B, T) token ids.
            where: for an error message, where the step runs (``"MLE epoch 3, batch 5/8"``).

        Raises:
            NonFiniteError: the loss (checked before backward) or the gradient norm (before
                the optimizer step) is NaN or infinite; the weights and the optimizer's state
                are left as they were.
        """
        self.generator.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.generator.mle_loss(batch)
        value = float(loss.detach())
        what = f"MLE step{f' ({where})' if where else ''}"
        shape = f"a batch of {batch.shape[0]} sequences of {batch.shape[-1]} tokens"
        if not math.isfinite(value):
            raise NonFiniteError(
                f"{what}: the negative log-likelihood loss is {value}, before backward ({shape}); "
                "the generator was not updated"
            )
        loss.backward()
        if self.grad_clip is not None:
            norm = torch.nn.utils.clip_grad_norm_(self.generator.parameters(), self.grad_clip)
        else:
            grads = [p.grad for p in self.generator.parameters() if p.grad is not None]
            norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
        if not math.isfinite(float(norm)):
            raise NonFiniteError(
                f"{what}: the gradient norm is {float(norm)} (the loss is {value:.6g}), before "
                f"the optimizer step ({shape}); the generator was not updated"
            )
        self.optimizer.step()
        return value

    def train_epoch(
        self, data: Tensor, generator: torch.Generator, desc: str = "mle"
    ) -> dict[str, Any]:
        """One pass over ``data`` (N, T) in an order drawn from ``generator``.

        Returns:
            ``gen/mle_loss`` (mean over batches), ``gen/mle_batches`` and ``time/mle_epoch_s``.
        """
        start = time.perf_counter()
        order = torch.randperm(data.shape[0], generator=generator)
        n = data.shape[0]
        stop = n - n % self.batch_size if self.drop_last and n >= self.batch_size else n
        starts = range(0, stop, self.batch_size)
        losses = [
            self.step(
                data[order[s : s + self.batch_size]], where=f"{desc}, batch {i}/{len(starts)}"
            )
            for i, s in enumerate(
                progress(starts, total=len(starts), desc=desc, log_lines=False), start=1
            )
        ]
        return {
            "gen/mle_loss": sum(losses) / max(len(losses), 1),
            "gen/mle_batches": len(losses),
            "time/mle_epoch_s": time.perf_counter() - start,
        }

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
