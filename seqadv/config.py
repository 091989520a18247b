"""Typed experiment configuration: YAML in, dataclasses inside, resolved YAML out.

A config file is a mapping whose keys are the fields below; nested sections are nested
mappings. Unknown keys are errors that name the key and list the valid ones. Values are
type-checked. ``--set a.b=value`` overrides (``value`` is parsed as YAML) are applied before
checking. Components (data sources, generators, discriminators, environments, reward
schemes, rewards, algorithms, metrics) are named by registry name or dotted path, with
``{name, kwargs}`` where they take arguments (a bare string is read as ``{name: string}``),
and are resolved through their registries when the run is built. Keys renamed since the
previous version still work for one version, with a warning that names the new key (see
:data:`DEPRECATED_KEYS`).

Example:
    >>> cfg = config_from_dict({"name": "demo", "pretrain": {"epochs": 3}})
    >>> cfg.pretrain.epochs, cfg.pretrain.batch_size
    (3, 64)
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
import types
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from seqadv.errors import ConfigError

__all__ = [
    "ExperimentConfig",
    "DataConfig",
    "GeneratorConfig",
    "PretrainConfig",
    "DiscriminatorConfig",
    "AdversarialConfig",
    "EnvConfig",
    "ComponentConfig",
    "EvalConfig",
    "load_config",
    "config_from_dict",
    "config_to_dict",
    "apply_overrides",
    "dump_config",
    "DEPRECATED_KEYS",
]

log = logging.getLogger("seqadv")


@dataclass
class ComponentConfig:
    """A registered component: its name (or dotted path) and keyword arguments."""

    name: str = ""  # registry name or "package.module:attribute"
    kwargs: dict[str, Any] = field(default_factory=dict)  # passed to the factory


@dataclass
class DataConfig:
    """Where the real data come from: the synthetic oracle, a text corpus or another source."""

    source: str = "oracle"  # DATA_SOURCES registry name: oracle, corpus, or a recipe's own
    oracle_path: str | None = (
        None  # oracle .npz (e.g. ../shared/data/seqgan_oracle.npz); None: seeded
    )
    oracle_seed: int = 0  # seed of the seeded oracle (N(0,1) parameters)
    vocab_size: int = 5000  # seeded oracle: vocabulary size V
    oracle_embed_dim: int = 32  # seeded oracle: embedding size
    oracle_hidden_dim: int = 32  # seeded oracle: hidden size
    max_len: int = 20  # sequence length T (corpora: EOS included)
    n_train: int = 10_000  # oracle: training sequences sampled from the oracle
    n_test: int = 10_000  # oracle: held-out sequences for NLL-test
    data_seed: int = 88  # oracle: seed of the training/test samples
    train_path: str | None = None  # corpus: training text, one sentence per line
    test_path: str | None = None  # corpus: test text (references for BLEU, NLL-test)
    tokenizer: str = "nltk"  # corpus: nltk | space | char
    min_freq: int = 1  # corpus: rarer words become <unk>
    max_vocab: int | None = None  # corpus: cap on the vocabulary size (specials included)
    long_lines: str = "truncate"  # corpus: truncate | skip | error for lines over max_len - 1 words
    encoding_errors: str = "strict"  # corpus: strict | replace | skip for undecodable lines
    max_sentences: int | None = (
        None  # corpus: read at most this many lines of each file (tiny runs)
    )
    kwargs: dict[str, Any] = field(default_factory=dict)  # passed to the data source factory


@dataclass
class GeneratorConfig:
    """The policy: a GENERATORS registry name and its kwargs."""

    name: str = "lstm"  # GENERATORS registry name or dotted path (lstm: SeqGAN's generator)
    kwargs: dict[str, Any] = field(
        default_factory=dict
    )  # lstm: embed_dim (32), hidden_dim (32), init_std (0.1; None: torch default)


@dataclass
class PretrainConfig:
    """Maximum-likelihood pretraining of the generator."""

    method: str = "mle"  # PRETRAINERS: mle | dns (IRGAN's dynamic negative sampling)
    epochs: int = 120  # passes over the training data
    batch_size: int = 64  # sequences per update
    lr: float = 0.01  # Adam learning rate (SeqGAN: 0.01)
    grad_clip: float | None = 5.0  # global gradient-norm clip (SeqGAN: 5.0)
    kwargs: dict[str, Any] = field(default_factory=dict)  # the method's other arguments
    init_checkpoint: str | None = (
        None  # start from this run's (or .pt's) generator; `epochs` more follow
    )
    budget_minutes: float | None = (
        None  # stop MLE early after this much training time (not reproducible across machines)
    )


@dataclass
class DiscriminatorConfig:
    """The discriminator and how it is trained."""

    name: str = "cnn"  # DISCRIMINATORS registry name or dotted path
    kwargs: dict[str, Any] = field(default_factory=dict)  # passed to the discriminator
    lr: float = 1e-4  # learning rate (SeqGAN: Adam 1e-4)
    optimizer: str = "adam"  # adam | sgd (IRGAN: plain SGD)
    batch_size: int = 64  # sequences per update
    pretrain_rounds: int = 50  # pretraining rounds, each on fresh negatives (SeqGAN: 50)
    pretrain_epochs: int = 3  # epochs per pretraining round (SeqGAN: 3)
    n_negatives: int | None = 10_000  # generated sequences per round (SeqGAN: 10,000; None: as many as the real ones)
    n_real: int | None = (
        None  # real sequences per round, drawn afresh (None: all the training data)
    )
    score_precision: str = "fp32"  # fp32 | bf16: the arithmetic of its scoring of rollouts


@dataclass
class EnvConfig:
    """The environment the RL learner acts in."""

    name: str = "seqadv/TextGenerationMC-v0"  # ENVIRONMENTS id (seqadv list envs)
    reward: ComponentConfig = field(default_factory=lambda: ComponentConfig("prob"))  # REWARDS
    reward_scheme: ComponentConfig | None = (
        None  # REWARD_SCHEMES: terminal | mc_rollout | mc_rollout_shaped | per_token; None: the id's
    )
    num_envs: int = 64  # parallel episodes per learner update (one env batch)
    kwargs: dict[str, Any] = field(default_factory=dict)  # the environment's other arguments


@dataclass
class AdversarialConfig:
    """The adversarial phase: rounds of generator updates and discriminator training."""

    rounds: int = 0  # adversarial rounds; 0 runs MLE only
    generator_steps: int = 1  # learner updates per round (SeqGAN: 1)
    discriminator_rounds: int = (
        5  # discriminator rounds per epoch, each on fresh negatives (SeqGAN: 5)
    )
    discriminator_epochs: int = 3  # epochs per discriminator round (SeqGAN: 3)
    discriminator_every: int = 1  # train the discriminator after every N-th round (IRGAN: 50 generator epochs)
    rollout_update_rate: float = 0.8  # rollout policy <- rate * rollout + (1 - rate) * generator
    lr: float = 0.01  # learner learning rate (SeqGAN: Adam 0.01)
    grad_clip: float | None = 5.0  # gradient-norm clip of learner updates
    mle_steps: int = 0  # MLE updates interleaved after each generator step (0: none)
    budget_minutes: float | None = (
        None  # stop after this much training time (not reproducible across machines)
    )


@dataclass
class EvalConfig:
    """Evaluation during and after training."""

    every_epochs: int = 5  # MLE epochs between evaluations
    every_rounds: int = 5  # adversarial rounds between evaluations
    n_samples: int = 10_000  # generated sequences scored (SeqGAN: 10,000)
    temperature: float = 1.0  # sampling temperature for evaluation (1: the model itself)
    bleu_max_n: int = 5  # corpus: BLEU-2..max_n against the test split
    n_bleu_samples: int | None = None  # corpus: samples scored by BLEU (None: n_samples)
    self_bleu: bool = True  # corpus: also Self-BLEU of the samples
    n_self_bleu: int | None = 1000  # corpus: samples used for Self-BLEU (None: all)
    n_print: int = 3  # samples shown in the log at each evaluation
    metrics: list[str] | None = (
        None  # METRICS names; None: nll_oracle, nll_test, bleu, self_bleu (where they apply)
    )
    lm: str | None = None  # lm_perplexity: a run (or checkpoint) of an 'lstm' LM on the same data
    select: str | None = None  # a metric key (eval/validation/ndcg@3): checkpoints/best.pt holds its best evaluation
    select_mode: str = "max"  # max | min: which value of `select` is best


@dataclass
class ExperimentConfig:
    """One experiment: data, models, training phases and evaluation."""

    name: str = "experiment"  # run name (the run directory starts with it)
    seed: int | None = None  # master seed; drawn, printed and recorded when None
    threads: int = 1  # torch threads (set explicitly; more than free cores is slower)
    data: DataConfig = field(default_factory=DataConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    algorithm: ComponentConfig = field(
        default_factory=lambda: ComponentConfig("reinforce", {"discount": 0.0})
    )  # ALGORITHMS registry name and its kwargs
    adversarial: AdversarialConfig = field(default_factory=AdversarialConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    keep_samples: int = 200  # generated sequences written to samples/ at each evaluation
    tensorboard: bool = False  # also write TensorBoard event files to RUN/tensorboard (pip install tensorboard)
    kernels: str = "auto"  # auto: the fastest exact paths (measured, recorded in the run) | plain


# -- conversion ------------------------------------------------------------------------------
def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(value: Any, tp: Any, key: str, where: str) -> Any:
    """Check and convert a YAML value to the annotated type ``tp``."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None:
            if type(None) in args:
                return None
            raise ConfigError(f"{where}: {key} must not be null")
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, key, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: bad value for {key}")
    if tp is ComponentConfig and isinstance(value, str):
        return ComponentConfig(name=value)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: {key} must be a mapping, got {type(value).__name__}")
        return _build(tp, value, key, where)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: {key} must be a mapping, got {type(value).__name__}")
        return dict(value)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: {key} must be a list, got {type(value).__name__}")
        (item_tp,) = typing.get_args(tp) or (Any,)
        return [_convert(v, item_tp, f"{key}[{i}]", where) for i, v in enumerate(value)]
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: {key} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{where}: {key} must be an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)  # YAML reads 1e-4 as a string
            except ValueError:
                pass
        raise ConfigError(f"{where}: {key} must be a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where}: {key} must be a string, got {value!r}")
    raise ConfigError(f"{where}: {key}: unsupported type {_type_name(tp)}")


