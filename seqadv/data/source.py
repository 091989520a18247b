"""TextData: the real data of an experiment, in the form environments and trainers use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from torch import Tensor

from seqadv.data.vocab import Vocab
from seqadv.errors import ConfigError

if TYPE_CHECKING:  # the oracle is a model; data does not import models at run time
    from seqadv.models.oracle import OracleLSTM

__all__ = ["TextData"]


@dataclass
class TextData:
    """The real data of an experiment.

    Attributes:
        train: (N, T) int64 training sequences.
        test: (M, T) int64 held-out sequences (NLL-test; BLEU references for corpora).
        vocab: the vocabulary of a corpus, None for the oracle.
        oracle: the oracle, None for a corpus.
        test_tokens: tokenized test sentences (BLEU references), corpora only.
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
    oracle: OracleLSTM | None = None  # type: ignore[name-defined]
    tokenizer: str = "space"
    test_tokens: list[list[str]] | None = None
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def tokens(self, ids: Tensor | list[int]) -> list[str]:
        """The tokens of one sequence (ids as strings for the oracle; stops at EOS)."""
        seq = ids.tolist() if isinstance(ids, Tensor) else list(ids)
        if self.vocab is None:
            return [str(i) for i in seq if i != self.pad_id]
        return self.vocab.decode(seq, strip=True)

    def reference_stats(self, max_n: int):
        """BLEU reference statistics of the test split, computed once and kept."""
        from seqadv.metrics.bleu import ReferenceStats

        cached = self.extra.get("bleu_refs")
        if cached is None or cached.max_n < max_n:
            if self.test_tokens is None:
                raise ConfigError("BLEU needs a test split (data.test_path)")
            cached = self.extra["bleu_refs"] = ReferenceStats(self.test_tokens, max_n=max_n)
        return cached

    def decode(self, ids: Tensor | list[int]) -> str:
        """Readable text of one sequence."""
        sep = "" if self.tokenizer == "char" else " "
        return sep.join(self.tokens(ids))
