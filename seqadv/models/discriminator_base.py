"""The base class of seqadv's discriminators: token checks, padding, the BCE loss.

Token ids: ``0 .. vocab_size - 1`` are words; the id ``vocab_size`` is reserved for padding
beyond the end of a sequence (see :mod:`seqadv.models.discriminator`).
"""

from __future__ import annotations

import operator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["Discriminator", "positive_int"]


def positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``, or ValueError naming ``name``."""
    try:
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an int, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return number


# ------------------------------------------------------------------------------------------
# Base class
# ------------------------------------------------------------------------------------------
class Discriminator(nn.Module):
    """Base class of seqadv's discriminators.

    Subclasses implement :meth:`features` and :meth:`forward`; they may add a regularizer by
    overriding :meth:`regularization`, which :meth:`loss` adds to the cross-entropy.

    Args:
        vocab_size: number of word ids V; ids ``0 .. V-1`` are words and ``V`` is padding.
        max_len: the longest sequence T the model accepts; shorter inputs are fine.
        pad_id: the corpus' PAD id (in ``0 .. V-1``), or None when there is none (the
            oracle); padding then uses the reserved id ``V``.

    Attributes:
        vocab_size: V.
        max_len: T.
        pad_id: the ``pad_id`` given (None for the oracle).
        padding_idx: the id whose embedding is zero: ``pad_id`` if given, else V.
        level: ``"sequence"`` (logits (B,)) or ``"token"`` (logits (B, T)).
    """

    level: str = "sequence"

    def __init__(self, vocab_size: int, max_len: int, pad_id: int | None = None) -> None:
        super().__init__()
        vocab_size = positive_int(vocab_size, "vocab_size")
        max_len = positive_int(max_len, "max_len")
        if pad_id is not None:
            pad_id = positive_int(pad_id, "pad_id", minimum=0)
            if pad_id > vocab_size:
                raise ValueError(f"pad_id must lie in [0, vocab_size={vocab_size}], got {pad_id}")
        self.vocab_size = vocab_size
        self.max_len = max_len
        self.pad_id = pad_id
        self.padding_idx = pad_id if pad_id is not None else vocab_size

    # -- input handling -------------------------------------------------------------------
    def check_tokens(self, sequences: Tensor, name: str = "sequences") -> None:
        """Raise ValueError, naming the argument, unless ``sequences`` is valid input.

        Valid: a 2-D int64 tensor (B, T) with 1 <= T <= max_len and every id in
        ``[0, vocab_size]`` (``vocab_size`` being padding). Costs one min/max pass.

        Args:
            sequences: (B, T) token ids.
            name: the argument name to put in the message (e.g. ``"real"``).
        """
        if not isinstance(sequences, Tensor):
            raise ValueError(f"{name} must be a torch.Tensor, got {type(sequences).__name__}")
        if sequences.dim() != 2 or sequences.dtype != torch.int64:
            raise ValueError(
                f"{name} must be a 2-D int64 (LongTensor) of shape (B, T), got shape "
                f"{tuple(sequences.shape)} and dtype {sequences.dtype}"
            )
        length = sequences.shape[1]
        if not 1 <= length <= self.max_len:
            raise ValueError(
                f"{name} has length T={length}; this discriminator takes 1 <= T <= "
                f"max_len={self.max_len}"
            )
        if sequences.numel() == 0:
            return
        low, high = torch.aminmax(sequences)
        low, high = int(low), int(high)
        if low < 0 or high > self.vocab_size:
            bad = low if low < 0 else high
            raise ValueError(
                f"{name} contains token id {bad} outside [0, vocab_size={self.vocab_size}] "
                f"(ids 0..{self.vocab_size - 1} are words, {self.vocab_size} is padding)"
            )

    def _prepare(self, sequences: Tensor, name: str = "sequences") -> Tensor:
        """Check ``sequences`` and map the reserved id V to ``pad_id`` when they differ."""
        self.check_tokens(sequences, name)
        if self.padding_idx != self.vocab_size:
            sequences = sequences.masked_fill(sequences == self.vocab_size, self.padding_idx)
        return sequences

    def padding_mask(self, sequences: Tensor) -> Tensor:
        """(B, T) bool, True at real (non-padding) positions of (B, T) ``sequences``."""
        real = sequences != self.padding_idx
        if self.padding_idx != self.vocab_size:
            real &= sequences != self.vocab_size
        return real

    def _make_embedding(self, dim: int) -> nn.Embedding:
        return nn.Embedding(self.vocab_size + 1, dim, padding_idx=self.padding_idx)

    # -- model ----------------------------------------------------------------------------
    def features(self, sequences: Tensor) -> Tensor:
        """The penultimate representation.

        Args:
            sequences: (B, T) int64 token ids.

        Returns:
            (B, F) float features (RankGAN's rank reward uses their cosine similarities).
        """
        raise NotImplementedError

    def forward(self, sequences: Tensor) -> Tensor:
        """Raw logits; ``sigmoid`` of a logit is the probability of "real".

        Args:
            sequences: (B, T) int64 token ids.

        Returns:
            (B,) logits for a sequence-level model, (B, T) for a token-level one.
        """
        raise NotImplementedError

    def regularization(self) -> Tensor:
        """The model's penalty added to the loss (a 0-dim tensor; zero by default)."""
        return next(self.parameters()).new_zeros(())

    def loss(self, logits: Tensor, labels: Tensor, mask: Tensor | None = None) -> Tensor:
        """Binary cross-entropy with logits, averaged, plus :meth:`regularization`.

        Args:
            logits: (B,) or (B, T) raw logits from :meth:`forward`.
            labels: 1 for real, 0 for generated; (B,) or the shape of ``logits``. A (B,)
                label of token-level logits applies to every position of its sequence.
            mask: optional bool/float tensor of the shape of ``logits``: only its nonzero
                entries count (token level: the real, non-padding positions). The mean is
                taken over the mask (0 if it is empty).

        Returns:
            A 0-dim tensor: the mean cross-entropy plus the regularizer.
        """
        labels = labels.to(logits.dtype)
        if labels.dim() == 1 and logits.dim() == 2:
            labels = labels[:, None].expand_as(logits)
        if labels.shape != logits.shape:
            raise ValueError(
                f"labels of shape {tuple(labels.shape)} do not fit logits of shape "
                f"{tuple(logits.shape)}"
            )
        if mask is None:
            bce = F.binary_cross_entropy_with_logits(logits, labels)
        else:
            if mask.shape != logits.shape:
                raise ValueError(
                    f"mask of shape {tuple(mask.shape)} does not fit logits of shape "
                    f"{tuple(logits.shape)}"
                )
            weight = mask.to(logits.dtype)
            per = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
            bce = (per * weight).sum() / weight.sum().clamp_min(1.0)
        return bce + self.regularization()

    def extra_repr(self) -> str:
        return (
            f"vocab_size={self.vocab_size}, max_len={self.max_len}, pad_id={self.pad_id}, "
            f"level={self.level!r}"
        )