def _build(cls: type, data: dict[str, Any], prefix: str, where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        full = f"{prefix}.{key}" if prefix else str(key)
        if key not in names:
            import difflib

            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"{where}: unknown key {full!r}{hint}; valid keys"
                f"{' of ' + prefix if prefix else ''}: {', '.join(names)}"
            )
        kwargs[key] = _convert(value, hints[key], full, where)
    return cls(**kwargs)


def config_from_dict(data: dict[str, Any] | None, where: str = "config") -> ExperimentConfig:
    """Build and check an :class:`ExperimentConfig` from a plain mapping."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: the top level must be a mapping, got {type(data).__name__}")
    data = migrate_keys(data, where)
    cfg = _build(ExperimentConfig, data, "", where)
    validate(cfg, where)
    return cfg


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Plain-data form (for YAML and checkpoints)."""
    return dataclasses.asdict(cfg)


def validate(cfg: ExperimentConfig, where: str = "config") -> None:
    """Ranges and choices of every field (the types are checked already).

    Raises:
        ConfigError: naming the key and what would be valid.
    """

    def need(ok: bool, key: str, msg: str) -> None:
        if not ok:
            raise ConfigError(f"{where}: {key} {msg}")

    def at_least(value: Any, key: str, low: float, optional: bool = False) -> None:
        if value is None and optional:
            return
        need(value is not None and value >= low, key, f"must be >= {low:g}, got {value!r}")

    def positive(value: Any, key: str, optional: bool = False) -> None:
        if value is None and optional:
            return
        need(value is not None and value > 0, key, f"must be > 0, got {value!r}")

    def choice(value: Any, key: str, options: tuple[str, ...]) -> None:
        need(value in options, key, f"must be one of {', '.join(options)}, got {value!r}")

    name = cfg.name
    need(
        bool(name) and "/" not in name and "\\" not in name and not name.startswith("."),
        "name",
        f"must be a plain name (no path separators, not starting with '.'), got {name!r}",
    )
    d = cfg.data
    if d.source == "corpus":
        need(bool(d.train_path), "data.train_path", "is required when data.source is 'corpus'")
    at_least(d.max_len, "data.max_len", 2)
    at_least(d.n_train, "data.n_train", 1)
    at_least(d.n_test, "data.n_test", 0)
    at_least(d.vocab_size, "data.vocab_size", 2)
    at_least(d.oracle_embed_dim, "data.oracle_embed_dim", 1)
    at_least(d.oracle_hidden_dim, "data.oracle_hidden_dim", 1)
    at_least(d.min_freq, "data.min_freq", 1)
    at_least(d.max_vocab, "data.max_vocab", 5, optional=True)  # PAD, BOS, EOS, UNK + a word
    at_least(d.max_sentences, "data.max_sentences", 1, optional=True)
    choice(d.tokenizer, "data.tokenizer", ("nltk", "space", "char"))
    choice(d.long_lines, "data.long_lines", ("truncate", "skip", "error"))
    choice(d.encoding_errors, "data.encoding_errors", ("strict", "replace", "skip"))
    cpus = os.cpu_count() or 1
    need(
        1 <= cfg.threads <= max(cpus, 64),
        "threads",
        f"must be in 1..{max(cpus, 64)} (this machine has {cpus} CPUs), got {cfg.threads!r}",
    )
    at_least(d.oracle_seed, "data.oracle_seed", 0)
    at_least(d.data_seed, "data.data_seed", 0)
    need(
        cfg.seed is None or 0 <= cfg.seed < 2**63, "seed", f"must be in 0..2**63-1, got {cfg.seed!r}"
    )
    p = cfg.pretrain
    at_least(p.epochs, "pretrain.epochs", 0)
    at_least(p.batch_size, "pretrain.batch_size", 1)
    positive(p.lr, "pretrain.lr")
    positive(p.grad_clip, "pretrain.grad_clip", optional=True)
    positive(p.budget_minutes, "pretrain.budget_minutes", optional=True)
    dis = cfg.discriminator
    positive(dis.lr, "discriminator.lr")
    need(
        dis.batch_size >= 2 and dis.batch_size % 2 == 0,
        "discriminator.batch_size",
        f"must be an even number >= 2 (half real, half generated), got {dis.batch_size!r}",
    )
    at_least(dis.pretrain_rounds, "discriminator.pretrain_rounds", 0)
    at_least(dis.pretrain_epochs, "discriminator.pretrain_epochs", 1)
    at_least(dis.n_negatives, "discriminator.n_negatives", 1, optional=True)
    choice(dis.optimizer, "discriminator.optimizer", ("adam", "sgd"))
    at_least(dis.n_real, "discriminator.n_real", 1, optional=True)
    choice(dis.score_precision, "discriminator.score_precision", ("fp32", "bf16"))
    choice(cfg.kernels, "kernels", ("auto", "plain"))
    a = cfg.adversarial
    at_least(a.rounds, "adversarial.rounds", 0)
    at_least(a.generator_steps, "adversarial.generator_steps", 1)
    at_least(a.discriminator_rounds, "adversarial.discriminator_rounds", 0)
    at_least(a.discriminator_epochs, "adversarial.discriminator_epochs", 1)
    at_least(a.discriminator_every, "adversarial.discriminator_every", 1)
    need(
        0.0 <= a.rollout_update_rate <= 1.0,
        "adversarial.rollout_update_rate",
        f"must be in [0, 1], got {a.rollout_update_rate!r}",
    )
    positive(a.lr, "adversarial.lr")
    positive(a.grad_clip, "adversarial.grad_clip", optional=True)
    at_least(a.mle_steps, "adversarial.mle_steps", 0)
    positive(a.budget_minutes, "adversarial.budget_minutes", optional=True)
    e = cfg.eval
    at_least(e.every_epochs, "eval.every_epochs", 1)
    at_least(e.every_rounds, "eval.every_rounds", 1)
    choice(e.select_mode, "eval.select_mode", ("max", "min"))
    at_least(e.n_samples, "eval.n_samples", 1)
    need(0 < e.temperature < float("inf"), "eval.temperature", f"must be > 0, got {e.temperature!r}")
    need(2 <= e.bleu_max_n <= 10, "eval.bleu_max_n", f"must be in 2..10 (BLEU-2..n), got {e.bleu_max_n!r}")
    at_least(e.n_bleu_samples, "eval.n_bleu_samples", 1, optional=True)
    at_least(e.n_self_bleu, "eval.n_self_bleu", 2, optional=True)
    at_least(e.n_print, "eval.n_print", 0)
    at_least(cfg.keep_samples, "keep_samples", 0)
    at_least(cfg.env.num_envs, "env.num_envs", 1)


