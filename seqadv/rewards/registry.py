"""The REWARDS registry: discriminator output -> reward, by name.

A reward is a plain batch-first callable ``fn(logits, **kwargs) -> Tensor``:

* ``logits`` is the discriminator's raw output, shape (B,) for a sequence-level
  discriminator or (B, T) for a token-level one; ``sigmoid(logits)`` is D(x).
* it returns float rewards of the same shape as ``logits``: (B,) or (B, T);
* it accepts and ignores keyword arguments it does not use (TRL style), so the environment
  can pass whatever it has (``sequences``, ``features``, ...). A reward without ``**kwargs``
  is called with only the inputs it names.

Each entry carries metadata:

* ``level``: ``"sequence"`` (one reward per sequence), ``"token"`` (one per token) or
  ``"any"`` (elementwise in the logits, so usable with either kind of discriminator: the
  environment decides by the discriminator's level). Default ``"sequence"``.
* ``needs``: the extra inputs the reward reads, a tuple among :data:`REWARD_INPUTS`. The
  environment must pass them; :class:`BoundReward` checks that it did.

Rewards come from four places: the built-ins (registered lazily here, so that importing
this module does not import torch), :func:`register_reward`, a dotted path
``"package.module:function"`` given where a name is expected, and the entry-point group
``seqadv.rewards`` of any installed package.

Example:
    >>> import torch
    >>> from seqadv.rewards import resolve_reward
    >>> reward = resolve_reward("prob")
    >>> reward(torch.tensor([0.0, 0.0]))
    tensor([0.5000, 0.5000])
    >>> (reward.name, reward.level, reward.needs)
    ('prob', 'any', ())
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from seqadv.errors import ConfigError, RewardError, SeqadvError
from seqadv.registry import Entry, Registry, check_kwargs

if TYPE_CHECKING:
    import torch

__all__ = [
    "REWARDS",
    "REWARD_INPUTS",
    "REWARD_LEVELS",
    "BoundReward",
    "check_reward_output",
    "list_rewards",
    "register_reward",
    "resolve_reward",
]

logger = logging.getLogger("seqadv")

#: Where a reward applies: one value per sequence, one per token, or elementwise (either).
REWARD_LEVELS: tuple[str, ...] = ("sequence", "token", "any")

#: Extra inputs a reward may declare in ``needs``; the environment supplies them at call
#: time, so they can never be bound from a config.
REWARD_INPUTS: tuple[str, ...] = (
    "sequences",  # (B, T) int64 token ids of the scored sequences
    "features",  # (B, F) discriminator features of the scored sequences
    "reference_features",  # (U, F) features of the reference set (RankGAN's U)
    "comparison_features",  # (C, F) features of the comparison set (RankGAN's C)
)

REWARDS = Registry("reward", entry_point_group="seqadv.rewards")


# -- metadata ---------------------------------------------------------------------------------
def _check_meta(name: str, level: Any, needs: Any) -> tuple[str, tuple[str, ...]]:
    """Validate and normalise ``level`` and ``needs``; ConfigError naming the reward."""
    if level not in REWARD_LEVELS:
        raise ConfigError(
            f"reward {name!r}: level must be one of {', '.join(REWARD_LEVELS)}, got {level!r}"
        )
    if isinstance(needs, str):
        needs = (needs,)
    try:
        needs = tuple(needs)
    except TypeError:
        raise ConfigError(
            f"reward {name!r}: needs must be a tuple of names, got {needs!r}"
        ) from None
    unknown = [n for n in needs if n not in REWARD_INPUTS]
    if unknown:
        raise ConfigError(
            f"reward {name!r}: unknown input(s) in needs: {', '.join(map(repr, unknown))}; "
            f"the environment provides: {', '.join(REWARD_INPUTS)}"
        )
    return level, needs


def _same_function(target: str, fn: Callable[..., Any]) -> bool:
    """Whether the lazy target ``"module:attr"`` names ``fn`` (without importing anything)."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not module or not qualname:
        return False
    return target in (f"{module}:{qualname}", f"{module}.{qualname}")


