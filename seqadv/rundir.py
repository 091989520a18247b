"""Run directories: one writer at a time, and what loading a run may do.

A run directory holds::

    config.yaml      the resolved config (every field; the seed filled in)
    command.txt      the command line that started (or resumed) the run
    versions.json    seqadv, torch, python, platform and the thread count
    metrics.jsonl    one JSON object per evaluation and per adversarial round
    data.json        the data's fingerprint (files, encoded splits, vocabulary)
    samples/         generated text at each evaluation
    checkpoints/     last.pt, written atomically at every epoch or round, loaded with weights_only
    plots/           PNG learning curves
    .lock            locked (``flock``) by the one process that writes the run

A run directory is data: reading one (:func:`read_run`, :func:`check_imports`) imports no
code it names unless allowed by name. One process writes a run (:meth:`RunDir.open`).
``seqadv.runs`` re-exports every name here.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import re
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqadv.errors import CheckpointError, ConfigError, SeqadvError
from seqadv.runs import atomic_write_text, json_safe, load_checkpoint

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, one writer is on trust
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("seqadv")

__all__ = [
    "RunDir",
    "RunLock",
    "RunInUseError",
    "NotARunError",
    "ForeignCodeError",
    "ConfigMismatchError",
    "DottedName",
    "component_names",
    "check_imports",
    "read_run",
    "run_files_signature",
    "remove_stale_temporaries",
]


# -- run directories: one writer, and what loading one may do --------------------------------
RUN_FOLDERS = ("samples", "checkpoints", "plots")
LOCK_NAME = ".lock"
_TEMPORARY = re.compile(r"^\..+\.tmp-\d+$")  # atomic_write_bytes's .NAME.tmp-PID


class RunInUseError(SeqadvError):
    """Another process holds the run directory's lock (one writer at a time)."""


class NotARunError(SeqadvError):
    """A directory that holds files but no run; nothing was written into it."""


class ForeignCodeError(ConfigError):
    """A run's config names code outside seqadv that loading it would import."""


class ConfigMismatchError(CheckpointError):
    """A run's config.yaml and its checkpoint's config differ."""


class RunLock:
    """An exclusive, non-blocking ``fcntl.flock`` on ``RUN/.lock``, held until released.

    The file holds the writer's pid and host (for the message a second writer gets); it is
    never deleted. The lock goes on :meth:`release` or when the process ends, however.
    """

    def __init__(self, directory: str | os.PathLike) -> None:
        self.path = Path(directory) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock now, or raise :class:`RunInUseError` (never waits)."""
        if self._fd is not None or fcntl is None:
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _flock(fd, fcntl.LOCK_EX, self.path)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n{socket.gethostname()}\n".encode())
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # (at interpreter shutdown)
            self.release()

    @staticmethod
    def check_free(directory: str | os.PathLike) -> None:
        """Raise :class:`RunInUseError` if a writer holds the lock now; writes nothing."""
        path = Path(directory) / LOCK_NAME
        if fcntl is None:  # pragma: no cover
            return
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            return  # no lock file: no writer has started here
        try:
            _flock(fd, fcntl.LOCK_SH, path)  # a probe: the lock goes with the descriptor
        finally:
            os.close(fd)


def _flock(fd: int, kind: int, path: Path) -> None:
    """``flock(fd, kind | LOCK_NB)``, or RunInUseError naming the directory and the holder."""
    host = socket.gethostname()
    for attempt in (1, 2):
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            try:
                words = path.read_text(encoding="utf-8", errors="replace").split()
            except OSError:
                words = []
            pid = int(words[0]) if words and words[0].isdigit() else None
            theirs = words[1] if len(words) > 1 else host
            if pid == os.getpid() and theirs == host:
                if attempt == 1:
                    gc.collect()  # this process's holder may be garbage (a dropped trainer)
                    continue
                raise RunInUseError(
                    f"{path.parent}: this process (pid {pid}) writes this run already, "
                    "through another RunDir; close that one first (run.close())"
                ) from None
            who = f"pid {pid}" if pid is not None else "a process that wrote no pid yet"
            who += f" on {theirs}" if theirs != host else ""
            raise RunInUseError(
                f"{path.parent}: in use by another seqadv process ({who}), which holds "
                f"{path}; one writer at a time: wait for it to end, or stop it "
                f"(kill -TERM {pid or 'PID'}) and resume. Nothing was written."
            ) from None


def _check_empty(path: Path) -> None:
    """A new run's directory: nothing in it but what an unstarted run leaves."""
    if (path / "checkpoints" / "last.pt").is_file():
        raise CheckpointError(
            f"{path} already holds a run; use --resume {path} to continue it, "
            "or choose another --out"
        )
    names = sorted(
        e.name + ("/" if e.is_dir() else "")
        for e in path.iterdir()
        if not (e.name == LOCK_NAME and e.is_file())
        and not (e.name in RUN_FOLDERS and e.is_dir() and not any(e.iterdir()))
    )
    if names:
        more = f" and {len(names) - 8} more" if len(names) > 8 else ""
        raise NotARunError(
            f"{path}: not empty and not a resumable run (no checkpoints/last.pt); it holds "
            f"{', '.join(names[:8])}{more}. Nothing was written: choose another --out, "
            "or empty it."
        )


