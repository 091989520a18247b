"""Building a recipe's parts by name: the trainer's registry lookups in one place.

Every part of a run is named in its config and built here from its registry, never from a
concrete class: the discriminator (DISCRIMINATORS), the environment (ENVIRONMENTS, with its
REWARD_SCHEMES scheme and REWARDS reward), the learner (ALGORITHMS); the data (DATA_SOURCES)
and the policy (GENERATORS) come from :mod:`seqadv.experiment`. :func:`check_names` fails
fast on a name no registry knows; :func:`registered_component` says whether a name needs no
import of foreign code (a run's safety check uses it).
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import torch

from seqadv.algorithms import ALGORITHMS
from seqadv.config import ExperimentConfig, config_from_dict, config_to_dict
from seqadv.data.source import TextData
from seqadv.errors import ConfigError, SeqadvError, TooFewEnvsError
from seqadv.runs import derive_seed

__all__ = [
    "size_warnings",
    "EXTENDABLE_KEYS",
    "extended_config",
    "smoke_check",
    "build_discriminator",
    "build_env",
    "build_learner",
    "check_names",
    "registered_component",
    "named",
    "policy_spec",
    "resolve_paths",
]


def build_discriminator(cfg: ExperimentConfig, data: TextData, seed: int) -> Any:
    """The discriminator of ``cfg``, initialized from (seed, "discriminator-init"); a
    factory with a ``data`` parameter gets the experiment's data."""
    from seqadv.models.discriminator import make_discriminator

    def build() -> Any:
        import inspect

        from seqadv.models.discriminator import DISCRIMINATORS

        kwargs = dict(cfg.discriminator.kwargs)
        factory = DISCRIMINATORS.get(cfg.discriminator.name)
        if "data" in inspect.signature(factory).parameters:  # it reads the data (LTR features)
            kwargs["data"] = data
        return make_discriminator(
            cfg.discriminator.name,
            vocab_size=data.vocab_size,
            max_len=data.max_len,
            pad_id=data.discriminator_pad_id,
            **kwargs,
        )

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, "discriminator-init"))
        return named("discriminator", build)


def build_env(
    cfg: ExperimentConfig, data: TextData, discriminator: Any, policy: Any
) -> tuple[Any, Any]:
    """The vector environment of ``cfg.env`` and its rollout policy (a frozen copy of
    ``policy`` when the reward scheme needs one, else None).

    ``env.reward_scheme`` with a name replaces the id's registered scheme; without one it
    keeps the id's scheme and adds its kwargs.
    """
    from seqadv.envs import ENVIRONMENTS
    from seqadv.rewards.schemes import REWARD_SCHEMES

    entry = named("env.name", lambda: ENVIRONMENTS.entry(cfg.env.name))
    env_kwargs = {**entry.meta.get("kwargs", {}), **cfg.env.kwargs}
    registered = _as_component(env_kwargs.get("reward_scheme", "terminal"))
    if cfg.env.reward_scheme is not None:
        given = _component(cfg.env.reward_scheme)
        same = not given["name"] or given["name"] == registered["name"]
        env_kwargs["reward_scheme"] = {
            "name": given["name"] or registered["name"],
            "kwargs": {**registered["kwargs"], **given["kwargs"]} if same else given["kwargs"],
        }
    scheme_name = _as_component(env_kwargs.get("reward_scheme", "terminal"))["name"]
    scheme_class = named("env.reward_scheme", lambda: REWARD_SCHEMES.get(scheme_name))
    # the scoring options, for the families that take them (non-defaults only)
    if cfg.kernels == "plain":
        env_kwargs.setdefault("scoring", "plain")
    if cfg.discriminator.score_precision != "fp32":
        env_kwargs.setdefault("score_precision", cfg.discriminator.score_precision)
    rollout_policy = None
    if "rollout_policy" in getattr(scheme_class, "needs", ()):
        rollout_policy = copy.deepcopy(policy).requires_grad_(False)
    env = named(
        "env",
        lambda: entry.load()(
            num_envs=cfg.env.num_envs,
            data=data,
            discriminator=discriminator,
            reward=_component(cfg.env.reward),
            rollout_policy=rollout_policy,
            autoreset_mode="disabled",
            **env_kwargs,
        ),
    )
    return env, rollout_policy