#: old key -> new key (and how the value moves), kept for one version
DEPRECATED_KEYS = {
    "adversarial.epochs": "adversarial.rounds",
    "env.batch_size": "env.num_envs",
    "env.mode": "env.reward_scheme",
    "env.n_rollouts": "env.reward_scheme.kwargs.n_rollouts",
    "generator.embed_dim": "generator.kwargs.embed_dim",
    "generator.hidden_dim": "generator.kwargs.hidden_dim",
    "generator.init_std": "generator.kwargs.init_std",
}

_ROLLOUT_SCHEMES = ("mc_rollout", "mc_rollout_shaped")

#: ``--set`` keys of the previous version -> the key they now set
_OVERRIDE_RENAMES = {
    **{k: v for k, v in DEPRECATED_KEYS.items() if k != "env.mode"},
    "env.mode": "env.reward_scheme.name",
}


def _deprecated(where: str, old: str, new: str, value: Any) -> None:
    verb = "are" if " and " in old else "is"
    message = f"{where}: {old} {verb} deprecated and will be removed; use {new} (read as {new}: {value!r})"
    warnings.warn(message, DeprecationWarning, stacklevel=4)
    log.warning("%s", message)


def migrate_keys(data: dict[str, Any], where: str = "config") -> dict[str, Any]:
    """A copy of ``data`` with the previous version's keys moved to their new names.

    Raises:
        ConfigError: an old key and its new key are both given.
    """
    data = copy.deepcopy(data)

    def section(name: str) -> dict[str, Any] | None:
        value = data.get(name)
        return value if isinstance(value, dict) else None

    def move(sec: dict[str, Any], old: str, new: str, full_old: str, full_new: str) -> None:
        if old not in sec:
            return
        if new in sec:
            raise ConfigError(f"{where}: give {full_new} or the deprecated {full_old}, not both")
        sec[new] = sec.pop(old)
        _deprecated(where, full_old, full_new, sec[new])

    adv = section("adversarial")
    if adv is not None:
        move(adv, "epochs", "rounds", "adversarial.epochs", "adversarial.rounds")
    env = section("env")
    if env is not None:
        move(env, "batch_size", "num_envs", "env.batch_size", "env.num_envs")
        mode = env.pop("mode", None)
        n_rollouts = env.pop("n_rollouts", None)
        if mode is not None or n_rollouts is not None:
            if "reward_scheme" in env:
                raise ConfigError(
                    f"{where}: give env.reward_scheme or the deprecated env.mode / "
                    "env.n_rollouts, not both"
                )
            name = "mc_rollout" if mode is None else mode
            scheme: dict[str, Any] = {"name": name}
            if n_rollouts is not None and name in _ROLLOUT_SCHEMES:
                scheme["kwargs"] = {"n_rollouts": n_rollouts}
            env["reward_scheme"] = scheme
            old = " and ".join(
                k for k, v in (("env.mode", mode), ("env.n_rollouts", n_rollouts)) if v is not None
            )
            _deprecated(where, old, "env.reward_scheme", scheme)
    gen = section("generator")
    if gen is not None:
        moved = {k: gen.pop(k) for k in ("embed_dim", "hidden_dim", "init_std") if k in gen}
        if moved:
            kwargs = gen.setdefault("kwargs", {})
            clash = [k for k in moved if isinstance(kwargs, dict) and k in kwargs]
            if clash or not isinstance(kwargs, dict):
                raise ConfigError(
                    f"{where}: give generator.kwargs.{clash[0] if clash else '...'} or the "
                    "deprecated generator.<key>, not both"
                )
            kwargs.update(moved)
            for key, value in moved.items():
                _deprecated(where, f"generator.{key}", f"generator.kwargs.{key}", value)
    return data


