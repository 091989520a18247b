"""The checks of the ``seqadv`` command line: argument ranges and the files a command uses.

Every mistake in what a person typed ends as one message that names the argument (or the
file) and says what would be valid, with exit status 2:

- numbers are checked where argparse reads them, by the ``type=`` functions below
  (``argument -n: must be an integer in 1..10000000, got '0'``);
- the files a command reads or writes are checked before anything is done
  (:func:`check_output_file`: not a directory, in a directory that exists, not one of the
  command's own inputs), and an ``OSError`` while the command writes a file the person named
  (disk full, no permission) becomes a :class:`~seqadv.errors.SeqadvError` naming that file
  (:func:`writing`; :func:`reading` for the inputs). Errors of seqadv itself keep their
  traceback.

Standard library only (``seqadv bleu`` imports this at start-up).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from seqadv.errors import SeqadvError

__all__ = [
    "MAX_COUNT",
    "MAX_SEED",
    "MAX_BLEU_N",
    "MAX_LEN",
    "int_in",
    "count",
    "seed",
    "threads",
    "bleu_max_n",
    "max_len",
    "finite_positive_float",
    "reference_line",
    "is_special_file",
    "same_file",
    "check_input_file",
    "check_output_file",
    "writing",
    "reading",
]

#: the most sequences one command samples (``sample -n``, ``eval --n-samples``, ``oracle info -n``)
MAX_COUNT = 10_000_000
#: seeds are non-negative and fit a signed 64-bit integer (torch's and numpy's generators)
MAX_SEED = 2**63 - 1
#: BLEU-2..N: the largest N that ``eval.bleu_max_n`` admits
MAX_BLEU_N = 10
#: the longest sequence ``oracle info --max-len`` samples
MAX_LEN = 10_000


def _integer(text: str) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        digits = str(text).strip().lstrip("+-").replace("_", "")
        if digits.isdigit():  # more digits than Python converts
            raise argparse.ArgumentTypeError(f"out of range: {text!r}") from None
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def int_in(low: int, high: int | Callable[[], int] | None = None, why: str = "") -> Callable:
    """An argparse ``type=``: an integer in ``low..high`` (``high`` may be a function)."""

    def parse(text: str) -> int:
        value = _integer(text)
        top = high() if callable(high) else high
        if value < low or (top is not None and value > top):
            span = f"in {low}..{top}" if top is not None else f">= {low}"
            raise argparse.ArgumentTypeError(
                f"must be an integer {span}{f' ({why})' if why else ''}, got {text!r}"
            )
        return value

    parse.__name__ = "integer"
    return parse


def _cpus() -> int:
    return max(os.cpu_count() or 1, 1)


#: how many sequences: 1..MAX_COUNT
count = int_in(1, MAX_COUNT)
#: a seed: 0..2**63-1
seed = int_in(0, MAX_SEED)
#: torch threads: 1..the machine's CPUs (more only slow torch down, and far more crash it)
threads = int_in(1, _cpus, "at most this machine's CPU count")
#: BLEU-2..N: N in 2..10
bleu_max_n = int_in(2, MAX_BLEU_N, "BLEU-2..max-n")
#: a sequence length: 1..MAX_LEN
max_len = int_in(1, MAX_LEN)


def finite_positive_float(text: str) -> float:
    """An argparse ``type=``: a finite number > 0 (a temperature)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def reference_line(text: str) -> tuple[str, float]:
    """An argparse ``type=``: ``LABEL=VALUE`` with a finite number VALUE."""
    label, sep, value = text.partition("=")
    example = "e.g. 'SeqGAN paper=8.736'"
    if not sep:
        raise argparse.ArgumentTypeError(f"expected LABEL=VALUE ({example}), got {text!r}")
    if not label.strip():
        raise argparse.ArgumentTypeError(f"LABEL is empty in {text!r} ({example})")
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(
            f"VALUE must be a finite number ({example}), got {value!r} in {text!r}"
        )
    return label.strip(), number