def smoke_check(cfg: ExperimentConfig, data: TextData, discriminator: Any, policy: Any) -> None:
    """Run every component once on a tiny batch before any training, so that a config whose
    discriminator, reward or reward scheme fails does so now, not after the MLE phase.

    The discriminator scores 2 real and 2 generated examples and computes its loss on them
    (no update); a second environment of 2 rows, built like the run's, plays one episode
    with the policy, so that the reward scheme and the reward are called as in training.
    Nothing of the run changes: no weights, no random stream of the run (a generator of its
    own draws the examples and actions; the rollouts use that environment's own).
    """
    from seqadv.algorithms.batch import collect_rollout

    g = torch.Generator().manual_seed(0)

    def fail(key: str, what: str, exc: BaseException) -> ConfigError:
        detail = str(exc) if isinstance(exc, SeqadvError) else f"{type(exc).__name__}: {exc}"
        return ConfigError(f"{key}: {what} failed before training started: {detail}")

    was_training = discriminator.training
    try:
        with torch.no_grad():
            real = data.train[: min(2, data.train.shape[0])]
            fake = policy.sample(2, generator=g)
            batch = torch.cat([real, fake])
            labels = torch.cat([torch.ones(real.shape[0]), torch.zeros(fake.shape[0])])
            logits = discriminator(batch)
            mask = discriminator.padding_mask(batch) if discriminator.level == "token" else None
            discriminator.loss(logits, labels, mask)
    except Exception as exc:
        raise fail("discriminator", f"{cfg.discriminator.name!r} on 2 real and 2 generated examples", exc) from exc
    finally:
        discriminator.train(was_training)
    try:
        small = dataclasses.replace(cfg, env=dataclasses.replace(cfg.env, num_envs=2))
        try:
            env, _ = build_env(small, data, discriminator, policy)  # its own rollout policy copy
        except ConfigError as exc:  # an env whose batch is a block of rows (IRGAN's)
            cause: BaseException | None = exc
            while cause is not None and not isinstance(cause, TooFewEnvsError):
                cause = cause.__cause__
            if cause is None or cause.needed > cfg.env.num_envs:
                raise
            small = dataclasses.replace(cfg, env=dataclasses.replace(cfg.env, num_envs=cause.needed))
            env, _ = build_env(small, data, discriminator, policy)
        collect_rollout(policy, env, g)
    except Exception as exc:
        scheme = cfg.env.reward_scheme.name if cfg.env.reward_scheme else "(the id's)"
        what = (
            f"one episode of {cfg.env.name!r} with reward {cfg.env.reward.name!r} and reward "
            f"scheme {scheme!r}"
        )
        raise fail("env", what, exc) from exc


def build_learner(cfg: ExperimentConfig, policy: Any, seed: int) -> Any:
    """The learner of ``cfg.algorithm`` training ``policy``; ``adversarial.lr`` and
    ``grad_clip`` are its defaults, its seed is derived from (seed, "learner")."""
    kwargs = dict(cfg.algorithm.kwargs)
    kwargs.setdefault("lr", cfg.adversarial.lr)
    kwargs.setdefault("grad_clip", cfg.adversarial.grad_clip)
    kwargs.setdefault("seed", derive_seed(seed, "learner"))
    return ALGORITHMS.make(cfg.algorithm.name, policy=policy, **kwargs)


def build_pretrainer(cfg: ExperimentConfig, policy: Any) -> Any:
    """The generator's pretrainer of ``cfg.pretrain.method`` (PRETRAINERS)."""
    from seqadv.algorithms import PRETRAINERS

    p = cfg.pretrain
    factory = PRETRAINERS.get(p.method)
    return factory(policy, lr=p.lr, batch_size=p.batch_size, grad_clip=p.grad_clip, **p.kwargs)


