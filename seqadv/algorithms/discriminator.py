"""Training and evaluating a discriminator on real versus generated examples.

:func:`train_discriminator` runs k epochs of balanced real/fake minibatches, deterministic
under an explicit ``torch.Generator``, and leaves the model in eval mode (rewards must be
computed with dropout off). Fresh negatives are the caller's job: it passes tensors. The
model is any :class:`~seqadv.models.discriminator.Discriminator` (its ``loss``,
``check_tokens``, ``level`` and ``padding_mask`` are all this module uses).

Example:
    >>> import torch
    >>> from seqadv.models.discriminator import make_discriminator
    >>> from seqadv.algorithms.discriminator import train_discriminator
    >>> d = make_discriminator("cnn", vocab_size=8, max_len=6,
    ...                        filter_sizes=(2, 3), num_filters=(4, 4))
    >>> real = torch.ones(32, 6, dtype=torch.long)
    >>> fake = torch.randint(0, 8, (32, 6), generator=torch.Generator().manual_seed(0))
    >>> stats = train_discriminator(d, real, fake, epochs=1, batch_size=16,
    ...                             optimizer=torch.optim.Adam(d.parameters(), lr=1e-3),
    ...                             generator=torch.Generator().manual_seed(0))
    >>> sorted(stats)
    ['dis/acc_fake', 'dis/acc_real', 'dis/epochs', 'dis/loss']
    >>> d.training
    False
"""

from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqadv.errors import NonFiniteError
from seqadv.models.discriminator import Discriminator

__all__ = ["default_optimizer", "evaluate_discriminator", "train_discriminator"]

logger = logging.getLogger("seqadv")



def default_optimizer(discriminator: nn.Module, lr: float = 1e-4, optimizer: str = "adam") -> torch.optim.Optimizer:
    """SeqGAN's discriminator optimizer: Adam, learning rate 1e-4; ``optimizer="sgd"``:
    plain SGD (IRGAN's).

    Adam uses the fused implementation where this torch has it (several times faster on CPU
    for the CNN's 7M parameters; same update rule).
    """
    params = [p for p in discriminator.parameters() if p.requires_grad]
    if optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if optimizer != "adam":
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):  # older torch or unsupported device
        return torch.optim.Adam(params, lr=lr)


def _token_mask(discriminator: Discriminator, batch: Tensor, pad_id: int | None) -> Tensor | None:
    if discriminator.level != "token":
        return None
    mask = discriminator.padding_mask(batch)
    if pad_id is not None:
        mask &= batch != pad_id
    return mask


def _correct(logits: Tensor, real: bool, mask: Tensor | None) -> tuple[float, float]:
    """(number classified correctly, number counted) for one batch of one class."""
    hits = logits > 0 if real else logits <= 0
    if mask is None:
        return float(hits.sum()), float(hits.numel())
    return float((hits & mask).sum()), float(mask.sum())


def _logit_range(logits: Tensor) -> str:
    """The logits of a minibatch, in a few words, for an error message."""
    logits = logits.detach()
    finite = logits[torch.isfinite(logits)]
    bad = logits.numel() - finite.numel()
    if not bad:
        return f"its logits are finite, from {float(finite.min()):.4g} to {float(finite.max()):.4g}"
    return f"{bad} of its {logits.numel()} logits are NaN or infinite"


def _balanced_order(n: int, total: int, generator: torch.Generator) -> Tensor:
    """``total`` indices into ``n`` items: whole shuffled passes, the last one truncated."""
    passes = [torch.randperm(n, generator=generator) for _ in range(math.ceil(total / n))]
    return torch.cat(passes)[:total]