# -- files ------------------------------------------------------------------------------------
def is_special_file(path: str | os.PathLike) -> bool:
    """Exists and is neither a regular file nor a directory (a device, a pipe, a socket)."""
    p = Path(path)
    return p.exists() and not p.is_file() and not p.is_dir()


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one file (links followed; paths that do not exist compared)."""
    try:
        if Path(a).exists() and Path(b).exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return Path(a).resolve() == Path(b).resolve()


def check_input_file(path: str | os.PathLike, arg: str, what: str) -> Path:
    """``path`` as a Path if it is an existing file; else a SeqadvError naming ``arg``."""
    p = Path(path)
    if p.is_dir():
        raise SeqadvError(f"{arg} {path}: is a directory; give the {what} file")
    if not p.exists():
        raise SeqadvError(f"{arg} {path}: no such file ({what})")
    return p


def check_output_file(
    path: str | os.PathLike,
    arg: str,
    inputs: Iterable[tuple[str, str | os.PathLike]] = (),
    special: bool = False,
) -> Path:
    """The file a command will write, checked before it does anything.

    Refused: a directory; a path whose directory does not exist; one of the command's own
    ``inputs`` (``(description, path)`` pairs: writing there would destroy what is read);
    a device or pipe unless ``special`` (the command then writes to it directly).
    """
    p = Path(path)
    if p.is_dir():
        raise SeqadvError(f"{arg} {path}: is a directory; give the path of the file to write")
    if is_special_file(p) and not special:
        raise SeqadvError(
            f"{arg} {path}: is not a regular file (a device or pipe); give the path of a file"
        )
    parent = p.parent
    if not parent.is_dir():
        state = "is not a directory" if parent.exists() else "does not exist"
        raise SeqadvError(f"{arg} {path}: the directory {parent} {state}; create it first")
    for what, source in inputs:
        if same_file(p, source):
            raise SeqadvError(
                f"{arg} {path}: is {what} ({source}), which this command reads; writing it "
                "would destroy it. Give another output path"
            )
    return p


def _names(exc: OSError, path: Path) -> bool:
    """Whether ``exc`` is about ``path`` or the temporary file written beside it."""
    names = [f for f in (exc.filename, exc.filename2) if isinstance(f, (str, bytes, os.PathLike))]
    if not names and exc.filename is None:
        return True  # a failed write(), flush() or fsync(): the file being written
    for name in names:
        other = Path(os.fsdecode(name))
        if other.name == path.name or other.name.startswith(f".{path.name}.tmp-"):
            if same_file(other.parent, path.parent):
                return True
    return False


@contextlib.contextmanager
def writing(path: str | os.PathLike, arg: str) -> Iterator[None]:
    """An OSError writing ``path`` (the file ``arg`` names) as a one-line SeqadvError."""
    try:
        yield
    except OSError as exc:
        if not _names(exc, Path(path)):
            raise
        reason = exc.strerror or str(exc)
        raise SeqadvError(f"{arg} {path}: cannot write: {reason}; nothing was written") from exc


def _inside(name: str | bytes | os.PathLike, root: Path) -> bool:
    target = Path(os.fsdecode(name)).resolve()
    base = root.resolve()
    return target == base or base in target.parents


@contextlib.contextmanager
def reading(path: str | os.PathLike, arg: str) -> Iterator[None]:
    """An OSError reading a file at or under ``path`` (what ``arg`` names) as a SeqadvError."""
    try:
        yield
    except OSError as exc:
        name = exc.filename
        if not isinstance(name, (str, bytes, os.PathLike)) or not _inside(name, Path(path)):
            raise
        shown = os.fsdecode(name)
        where = f"{arg} {path}" if Path(shown) == Path(path) else f"{arg} {path}: {shown}"
        raise SeqadvError(f"{where}: cannot read: {exc.strerror or exc}") from exc
