"""TextData: the real data of an experiment, in the form environments and trainers use.

The data layer imports nothing above it: the oracle (a model) is held as an opaque object
with ``nll``, ``source``, ``vocab_size`` and ``max_len``; BLEU's reference statistics are
cached in ``extra`` by the evaluation layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from seqadv.data.vocab import Vocab

__all__ = ["TextData"]


@dataclass
class TextData:
    """The real data of an experiment.

    Attributes:
        train: (N, T) int64 training sequences.
        test: (M, T) int64 held-out sequences (NLL-test; BLEU references for corpora).
        vocab: the vocabulary of a corpus, None for the oracle.
        oracle: the oracle (an ``OracleLSTM``), None for a corpus.
        test_tokens: tokenized test sentences (BLEU references), corpora only.
        text_start: the column where an example's text begins (0; an example that carries
            its context first, such as an infilling pair ``[masked | sentence]``, says where
            the sentence starts, so that metrics and ``decode`` read the text only).
    """

    train: Tensor
    test: Tensor | None
    max_len: int
    vocab_size: int
    start_id: int
    eos_id: int | None
    pad_id: int
    forbidden_ids: tuple[int, ...] = ()
    vocab: Vocab | None = None
    oracle: Any = None
    tokenizer: str = "space"
    test_tokens: list[list[str]] | None = None
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    text_start: int = 0

    def tokens(self, ids: Tensor | list[int]) -> list[str]:
        """The tokens of one sequence (ids as strings for the oracle; stops at EOS)."""
        seq = ids.tolist() if isinstance(ids, Tensor) else list(ids)
        seq = seq[self.text_start :]
        if self.vocab is None:
            return [str(i) for i in seq if i != self.pad_id]
        # with an EOS the text stops there; without (fixed-length windows) EOS is a word
        return self.vocab.decode(seq, strip=self.eos_id is not None)

    @property
    def discriminator_pad_id(self) -> int | None:
        """The PAD id a discriminator must ignore: the corpus' own, None for fixed length."""
        return self.pad_id if self.eos_id is not None else None

    def decode(self, ids: Tensor | list[int]) -> str:
        """Readable text of one sequence."""
        sep = "" if self.tokenizer == "char" else " "
        return sep.join(self.tokens(ids))