# -- files and overrides ---------------------------------------------------------------------
def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b=value`` strings (values parsed as YAML) to a nested mapping in place."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. pretrain.epochs=3")
        key, _, raw = item.partition("=")
        key = key.strip()
        if not key:
            raise ConfigError(f"--set {item!r}: empty key")
        if key in _OVERRIDE_RENAMES:
            new = _OVERRIDE_RENAMES[key]
            _deprecated("--set", key, new, raw.strip())
            key = new
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML ({exc})") from exc
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif isinstance(child, str) and parts[-1] in ("name", "kwargs") or (
                isinstance(child, str) and part in ("reward", "reward_scheme", "algorithm")
            ):
                child = node[part] = {"name": child}  # a component given by name only
            if not isinstance(child, dict):
                raise ConfigError(f"--set {item!r}: {part!r} is not a section")
            node = child
        if key == "algorithm.name" and node.get("name") != value:
            node.pop("kwargs", None)  # another algorithm: the old one's kwargs would not fit
        node[parts[-1]] = value
    return data


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc})") from exc
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}{line}: invalid YAML: {problem}") from exc
    if data is None:
        raise ConfigError(
            f"{path}: the config file is empty (give at least a name, or run `seqadv train` "
            "without a CONFIG for the built-in default)"
        )
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping, got {type(data).__name__}")
    return data


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice (lines {seen[key]} and {line})",
                    key_node.start_mark,
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_config(
    path: str | os.PathLike | None = None, overrides: list[str] | None = None
) -> ExperimentConfig:
    """Read a YAML config (or the defaults when ``path`` is None) and apply overrides."""
    data = read_yaml(path) if path is not None else {}
    overrides = list(overrides or [])
    apply_overrides(data, overrides)
    where = str(path) if path is not None else "config"
    try:
        cfg = config_from_dict(data, where=where)
        _check_paths(cfg, where, Path(path).parent if path is not None else None)
        return cfg
    except ConfigError as exc:
        culprit = _override_at_fault(str(exc), where, overrides)
        if culprit is None:
            raise
        raise ConfigError(f"--set {culprit}: {str(exc)[len(where) + 2 :]}") from None