# -- registration -----------------------------------------------------------------------------
def register_reward(
    name: str | None = None,
    *,
    level: str = "sequence",
    needs: Sequence[str] = (),
    override: bool = False,
    **meta: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register a reward function in :data:`REWARDS`.

    The function is returned unchanged. If ``name`` is already a lazy entry (an entry point
    of the group ``seqadv.rewards``, or a ``REWARDS.add(name, "module:attr")``) that points
    at this very function, the decorator fills that entry in with its metadata instead of
    failing as a duplicate; so a plugin module can both declare an entry point and decorate
    the function to give its ``level`` and ``needs``.

    Args:
        name: registry name; default the function's ``__name__``.
        level: ``"sequence"`` (returns (B,)), ``"token"`` (returns (B, T)), or ``"any"``
            (elementwise in the logits: returns the logits' shape, usable at either level).
        needs: extra inputs the reward reads, among :data:`REWARD_INPUTS`.
        override: replace an existing registration of the same name.
        **meta: further metadata stored on the entry (e.g. ``summary``, ``family``).

    Returns:
        The decorator.

    Raises:
        ConfigError: bad ``level`` or ``needs``, or ``name`` already registered to
            something else and ``override`` is false.

    Example:
        >>> import torch
        >>> from seqadv.rewards import REWARDS, register_reward, resolve_reward
        >>> @register_reward("tempered_prob", level="any")
        ... def tempered_prob(logits, temperature: float = 2.0, **kwargs):
        ...     '''D(x) at a temperature: sigmoid(logit / temperature).'''
        ...     return torch.sigmoid(logits / temperature)
        >>> reward = resolve_reward({"name": "tempered_prob", "kwargs": {"temperature": 4.0}})
        >>> reward(torch.tensor([0.0, 8.0]))
        tensor([0.5000, 0.8808])
        >>> REWARDS.remove("tempered_prob")
    """

    lvl, nds = _check_meta(name or "(the decorated function)", level, needs)

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        if not callable(fn):
            raise ConfigError(f"register_reward: {fn!r} is not callable")
        reward_name = name or fn.__name__
        replace = override
        if not replace and reward_name in REWARDS:
            existing = REWARDS.entry(reward_name)
            target = existing.target
            if (isinstance(target, str) and _same_function(target, fn)) or target is fn:
                replace = True
                meta.setdefault("source", existing.meta.get("source", "decorator"))
        REWARDS.add(reward_name, fn, override=replace, level=lvl, needs=nds, **meta)
        return fn

    return decorator


_F_DIV = {"level": "any", "family": "f-divergence"}
#: (registry name, function in seqadv.rewards.builtin, metadata) of every built-in reward
_BUILTIN_TABLE: list[tuple[str, str, dict[str, Any]]] = [
    ("prob", "prob", {"level": "any"}),
    ("log_prob", "log_prob", {"level": "any"}),
    ("minimax", "minimax", {"level": "any"}),
    ("logit", "logit", {"level": "any"}),
    (
        "critic",
        "logit",
        {"level": "any", "summary": "Alias of 'logit': the raw critic score (WGAN-style)."},
    ),
    ("constant", "constant", {"level": "any"}),
    (
        "rank",
        "rank",
        {
            "level": "sequence",
            "needs": ("features", "reference_features", "comparison_features"),
        },
    ),
    ("kl", "kl", _F_DIV),
    ("reverse_kl", "reverse_kl", _F_DIV),
    ("js", "js", _F_DIV),
    ("squared_hellinger", "squared_hellinger", _F_DIV),
    ("pearson_chi2", "pearson_chi2", _F_DIV),
    ("maskgan", "maskgan", {"level": "any"}),
    ("scratchgan", "scratchgan", {"level": "any"}),
    (
        "irgan",
        "scratchgan",
        {"level": "any", "summary": "IRGAN's code: 2 sigmoid(f(q, d)) - 1 = tanh(f / 2) (as 'scratchgan')."},
    ),
    (
        "irgan_paper",
        "minimax",
        {"level": "any", "summary": "IRGAN's paper: log(1 + exp(f(q, d))) (alias of 'minimax')."},
    ),
]

#: the functions of seqadv.rewards.builtin, in table order
BUILTIN_FUNCTIONS: tuple[str, ...] = tuple(dict.fromkeys(attr for _, attr, _ in _BUILTIN_TABLE))


def _register_builtins() -> None:
    """Register the built-in rewards lazily: metadata now, ``import torch`` on first use."""
    for name, attr, meta in _BUILTIN_TABLE:
        meta = {"needs": (), "source": "builtin", **meta}
        REWARDS.add(name, f"seqadv.rewards.builtin:{attr}", **meta)


_register_builtins()


# -- binding ----------------------------------------------------------------------------------
class BoundReward:
    """A reward with its config kwargs bound: ``bound(logits, **inputs) -> Tensor``.

    Calling it passes ``logits`` positionally, then the call-time ``inputs`` and the bound
    ``kwargs`` as keywords (a call-time keyword of the same name wins, as with
    ``functools.partial``). A function without ``**kwargs`` receives only the inputs it names.
    Before the call, the inputs listed in ``needs`` must be present; after it, the output is
    checked with :func:`check_reward_output` against ``logits.shape`` (every reward returns
    the shape of its logits: (B,) at sequence level, (B, T) at token level), unless
    ``check_output`` is false.

    Attributes:
        name: the name it was resolved from (registry name, dotted path or ``__qualname__``).
        fn: the underlying reward function.
        kwargs: the bound config kwargs.
        level: ``"sequence"``, ``"token"`` or ``"any"``.
        needs: extra inputs the reward reads (a subset of :data:`REWARD_INPUTS`).
        check_output: validate the output's type, shape and finiteness on every call.
    """

    def __init__(
        self,
        name: str,
        fn: Callable[..., Any],
        kwargs: Mapping[str, Any] | None = None,
        *,
        level: str = "sequence",
        needs: Sequence[str] = (),
        check_output: bool = True,
    ) -> None:
        self.name = name
        self.fn = fn
        self.kwargs = dict(kwargs or {})
        self.level, self.needs = _check_meta(name, level, needs)
        self.check_output = check_output
        # the keywords fn is given: all (it has **kwargs), the ones it names, or, when its
        # signature cannot be read (a C function), the bound kwargs and the needed inputs
        self._accepted = (
            _accepted_inputs(fn)
            if _signature(fn) is not None
            else set(self.kwargs) | set(self.needs)
        )

    def supports(self, level: str) -> bool:
        """Whether the reward can score a discriminator of ``level`` ("sequence"/"token")."""
        return self.level == "any" or self.level == level

    def check_level(self, level: str) -> None:
        """Raise ConfigError naming the reward unless it supports a ``level`` discriminator."""
        if level not in ("sequence", "token"):
            raise ConfigError(f"discriminator level must be 'sequence' or 'token', got {level!r}")
        if not self.supports(level):
            raise ConfigError(
                f"reward {self.name!r} is {self.level}-level but the discriminator scores "
                f"{'each token' if level == 'token' else 'whole sequences'} ({level}-level)"
            )

    def __call__(self, logits: torch.Tensor, **inputs: Any) -> torch.Tensor:
        missing = [n for n in self.needs if inputs.get(n) is None]
        if missing:
            raise RewardError(
                f"reward {self.name!r} needs input(s) {', '.join(map(repr, missing))} "
                f"(it needs: {', '.join(self.needs)}); the caller did not pass them"
            )
        call_kwargs = {**self.kwargs, **inputs}
        if self._accepted is not None:
            call_kwargs = {k: v for k, v in call_kwargs.items() if k in self._accepted}
        rewards = self.fn(logits, **call_kwargs)
        if self.check_output:
            check_reward_output(self.name, rewards, tuple(logits.shape))
        return rewards

    def __repr__(self) -> str:
        return (
            f"BoundReward({self.name!r}, level={self.level!r}, needs={self.needs!r}, "
            f"kwargs={self.kwargs!r})"
        )


def _signature(fn: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def _accepted_inputs(fn: Callable[..., Any]) -> set[str] | None:
    """Keyword names ``fn`` accepts after ``logits``; None if it takes ``**kwargs`` (or if
    its signature cannot be read)."""
    sig = _signature(fn)
    if sig is None:
        return None
    params = list(sig.parameters.values())
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {
        p.name
        for p in params[1:]
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }


def _check_config_kwargs(
    name: str, fn: Callable[..., Any], kwargs: Mapping[str, Any], needs: tuple[str, ...]
) -> None:
    """Config kwargs must be named parameters of ``fn`` (not ``logits``, not a runtime input).

    ``**kwargs`` of a TRL-style reward swallows anything, so the check is made against the
    named parameters only (through :func:`seqadv.registry.check_kwargs`); required
    parameters that are neither bound nor supplied at call time are reported too.
    """
    sig = _signature(fn)
    if sig is None:
        return
    params = list(sig.parameters.values())
    if not params or params[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.VAR_POSITIONAL,
    ):
        raise ConfigError(
            f"reward {name!r} must take the discriminator logits as its first positional "
            f"argument: fn(logits, **kwargs)"
        )
    runtime = set(REWARD_INPUTS) | set(needs)
    configurable = [
        p
        for p in params[1:]
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        and p.name not in runtime
    ]
    given_runtime = [k for k in kwargs if k in runtime]
    if given_runtime:
        raise ConfigError(
            f"reward {name!r}: {', '.join(map(repr, given_runtime))} "
            f"{'is an input' if len(given_runtime) == 1 else 'are inputs'} that the environment "
            f"passes at call time, not config kwargs; configurable: "
            f"{', '.join(p.name for p in configurable) or '(none)'}"
        )

    def stub(*args: Any, **kw: Any) -> None:  # carries the configurable signature only
        return None

    stub.__signature__ = sig.replace(parameters=configurable)  # type: ignore[attr-defined]
    check_kwargs(stub, dict(kwargs), f"reward {name!r}")
    missing = [
        p.name
        for p in configurable
        if p.default is inspect.Parameter.empty and p.name not in kwargs
    ]
    if missing:
        raise ConfigError(
            f"reward {name!r} has required argument(s) {', '.join(map(repr, missing))} "
            f"without a value; give them in the reward's kwargs"
        )


def _registered_meta(fn: Callable[..., Any]) -> tuple[str, dict[str, Any]] | None:
    """The (name, metadata) of a loaded registry entry whose function is ``fn``."""
    for entry in REWARDS.entries():
        if entry.target is fn and "level" in entry.meta:
            return entry.name, entry.meta
    return None


def _spec_parts(spec: Any) -> tuple[Any, dict[str, Any]]:
    """Split a spec into (name-or-callable, kwargs)."""
    if isinstance(spec, Mapping):
        unknown = [k for k in spec if k not in ("name", "kwargs")]
        if unknown:
            raise ConfigError(
                f"reward spec has unknown key(s) {', '.join(map(repr, unknown))}; "
                f"expected {{name: ..., kwargs: {{...}}}}"
            )
        if "name" not in spec:
            raise ConfigError("reward spec is missing the key 'name'")
        kwargs = spec.get("kwargs") or {}
        if not isinstance(kwargs, Mapping):
            raise ConfigError(
                f"reward spec {spec['name']!r}: kwargs must be a mapping, "
                f"got {type(kwargs).__name__}"
            )
        return spec["name"], dict(kwargs)
    if not isinstance(spec, str) and not callable(spec):
        # a typed config object with .name and .kwargs (e.g. a component dataclass)
        if hasattr(spec, "name") and hasattr(spec, "kwargs"):
            return _spec_parts({"name": spec.name, "kwargs": spec.kwargs})
        raise ConfigError(
            f"a reward is a name, a dotted path 'package.module:function', a callable or "
            f"{{name: ..., kwargs: {{...}}}}; got {type(spec).__name__}"
        )
    return spec, {}


def resolve_reward(spec: Any, kwargs: Mapping[str, Any] | None = None) -> BoundReward:
    """Turn a reward spec into a :class:`BoundReward`.

    Args:
        spec: a registered name (``"prob"``), a dotted path (``"mypkg.rewards:my_reward"``),
            a callable, a mapping ``{"name": ..., "kwargs": {...}}``, an object with ``.name``
            and ``.kwargs`` attributes, or a :class:`BoundReward` (rebound with ``kwargs``).
        kwargs: config kwargs, merged over the spec's own (these win).

    Returns:
        The bound reward, with ``.name``, ``.level``, ``.needs`` and ``.kwargs``.

    Raises:
        UnknownNameError: an unregistered name (the message lists close matches).
        ConfigError: a malformed spec, a dotted path that does not import, a kwarg the
            reward does not accept (the message names it and the accepted ones), a
            required kwarg missing, or bad metadata.

    A dotted path or callable that was registered with :func:`register_reward` keeps its
    registered metadata; otherwise it is a sequence-level reward that needs nothing.
    """
    if isinstance(spec, BoundReward):
        merged = {**spec.kwargs, **(kwargs or {})}
        _check_config_kwargs(spec.name, spec.fn, merged, spec.needs)
        return BoundReward(
            spec.name,
            spec.fn,
            merged,
            level=spec.level,
            needs=spec.needs,
            check_output=spec.check_output,
        )
    target, spec_kwargs = _spec_parts(spec)
    merged = {**spec_kwargs, **(kwargs or {})}

    if callable(target) and not isinstance(target, str):
        fn = target
        found = _registered_meta(fn)
        if found is not None:
            name, meta = found
        else:
            name = getattr(fn, "__qualname__", None) or type(fn).__name__
            meta = {}
    elif isinstance(target, str):
        try:
            entry: Entry = REWARDS.entry(target)
            fn = entry.load()
        except SeqadvError:
            raise
        except Exception as exc:  # a module or plugin that fails on import
            raise ConfigError(f"reward {target!r} failed to load: {exc!r}") from exc
        name = target
        meta = entry.meta
        if "level" not in meta:
            # loading may have run a @register_reward that filled the entry in
            refreshed = REWARDS.entry(target) if target in REWARDS else None
            if refreshed is not None and "level" in refreshed.meta:
                meta = refreshed.meta
            else:
                found = _registered_meta(fn)
                meta = found[1] if found is not None else meta
        if not callable(fn):
            raise ConfigError(f"reward {target!r} resolved to {fn!r}, which is not callable")
    else:
        raise ConfigError(f"reward name must be a string or a callable, got {target!r}")

    level, needs = _check_meta(name, meta.get("level", "sequence"), meta.get("needs", ()))
    _check_config_kwargs(name, fn, merged, needs)
    logger.debug("reward %r resolved: level=%s needs=%s kwargs=%s", name, level, needs, merged)
    return BoundReward(name, fn, merged, level=level, needs=needs)


# -- output checks ----------------------------------------------------------------------------
def check_reward_output(name: str, rewards: Any, expected_shape: Sequence[int]) -> torch.Tensor:
    """Raise RewardError unless ``rewards`` is a finite float tensor of ``expected_shape``.

    Args:
        name: the reward's name, used in the message.
        rewards: what the reward returned.
        expected_shape: (B,) for a sequence-level reward, (B, T) for a token-level one.

    Returns:
        ``rewards``, unchanged.

    Raises:
        RewardError: naming the reward and what is wrong: not a tensor, not floating point,
            the wrong shape (expected vs got), or NaN / infinite values (how many, and the
            index of the first).
    """
    import torch

    expected = tuple(int(n) for n in expected_shape)
    if not isinstance(rewards, torch.Tensor):
        raise RewardError(
            f"reward {name!r} returned {type(rewards).__name__}, expected a float "
            f"torch.Tensor of shape {expected}"
        )
    if not rewards.is_floating_point():
        raise RewardError(
            f"reward {name!r} returned a tensor of dtype {rewards.dtype}, expected a "
            f"floating-point tensor of shape {expected}"
        )
    got = tuple(rewards.shape)
    if got != expected:
        kind = {1: "one value per sequence", 2: "one value per token"}.get(len(expected), "")
        raise RewardError(
            f"reward {name!r} returned shape {got}, expected {expected}"
            + (f" ({kind})" if kind else "")
        )
    finite = torch.isfinite(rewards)
    if not bool(finite.all()):
        n_nan = int(torch.isnan(rewards).sum())
        n_inf = int(torch.isinf(rewards).sum())
        first = tuple(int(i) for i in (~finite).nonzero()[0].tolist())
        value = float(rewards[first]) if first else float(rewards)
        where = "(" + ", ".join(map(str, first)) + ")"
        parts = []
        if n_nan:
            parts.append(f"{n_nan} NaN")
        if n_inf:
            parts.append(f"{n_inf} infinite")
        raise RewardError(
            f"reward {name!r} returned {' and '.join(parts)} value(s) out of "
            f"{rewards.numel()}; the first at index {where} is {value}"
        )
    return rewards


# -- listing ----------------------------------------------------------------------------------
def list_rewards() -> list[tuple[str, str, str]]:
    """Rows of (name, level, first docstring line) for ``seqadv list rewards``, by name.

    ``level`` is ``"sequence"``, ``"token"`` or ``"any"`` (elementwise: either). A plugin
    entry that fails to import is listed with the error as its summary (and a warning is
    logged) rather than breaking the listing.
    """
    rows = []
    for entry in REWARDS.entries():
        try:
            summary = entry.summary
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the listing
            logger.warning("reward %r failed to load: %s", entry.name, exc)
            summary = f"(failed to load: {exc})"
        meta = entry.meta
        if "level" not in meta and entry.name in REWARDS:
            meta = REWARDS.entry(entry.name).meta  # loading may have filled it in
        rows.append((entry.name, str(meta.get("level", "sequence")), summary))
    return rows
