"""What a run was trained on: the data's fingerprint, recorded in the run and checked on reuse.

A fingerprint holds the files the data were read from (path, size, SHA-256), the shapes and
SHA-256 of the encoded train and test tensors, and the vocabulary (its size and SHA-256 of its
words in id order). Resuming or evaluating a run on data whose fingerprint differs is refused
with a message naming the file (or the vocabulary) that changed; see
:func:`fingerprint_differences`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from torch import Tensor

from seqadv.errors import DataError

__all__ = ["file_fingerprint", "data_fingerprint", "fingerprint_differences", "check_same_data"]

ALLOW_FLAG = "--allow-changed-data"


def file_fingerprint(path: str | Path) -> dict[str, Any]:
    """``{path, size, sha256}`` of a file (read in 1 MiB blocks)."""
    path = Path(path).resolve()
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"path": str(path), "size": path.stat().st_size, "sha256": digest.hexdigest()}


def _tensor(t: Tensor | None) -> dict[str, Any] | None:
    if t is None:
        return None
    data = t.detach().cpu().contiguous()
    return {
        "shape": list(data.shape),
        "sha256": hashlib.sha256(data.numpy().tobytes()).hexdigest(),
    }


def data_fingerprint(data: Any) -> dict[str, Any]:
    """The fingerprint of a :class:`~seqadv.data.source.TextData` (plain data, JSON-ready)."""
    vocab = getattr(data, "vocab", None)
    words = list(vocab.itos) if vocab is not None else None
    return {
        "files": list(data.extra.get("files", [])),
        "train": _tensor(data.train),
        "test": _tensor(data.test),
        "vocab_size": int(data.vocab_size),
        "vocab_sha256": (
            hashlib.sha256("\n".join(words).encode("utf-8")).hexdigest() if words is not None else None
        ),
        "words": words,
    }


def _short(digest: str | None) -> str:
    return (digest or "none")[:12]


def fingerprint_differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """What differs between the recorded and the current fingerprint, one sentence each
    (empty when they agree). Files come first, named by path."""
    out = []
    old_files = {f["path"]: f for f in recorded.get("files", [])}
    new_files = {f["path"]: f for f in current.get("files", [])}
    for path, old in old_files.items():
        new = new_files.get(path)
        if new is None:
            out.append(f"{path}: the run was trained on this file, the data now come from elsewhere")
        elif (old["size"], old["sha256"]) != (new["size"], new["sha256"]):
            out.append(
                f"{path}: changed since the run was trained (size {old['size']} -> "
                f"{new['size']} bytes, sha256 {_short(old['sha256'])}... -> "
                f"{_short(new['sha256'])}...)"
            )
    for path in new_files.keys() - old_files.keys():
        out.append(f"{path}: not among the files the run was trained on")
    old_words, new_words = recorded.get("words"), current.get("words")
    if recorded.get("vocab_sha256") != current.get("vocab_sha256"):
        detail = f"{recorded.get('vocab_size')} -> {current.get('vocab_size')} tokens"
        if old_words is not None and new_words is not None:
            first = next(
                (i for i, (a, b) in enumerate(zip(old_words, new_words)) if a != b),
                min(len(old_words), len(new_words)),
            )
            old_w = old_words[first] if first < len(old_words) else "(none)"
            new_w = new_words[first] if first < len(new_words) else "(none)"
            detail += f"; first difference at id {first}: {old_w!r} -> {new_w!r}"
        out.append(f"the vocabulary differs ({detail})")
    for split in ("train", "test"):
        old, new = recorded.get(split), current.get(split)
        if (old or {}).get("sha256") != (new or {}).get("sha256"):
            shape = lambda f: "none" if f is None else "x".join(map(str, f["shape"]))  # noqa: E731
            out.append(
                f"the encoded {split} split differs ({shape(old)} -> {shape(new)}, sha256 "
                f"{_short((old or {}).get('sha256'))}... -> {_short((new or {}).get('sha256'))}...)"
            )
    return out


def check_same_data(
    recorded: dict[str, Any] | None, current: dict[str, Any], where: str, allow: bool = False
) -> list[str]:
    """The differences between a run's recorded data and the data now; DataError (naming the
    files) unless ``allow``. A run that recorded no fingerprint is not checked."""
    if not recorded:
        return []
    problems = fingerprint_differences(recorded, current)
    if problems and not allow:
        listed = "".join(f"\n  - {p}" for p in problems)
        raise DataError(
            f"{where}: the data differ from those the run was trained on:{listed}\n"
            f"Nothing was loaded or written. To go on with these data anyway, pass {ALLOW_FLAG} "
            "(the run's stored vocabulary is kept: new words read as <unk>)."
        )
    return problems
