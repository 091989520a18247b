"""The seq2seq body MaskGAN's generator, discriminator and critic share in shape.

An encoder LSTM reads a masked sentence (missing tokens are the id V, see
:mod:`seqadv.data.infilling`); a decoder LSTM, started from the encoder's final state, reads
the sentence being written; optional dot-product attention (Luong et al., 2015) over the
encoder's states mixes a context vector into every decoder state:
``tanh(W [h; sum_j softmax(h . e_j) e_j])``. Token ids: ``0 .. V-1`` words, ``V`` a missing
token, ``V + 1`` the decoder's start input (GO).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seqadv.models.discriminator_base import positive_int

__all__ = ["Seq2SeqBody"]


class Seq2SeqBody(nn.Module):
    """Embedding, encoder LSTM, decoder LSTM and optional attention (one layer each).

    Args:
        vocab_size: V (the embedding has V + 2 rows: words, missing, GO).
        embed_dim: E.
        hidden_dim: H of both LSTMs.
        attention: mix an attention context into the decoder's states.
    """

    def __init__(self, vocab_size: int, embed_dim: int, hidden_dim: int, attention: bool) -> None:
        super().__init__()
        self.vocab_size = positive_int(vocab_size, "vocab_size", minimum=2)
        self.embed_dim = positive_int(embed_dim, "embed_dim")
        self.hidden_dim = positive_int(hidden_dim, "hidden_dim")
        self.missing_id, self.go_id = self.vocab_size, self.vocab_size + 1
        self.embedding = nn.Embedding(self.vocab_size + 2, self.embed_dim)
        self.encoder = nn.LSTM(self.embed_dim, self.hidden_dim, batch_first=True)
        self.decoder = nn.LSTM(self.embed_dim, self.hidden_dim, batch_first=True)
        self.attention = bool(attention)
        self.combine = nn.Linear(2 * self.hidden_dim, self.hidden_dim) if self.attention else None

    def encode(self, masked: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """(B, T) masked ids -> encoder states (B, T, H) and the final (h, c), each (B, H)."""
        states, (h, c) = self.encoder(self.embedding(masked))
        return states, (h[0], c[0])

    def decode(self, inputs: Tensor, state: tuple[Tensor, Tensor]) -> Tensor:
        """Teacher forcing: (B, L) input ids from ``state`` -> decoder states (B, L, H)."""
        h, c = state
        out, _ = self.decoder(self.embedding(inputs), (h.unsqueeze(0).contiguous(), c.unsqueeze(0).contiguous()))
        return out

    def step(self, tokens: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """One decoder step: (B,) input ids -> the new (h, c) (the decoder's own weights)."""
        return torch.lstm_cell(
            self.embedding(tokens),
            state,
            self.decoder.weight_ih_l0,
            self.decoder.weight_hh_l0,
            self.decoder.bias_ih_l0,
            self.decoder.bias_hh_l0,
        )

    def attend(self, states: Tensor, encoded: Tensor) -> Tensor:
        """Decoder states (B, H) or (B, L, H) with attention over ``encoded`` (B, T, H);
        the states themselves without attention."""
        if self.combine is None:
            return states
        single = states.dim() == 2
        query = states.unsqueeze(1) if single else states
        weights = torch.softmax(query @ encoded.transpose(1, 2), dim=-1)
        mixed = torch.tanh(self.combine(torch.cat([query, weights @ encoded], dim=-1)))
        return mixed.squeeze(1) if single else mixed

    def go(self, rows: int, device: torch.device | None = None) -> Tensor:
        """(rows,) GO ids."""
        return torch.full((rows,), self.go_id, dtype=torch.long, device=device)

    def shifted(self, sentences: Tensor) -> Tensor:
        """Teacher-forcing inputs of (B, T) sentences: GO, then tokens 0 .. T-2."""
        return torch.cat([self.go(sentences.shape[0], sentences.device)[:, None], sentences[:, :-1]], 1)