def _check_resumable(path: Path) -> None:
    if not (path / "config.yaml").is_file():
        raise CheckpointError(f"{path}: no config.yaml; is this a seqadv run directory?")
    if not (path / "checkpoints" / "last.pt").is_file():
        raise CheckpointError(f"{path}: no checkpoints/last.pt in this run directory")


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Delete ``.NAME.tmp-PID`` files in a run directory and its folders.

    Only with the run's lock held: then no write is under way, and each such file was left
    by a writer killed mid-write.
    """
    removed = []
    for folder in (Path(path), *(Path(path) / sub for sub in RUN_FOLDERS)):
        for entry in folder.iterdir() if folder.is_dir() else ():
            if _TEMPORARY.match(entry.name) and entry.is_file() and not entry.is_symlink():
                entry.unlink(missing_ok=True)
                removed.append(entry)
                log.info("removed %s, left by a writer stopped mid-write", entry)
    return removed


def run_files_signature(path: str | os.PathLike) -> tuple[Any, ...]:
    """Identity of a run's config.yaml and last.pt (changes when either is rewritten)."""
    out: list[Any] = []
    for name in ("config.yaml", "checkpoints/last.pt"):
        try:
            st = (Path(path) / name).stat()
            out.append((st.st_ino, st.st_size, st.st_mtime_ns))
        except OSError:
            out.append(None)
    return tuple(out)


@dataclass(frozen=True)
class DottedName:
    """A component name of a config that names code to import: a dotted path
    ``package.module:attribute`` or a Python file and attribute ``path/to/file.py:attr``."""

    key: str  # the config key, e.g. env.reward.name
    name: str  # e.g. mypkg.rewards:bonus, or ./rewards.py:bonus
    kind: str | None  # the registry that resolves it (a `seqadv list` name); None: none

    @property
    def module(self) -> str:  # what resolving the name imports: a module, or a file path
        from seqadv.registry import split_dotted

        return split_dotted(self.name)[0] if ":" in self.name else self.name

    @property
    def is_file(self) -> bool:  # resolving the name runs a Python file
        from seqadv.registry import is_file_path

        return is_file_path(self.module)

    def allowed_by(self, allow_imports: Iterable[str]) -> bool:
        """Whether ``--allow-import`` names this module exactly, or (a file) the same file:
        as given, or any path that resolves to the same file."""
        allowed = set(allow_imports)
        if self.module in allowed:
            return True
        if not self.is_file:
            return False
        mine = _resolved(self.module)
        return any(_resolved(a) == mine for a in allowed if a)


def _resolved(path: str) -> str:
    return str(Path(path).expanduser().resolve())


