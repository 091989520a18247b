"""One generic registry: name -> factory.

Registries store factories, never instances. An entry is registered either eagerly
(``@REG.register("name")``) or lazily as a string ``"package.module:attribute"`` so that
``import seqadv`` stays cheap. ``get`` also resolves a dotted path given directly
(``"mypkg.rewards:my_reward"``), a Python file and attribute (``"./my_rewards.py:my_reward"``)
and, if an entry-point group is set, names that other installed packages register in that
group.

Example:
    >>> from seqadv.registry import Registry
    >>> SHAPES = Registry("shape")
    >>> @SHAPES.register("square", sides=4)
    ... def square(size: float = 1.0) -> float:
    ...     '''Area of a square.'''
    ...     return size * size
    >>> SHAPES.make("square", size=3.0)
    9.0
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from seqadv.errors import ConfigError, UnknownNameError

__all__ = ["Registry", "Entry", "import_dotted", "import_file", "is_file_path", "split_dotted"]


def is_file_path(module: str) -> bool:
    """Whether the module part of ``"module:attr"`` is a Python file rather than a module.

    A file path ends in ``.py`` or contains a path separator: ``./rewards.py``,
    ``path/to/rewards.py``, ``/abs/rewards.py``.
    """
    return module.endswith(".py") or "/" in module or os.sep in module


def split_dotted(path: str) -> tuple[str, str]:
    """``(module or file, attribute)`` of ``"module:attr"``, ``"module.attr"`` or ``"file.py:attr"``."""
    if ":" in path:
        module_name, _, attr = path.rpartition(":")
        if not is_file_path(module_name):
            module_name, _, attr = path.partition(":")
    else:
        module_name, _, attr = path.rpartition(".")
    return module_name, attr


_FILE_MODULES: dict[str, ModuleType] = {}


def _file_module_name(resolved: Path) -> str:
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:12]
    stem = "".join(c if c.isalnum() or c == "_" else "_" for c in resolved.stem)
    return f"seqadv_file_{stem}_{digest}"


def import_file(file: str) -> ModuleType:
    """Load the Python file ``file`` as a module (once per resolved path; later calls get
    the same module). Its module name is derived from the resolved path, so two files of
    the same name do not clash; it is put in ``sys.modules`` (pickling and dataclasses need
    that). A missing file or a file that fails to run is a ConfigError naming it."""
    resolved = Path(file).expanduser().resolve()
    key = str(resolved)
    if key in _FILE_MODULES:
        return _FILE_MODULES[key]
    if not resolved.is_file():
        raise ConfigError(f"no such Python file {file!r} (resolved to {key!r})")
    name = _file_module_name(resolved)
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot load {file!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        raise ConfigError(f"syntax error in {file!r} (line {exc.lineno}): {exc.msg}") from exc
    except Exception as exc:
        sys.modules.pop(name, None)
        raise ConfigError(f"running {file!r} failed: {type(exc).__name__}: {exc}") from exc
    _FILE_MODULES[key] = module
    return module


def _import_module(module_name: str) -> ModuleType:
    """``importlib.import_module``, retried with the working directory importable.

    The ``seqadv`` console script does not put the working directory on ``sys.path``, so a
    user's ``myreward.py`` next to their config would not import. When the plain import
    fails because the top-level module is missing and the working directory is not on
    ``sys.path``, the import is retried with it prepended; it is removed again afterwards
    (the imported module stays in ``sys.modules``).
    """
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top = module_name.partition(".")[0]
        cwd = os.getcwd()
        on_path = {os.path.abspath(p or os.curdir) for p in sys.path}
        if exc.name != top or cwd in on_path:
            raise
    sys.path.insert(0, cwd)
    try:
        importlib.invalidate_caches()
        return importlib.import_module(module_name)
    finally:
        try:
            sys.path.remove(cwd)
        except ValueError:
            pass


def import_dotted(path: str) -> Any:
    """Import ``"package.module:attribute"`` (or ``"package.module.attribute"``), or the
    attribute of a Python file: ``"./rewards.py:fn"``, ``"path/to/rewards.py:fn"``,
    ``"/abs/rewards.py:fn"`` (a relative path is relative to the working directory).

    A dotted module is also looked for in the working directory (see ``_import_module``).
    """
    module_name, attr = split_dotted(path)
    if not module_name or not attr:
        raise ConfigError(
            f"{path!r} is not a dotted path of the form 'package.module:name' "
            f"or 'path/to/file.py:name'"
        )
    if ":" in path and is_file_path(module_name):
        module: Any = import_file(module_name)
        what = f"file {module_name!r}"
    else:
        try:
            module = _import_module(module_name)
        except ImportError as exc:
            raise ConfigError(f"cannot import module {module_name!r} of {path!r}: {exc}") from exc
        what = f"module {module_name!r}"
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"{what} has no attribute {attr!r} ({path!r})") from None
    return obj


@dataclass
class Entry:
    """A registered name: its factory (or the dotted path that leads to it) and metadata."""

    name: str
    target: Callable[..., Any] | str
    meta: dict[str, Any] = field(default_factory=dict)

    def load(self) -> Callable[..., Any]:
        if isinstance(self.target, str):
            self.target = import_dotted(self.target)
        return self.target

    @property
    def summary(self) -> str:
        """First line of the factory's docstring (imports a lazy entry)."""
        if "summary" in self.meta:
            return str(self.meta["summary"])
        doc = inspect.getdoc(self.load()) or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""


