"""Penn Treebank language-modelling files read as MaskGAN's official code reads them.

The three files ``ptb.train.txt``, ``ptb.valid.txt`` and ``ptb.test.txt`` (Mikolov's
pre-processed split: numbers as ``N``, rare words already ``<unk>``) are continuous token
streams, not sentences:

* a file is read whole, every newline becomes the token ``<eos>`` and the text is split on
  whitespace, so each line contributes its words followed by ``<eos>`` (:func:`read_ptb_words`);
* the vocabulary comes from the *training* file only: words counted, sorted by decreasing count
  then alphabetically, ids 0, 1, ... in that order (:func:`ptb_vocab`); on PTB that is 10,000
  words with ``the`` = 0, ``<unk>`` = 1 and ``<eos>`` = 2;
* valid/test words outside that vocabulary are mapped to ``<unk>`` and counted (the official
  reader silently drops them; ``oov="drop"`` does the same, ``oov="error"`` refuses them). The
  real valid and test files have none, so all three policies give the same streams there;
* training examples are consecutive windows of the streams (:func:`windows`; MaskGAN uses 20).

The files are read from a path (see ``../shared/data/README.md``); nothing is copied.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from seqadv.data.corpus import read_bytes
from seqadv.errors import DataError

__all__ = [
    "PTB_EOS",
    "PTB_UNK",
    "PTB_FILES",
    "PTBStreams",
    "read_ptb_words",
    "ptb_vocab",
    "load_ptb",
    "windows",
]

PTB_EOS, PTB_UNK = "<eos>", "<unk>"
#: The file of each split inside a PTB directory.
PTB_FILES = {"train": "ptb.train.txt", "valid": "ptb.valid.txt", "test": "ptb.test.txt"}
OOV_POLICIES = ("unk", "drop", "error")


def read_ptb_words(path: str | os.PathLike) -> list[str]:
    """The token stream of one PTB file: each line's words followed by ``<eos>``.

    The official reader replaces every ``"\\n"`` by ``"<eos>"`` and splits on whitespace. Here
    the newline becomes ``" <eos> "``, which gives the same tokens whenever a line ends in
    whitespace (every line of the PTB files ends in a space) and never glues ``<eos>`` to the
    last word of a line that does not. An empty line gives a lone ``<eos>``, as officially; a
    last line without a final newline gets no ``<eos>``, as officially.

    Args:
        path: a UTF-8 text file.

    Returns:
        The tokens, in file order.

    Raises:
        DataError: the file is missing, a directory, not UTF-8 (the message names the line
            and the byte within it) or holds no tokens at all.
    """
    path = Path(path)
    raw = read_bytes(path, expected="a PTB text file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        number = raw.count(b"\n", 0, exc.start) + 1
        raise DataError(
            f"{path}:{number}: not valid UTF-8 at byte {exc.start - line_start} of the line"
        ) from None
    words = text.replace("\n", f" {PTB_EOS} ").split()
    if not words:
        raise DataError(f"{path}: the file is empty (expected PTB text, one sentence per line)")
    return words


def ptb_vocab(words: Iterable[str]) -> dict[str, int]:
    """The official PTB vocabulary of a token stream: word -> id.

    Words are sorted by decreasing count, ties alphabetically (by code point), and numbered
    0, 1, ... in that order; nothing is added or removed (``<eos>`` and ``<unk>`` get the ids
    their counts give them).

    Args:
        words: the training stream (e.g. ``read_ptb_words("ptb.train.txt")``).

    Returns:
        ``{word: id}``, its iteration order being the id order.

    Raises:
        DataError: ``words`` is empty.
    """
    counts = Counter(words)
    if not counts:
        raise DataError("cannot build a PTB vocabulary from an empty token stream")
    ordered = sorted(counts, key=lambda w: (-counts[w], w))
    return {w: i for i, w in enumerate(ordered)}


@dataclass
class PTBStreams:
    """The three PTB splits as id streams under the training vocabulary.

    Args:
        word_to_id: the official vocabulary (:func:`ptb_vocab` of the training stream).
        id_to_word: its inverse, ``id_to_word[i]`` the word of id ``i``.
        train, valid, test: 1-D int64 tensors of token ids (``<eos>`` after every line).
        oov: for each split, how many words were outside the vocabulary (mapped to ``<unk>``,
            dropped or refused as ``oov_policy`` says); the training split always has 0.
        oov_policy: ``"unk"``, ``"drop"`` or ``"error"``.
        paths: the file each split was read from.
    """

    word_to_id: dict[str, int]
    id_to_word: list[str]
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    oov: dict[str, int] = field(default_factory=dict)
    oov_policy: str = "unk"
    paths: dict[str, str] = field(default_factory=dict)

    @property
    def vocab_size(self) -> int:
        return len(self.id_to_word)

    @property
    def eos_id(self) -> int:
        """The id of ``<eos>`` (2 on PTB; the official code's ``EOS_INDEX``)."""
        return self.word_to_id[PTB_EOS]

    @property
    def unk_id(self) -> int | None:
        """The id of ``<unk>`` (1 on PTB), or None when the training file has none."""
        return self.word_to_id.get(PTB_UNK)

    def split(self, name: str) -> torch.Tensor:
        """The stream of split ``name`` (``train``, ``valid`` or ``test``)."""
        if name not in PTB_FILES:
            raise DataError(f"unknown PTB split {name!r}; expected one of {tuple(PTB_FILES)}")
        return getattr(self, name)

    def encode(self, words: Sequence[str]) -> list[int]:
        """Ids of ``words``; words outside the vocabulary map to ``<unk>``.

        Raises:
            DataError: a word is unknown and the vocabulary has no ``<unk>``.
        """
        unk = self.unk_id
        out = []
        for w in words:
            i = self.word_to_id.get(w, unk)
            if i is None:
                raise DataError(f"word {w!r} is not in the PTB vocabulary (which has no <unk>)")
            out.append(i)
        return out

    def decode(self, ids: Iterable[int] | torch.Tensor) -> list[str]:
        """Words of ``ids`` (a list, or a tensor of any shape, read in row-major order).

        Raises:
            DataError: an id is outside ``[0, vocab_size)``.
        """
        if isinstance(ids, torch.Tensor):
            ids = ids.reshape(-1).tolist()
        size = len(self.id_to_word)
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < size:
                raise DataError(f"id {i} is outside the PTB vocabulary (size {size})")
            out.append(self.id_to_word[i])
        return out


def _split_paths(
    source: str | os.PathLike | Mapping[str, str | os.PathLike] | Sequence[str | os.PathLike],
) -> dict[str, Path]:
    """``{split: path}`` from a directory, a mapping by split name or three paths in order."""
    if isinstance(source, str | os.PathLike):
        directory = Path(source)
        if not directory.exists():
            raise DataError(f"{directory}: PTB directory not found")
        if not directory.is_dir():
            raise DataError(
                f"{directory}: not a directory; give the directory holding "
                f"{', '.join(PTB_FILES.values())}, or the three paths"
            )
        return {split: directory / name for split, name in PTB_FILES.items()}
    if isinstance(source, Mapping):
        missing = [s for s in PTB_FILES if s not in source]
        extra = [s for s in source if s not in PTB_FILES]
        if missing or extra:
            raise DataError(
                f"PTB paths must have exactly the keys {tuple(PTB_FILES)}; "
                f"missing {missing}, unexpected {extra}"
            )
        return {split: Path(source[split]) for split in PTB_FILES}
    paths = list(source)
    if len(paths) != 3:
        raise DataError(f"give three PTB paths (train, valid, test), got {len(paths)}")
    return {split: Path(p) for split, p in zip(PTB_FILES, paths, strict=True)}


def _to_ids(
    words: list[str], word_to_id: dict[str, int], oov: str, path: Path
) -> tuple[torch.Tensor, int]:
    """The id stream of ``words`` and how many were outside the vocabulary."""
    get = word_to_id.get
    ids = [get(w, -1) for w in words]
    unknown = ids.count(-1)
    if unknown:
        first = next(w for w in words if w not in word_to_id)
        if oov == "error":
            raise DataError(
                f"{path}: {unknown} words outside the training vocabulary (first {first!r}); "
                "pass oov='unk' or 'drop' to read it anyway"
            )
        if oov == "drop":
            ids = [i for i in ids if i >= 0]
        else:
            unk = word_to_id.get(PTB_UNK)
            if unk is None:
                raise DataError(
                    f"{path}: {unknown} words outside the training vocabulary (first "
                    f"{first!r}) and the vocabulary has no {PTB_UNK} to map them to"
                )
            ids = [unk if i < 0 else i for i in ids]
    return torch.tensor(ids, dtype=torch.int64), unknown


def load_ptb(
    source: str | os.PathLike | Mapping[str, str | os.PathLike] | Sequence[str | os.PathLike],
    oov: str = "unk",
) -> PTBStreams:
    """Read the three PTB files into id streams under the training vocabulary.

    Args:
        source: a directory holding ``ptb.train.txt``, ``ptb.valid.txt`` and ``ptb.test.txt``;
            or ``{"train": path, "valid": path, "test": path}``; or the three paths in that
            order.
        oov: what to do with valid/test words outside the training vocabulary: ``"unk"``
            (default: map to ``<unk>`` and count), ``"drop"`` (the official ``ptb_loader``:
            leave them out, counted) or ``"error"``.

    Returns:
        The streams, the vocabulary and the out-of-vocabulary counts.

    Raises:
        DataError: a directory or file is missing or unreadable (named), or an OOV word under
            ``oov="error"`` (or under ``"unk"`` without ``<unk>`` in the vocabulary).
    """
    if oov not in OOV_POLICIES:
        raise DataError(f"oov must be one of {OOV_POLICIES}, got {oov!r}")
    paths = _split_paths(source)
    train_words = read_ptb_words(paths["train"])
    word_to_id = ptb_vocab(train_words)
    id_to_word = list(word_to_id)
    streams: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    for split, path in paths.items():
        words = train_words if split == "train" else read_ptb_words(path)
        streams[split], counts[split] = _to_ids(words, word_to_id, oov, path)
    return PTBStreams(
        word_to_id=word_to_id,
        id_to_word=id_to_word,
        train=streams["train"],
        valid=streams["valid"],
        test=streams["test"],
        oov=counts,
        oov_policy=oov,
        paths={split: str(p) for split, p in paths.items()},
    )


def windows(stream: torch.Tensor, length: int, stride: int | None = None) -> torch.Tensor:
    """Consecutive windows of ``length`` tokens of a 1-D stream; the incomplete tail dropped.

    Row ``i`` is ``stream[i * stride : i * stride + length]``, for every ``i`` whose window
    fits, so with the default ``stride = length`` the windows are non-overlapping and
    ``N = len(stream) // length``. For language-model inputs and next-token targets take
    windows of ``length + 1`` tokens with ``stride=length`` and split off the last column.

    The official ``ptb_iterator`` is different: it first reshapes the stream into
    ``batch_size`` rows of ``len(stream) // batch_size`` tokens and steps along them
    ``num_steps`` at a time, so its windows start at offsets ``r * (len // batch_size)
    + k * num_steps`` for ``k < (len // batch_size - 1) // num_steps`` (it drops the stream's
    last ``len % batch_size`` tokens and each row's partial last window, keeping one token for
    the shifted targets). Here windows are consecutive in the stream and do not depend on any
    batch size.

    Args:
        stream: a 1-D tensor (e.g. ``PTBStreams.train``).
        length: tokens per window (>= 1).
        stride: start-to-start distance (>= 1); ``None`` for ``length``.

    Returns:
        A ``(N, length)`` tensor of the stream's dtype; ``N = 0`` when the stream is shorter
        than ``length``. It may share memory with ``stream`` (clone it before writing to it).

    Raises:
        DataError: ``stream`` is not 1-D, or ``length``/``stride`` is not a positive integer.
    """
    if not isinstance(stream, torch.Tensor) or stream.dim() != 1:
        shape = tuple(stream.shape) if isinstance(stream, torch.Tensor) else type(stream).__name__
        raise DataError(f"windows() needs a 1-D tensor stream, got {shape}")
    stride = length if stride is None else stride
    for name, value in (("length", length), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise DataError(f"{name} must be a positive integer, got {value!r}")
    if stream.numel() < length:
        return stream.new_empty((0, length))
    return stream.unfold(0, length, stride)