def train_discriminator(
    discriminator: Discriminator,
    real: Tensor,
    fake: Tensor,
    *,
    epochs: int,
    batch_size: int,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    pad_id: int | None = None,
    eval_metrics: bool = True,
) -> dict[str, float]:
    """Train ``discriminator`` for ``epochs`` epochs on real versus generated sequences.

    Each minibatch holds ``batch_size // 2`` real and as many generated sequences (labels 1
    and 0). An epoch visits every sequence of the larger set once; the smaller set is
    cycled in fresh shuffled passes, so both classes weigh the same. With SeqGAN's 10,000 real
    and 10,000 fresh negatives, an epoch is 20,000 sequences in minibatches of 64.

    All randomness comes from ``generator``: the shuffles, and dropout, which runs on the
    global torch RNG forked and seeded from ``generator`` for the duration of the call (the
    caller's global RNG state is restored afterwards). Two calls with equal generators,
    models and optimizers give identical losses and weights.

    The model is left in **eval mode** (dropout off): rewards must be computed that way.

    Args:
        discriminator: the model to train (its ``loss`` includes its regularizer).
        real: (N, T) int64 real sequences.
        fake: (M, T) int64 generated sequences (fresh negatives are the caller's job).
        epochs: number of passes, >= 1.
        batch_size: sequences per minibatch, even (half real, half fake).
        optimizer: over the discriminator's parameters (see :func:`default_optimizer`).
        generator: the CPU ``torch.Generator`` for shuffling and dropout.
        pad_id: token level only: an extra id whose positions the loss ignores (the
            discriminator's own padding is always ignored).
        eval_metrics: if True (default), ``dis/acc_real`` and ``dis/acc_fake`` come from an
            eval-mode pass over all of ``real`` and ``fake`` with the final weights (one extra
            forward pass); if False, they are running accuracies of the last epoch's
            minibatches in train mode (free, but with dropout on and weights changing).

    Returns:
        ``dis/loss``: mean training loss of the last epoch (cross-entropy + regularizer, train
        mode); ``dis/acc_real``, ``dis/acc_fake``: fractions classified correctly (token
        level: of real positions); ``dis/epochs``: epochs run.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if not isinstance(batch_size, int) or batch_size < 2 or batch_size % 2:
        raise ValueError(
            f"batch_size must be an even int >= 2 (half real, half fake), got {batch_size!r}"
        )
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    discriminator.check_tokens(real, "real")
    discriminator.check_tokens(fake, "fake")
    if real.shape[0] == 0 or fake.shape[0] == 0:
        raise ValueError(
            f"real and fake must be non-empty, got {real.shape[0]} real and {fake.shape[0]} fake"
        )
    if real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"real and fake must have the same length T, got {real.shape[1]} and {fake.shape[1]}"
        )
    half = batch_size // 2
    per_class = max(real.shape[0], fake.shape[0])
    device = next(discriminator.parameters()).device
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    loss_sum = n_seen = 0.0
    hits = {True: [0.0, 0.0], False: [0.0, 0.0]}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        discriminator.train()
        try:
            n_batches = math.ceil(per_class / half)
            for epoch in range(1, epochs + 1):
                real_order = _balanced_order(real.shape[0], per_class, generator)
                fake_order = _balanced_order(fake.shape[0], per_class, generator)
                loss_sum = n_seen = 0.0
                hits = {True: [0.0, 0.0], False: [0.0, 0.0]}
                for number, start in enumerate(range(0, per_class, half), start=1):
                    real_batch = real[real_order[start : start + half]]
                    fake_batch = fake[fake_order[start : start + half]]
                    n_real = real_batch.shape[0]
                    batch = torch.cat([real_batch, fake_batch]).to(device)
                    labels = torch.zeros(batch.shape[0], device=device)
                    labels[:n_real] = 1.0
                    mask = _token_mask(discriminator, batch, pad_id)
                    logits = discriminator(batch)
                    loss = discriminator.loss(logits, labels, mask)
                    value = float(loss.detach())
                    if not math.isfinite(value):
                        raise NonFiniteError(
                            f"discriminator training, epoch {epoch}/{epochs}, batch "
                            f"{number}/{n_batches}: loss is {value}, before backward "
                            f"({_logit_range(logits)}); the discriminator was not updated"
                        )
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    loss_sum += value * batch.shape[0]
                    n_seen += batch.shape[0]
                    if not eval_metrics and epoch == epochs:  # the last epoch's running accuracies
                        with torch.no_grad():
                            for is_real, part in (
                                (True, slice(0, n_real)),
                                (False, slice(n_real, None)),
                            ):
                                c, n = _correct(
                                    logits[part], is_real, None if mask is None else mask[part]
                                )
                                hits[is_real][0] += c
                                hits[is_real][1] += n
        finally:
            discriminator.eval()
    stats = {"dis/loss": loss_sum / max(n_seen, 1.0), "dis/epochs": float(epochs)}
    if eval_metrics:
        evaluation = evaluate_discriminator(
            discriminator, real, fake, batch_size=1024, pad_id=pad_id
        )
        stats["dis/acc_real"] = evaluation["dis/acc_real"]
        stats["dis/acc_fake"] = evaluation["dis/acc_fake"]
    else:
        stats["dis/acc_real"] = hits[True][0] / max(hits[True][1], 1.0)
        stats["dis/acc_fake"] = hits[False][0] / max(hits[False][1], 1.0)
    logger.debug("train_discriminator: %s", stats)
    return dict(sorted(stats.items()))


@torch.no_grad()
def evaluate_discriminator(
    discriminator: Discriminator,
    real: Tensor,
    fake: Tensor,
    batch_size: int = 1024,
    pad_id: int | None = None,
) -> dict[str, float]:
    """Loss and accuracies on real and generated sequences, in eval mode, without gradients.

    The model's train/eval mode is restored afterwards.

    Args:
        discriminator: the model.
        real: (N, T) int64 real sequences.
        fake: (M, T) int64 generated sequences.
        batch_size: sequences per forward pass.
        pad_id: token level only: an extra id whose positions are ignored.

    Returns:
        ``dis/loss`` (mean cross-entropy over all sequences or real positions, plus the
        regularizer), ``dis/acc_real``, ``dis/acc_fake``, ``dis/acc`` (over both), and
        ``dis/mean_prob_real``, ``dis/mean_prob_fake`` (mean sigmoid of the logits).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size!r}")
    discriminator.check_tokens(real, "real")
    discriminator.check_tokens(fake, "fake")
    was_training = discriminator.training
    discriminator.eval()
    device = next(discriminator.parameters()).device
    totals: dict[bool, list[float]] = {}
    try:
        for is_real, data in ((True, real), (False, fake)):
            correct = count = bce = prob = 0.0
            for chunk in data.split(batch_size):
                chunk = chunk.to(device)
                logits = discriminator(chunk)
                mask = _token_mask(discriminator, chunk, pad_id)
                target = torch.full_like(logits, float(is_real))
                per = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
                p = torch.sigmoid(logits)
                if mask is not None:
                    weight = mask.to(logits.dtype)
                    per, p = per * weight, p * weight
                c, n = _correct(logits, is_real, mask)
                correct, count = correct + c, count + n
                bce, prob = bce + float(per.sum()), prob + float(p.sum())
            totals[is_real] = [correct, count, bce, prob]
        reg = float(discriminator.regularization())
    finally:
        discriminator.train(was_training)
    (c_r, n_r, l_r, p_r), (c_f, n_f, l_f, p_f) = totals[True], totals[False]
    return {
        "dis/acc": (c_r + c_f) / max(n_r + n_f, 1.0),
        "dis/acc_fake": c_f / max(n_f, 1.0),
        "dis/acc_real": c_r / max(n_r, 1.0),
        "dis/loss": (l_r + l_f) / max(n_r + n_f, 1.0) + reg,
        "dis/mean_prob_fake": p_f / max(n_f, 1.0),
        "dis/mean_prob_real": p_r / max(n_r, 1.0),
    }