def check_names(cfg: ExperimentConfig, where: str = "config") -> None:
    """Fail fast, before anything is built, on a component name no registry knows.

    The message names the config key and lists the known names (and the closest match).
    """
    from seqadv.algorithms import PRETRAINERS
    from seqadv.envs import ENVIRONMENTS
    from seqadv.evaluation import METRICS
    from seqadv.experiment import DATA_SOURCES
    from seqadv.models.policy import GENERATORS
    from seqadv.rewards.schemes import REWARD_SCHEMES

    checks: list[tuple[str, str, Any]] = [
        ("data.source", cfg.data.source, DATA_SOURCES),
        ("generator.name", cfg.generator.name, GENERATORS),
        ("pretrain.method", cfg.pretrain.method, PRETRAINERS),
    ]
    checks += [(f"eval.metrics[{i}]", m, METRICS) for i, m in enumerate(cfg.eval.metrics or [])]
    if cfg.adversarial.rounds > 0:
        checks.append(("env.name", cfg.env.name, ENVIRONMENTS))
        scheme = cfg.env.reward_scheme
        if scheme is not None and scheme.name:
            checks.append(("env.reward_scheme.name", scheme.name, REWARD_SCHEMES))
    for key, name, registry in checks:
        try:
            registry.entry(name)
        except SeqadvError as exc:
            prefix = "" if where == "config" else f"{where}: "
            raise ConfigError(f"{prefix}{key}: {exc}") from None


def registered_component(kind: str | None, name: str) -> bool:
    """Whether the registry of ``kind`` (as ``seqadv list`` names it) has ``name``: registered,
    an installed package's entry point, or an SB3 ``package:Class`` algorithm (never imports)."""
    from seqadv.algorithms import PRETRAINERS, SB3_PACKAGES
    from seqadv.algorithms.advantages import ADVANTAGES
    from seqadv.envs import ENVIRONMENTS
    from seqadv.evaluation import METRICS
    from seqadv.experiment import DATA_SOURCES
    from seqadv.models.discriminator import DISCRIMINATORS
    from seqadv.models.policy import GENERATORS
    from seqadv.rewards import REWARDS
    from seqadv.rewards.schemes import REWARD_SCHEMES

    if kind == "algorithms" and name.partition(":")[0] in SB3_PACKAGES:
        return True
    registries = {
        "advantages": ADVANTAGES,
        "algorithms": ALGORITHMS,
        "data_sources": DATA_SOURCES,
        "discriminators": DISCRIMINATORS,
        "envs": ENVIRONMENTS,
        "generators": GENERATORS,
        "metrics": METRICS,
        "pretrainers": PRETRAINERS,
        "rewards": REWARDS,
        "reward_schemes": REWARD_SCHEMES,
    }
    return kind in registries and name in registries[kind]


def resolve_paths(cfg: ExperimentConfig, base_dir: Path | None) -> None:
    """Make the config's file paths absolute (so a resumed run or ``seqadv eval`` finds them).

    A relative path is looked up in the current directory first, then next to the config;
    the keys ending in ``path`` of the data source's, generator's and discriminator's kwargs
    are paths too.
    """
    from seqadv.experiment import resolve_path

    def fix(path: str | None) -> str | None:
        found = resolve_path(path, base_dir)
        return str(Path(found).resolve()) if found and Path(found).exists() else found

    cfg.data.oracle_path = fix(cfg.data.oracle_path)
    cfg.data.train_path = fix(cfg.data.train_path)
    cfg.data.test_path = fix(cfg.data.test_path)
    cfg.pretrain.init_checkpoint = fix(cfg.pretrain.init_checkpoint)
    cfg.eval.lm = fix(cfg.eval.lm)
    for kwargs in (cfg.data.kwargs, cfg.generator.kwargs, cfg.discriminator.kwargs):
        for key, value in list(kwargs.items()):  # a component's own paths (*path keys)
            if key.endswith("path") and isinstance(value, str):
                kwargs[key] = fix(value)


def named(key: str, build: Any) -> Any:
    """``build()``, with a failure re-raised as a ConfigError naming the config key.

    Building a component from config values is where a user's values first meet the
    component's own checks (a ValueError or TypeError of its constructor, an unknown name of
    a registry): every such error names the key it came from.
    """
    try:
        return build()
    except ConfigError as exc:
        if str(exc).startswith(key):
            raise
        raise ConfigError(f"{key}: {exc}") from exc
    except SeqadvError as exc:
        raise ConfigError(f"{key}: {exc}") from exc
    except (ValueError, TypeError, RuntimeError) as exc:
        raise ConfigError(f"{key}: {type(exc).__name__}: {exc}") from exc