#: config keys that name input files
PATH_KEYS = ("data.oracle_path", "data.train_path", "data.test_path", "pretrain.init_checkpoint")


def _check_paths(cfg: ExperimentConfig, where: str, base: Path | None) -> None:
    """Every input file the config names exists (as given, or next to the config file)."""
    for key in PATH_KEYS:
        section, _, name = key.partition(".")
        value = getattr(getattr(cfg, section), name)
        if not value:
            continue
        given = Path(value).expanduser()
        found = given.exists() or (base is not None and not given.is_absolute() and (base / given).exists())
        if not found:
            looked = "" if base is None or given.is_absolute() else f" (nor {base / given})"
            raise ConfigError(f"{where}: {key}: {given} not found{looked}")


def _override_at_fault(message: str, where: str, overrides: list[str]) -> str | None:
    """The ``--set`` item whose key the error ``message`` (``"WHERE: KEY ..."``) is about."""
    import re

    if not message.startswith(f"{where}: "):
        return None
    rest = message[len(where) + 2 :]
    quoted = re.match(r"unknown key '([^']+)'", rest)
    key = quoted.group(1) if quoted else rest.split(" ", 1)[0].rstrip(":")
    for item in overrides:
        given = _OVERRIDE_RENAMES.get(item.partition("=")[0].strip(), item.partition("=")[0].strip())
        if key == given or key.startswith(given + ".") or given.startswith(key + "."):
            return item
    return None


def dump_config(cfg: ExperimentConfig) -> str:
    """The resolved config as YAML (every field, defaults included)."""
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False, default_flow_style=False)
