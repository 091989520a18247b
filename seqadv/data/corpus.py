"""Corpora of one sentence per line, read defensively.

Every problem a text file can have is either an error that names the file and line or a
counted, reported decision: empty files are errors; empty lines are skipped and counted;
undecodable bytes are an error by default (``encoding_errors="replace"`` or ``"skip"`` count
them instead); lines longer than ``max_len`` follow ``long_lines``: ``"truncate"`` (default,
counted), ``"skip"`` (counted) or ``"error"``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from seqadv.data.tokenize import get_tokenizer
from seqadv.data.vocab import Vocab
from seqadv.errors import DataError

__all__ = ["Corpus", "CorpusStats", "read_bytes", "read_lines"]

log = logging.getLogger("seqadv")

LONG_LINE_POLICIES = ("truncate", "skip", "error")
ENCODING_POLICIES = ("strict", "replace", "skip")


@dataclass
class CorpusStats:
    """What reading a corpus did, line by line."""

    path: str
    lines: int = 0
    sentences: int = 0
    empty_lines: int = 0
    undecodable_lines: int = 0
    long_lines: int = 0
    long_line_policy: str = "truncate"
    tokens: int = 0
    unk_tokens: int = 0
    max_tokens: int = 0
    first_problem_lines: dict[str, int] = field(default_factory=dict)

    @property
    def mean_tokens(self) -> float:
        return self.tokens / self.sentences if self.sentences else 0.0

    def summary(self) -> str:
        parts = [f"{self.path}: {self.sentences} sentences from {self.lines} lines"]
        parts.append(f"mean length {self.mean_tokens:.1f} tokens (longest {self.max_tokens})")
        if self.empty_lines:
            parts.append(f"{self.empty_lines} empty lines skipped")
        if self.undecodable_lines:
            parts.append(f"{self.undecodable_lines} lines with undecodable bytes")
        if self.long_lines:
            verb = {"truncate": "truncated", "skip": "skipped"}.get(self.long_line_policy, "")
            parts.append(f"{self.long_lines} lines over the length limit {verb}")
        if self.unk_tokens:
            parts.append(f"{self.unk_tokens} tokens mapped to <unk>")
        return "; ".join(parts)


def read_bytes(path: str | Path, expected: str = "a text file") -> bytes:
    """The bytes of ``path``, or a DataError naming it (missing, a directory, unreadable)."""
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected {expected}") from None
    except OSError as exc:  # no permission, ...
        raise DataError(f"{path}: cannot read the file ({exc})") from exc

def read_lines(
    path: str | os.PathLike, encoding_errors: str = "strict", stats: CorpusStats | None = None
) -> list[tuple[int, str]]:
    """Non-empty lines of a UTF-8 text file as (line number, text), stripped.

    Raises:
        DataError: the file is missing or empty, or a line is not UTF-8 under ``"strict"``.
    """
    if encoding_errors not in ENCODING_POLICIES:
        raise DataError(
            f"encoding_errors must be one of {ENCODING_POLICIES}, got {encoding_errors!r}"
        )
    path = Path(path)
    stats = stats if stats is not None else CorpusStats(str(path))
    raw = read_bytes(path)
    if not raw.strip():
        raise DataError(f"{path}: the file is empty (expected one sentence per line)")
    out: list[tuple[int, str]] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        stats.lines += 1
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            stats.undecodable_lines += 1
            stats.first_problem_lines.setdefault("undecodable", number)
            if encoding_errors == "strict":
                raise DataError(
                    f"{path}:{number}: not valid UTF-8 at byte {exc.start} of the line "
                    "(pass encoding_errors='replace' or 'skip' to read it anyway)"
                ) from None
            if encoding_errors == "skip":
                continue
            text = line.decode("utf-8", errors="replace")
        text = text.strip().lstrip("\ufeff")
        if not text:
            stats.empty_lines += 1
            continue
        out.append((number, text))
    if not out:
        raise DataError(f"{path}: no non-empty lines")
    return out


class Corpus:
    """Tokenized sentences of a text file, and their ids under a vocabulary.

    Args:
        sentences: lists of tokens (truncated to ``max_len - 1`` under ``long_lines="truncate"``).
        vocab: the vocabulary used by :meth:`to_tensor`.
        max_len: the longest sequence in ids, EOS included.
        stats: what reading did.
    """

    def __init__(
        self,
        sentences: list[list[str]],
        vocab: Vocab,
        max_len: int,
        stats: CorpusStats | None = None,
        tokenizer: str = "space",
        full_sentences: list[list[str]] | None = None,
    ) -> None:
        self.sentences = sentences
        #: the sentences before truncation (BLEU references must be whole sentences)
        self.full_sentences = full_sentences if full_sentences is not None else sentences
        self.vocab = vocab
        self.max_len = max_len
        self.stats = stats or CorpusStats("<memory>")
        self.tokenizer = tokenizer

    @classmethod
    def from_file(
        cls,
        path: str | os.PathLike,
        tokenizer: str | Callable[[str], list[str]] = "nltk",
        vocab: Vocab | None = None,
        max_len: int = 32,
        long_lines: str = "truncate",
        encoding_errors: str = "strict",
        min_freq: int = 1,
        max_vocab: int | None = None,
        max_sentences: int | None = None,
    ) -> Corpus:
        """Read ``path`` (one sentence per line) and tokenize it.

        Args:
            tokenizer: ``nltk``, ``space``, ``char`` or a callable.
            vocab: an existing vocabulary (for a test split); built from this file if None.
            max_len: the longest sequence in ids, EOS included (so ``max_len - 1`` words).
            long_lines: ``truncate``, ``skip`` or ``error`` for lines with more words.
            encoding_errors: ``strict`` (error), ``replace`` or ``skip`` undecodable lines.
            min_freq, max_vocab: passed to :meth:`Vocab.build` when building.
            max_sentences: keep only the first this many sentences (None: all).
        """
        if long_lines not in LONG_LINE_POLICIES:
            raise DataError(f"long_lines must be one of {LONG_LINE_POLICIES}, got {long_lines!r}")
        if max_len < 2:
            raise DataError(f"max_len must be >= 2 (a word and EOS), got {max_len}")
        tok_name = (
            tokenizer if isinstance(tokenizer, str) else getattr(tokenizer, "__name__", "custom")
        )
        tok = get_tokenizer(tokenizer) if isinstance(tokenizer, str) else tokenizer
        stats = CorpusStats(str(path), long_line_policy=long_lines)
        limit = max_len - 1
        sentences = []
        full: dict[int, list[str]] = {}  # untruncated tokens of truncated lines, by index
        for number, text in read_lines(path, encoding_errors, stats):
            tokens = tok(text)
            if not tokens:
                stats.empty_lines += 1
                continue
            if len(tokens) > limit:
                stats.long_lines += 1
                stats.first_problem_lines.setdefault("long", number)
                if long_lines == "error":
                    raise DataError(
                        f"{path}:{number}: {len(tokens)} tokens, more than max_len - 1 = {limit} "
                        "(set long_lines to 'truncate' or 'skip', or raise max_len)"
                    )
                if long_lines == "skip":
                    continue
                full[len(sentences)] = tokens
                tokens = tokens[:limit]
            sentences.append(tokens)
            if max_sentences is not None and len(sentences) >= max_sentences:
                break
        if not sentences:
            raise DataError(f"{path}: no usable sentences ({stats.summary()})")
        if vocab is None:
            vocab = Vocab.build(sentences, min_freq=min_freq, max_size=max_vocab)
        stats.sentences = len(sentences)
        stats.tokens = sum(len(s) for s in sentences)
        stats.max_tokens = max(len(s) for s in sentences)
        stats.unk_tokens = sum(1 for s in sentences for t in s if t not in vocab)
        whole = [full.get(i, sent) for i, sent in enumerate(sentences)] if full else None
        corpus = cls(sentences, vocab, max_len, stats, tok_name, whole)
        log.info("%s", stats.summary())
        return corpus

    def __len__(self) -> int:
        return len(self.sentences)

    def to_tensor(self):
        """(N, max_len) int64 ids: words, EOS, then PAD."""
        import torch

        v = self.vocab
        out = torch.full((len(self.sentences), self.max_len), v.pad_id, dtype=torch.long)
        for i, sent in enumerate(self.sentences):
            ids = v.encode(sent) + [v.eos_id]
            out[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return out

    def decode(self, ids: Sequence[int]) -> str:
        """Text of one id sequence (stops at EOS; joined with spaces, or nothing for chars)."""
        words = self.vocab.decode(ids, strip=True)
        return ("" if self.tokenizer == "char" else " ").join(words)