def policy_spec(policy: Any) -> dict[str, Any] | None:
    """The plain-data spec a policy is rebuilt from (``policy.spec``), when it has one."""
    spec = getattr(policy, "spec", None)
    if spec is None:
        return None
    fields = dict(spec.__dict__) if hasattr(spec, "__dict__") else dict(spec)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}


def _as_component(spec: Any) -> dict[str, Any]:
    """A name or ``{name, kwargs}`` as ``{name, kwargs}``."""
    if isinstance(spec, dict):
        return {"name": spec.get("name", ""), "kwargs": dict(spec.get("kwargs") or {})}
    return {"name": spec, "kwargs": {}}


def _component(spec: Any) -> Any:
    """A ComponentConfig as the ``{name, kwargs}`` mapping registries resolve."""
    return {"name": spec.name, "kwargs": dict(spec.kwargs)}


#: config keys a finished (or stopped) run may change on resume, to go on longer
EXTENDABLE_KEYS = (
    "adversarial.rounds",
    "pretrain.epochs",
    "adversarial.budget_minutes",
    "pretrain.budget_minutes",
)


def extended_config(
    cfg: ExperimentConfig, ckpt: dict[str, Any], overrides: list[str], where: str
) -> ExperimentConfig:
    """``cfg`` with ``overrides`` (``--set`` items of :data:`EXTENDABLE_KEYS`) applied, checked
    against where the run is: rounds and epochs only grow, and MLE epochs only while the run
    has no adversarial phase behind it."""
    from seqadv.config import apply_overrides

    keys = [item.partition("=")[0].strip() for item in overrides]
    wrong = [k for k in keys if k not in EXTENDABLE_KEYS]
    if wrong:
        raise ConfigError(
            f"--resume with --set {', '.join(wrong)}: a resumed run keeps its config; only "
            f"{', '.join(EXTENDABLE_KEYS)} may change (to train longer)"
        )
    data = apply_overrides(config_to_dict(cfg), overrides)
    new = config_from_dict(data, where=f"--set {' '.join(overrides)}")
    state = ckpt["state"]
    if new.adversarial.rounds < max(cfg.adversarial.rounds, int(state.get("round", 0))):
        raise ConfigError(
            f"--set adversarial.rounds={new.adversarial.rounds}: the run has "
            f"{cfg.adversarial.rounds} rounds (done: {state.get('round', 0)}); it can only grow"
        )
    if new.pretrain.epochs != cfg.pretrain.epochs:
        if new.pretrain.epochs < cfg.pretrain.epochs:
            raise ConfigError(
                f"--set pretrain.epochs={new.pretrain.epochs}: the run has "
                f"{cfg.pretrain.epochs} MLE epochs; it can only grow"
            )
        if state.get("phase") not in ("mle", "done") or cfg.adversarial.rounds > 0:
            raise ConfigError(
                f"--set pretrain.epochs: {where} is past its MLE phase (or has an adversarial "
                "one); more MLE epochs can only extend an MLE-only run"
            )
    return new


def size_warnings(cfg: ExperimentConfig, n_train: int) -> list[str]:
    """Settings of a preset that do not fit the data's size (a preset tuned for one corpus
    run on another): what each costs, and the ``--set`` that fits."""
    out = []
    dis, ev = cfg.discriminator, cfg.eval
    adversarial = cfg.adversarial.rounds > 0
    if adversarial and dis.n_real is not None and dis.n_real > n_train:
        out.append(
            f"discriminator.n_real={dis.n_real} but the data have {n_train} training sequences: "
            f"every round uses all {n_train} (--set discriminator.n_real={n_train})"
        )
    if adversarial and dis.n_negatives is not None and dis.n_negatives > 2 * n_train:
        out.append(
            f"discriminator.n_negatives={dis.n_negatives} generated sequences per round against "
            f"{min(dis.n_real or n_train, n_train)} real ones: each discriminator epoch visits "
            f"{dis.n_negatives} pairs, mostly generated (--set discriminator.n_negatives={n_train})"
        )
    if ev.n_samples > 10 * n_train:
        out.append(
            f"eval.n_samples={ev.n_samples} samples scored at every evaluation, for {n_train} "
            f"training sequences (--set eval.n_samples={max(n_train, 100)})"
        )
    return out

