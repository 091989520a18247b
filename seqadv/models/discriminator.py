"""Discriminators: sequence-level and token-level classifiers of real versus generated text.

Every discriminator is a plain, batch-first ``nn.Module`` that maps token ids to raw logits;
``sigmoid(logit)`` is the probability that the input is real. Sequence-level models return one
logit per sequence, token-level models one logit per position.

Token ids: ``0 .. vocab_size - 1`` are words; the id ``vocab_size`` is reserved for padding
beyond the end of a sequence (the synthetic oracle has no PAD token). A corpus with its own PAD
id passes it as ``pad_id``; the id ``vocab_size`` is then still accepted and read as padding.
Every embedding therefore has ``vocab_size + 1`` rows, the padding row fixed at zero.

Built-ins, in the ``DISCRIMINATORS`` registry:

* ``cnn`` -- :class:`CNNDiscriminator`, SeqGAN's convolutional discriminator.
* ``lstm`` -- :class:`LSTMDiscriminator`, the last real token's LSTM state to a logit.
* ``token_lstm`` -- :class:`TokenDiscriminator`, a logit at every position (per-token rewards).

Models are plain modules: training them is :mod:`seqadv.algorithms.discriminator`'s job.

Example:
    >>> import torch
    >>> from seqadv.models.discriminator import make_discriminator
    >>> d = make_discriminator("cnn", vocab_size=8, max_len=6,
    ...                        filter_sizes=(2, 3), num_filters=(4, 4))
    >>> d(torch.ones(3, 6, dtype=torch.long)).shape
    torch.Size([3])
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import Tensor, nn

from seqadv.models.cnn_discriminator import (
    SEQGAN_FILTER_SIZES,
    SEQGAN_NUM_FILTERS,
    CNNDiscriminator,
    Highway,
)
from seqadv.models.discriminator_base import Discriminator, positive_int
from seqadv.registry import Registry

__all__ = [
    "DISCRIMINATORS",
    "CNNDiscriminator",
    "Discriminator",
    "Highway",
    "LSTMDiscriminator",
    "SEQGAN_FILTER_SIZES",
    "SEQGAN_NUM_FILTERS",
    "TokenDiscriminator",
    "make_discriminator",
]

logger = logging.getLogger("seqadv")

# ------------------------------------------------------------------------------------------
def _last_real_index(real: Tensor) -> Tensor:
    """(B, T) bool of real positions -> (B,) index of the last real one (0 if none)."""
    positions = torch.arange(real.shape[1], device=real.device).expand_as(real)
    return torch.where(real, positions, 0).amax(dim=1)


class _RecurrentDiscriminator(Discriminator):
    """Shared body of the LSTM discriminators: embedding -> LSTM -> (B, T, H) states.

    Args:
        vocab_size: V (ids 0..V-1 are words; V is padding).
        max_len: the longest T accepted.
        pad_id: the corpus' PAD id, or None (padding is then V).
        embedding_dim: E.
        hidden_size: H (default 64).
        num_layers: stacked LSTM layers.
        dropout: dropout before the output layer (and between LSTM layers).
    """

    def __init__(
        self,
        vocab_size: int,
        max_len: int,
        pad_id: int | None = None,
        embedding_dim: int = 64,
        hidden_size: int = 64,
        num_layers: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(vocab_size, max_len, pad_id)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}")
        self.embedding_dim = embedding_dim = positive_int(embedding_dim, "embedding_dim")
        self.hidden_size = hidden_size = positive_int(hidden_size, "hidden_size")
        self.num_layers = num_layers = positive_int(num_layers, "num_layers")
        self.embedding = self._make_embedding(embedding_dim)
        self.lstm = nn.LSTM(
            embedding_dim,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(hidden_size, 1)

    def _states(self, sequences: Tensor) -> tuple[Tensor, Tensor]:
        """(B, T) ids -> ((B, T, H) top-layer states, (B, T) bool real positions)."""
        sequences = self._prepare(sequences)
        states, _ = self.lstm(self.embedding(sequences))
        return states, self.padding_mask(sequences)

    def features(self, sequences: Tensor) -> Tensor:
        """The top LSTM layer's state after the last real (non-padding) token.

        The LSTM is unidirectional, so the state at that position is exactly the final
        state of the unpadded sequence. An all-padding row reads position 0.

        Args:
            sequences: (B, T) int64 ids, T <= max_len.

        Returns:
            (B, H) features.
        """
        states, real = self._states(sequences)
        last = _last_real_index(real)
        return states[torch.arange(states.shape[0], device=states.device), last]


class LSTMDiscriminator(_RecurrentDiscriminator):
    """Embedding -> LSTM -> the state after the last real token -> linear -> one logit.


    Args: those of :class:`_RecurrentDiscriminator`.
    """

    level = "sequence"

    def forward(self, sequences: Tensor) -> Tensor:
        """Logits of "real".

        Args:
            sequences: (B, T) int64 ids, T <= max_len.

        Returns:
            (B,) raw logits.
        """
        return self.output(self.dropout(self.features(sequences))).squeeze(-1)


class TokenDiscriminator(_RecurrentDiscriminator):
    """A unidirectional LSTM that emits a logit at every position (MaskGAN-style).

    The logit at position t judges token t given its prefix (the LSTM has read tokens
    0..t), so ``sigmoid`` of it is a per-token reward. Logits at padding positions are
    computed but meaningless: :meth:`loss` takes a mask of real positions.


    Args: those of :class:`_RecurrentDiscriminator`.
    """

    level = "token"

    def forward(self, sequences: Tensor) -> Tensor:
        """Per-position logits of "real".

        Args:
            sequences: (B, T) int64 ids, T <= max_len.

        Returns:
            (B, T) raw logits; position t judges token t given tokens 0..t-1.
        """
        states, _ = self._states(sequences)
        return self.output(self.dropout(states)).squeeze(-1)


# ------------------------------------------------------------------------------------------
# Registry
# ------------------------------------------------------------------------------------------
DISCRIMINATORS = Registry("discriminator")
DISCRIMINATORS.add("cnn", CNNDiscriminator, level="sequence")
DISCRIMINATORS.add("lstm", LSTMDiscriminator, level="sequence")
DISCRIMINATORS.add("token_lstm", TokenDiscriminator, level="token")
DISCRIMINATORS.add(
    "maskgan",
    "seqadv.models.infilling_discriminator:InfillingDiscriminator",
    level="token",
    examples="infilling",
    summary="MaskGAN's seq2seq discriminator over [masked | sentence] examples",
)
DISCRIMINATORS.add(
    "irgan_mf",
    "seqadv.models.mf_players:MFDiscriminator",
    level="sequence",
    examples="pairs",
    summary="IRGAN's matrix-factorization scorer of [user, item] pairs",
)
DISCRIMINATORS.add(
    "irgan_ltr",
    "seqadv.models.ltr_players:LTRDiscriminator",
    level="sequence",
    examples="pairs",
    summary="IRGAN's feature scorer of [query, document] pairs (letor data)",
)


def make_discriminator(
    name: str, vocab_size: int, max_len: int, pad_id: int | None = None, **kwargs: Any
) -> Discriminator:
    """Build the discriminator registered as ``name``.

    Args:
        name: a name in ``DISCRIMINATORS`` (``cnn``, ``lstm``, ``token_lstm``, ...) or a
            dotted path ``"package.module:Class"``.
        vocab_size: V.
        max_len: T.
        pad_id: the corpus' PAD id, or None.
        **kwargs: the model's other arguments, checked against its signature.

    Raises:
        seqadv.errors.UnknownNameError: unknown ``name`` (lists the known ones).
        seqadv.errors.ConfigError: a keyword the model does not accept.
    """
    return DISCRIMINATORS.make(
        name, vocab_size=vocab_size, max_len=max_len, pad_id=pad_id, **kwargs
    )