class Registry:
    """Maps names to factories.

    Args:
        kind: what the registry holds, used in messages ("reward", "algorithm", ...).
        entry_point_group: an ``importlib.metadata`` entry-point group whose entries are
            added the first time a name is looked up or listed (e.g. ``"seqadv.rewards"``).
        resolver: called with a name that is not registered; returns an ``Entry`` for names
            of a family the registry understands (e.g. ``"sb3:SAC"``) or None.
    """

    def __init__(
        self,
        kind: str,
        entry_point_group: str | None = None,
        resolver: Callable[[str], Entry | None] | None = None,
    ) -> None:
        self.kind = kind
        self.resolver = resolver
        self.entry_point_group = entry_point_group
        self._entries: dict[str, Entry] = {}
        self._entry_points_loaded = entry_point_group is None

    # -- registration ---------------------------------------------------------------------
    def register(self, name: str | None = None, *, override: bool = False, **meta: Any):
        """Decorator: register a factory under ``name`` (default: its ``__name__``)."""

        def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.add(name or fn.__name__, fn, override=override, **meta)
            return fn

        return decorator

    def add(
        self, name: str, target: Callable[..., Any] | str, *, override: bool = False, **meta: Any
    ) -> None:
        """Register ``target`` (a factory, or a lazy ``"module:attr"`` string) as ``name``."""
        if not isinstance(name, str) or not name:
            raise ConfigError(f"a {self.kind} name must be a non-empty string, got {name!r}")
        if name in self._entries and not override:
            raise ConfigError(
                f"{self.kind} {name!r} is already registered; pass override=True to replace it"
            )
        self._entries[name] = Entry(name, target, dict(meta))

    def remove(self, name: str) -> None:
        self._entries.pop(name, None)

    # -- lookup ---------------------------------------------------------------------------
    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=self.entry_point_group):
            if ep.name not in self._entries:
                self._entries[ep.name] = Entry(ep.name, ep.value, {"source": ep.group})

    def entry(self, name: str) -> Entry:
        """The entry of ``name``; a dotted path ``"pkg.mod:fn"`` or a file path
        ``"./file.py:fn"`` makes an ad-hoc entry (imported here, so errors show early)."""
        if not isinstance(name, str):
            raise ConfigError(f"a {self.kind} name must be a string, got {type(name).__name__}")
        if name in self._entries:
            return self._entries[name]
        self._load_entry_points()
        if name in self._entries:
            return self._entries[name]
        if self.resolver is not None:
            entry = self.resolver(name)
            if entry is not None:
                return entry
        if ":" in name:
            entry = Entry(name, name, {"source": "dotted path"})
            entry.load()
            return entry
        raise UnknownNameError(self._unknown_message(name))

    def _unknown_message(self, name: str) -> str:
        known = sorted(self._entries)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return (
            f"unknown {self.kind} {name!r}.{hint} Known: {', '.join(known) or '(none)'}; "
            f"or give a dotted path 'package.module:name' or 'path/to/file.py:name'."
        )

    def get(self, name: str) -> Callable[..., Any]:
        """The factory registered as ``name`` (imported on first use)."""
        return self.entry(name).load()

    def make(self, name: str, /, **kwargs: Any) -> Any:
        """Call the factory of ``name`` with ``kwargs``, checked against its signature."""
        factory = self.get(name)
        what = f"{self.kind} {name!r}"
        check_kwargs(factory, kwargs, what)
        missing = _missing_required(factory, kwargs)
        if missing:
            raise ConfigError(
                f"{what} needs argument(s) {', '.join(map(repr, missing))}, which were not given"
            )
        return factory(**kwargs)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        self._load_entry_points()
        return name in self._entries

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._entries)

    def entries(self) -> Iterator[Entry]:
        for name in self.names():
            yield self._entries[name]

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._entries)} entries)"


def _missing_required(factory: Callable[..., Any], kwargs: dict[str, Any]) -> list[str]:
    """Parameters of ``factory`` without a default that ``kwargs`` does not supply."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return []
    return [
        n
        for n, p in sig.parameters.items()
        if p.default is inspect.Parameter.empty
        and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        and n not in kwargs
    ]


def check_kwargs(factory: Callable[..., Any], kwargs: dict[str, Any], what: str) -> None:
    """Raise ConfigError if ``kwargs`` has a key that ``factory`` does not accept."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return
    params = sig.parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [
        n
        for n, p in params.items()
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    ]
    unknown = [k for k in kwargs if k not in accepted]
    if unknown:
        raise ConfigError(
            f"{what} got unknown argument(s) {', '.join(map(repr, unknown))}; "
            f"it accepts: {', '.join(accepted) or '(none)'}"
        )