def component_names(cfg: Any) -> list[tuple[str, str, str | None]]:
    """``(key, name, kind)`` of every component an ExperimentConfig names.

    ``kind`` is the registry that resolves it (as ``seqadv list`` names them): the data
    source, generator, discriminator, environment, reward, reward scheme (also one in
    ``env.kwargs``), algorithm, advantage estimator (``algorithm.kwargs.advantage``),
    metrics, and (kind None) the ``name`` of any ``{name, ...}`` mapping in a ``kwargs``.
    """
    found: list[tuple[str, Any, str | None]] = [
        ("data.source", cfg.data.source, "data_sources"),
        ("generator.name", cfg.generator.name, "generators"),
        ("discriminator.name", cfg.discriminator.name, "discriminators"),
        ("env.name", cfg.env.name, "envs"),
        ("env.reward.name", cfg.env.reward.name, "rewards"),
        ("algorithm.name", cfg.algorithm.name, "algorithms"),
        ("pretrain.method", getattr(cfg.pretrain, "method", "mle"), "pretrainers"),
    ]
    if cfg.env.reward_scheme is not None:
        found.append(("env.reward_scheme.name", cfg.env.reward_scheme.name, "reward_schemes"))
    found += [(f"eval.metrics[{i}]", m, "metrics") for i, m in enumerate(cfg.eval.metrics or [])]
    special = {
        "env.kwargs.reward_scheme": "reward_schemes",
        "algorithm.kwargs.advantage": "advantages",
    }

    def walk(value: Any, key: str) -> None:
        if isinstance(value, str) and key in special:
            found.append((key, value, special[key]))
        elif isinstance(value, dict):
            if isinstance(value.get("name"), str):
                found.append((f"{key}.name", value["name"], special.get(key)))
            for k, v in value.items():
                if k != "name" or not isinstance(v, str):
                    walk(v, f"{key}.{k}")
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(v, f"{key}[{i}]")

    for prefix in ("data", "generator", "discriminator", "env", "env.reward", "algorithm", "pretrain"):
        section = cfg
        for part in prefix.split("."):
            section = getattr(section, part)
        walk(section.kwargs, f"{prefix}.kwargs")
    if cfg.env.reward_scheme is not None:
        walk(cfg.env.reward_scheme.kwargs, "env.reward_scheme.kwargs")
    return [(k, n, kind) for k, n, kind in found if isinstance(n, str)]


def check_imports(
    cfg: Any,
    is_registered: Callable[[str | None, str], bool],
    allow_imports: Iterable[str] = (),
    where: str = "config",
    named_by_you: Iterable[str] = (),
) -> list[DottedName]:
    """Refuse a run's config (from ``where``) that names code to import, unless allowed.

    A name is fine when it has no ``:`` (a registry name), when ``is_registered(kind, name)``
    (e.g. :func:`seqadv.recipe.registered_component`) says its registry has it
    (``sb3:PPO``, an installed package's entry point), when it names a module of seqadv, or
    when its key is one the person set (``named_by_you``: ``--set KEY``). Any other dotted
    path raises ForeignCodeError naming the key, the path and the module it would import,
    unless that module is in ``allow_imports`` (``--allow-import MODULE``, named exactly).
    A file path (``./x/rewards.py:fn``) is never seqadv's: its "module" is the file, allowed
    by ``--allow-import ./x/rewards.py`` or any path resolving to the same file (relative
    paths are relative to the working directory). Nothing is imported or run here. Returns
    the dotted names that were allowed.
    """
    mine = tuple(named_by_you)
    allow = list(allow_imports)
    found = [
        d
        for d in (DottedName(key, name, kind) for key, name, kind in component_names(cfg))
        if ":" in d.name
        and not any(d.key == k or d.key.startswith((k + ".", k + "[")) for k in mine)
        and (d.is_file or d.module.partition(".")[0] != "seqadv")
        and not is_registered(d.kind, d.name)
    ]
    foreign = [d for d in found if not d.allowed_by(allow)]
    if foreign:
        lines = "".join(
            f"\n  {d.key}: {d.name!r} would "
            + (f"run file {d.module!r}" if d.is_file else f"import module {d.module!r}")
            for d in foreign
        )
        modules = list(dict.fromkeys(d.module for d in foreign))
        raise ForeignCodeError(
            f"{where}: this run names code outside seqadv, which loading it would import:"
            f"{lines}\nNothing was imported. If you trust that code, rerun with "
            f"{' '.join('--allow-import ' + m for m in modules)} "
            f"(in Python: allow_imports={modules!r})."
        )
    return found


