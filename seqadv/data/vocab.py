"""The vocabulary: token <-> id, with PAD, BOS, EOS and UNK at ids 0..3."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from seqadv.errors import DataError

__all__ = ["Vocab", "PAD", "BOS", "EOS", "UNK", "SPECIALS"]

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
FORMAT = "seqadv.vocab/1"


class Vocab:
    """A fixed mapping between tokens and integer ids.

    Ids 0..3 are PAD, BOS, EOS and UNK; words follow by decreasing frequency (ties broken
    alphabetically, so the same corpus always gives the same ids).

    Example:
        >>> v = Vocab.build([["a", "b", "a"], ["c"]], min_freq=1)
        >>> v.encode(["a", "z"]), v.decode([4, 3, 2])
        ([4, 3], ['a', '<unk>', '<eos>'])
    """

    pad_id, bos_id, eos_id, unk_id = 0, 1, 2, 3

    def __init__(self, tokens: Sequence[str]) -> None:
        tokens = list(tokens)
        if tuple(tokens[:4]) != SPECIALS:
            raise DataError(f"a vocabulary must start with {SPECIALS}, got {tuple(tokens[:4])}")
        if len(set(tokens)) != len(tokens):
            dup = next(t for t, c in Counter(tokens).items() if c > 1)
            raise DataError(f"token {dup!r} appears twice in the vocabulary")
        self.itos: list[str] = tokens
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(tokens)}

    @classmethod
    def build(
        cls,
        sentences: Iterable[Sequence[str]],
        min_freq: int = 1,
        max_size: int | None = None,
    ) -> Vocab:
        """Build from tokenized sentences.

        Args:
            sentences: lists of tokens.
            min_freq: tokens seen fewer times become UNK.
            max_size: at most this many ids in all (specials included); the rarest go.
        """
        if min_freq < 1:
            raise DataError(f"min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < len(SPECIALS) + 1:
            raise DataError(f"max_size must be >= {len(SPECIALS) + 1}, got {max_size}")
        counts = Counter(tok for sent in sentences for tok in sent)
        for special in SPECIALS:
            counts.pop(special, None)
        words = sorted(
            (w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w)
        )
        if max_size is not None:
            words = words[: max_size - len(SPECIALS)]
        return cls(list(SPECIALS) + words)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens)"

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Ids of ``tokens``; unknown tokens map to UNK."""
        unk = self.unk_id
        return [self.stoi.get(t, unk) for t in tokens]

    def decode(self, ids: Iterable[int], strip: bool = False) -> list[str]:
        """Tokens of ``ids``; with ``strip``, stop at EOS and drop PAD and BOS."""
        out = []
        for i in ids:
            i = int(i)
            if strip:
                if i == self.eos_id:
                    break
                if i in (self.pad_id, self.bos_id):
                    continue
            if not 0 <= i < len(self.itos):
                raise DataError(f"id {i} is outside the vocabulary (size {len(self.itos)})")
            out.append(self.itos[i])
        return out

    def to_dict(self) -> dict:
        return {"format": FORMAT, "tokens": self.itos}

    @classmethod
    def from_dict(cls, data: dict, where: str = "vocabulary") -> Vocab:
        if not isinstance(data, dict) or data.get("format") != FORMAT or "tokens" not in data:
            raise DataError(f"{where}: not a seqadv vocabulary (expected format {FORMAT!r})")
        tokens = data["tokens"]
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise DataError(f"{where}: 'tokens' must be a list of strings")
        try:
            return cls(tokens)
        except DataError as exc:  # name the file at fault
            raise DataError(f"{where}: {exc}") from None

    def save(self, path: str | os.PathLike) -> None:
        """Write as JSON (atomically)."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        """Read a vocabulary written by :meth:`save`."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"{path}: vocabulary file not found") from None
        except OSError as exc:  # a directory, no permission, ...
            raise DataError(f"{path}: cannot read the vocabulary file ({exc})") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: not valid JSON ({exc})") from exc
        return cls.from_dict(data, where=str(path))
