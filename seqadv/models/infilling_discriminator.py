"""MaskGAN's discriminator: a seq2seq model that judges every missing token given its context.

It reads an example in the infilling layout ``[masked | sentence]`` (:mod:`seqadv.data.
infilling`): its encoder reads the masked sentence, its decoder reads the sentence itself
(the state at position t has read tokens 0 .. t, so its logit judges token t given the
tokens before it and the masked context). It is token level: the logits are (B, 2T), 0 over
the masked half, and :meth:`padding_mask` is True at the *missing* positions of the sentence
only, so that training (BCE, :mod:`seqadv.algorithms.discriminator`) counts those alone.

:meth:`critic_features` serves MaskGAN's critic, a value head on the discriminator's decoder
states (``actor_critic`` with ``critic: discriminator``): for an observation at position t it
returns the state after tokens 0 .. t - 1 (the encoder's final state at t = 0), which has not
seen the token about to be written.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from seqadv.data.infilling import split_examples
from seqadv.models.discriminator_base import Discriminator
from seqadv.models.seq2seq import Seq2SeqBody

__all__ = ["InfillingDiscriminator"]


class InfillingDiscriminator(Discriminator):
    """Seq2seq token-level discriminator for infilling examples (see the module docstring).

    Args:
        vocab_size: V.
        max_len: T, the sentence length (examples are 2T long).
        pad_id: the corpus' PAD id, or None.
        embedding_dim, hidden_size: sizes of the embedding and of both LSTMs.
        attention: dot-product attention over the encoder's states.
        dropout: dropout on the decoder's states before the output layer.
    """

    level = "token"

    def __init__(
        self,
        vocab_size: int,
        max_len: int,
        pad_id: int | None = None,
        embedding_dim: int = 32,
        hidden_size: int = 32,
        attention: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(vocab_size, 2 * int(max_len), pad_id)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}")
        self.sentence_len = int(max_len)
        self.body = Seq2SeqBody(vocab_size, embedding_dim, hidden_size, attention)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(hidden_size, 1)

    def _split(self, examples: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        self.check_tokens(examples, "examples")
        if examples.shape[1] != 2 * self.sentence_len:
            raise ValueError(
                f"examples must be [masked | sentence] of 2 x {self.sentence_len} tokens, got "
                f"{examples.shape[1]}"
            )
        return split_examples(examples)

    def states(self, examples: Tensor) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor]]:
        """Attended decoder states (B, T, H), the encoder's states and its final state."""
        masked, sentences, _ = self._split(examples)
        encoded, final = self.body.encode(masked)
        decoded = self.body.decode(sentences.clamp(max=self.vocab_size - 1), final)
        return self.body.attend(decoded, encoded), encoded, final

    def forward(self, examples: Tensor) -> Tensor:
        """(B, 2T) examples -> (B, 2T) logits of "real" (0 over the masked half)."""
        states, _, _ = self.states(examples)
        logits = self.output(self.dropout(states)).squeeze(-1)
        return torch.cat([torch.zeros_like(logits), logits], dim=1)

    def padding_mask(self, examples: Tensor) -> Tensor:
        """(B, 2T) bool: True at the missing positions of the sentence (what is judged)."""
        _, _, present = split_examples(examples)
        return torch.cat([torch.zeros_like(present), ~present], dim=1)

    def features(self, examples: Tensor) -> Tensor:
        """(B, H): the decoder's (attended) state after the last token."""
        states, _, _ = self.states(examples)
        return states[:, -1]

    @property
    def critic_features_dim(self) -> int:
        """The size of :meth:`critic_features` (the hidden size)."""
        return self.body.hidden_dim

    def critic_features(self, obs: dict[str, Any]) -> Tensor:
        """(N, H) features of observations ``{masked, written, position}`` for a critic: the
        decoder state after the tokens before ``position`` (the encoder's at position 0)."""
        masked = obs["masked"].round().long()
        written = obs["written"].round().long().clamp(0, self.vocab_size - 1)
        position = obs["position"].round().long()[..., 0].clamp(0, self.sentence_len - 1)
        encoded, final = self.body.encode(masked)
        decoded = self.body.decode(written, final)
        before = torch.cat([final[0].unsqueeze(1), decoded[:, :-1]], dim=1)  # state before t
        picked = before[torch.arange(before.shape[0]), position]
        return self.body.attend(picked, encoded)