def config_differences(a: Any, b: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """``(key, a's value, b's value)`` for every key where two plain-data configs differ."""
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return [] if a == b else [(prefix, a, b)]
    out = []
    for key in list(a) + [k for k in b if k not in a]:
        full = f"{prefix}.{key}" if prefix else str(key)
        out += config_differences(a.get(key), b.get(key), full)
    return out


def read_run(path: str | os.PathLike) -> tuple[Any, dict[str, Any], str]:
    """``(cfg, checkpoint, where)`` of a run directory or ``.pt`` file; builds nothing.

    A run's config is its ``config.yaml`` (``where``), which must equal the config saved in
    ``checkpoints/last.pt`` (ConfigMismatchError names the keys that differ): the config
    shown is the config used; so for a ``.pt`` in a run's ``checkpoints/``. Another ``.pt``
    has only its own. Checkpoints load with ``torch.load(weights_only=True)``.
    """
    from seqadv.config import config_from_dict, config_to_dict, read_yaml

    path = Path(path)
    ckpt = load_checkpoint(path)
    run: Path | None = path
    if not path.is_dir():
        parent = path.resolve().parent
        run = parent.parent if parent.name == "checkpoints" else None
        run = run if run is not None and (run / "config.yaml").is_file() else None
    saved = ckpt.get("config")
    if not isinstance(saved, dict):
        raise CheckpointError(f"{ckpt['path']}: the checkpoint holds no config")
    if run is None:
        return config_from_dict(saved, where=ckpt["path"]), ckpt, ckpt["path"]
    if not (run / "config.yaml").is_file():
        raise CheckpointError(
            f"{run}: no config.yaml; is this a seqadv run directory? (give the .pt file "
            "itself to use the checkpoint's own config)"
        )
    shown = config_from_dict(read_yaml(run / "config.yaml"), where=str(run / "config.yaml"))
    differences = config_differences(
        config_to_dict(shown), config_to_dict(config_from_dict(saved, where=ckpt["path"]))
    )
    if differences:
        listed = "; ".join(
            f"{key} ({_short(a)} in config.yaml, {_short(b)} in the checkpoint)"
            for key, a, b in differences
        )
        raise ConfigMismatchError(
            f"{run}: config.yaml and {ckpt['path']} disagree on {listed}. A run is loaded "
            "only with the config it shows in config.yaml, which must be the one it was "
            "trained with; nothing was loaded. To train on with another config, start a "
            f"new run with pretrain.init_checkpoint: {ckpt['path']}"
        )
    return shown, ckpt, str(run / "config.yaml")


@contextlib.contextmanager
def _no_file_in_the_way() -> Iterator[None]:
    try:
        yield
    except (FileExistsError, NotADirectoryError) as exc:
        raise SeqadvError(
            f"{exc.filename}: cannot be a run directory (a file of that name exists)"
        ) from None


def _short(value: Any, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


class RunDir:
    """The files of one run.

    ``RunDir(path)`` makes the folders and takes no lock (for callers that manage the
    directory themselves). :meth:`open` and :meth:`new` are the writer's way in: they hold
    the run's :class:`RunLock` until :meth:`close` (or the process ends), refuse a directory
    that another process writes or that is not a run, and remove what a killed writer left.

    Args:
        path: the directory (created, with its folders, unless ``create`` is False).
        lock: the held lock of this directory, released by :meth:`close`.
    """

    def __init__(
        self, path: str | os.PathLike, *, lock: RunLock | None = None, create: bool = True
    ) -> None:
        self.path = Path(path)
        self.lock = lock
        with _no_file_in_the_way():
            for folder in (self.path, *(self.path / sub for sub in RUN_FOLDERS)) if create else ():
                folder.mkdir(parents=True, exist_ok=True)

    @classmethod
    def open(cls, path: str | os.PathLike, mode: str = "new") -> RunDir:
        """The run directory ``path`` for its one writer, locked until :meth:`close`.

        ``mode="new"``: ``path`` must be absent or empty (it is created); ``"resume"``: it
        must hold ``config.yaml`` and ``checkpoints/last.pt``. Either refuses before writing
        anything if another process holds the lock (RunInUseError), or if the directory is
        not what ``mode`` needs (NotARunError, CheckpointError). Under the lock, stale
        ``.NAME.tmp-PID`` files (left by a writer killed mid-write) are removed.
        """
        if mode not in ("new", "resume"):
            raise ValueError(f"mode must be 'new' or 'resume', got {mode!r}")
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise SeqadvError(f"{path}: cannot be a run directory (a file of that name exists)")
        check = _check_empty if mode == "new" else _check_resumable
        if path.is_dir():
            RunLock.check_free(path)
            check(path)  # read-only: a refused directory is left exactly as it was
        with _no_file_in_the_way():
            path.mkdir(parents=True, exist_ok=True)
        lock = RunLock(path).acquire()
        try:
            check(path)  # again under the lock: another writer may have come and gone
            remove_stale_temporaries(path)
            return cls(path, lock=lock)
        except BaseException:
            lock.release()
            raise

    @classmethod
    def new(cls, name: str, root: str | os.PathLike = "runs") -> RunDir:
        """A new directory ``root/NAME-YYYYmmdd-HHMMSS`` (suffixed if it exists), locked.

        Raises ConfigError naming the key ``name`` if it has a path separator or ``..``.
        """
        if not name or any(c in name for c in ("/", "\\", os.sep, "\0")) or ".." in name:
            raise ConfigError(
                f"name: {name!r} cannot name a run directory inside {root}: use a plain "
                "name, without a path separator or '..' (or give the directory with --out)"
            )
        base = Path(root) / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
        path, k = base, 1
        with _no_file_in_the_way():
            Path(root).mkdir(parents=True, exist_ok=True)
            while True:
                try:
                    path.mkdir()  # claims the name: a concurrent writer gets the next one
                    break
                except FileExistsError:
                    k += 1
                    path = base.with_name(f"{base.name}-{k}")
        return cls.open(path, mode="new")

    def close(self) -> None:
        """Release the writer's lock (nothing else changes); closing twice is harmless."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def __enter__(self) -> RunDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- files --------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def last_checkpoint(self) -> Path:
        return self.path / "checkpoints" / "last.pt"

    def write_text(self, name: str, text: str) -> Path:
        path = self.path / name
        atomic_write_text(path, text)
        return path

    def append_command(self, argv: list[str] | None = None) -> None:
        argv = argv if argv is not None else sys.argv
        line = " ".join(_shell_quote(a) for a in argv)
        with open(self.path / "command.txt", "a", encoding="utf-8") as fh:
            fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')}  {line}\n")

    def log_metrics(self, record: dict[str, Any]) -> None:
        """Append one JSON object to metrics.jsonl (flushed and synced)."""
        with open(self.metrics_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(json_safe(record), sort_keys=False, allow_nan=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.is_file():
            return []
        return self._parse_metrics(self.metrics_path.read_text(encoding="utf-8").splitlines())

    def _parse_metrics(self, lines: list[str], limit: int | None = None) -> list[dict[str, Any]]:
        """The records of ``lines`` (the first ``limit`` of them: what follows may be a record
        cut short by a crash, dropped unread); a line that is not JSON names its number."""
        rows: list[dict[str, Any]] = []
        for number, line in enumerate(lines, 1):
            if limit is not None and len(rows) == limit:
                break
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise CheckpointError(f"{self.metrics_path}:{number}: not JSON ({exc})") from exc
        return rows

    def truncate_metrics(self, n_records: int) -> None:
        """Keep the first ``n_records`` records (resuming drops what came after the checkpoint)."""
        path = self.metrics_path
        lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
        rows = self._parse_metrics(lines, limit=n_records)
        atomic_write_text(self.metrics_path, "".join(json.dumps(r) + "\n" for r in rows))


def _shell_quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)
