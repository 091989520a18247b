"""stable-baselines3 and sb3-contrib on-policy algorithms driving the seqadv generator.

The actor of the SB3 policy **is** the generator: the policy's features extractor holds the
generator's own ``embedding`` and ``lstm`` modules (the same objects, not copies) and its
action head holds the generator's own ``output`` layer with the forbidden-token mask, so the
logits are exactly ``generator.project(h)``. Training the SB3 model updates the generator in
place; :func:`export_generator` returns an independent :class:`LSTMGenerator` copy for users.

Design:

- **Observation**: the padded prefix (an int64 ``Box`` of shape (T,), which SB3 hands to the
  policy as float32 and which the features extractor casts back to ids). The extractor
  feeds ``[start_id, x_1, ..., x_t]`` (padding mapped to ``start_id`` and never read) through
  the generator's LSTM and returns the output after the last written token: the hidden state
  the generator itself would use to write ``x_{t+1}``. RecurrentPPO instead steps the
  generator's LSTM once per token with its cached state (its features are the embedding of
  the last written token).
- **Critic**: separate by default. The value head reads its own *copy* of the embedding and
  LSTM (initialized from the generator when the policy is built, then trained by the value
  loss only) and a linear layer, so value-loss gradients never change the generator. Pass
  ``policy_kwargs: {share_features_extractor: true}`` to share the generator's embedding and
  LSTM with the critic (cheaper, but then ``vf_coef`` times the value loss trains the
  language model too).
- **No critic** (``policy_kwargs: {critic: false}``): the value is identically 0, so the
  advantages are the raw returns. With ``gamma: 0`` on ``mc_rollout`` rewards and
  ``normalize_advantage: false``, PPO's advantage of a token is then SeqGAN's Monte-Carlo
  estimate of Q: SeqGAN's policy gradient inside PPO's clipped surrogate.
- **Rewards**: SB3 sums rewards into returns. Use the ``mc_rollout_shaped`` reward mode
  with ``gamma: 1.0`` (the default here): the return of an episode is then its final score
  and the return-to-go a Monte-Carlo estimate minus a baseline. Summing the raw
  ``mc_rollout`` rewards counts the score about T times; the learner logs a warning when it
  sees that mode with ``gamma > 0``.
- **One update** of :meth:`SB3Learner.learn` is one SB3 iteration: a rollout of ``n_steps``
  steps in each of the env's B rows (``n_steps`` defaults to T, so with fixed-length data a
  rollout is one complete episode per row, like REINFORCE's batch) followed by the
  algorithm's ``train()``. Every ``learn`` call starts fresh episodes (so no episode is
  scored by two discriminators) and continues the timestep count
  (``reset_num_timesteps=False``).
- **Randomness**: SB3 samples actions from torch's global RNG and shuffles minibatches with
  numpy's. The learner keeps its own Python, numpy and torch global-RNG states (seeded from
  ``seed``), swaps them in for the duration of each ``learn`` (and of building the model) and
  swaps the caller's back afterwards; the states are part of :meth:`SB3Learner.state_dict`,
  so a resumed run continues bit-identically.
- **Checkpoints** (:meth:`SB3Learner.state_dict`, tensors and plain data only): the
  generator's and the critic's weights, the SB3 optimizer's state, ``num_timesteps``, the
  update counters and the random states. Not saved, because nothing that follows depends on
  them: the rollout buffer (refilled every iteration), the environment's episodes (every
  ``learn`` starts fresh ones) and SB3's episode-statistics window (logging only). SB3's
  learning-rate and clip-range schedules see a progress that restarts at every ``learn``
  call: give constants (the config can only give numbers anyway).

Importing this module imports stable-baselines3; ``import seqadv`` and
``import seqadv.algorithms`` do not.

Example:
    >>> import torch
    >>> from seqadv.algorithms import ALGORITHMS
    >>> from seqadv.envs.text_generation import TextGenerationVectorEnv
    >>> from seqadv.models.generator import LSTMGenerator
    >>> env = TextGenerationVectorEnv(4, reward_mode="terminal", autoreset_mode="disabled")
    >>> gen = LSTMGenerator(16, embed_dim=8, hidden_dim=8, max_len=8)
    >>> learner = ALGORITHMS.make("sb3:PPO", policy=gen, lr=1e-3, n_epochs=1)
    >>> stats = learner.learn(env, 1)
    >>> learner.model.num_timesteps, learner.num_updates
    (32, 1)
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import functools
import importlib
import inspect
import logging
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import VecEnv, VecMonitor, is_vecenv_wrapped
from torch import Tensor, nn

from seqadv.algorithms.base import Callback, Learner, blend_parameters_
from seqadv.errors import CheckpointError, ConfigError
from seqadv.models.generator import LSTMGenerator
from seqadv.registry import Entry, import_dotted

__all__ = [
    "SB3Learner",
    "AdversarialCallback",
    "GeneratorFeaturesExtractor",
    "GeneratorTokenExtractor",
    "GeneratorActionHead",
    "GeneratorActorCriticPolicy",
    "generator_policy_class",
    "generator_spaces",
    "make_model",
    "export_generator",
    "resolve_algorithm_class",
    "sb3_entry",
    "ppo",
    "a2c",
    "recurrent_ppo",
    "maskable_ppo",
]

log = logging.getLogger("seqadv")

#: package prefixes of ``package:Class`` names and the modules they stand for
PACKAGES = {
    "sb3": "stable_baselines3",
    "stable_baselines3": "stable_baselines3",
    "sb3_contrib": "sb3_contrib",
}

#: SB3 constructor arguments the learner sets itself
_RESERVED = ("policy", "env", "seed", "_init_setup_model")


# -- spaces and modules ---------------------------------------------------------------------
def generator_spaces(generator: LSTMGenerator) -> tuple[spaces.Box, spaces.Discrete]:
    """The (observation, action) spaces of the text environments for ``generator``.

    Observation: int64 ``Box(0, max(V - 1, pad_id), (T,))``, the padded prefix; action:
    ``Discrete(V)``. These equal the spaces of the seqadv environments on the same data.
    """
    spec = generator.spec
    assert spec.pad_id is not None
    high = max(spec.vocab_size - 1, spec.pad_id)
    obs = spaces.Box(low=0, high=high, shape=(spec.max_len,), dtype=np.int64)
    return obs, spaces.Discrete(spec.vocab_size)


def _ids(observations: Tensor, generator_spec: Any) -> tuple[Tensor, Tensor]:
    """Token ids (N, T) with padding mapped to ``start_id``, and the prefix lengths (N,)."""
    ids = observations.round().long()
    written = (ids != generator_spec.pad_id) & (ids >= 0) & (ids < generator_spec.vocab_size)
    lengths = written.long().sum(dim=1)
    return ids.masked_fill(~written, generator_spec.start_id), lengths


class GeneratorFeaturesExtractor(BaseFeaturesExtractor):
    """Reads a padded prefix through the generator's embedding and LSTM.

    Input: observations (N, T) float (token ids; ``pad_id`` after the prefix). Output: (N, H),
    the LSTM output after feeding ``[start_id, x_1, ..., x_t]`` where t is the prefix length:
    exactly the hidden state from which the generator writes token t + 1 (for a full
    sequence, t = T: the state after the last token, used by SB3 to bootstrap values).

    Args:
        observation_space: the environment's observation space.
        generator: the LSTMGenerator whose modules are read.
        copy_modules: False (the actor): hold the generator's own ``embedding`` and ``lstm``
            objects, so training updates the generator in place. True (a separate critic):
            hold deep copies, initialized from the generator's current weights.
    """

    def __init__(
        self, observation_space: spaces.Box, generator: LSTMGenerator, copy_modules: bool = False
    ) -> None:
        super().__init__(observation_space, features_dim=generator.spec.hidden_dim)
        self.spec = generator.spec
        embedding, lstm = generator.embedding, generator.lstm
        if copy_modules:
            embedding, lstm = copy.deepcopy(embedding), copy.deepcopy(lstm)
        self.embedding = embedding
        self.lstm = lstm

    def forward(self, observations: Tensor) -> Tensor:
        ids, lengths = _ids(observations, self.spec)
        rows = ids.shape[0]
        longest = int(lengths.max()) if rows else 0
        start = torch.full((rows, 1), self.spec.start_id, dtype=torch.long, device=ids.device)
        inputs = torch.cat([start, ids[:, :longest]], dim=1)  # (N, longest + 1)
        out, _ = self.lstm(self.embedding(inputs))
        return out[torch.arange(rows, device=ids.device), lengths]


class GeneratorTokenExtractor(BaseFeaturesExtractor):
    """The embedding of the last written token (``start_id`` for an empty prefix).

    The features of RecurrentPPO's adapter: SB3 steps the generator's LSTM once per token
    with its cached state, so the features of a step are the token fed at that step.
    Input (N, T) float ids; output (N, E).

    Args:
        observation_space: the environment's observation space.
        generator: the LSTMGenerator whose embedding is read.
        copy_modules: hold a copy of the embedding (a separate critic) instead of the
            generator's own.
    """

    def __init__(
        self, observation_space: spaces.Box, generator: LSTMGenerator, copy_modules: bool = False
    ) -> None:
        super().__init__(observation_space, features_dim=generator.spec.embed_dim)
        self.spec = generator.spec
        self.embedding = copy.deepcopy(generator.embedding) if copy_modules else generator.embedding

    def forward(self, observations: Tensor) -> Tensor:
        ids, lengths = _ids(observations, self.spec)
        rows = torch.arange(ids.shape[0], device=ids.device)
        last = ids[rows, (lengths - 1).clamp(min=0)]
        last = torch.where(lengths > 0, last, torch.full_like(last, self.spec.start_id))
        return self.embedding(last)


class GeneratorActionHead(nn.Module):
    """The generator's output layer with its forbidden-token mask: logits (..., V) of (..., H).

    Holds the generator's own ``output`` Linear (the same object), so ``forward(h)`` equals
    ``generator.project(h)``.
    """

    def __init__(self, generator: LSTMGenerator) -> None:
        super().__init__()
        self.output = generator.output
        mask = torch.zeros(generator.vocab_size, device=generator.output.weight.device)
        mask[list(generator.spec.forbidden_ids)] = float("-inf")
        self.register_buffer("logit_mask", mask, persistent=False)
        self.has_mask = bool(generator.spec.forbidden_ids)

    def forward(self, hidden: Tensor) -> Tensor:
        bias = self.output.bias + self.logit_mask if self.has_mask else self.output.bias
        return nn.functional.linear(hidden, self.output.weight, bias)


class ZeroValue(nn.Module):
    """The value head of a policy without a critic: V(s) = 0 for every state, (..., 1)."""

    def forward(self, latent: Tensor) -> Tensor:
        return latent.new_zeros(*latent.shape[:-1], 1)


class _SeqFirstLSTM(nn.Module):
    """A sequence-first view of a batch-first ``nn.LSTM`` (the same module, not a copy).

    RecurrentPPO calls its actor LSTM with (L, N, E) inputs; the generator's is batch-first.
    """

    def __init__(self, lstm: nn.LSTM) -> None:
        super().__init__()
        self.lstm = lstm

    @property
    def input_size(self) -> int:
        return self.lstm.input_size

    @property
    def hidden_size(self) -> int:
        return self.lstm.hidden_size

    @property
    def num_layers(self) -> int:
        return self.lstm.num_layers

    def forward(self, inputs: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        out, state = self.lstm(inputs.transpose(0, 1), state)
        return out.transpose(0, 1), state


# -- policies ------------------------------------------------------------------------------
class _GeneratorPolicyMixin:
    """Makes an SB3 actor-critic policy class act with a seqadv generator.

    Keyword arguments (``policy_kwargs``): ``generator`` (required), ``net_arch`` (default
    ``{"pi": [], "vf": []}``; ``pi`` must stay empty so the actor is the generator) and
    ``share_features_extractor`` (default False: a separate critic), ``critic`` (default
    True; False: no value function, V = 0, see the module docstring), plus whatever the base
    policy accepts.
    """

    _extractor_class: type[BaseFeaturesExtractor] = GeneratorFeaturesExtractor
    generator: LSTMGenerator

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Callable[[float], float],
        generator: LSTMGenerator | None = None,
        critic: bool = True,
        **kwargs: Any,
    ) -> None:
        if not isinstance(generator, LSTMGenerator):
            raise ConfigError(
                f"{type(self).__name__} needs policy_kwargs={{'generator': <LSTMGenerator>}}, "
                f"got {type(generator).__name__}"
            )
        _check_spaces(generator, observation_space, action_space)
        for key in ("features_extractor_class", "features_extractor_kwargs"):
            given = kwargs.pop(key, None)
            if given not in (None, {}, self._extractor_class):
                raise ConfigError(
                    f"policy_kwargs.{key} cannot be set: the actor's features extractor is the "
                    "generator's own embedding and LSTM"
                )
        net_arch = kwargs.pop("net_arch", None)
        net_arch = {"pi": [], "vf": []} if net_arch is None else net_arch
        pi = net_arch.get("pi", []) if isinstance(net_arch, dict) else list(net_arch)
        if list(pi):
            raise ConfigError(
                f"policy_kwargs.net_arch gives the actor hidden layers ({net_arch!r}): the "
                "actor is the generator's output layer, so net_arch must be "
                "{pi: [], vf: [...]} (vf layers are allowed)"
            )
        if not isinstance(critic, bool):
            raise ConfigError(f"policy_kwargs.critic must be true or false, got {critic!r}")
        if not critic:  # nothing reads the critic's features: don't compute a copy of them
            kwargs["share_features_extractor"] = True
        kwargs.setdefault("share_features_extractor", False)
        # nn.Module.__setattr__ is not usable before Module.__init__, and the generator must
        # not become a submodule (its modules are registered through the extractor and head)
        self.__dict__["generator"] = generator
        self.__dict__["_extractors_made"] = 0
        super().__init__(  # type: ignore[call-arg]
            observation_space,
            action_space,
            lr_schedule,
            net_arch=net_arch,
            features_extractor_class=self._extractor_class,
            features_extractor_kwargs={},
            **kwargs,
        )
        self.__dict__["critic"] = critic
        if not critic:
            self.value_net = ZeroValue()
            self._rebuild_optimizer(lr_schedule)  # it was built over the replaced value head
        elif self.share_features_extractor:  # type: ignore[attr-defined]
            log.info(
                "sb3 policy: the critic shares the generator's embedding and LSTM, so the value "
                "loss also trains the generator"
            )

    def _rebuild_optimizer(self, lr_schedule: Callable[[float], float]) -> None:
        """A new optimizer over the current parameters (after a module was replaced)."""
        self.optimizer = self.optimizer_class(  # type: ignore[attr-defined]
            self.parameters(),  # type: ignore[attr-defined]
            lr=lr_schedule(1),
            **self.optimizer_kwargs,  # type: ignore[attr-defined]
        )

    def make_features_extractor(self) -> BaseFeaturesExtractor:
        """The actor's extractor first (the generator's modules), then the critic's (copies)."""
        self.__dict__["_extractors_made"] = self.__dict__.get("_extractors_made", 0) + 1
        return self._extractor_class(
            self.observation_space,  # type: ignore[attr-defined]
            generator=self.generator,
            copy_modules=self.__dict__["_extractors_made"] > 1,
        )

    def _build(self, lr_schedule: Callable[[float], float]) -> None:
        """SB3's build with the generator's output layer as the action head.

        SB3 initializes its action head orthogonally while building; the generator's weights
        are put back afterwards, so pretrained weights survive (they are loaded after the
        policy is built).
        """
        generator = self.generator
        saved = {k: v.detach().clone() for k, v in generator.state_dict().items()}
        head = GeneratorActionHead(generator)
        hidden = generator.spec.hidden_dim

        def head_net(latent_dim: int, **_: Any) -> nn.Module:
            if latent_dim != hidden:
                raise ConfigError(
                    f"the actor's latent size is {latent_dim}, but the generator's output "
                    f"layer reads {hidden} (net_arch['pi'] must be empty)"
                )
            return head

        dist = self.action_dist  # type: ignore[attr-defined]
        dist.proba_distribution_net = head_net
        try:
            super()._build(lr_schedule)  # type: ignore[misc]
        finally:
            del dist.proba_distribution_net
        with torch.no_grad():
            generator.load_state_dict(saved)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()  # type: ignore[misc]
        data["generator"] = self.generator
        data["share_features_extractor"] = self.share_features_extractor  # type: ignore[attr-defined]
        data["critic"] = self.critic
        data.pop("features_extractor_class", None)
        data.pop("features_extractor_kwargs", None)
        return data

    def generator_tensors(self) -> set[int]:
        """ids of the tensors the generator owns (parameters and buffers)."""
        gen = self.generator
        return {id(t) for t in [*gen.parameters(), *gen.buffers()]}


class _RecurrentGeneratorPolicyMixin(_GeneratorPolicyMixin):
    """RecurrentPPO: the generator's LSTM is the policy's recurrent layer, stepped per token."""

    _extractor_class = GeneratorTokenExtractor

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Callable[[float], float],
        generator: LSTMGenerator | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(generator, LSTMGenerator):
            hidden = generator.spec.hidden_dim
            for key, want in (("lstm_hidden_size", hidden), ("n_lstm_layers", 1)):
                if kwargs.get(key, want) != want:
                    raise ConfigError(
                        f"policy_kwargs.{key}={kwargs[key]}: the actor's LSTM is the generator's "
                        f"({key} {want})"
                    )
                kwargs[key] = want
            if kwargs.get("lstm_kwargs"):
                raise ConfigError(
                    "policy_kwargs.lstm_kwargs cannot be set: the actor's LSTM is the generator's"
                )
        super().__init__(observation_space, action_space, lr_schedule, generator, **kwargs)
        gen = self.generator
        self.lstm_actor = _SeqFirstLSTM(gen.lstm)
        critic = getattr(self, "lstm_critic", None)
        if critic is not None:  # start the critic's LSTM from the generator's weights
            with torch.no_grad():
                critic.load_state_dict(gen.lstm.state_dict())
        self._rebuild_optimizer(lr_schedule)  # it was built over the LSTM just replaced


class GeneratorActorCriticPolicy(_GeneratorPolicyMixin, ActorCriticPolicy):
    """ActorCriticPolicy (PPO, A2C, TRPO) whose actor is a seqadv generator.

    Build it through an SB3 algorithm with ``policy_kwargs={"generator": generator}``; see
    the module docstring for the design and :class:`_GeneratorPolicyMixin` for the keyword
    arguments.
    """


_POLICY_CLASSES: dict[type, type] = {ActorCriticPolicy: GeneratorActorCriticPolicy}


def _is_recurrent(base: type) -> bool:
    if "sb3_contrib" not in sys.modules:
        return False
    from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy

    return issubclass(base, RecurrentActorCriticPolicy)


def _is_maskable(base: type) -> bool:
    if "sb3_contrib" not in sys.modules:
        return False
    from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy

    return issubclass(base, MaskableActorCriticPolicy)


def generator_policy_class(base: type) -> type:
    """The generator-acting subclass of an SB3 actor-critic policy class ``base``.

    ``ActorCriticPolicy`` (PPO, A2C, TRPO) gives :class:`GeneratorActorCriticPolicy`;
    sb3-contrib's ``MaskableActorCriticPolicy`` and ``RecurrentActorCriticPolicy`` give
    ``GeneratorMaskableActorCriticPolicy`` and ``GeneratorRecurrentActorCriticPolicy``
    (attributes of this module, so SB3's own save/load can find them by name).
    """
    if base in _POLICY_CLASSES:
        return _POLICY_CLASSES[base]
    if _is_recurrent(base):
        mixin: type = _RecurrentGeneratorPolicyMixin
    elif issubclass(base, ActorCriticPolicy) or _is_maskable(base):
        mixin = _GeneratorPolicyMixin
    else:
        raise ConfigError(
            f"{base.__name__} is not an actor-critic policy class (ActorCriticPolicy or "
            "sb3-contrib's MaskableActorCriticPolicy / RecurrentActorCriticPolicy)"
        )
    name = f"Generator{base.__name__}"
    cls = type(
        name,
        (mixin, base),
        {
            "__module__": __name__,
            "__qualname__": name,
            "__doc__": f"{base.__name__} whose actor is a seqadv generator (see {__name__}).",
        },
    )
    _POLICY_CLASSES[base] = cls
    if getattr(sys.modules[__name__], name, None) is None:
        setattr(sys.modules[__name__], name, cls)
    return cls


def __getattr__(name: str) -> Any:
    """Build ``Generator<Base>`` policy classes on demand (SB3's load finds them by name)."""
    bases = {
        "GeneratorMaskableActorCriticPolicy": "sb3_contrib.common.maskable.policies:MaskableActorCriticPolicy",
        "GeneratorRecurrentActorCriticPolicy": "sb3_contrib.common.recurrent.policies:RecurrentActorCriticPolicy",
    }
    if name in bases:
        return generator_policy_class(import_dotted(bases[name]))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _check_spaces(generator: LSTMGenerator, observation_space: Any, action_space: Any) -> None:
    spec = generator.spec
    if not isinstance(action_space, spaces.Discrete) or int(action_space.n) != spec.vocab_size:
        raise ConfigError(
            f"the generator writes {spec.vocab_size} tokens, but the action space is "
            f"{action_space} (expected Discrete({spec.vocab_size}))"
        )
    if not isinstance(observation_space, spaces.Box) or observation_space.shape != (spec.max_len,):
        raise ConfigError(
            f"the generator writes sequences of {spec.max_len} tokens, but the observation "
            f"space is {observation_space} (expected an int Box of shape ({spec.max_len},))"
        )


# -- algorithm classes -------------------------------------------------------------------------
def _policy_base(algorithm: type) -> type | None:
    """The actor-critic policy class an SB3 algorithm builds by default, if it has one."""
    aliases = getattr(algorithm, "policy_aliases", {}) or {}
    for key in ("MlpPolicy", "MlpLstmPolicy"):
        base = aliases.get(key)
        if isinstance(base, type) and (issubclass(base, ActorCriticPolicy) or _is_maskable(base)):
            return base
    return None


def _on_policy_names(module: Any) -> list[str]:
    names = []
    for attr in getattr(module, "__all__", dir(module)):
        obj = getattr(module, attr, None)
        if isinstance(obj, type) and issubclass(obj, OnPolicyAlgorithm) and _policy_base(obj):
            names.append(attr)
    return sorted(names)


def check_algorithm_class(algorithm: Any, name: str) -> type:
    """``algorithm`` if it is an on-policy SB3 class the generator adapter fits, else ConfigError."""
    where = f"algorithm {name!r}"
    if not isinstance(algorithm, type) or not issubclass(algorithm, BaseAlgorithm):
        raise ConfigError(
            f"{where}: {algorithm!r} is not a stable-baselines3 algorithm class (a subclass of "
            "stable_baselines3.common.base_class.BaseAlgorithm)"
        )
    cls = algorithm.__name__
    need = (
        "the sb3 learner needs an on-policy algorithm (a subclass of OnPolicyAlgorithm with an "
        "actor-critic policy over Discrete(V) token actions, e.g. PPO, A2C, TRPO, "
        "RecurrentPPO, MaskablePPO)"
    )
    if issubclass(algorithm, OffPolicyAlgorithm):
        raise ConfigError(
            f"{where}: {cls} is an off-policy algorithm (a subclass of OffPolicyAlgorithm, which "
            f"learns from a replay buffer); {need}: the reward comes from a discriminator that "
            "keeps training, so replayed transitions would carry the rewards of discriminators "
            "that no longer exist"
        )
    if not issubclass(algorithm, OnPolicyAlgorithm):
        bases = ", ".join(b.__name__ for b in algorithm.__bases__)
        raise ConfigError(
            f"{where}: {cls} is not an on-policy algorithm (it derives from {bases}, not "
            f"OnPolicyAlgorithm); {need}"
        )
    if _policy_base(algorithm) is None:
        aliases = ", ".join(
            f"{k}={getattr(v, '__name__', v)}"
            for k, v in getattr(algorithm, "policy_aliases", {}).items()
        )
        raise ConfigError(
            f"{where}: {cls}'s policies ({aliases or 'none'}) are not actor-critic policies "
            "(ActorCriticPolicy, MaskableActorCriticPolicy or RecurrentActorCriticPolicy), so "
            "the generator cannot be its actor"
        )
    params, complete = init_parameters(algorithm)
    missing = [
        p for p in ("policy", "env", "learning_rate", "policy_kwargs", "seed") if p not in params
    ]
    if missing and complete:
        raise ConfigError(
            f"{where}: {cls}.__init__ does not accept {', '.join(missing)}, which the sb3 "
            "learner passes"
        )
    return algorithm


def resolve_algorithm_class(name: str | type) -> type:
    """The algorithm class of ``"sb3:PPO"``, ``"sb3_contrib:MaskablePPO"``, a dotted path
    ``"mypkg.algos:MyPPO"`` or a class; ConfigError (saying why) if it cannot be used."""
    if isinstance(name, type):
        return check_algorithm_class(name, name.__name__)
    if not isinstance(name, str) or ":" not in name:
        raise ConfigError(
            f"algorithm {name!r}: expected 'package:Class' (sb3:PPO, sb3_contrib:RecurrentPPO) "
            "or a dotted path 'mypkg.module:Class'"
        )
    package, _, attr = name.partition(":")
    if package in PACKAGES:
        module = importlib.import_module(PACKAGES[package])
        obj = getattr(module, attr, None)
        if obj is None:
            known = _on_policy_names(module)
            close = difflib.get_close_matches(attr, known, n=1)
            hint = f" Did you mean {package}:{close[0]}?" if close else ""
            raise ConfigError(
                f"algorithm {name!r}: {PACKAGES[package]} has no algorithm {attr!r}.{hint} "
                f"On-policy algorithms there: {', '.join(known) or '(none)'}"
            )
    else:
        obj = import_dotted(name)
    return check_algorithm_class(obj, name)


def sb3_entry(name: str) -> Entry:
    """A registry entry whose factory builds an :class:`SB3Learner` for ``name``.

    Resolves (and checks) the class at once, so an off-policy or incompatible class fails
    when the name is looked up.
    """
    algorithm = resolve_algorithm_class(name)
    factory = functools.partial(SB3Learner, algorithm)
    return Entry(
        name, factory, {"kind": "sb3", "summary": f"stable-baselines3 {algorithm.__name__}"}
    )


# -- building a model --------------------------------------------------------------------------
def init_parameters(algorithm: type) -> tuple[list[str], bool]:
    """The keyword arguments ``algorithm(...)`` accepts, following ``**kwargs`` up the MRO.

    Returns:
        The names, and whether the list is complete (False if some ``__init__`` on the way
        takes ``**kwargs`` that no base class names).
    """
    names: list[str] = []
    for klass in algorithm.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        for p in params:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self":
                if p.name not in names:
                    names.append(p.name)
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return names, True
    return names, False


def _check_algorithm_kwargs(algorithm: type, kwargs: dict[str, Any], what: str) -> None:
    """ConfigError for keys that neither the class nor its bases accept, or that seqadv sets."""
    reserved = [k for k in _RESERVED if k in kwargs]
    if reserved:
        raise ConfigError(
            f"{what}: {', '.join(map(repr, reserved))} cannot be set (the sb3 learner sets "
            "them: policy is the generator adapter, env comes from learn(), seed from seed)"
        )
    accepted, complete = init_parameters(algorithm)
    unknown = [k for k in kwargs if k not in accepted]
    if unknown and complete:
        raise ConfigError(
            f"{what} got unknown argument(s) {', '.join(map(repr, unknown))}; "
            f"{algorithm.__name__} accepts: "
            f"{', '.join(k for k in accepted if k not in _RESERVED)}"
        )


def _largest_divisor(n: int, at_most: int) -> int:
    for b in range(min(at_most, n), 1, -1):
        if n % b == 0:
            return b
    return min(at_most, n)


def _algorithm_kwargs(
    algorithm: type, generator: LSTMGenerator, n_envs: int, kwargs: dict[str, Any]
) -> dict[str, Any]:
    """seqadv's defaults for the SB3 constructor: n_steps = T, gamma = 1, a dividing batch."""
    params, _ = init_parameters(algorithm)
    out = dict(kwargs)
    if "n_steps" in params:
        out.setdefault("n_steps", generator.max_len)
    if "gamma" in params:
        out.setdefault("gamma", 1.0)
    if "batch_size" in params and "n_steps" in out:
        out.setdefault("batch_size", _largest_divisor(int(out["n_steps"]) * n_envs, 64))
    return out


def _as_vec_env(env: Any) -> VecEnv:
    """An SB3 VecEnv wrapped in VecMonitor: seqadv vector envs and cores go through to_sb3."""
    if not isinstance(env, VecEnv):
        if not hasattr(env, "core") and type(env).__name__ != "TextGenerationCore":
            raise ConfigError(
                f"the sb3 learner needs a seqadv text environment (TextGenerationVectorEnv or "
                f"its core) or a stable-baselines3 VecEnv, got {type(env).__name__}"
            )
        from seqadv.envs.sb3 import to_sb3

        env = to_sb3(env)
    if not is_vecenv_wrapped(env, VecMonitor):
        env = VecMonitor(env)
    return env


def make_model(
    algorithm: str | type,
    env: Any,
    generator: LSTMGenerator,
    *,
    seed: int | None = 0,
    policy_kwargs: dict[str, Any] | None = None,
    **kwargs: Any,
) -> OnPolicyAlgorithm:
    """An SB3 on-policy model whose actor is ``generator``, for users who drive SB3 themselves.

    Args:
        algorithm: ``"sb3:PPO"``, ``"sb3_contrib:MaskablePPO"``, ``"mypkg.algos:MyPPO"`` or
            the class.
        env: a TextGenerationVectorEnv (or its core, or an SB3 VecEnv of the same spaces);
            it is adapted with ``to_sb3`` and wrapped in ``VecMonitor``.
        generator: the actor; trained in place.
        seed: passed to SB3 (which seeds Python, numpy and torch globally).
        policy_kwargs: extra policy arguments (``net_arch={"vf": [...]}``,
            ``share_features_extractor``, optimizer settings).
        **kwargs: the algorithm's arguments; seqadv's defaults are ``n_steps`` = T,
            ``gamma`` = 1.0 and a ``batch_size`` that divides ``n_steps * n_envs``.

    Returns:
        The model; ``model.learn(...)`` trains the generator.
    """
    cls = resolve_algorithm_class(algorithm)
    policy_kwargs = dict(policy_kwargs or {})
    if "generator" in policy_kwargs:
        raise ConfigError("policy_kwargs.generator is set by the sb3 learner")
    vec_env = _as_vec_env(env)
    base = _policy_base(cls)
    assert base is not None
    policy_class = generator_policy_class(base)
    args = _algorithm_kwargs(cls, generator, vec_env.num_envs, kwargs)
    _check_algorithm_kwargs(cls, args, f"algorithm {cls.__name__}")
    device = args.pop("device", generator.output.weight.device)
    model = cls(
        policy=policy_class,
        env=vec_env,
        seed=seed,
        device=device,
        policy_kwargs={"generator": generator, **policy_kwargs},
        **args,
    )
    if args.get("verbose", 0) == 0 and args.get("tensorboard_log") is None:
        model.set_logger(Logger(folder=None, output_formats=[]))  # no files, no output
    return model


def _find_generator(source: Any) -> LSTMGenerator:
    if isinstance(source, LSTMGenerator):
        return source
    if isinstance(source, SB3Learner):
        return source.policy
    if isinstance(source, BaseAlgorithm):
        source = source.policy
    gen = getattr(source, "generator", None)
    if not isinstance(gen, LSTMGenerator):
        raise ConfigError(
            f"{type(source).__name__} is not a generator-acting SB3 policy, model or learner"
        )
    return gen


def export_generator(source: Any) -> LSTMGenerator:
    """An independent LSTMGenerator with the weights of the actor of ``source``.

    Args:
        source: an :class:`SB3Learner`, an SB3 model or policy built by this module (also
            after SB3's own ``save``/``load``), or a generator.
    """
    gen = _find_generator(source)
    out = LSTMGenerator.from_spec(gen.spec).to(gen.output.weight.device)
    out.load_state_dict(gen.state_dict())
    return out


# -- random-number isolation -------------------------------------------------------------------
class _GlobalRNG:
    """Python, numpy and torch global RNG states kept apart from the caller's."""

    def __init__(self, seed: int) -> None:
        with self._saved():
            random.seed(seed)
            np.random.seed(seed % 2**32)
            torch.manual_seed(seed)
            self.states = self._capture()

    @staticmethod
    def _capture() -> tuple[Any, Any, Tensor]:
        return random.getstate(), np.random.get_state(), torch.get_rng_state()

    @staticmethod
    def _restore(states: tuple[Any, Any, Tensor]) -> None:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])

    @contextlib.contextmanager
    def _saved(self) -> Iterator[None]:
        outside = self._capture()
        try:
            yield
        finally:
            self._restore(outside)

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Use these states inside the block; keep where they got to; restore the caller's."""
        with self._saved():
            self._restore(self.states)
            try:
                yield
            finally:
                self.states = self._capture()

    def state_dict(self) -> dict[str, Any]:
        py, npy, tch = self.states
        return {
            "python": {
                "version": py[0],
                "state": torch.tensor(py[1], dtype=torch.int64),
                "gauss": py[2],
            },
            "numpy": {
                "keys": torch.from_numpy(npy[1].astype(np.int64)),
                "pos": int(npy[2]),
                "has_gauss": int(npy[3]),
                "cached_gaussian": float(npy[4]),
            },
            "torch": tch.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        py, npy = state["python"], state["numpy"]
        self.states = (
            (int(py["version"]), tuple(int(v) for v in py["state"].tolist()), py["gauss"]),
            (
                "MT19937",
                npy["keys"].numpy().astype(np.uint32),
                int(npy["pos"]),
                int(npy["has_gauss"]),
                float(npy["cached_gaussian"]),
            ),
            state["torch"].clone(),
        )


# -- the learner ---------------------------------------------------------------------------
def _stat_name(key: str) -> str:
    name = key.split("/", 1)[1]
    return "gen/pg_loss" if name in ("policy_gradient_loss", "policy_loss") else f"gen/{name}"


class _LearnerCallback(BaseCallback):
    """Bridges SB3's loop to seqadv: statistics and callbacks after every rollout + train."""

    def __init__(self, learner: SB3Learner, callbacks: list[Callback]) -> None:
        super().__init__()
        self.learner = learner
        self.callbacks = callbacks
        self.stats: dict[str, Any] = {}
        self._pending = False
        self._reset()

    def _reset(self) -> None:
        self._reward_sum = 0.0
        self._reward_count = 0
        self._returns: list[float] = []
        self._start = time.perf_counter()
        self._collected = self._start

    def _on_rollout_start(self) -> None:
        self._finish()
        self._reset()

    def _on_step(self) -> bool:
        rewards = np.asarray(self.locals["rewards"], dtype=np.float64)
        self._reward_sum += float(rewards.sum())
        self._reward_count += rewards.size
        for info in self.locals.get("infos", ()):
            episode = info.get("episode")
            if episode is not None:
                self._returns.append(float(episode["r"]))
        return True

    def _on_rollout_end(self) -> None:
        self._collected = time.perf_counter()
        self._pending = True

    def _on_training_end(self) -> None:
        self._finish()

    def _finish(self) -> None:
        """After the train() that followed a rollout: gather stats, call the callbacks."""
        if not self._pending:
            return
        self._pending = False
        now = time.perf_counter()
        stats: dict[str, Any] = {
            _stat_name(k): float(v)
            for k, v in self.model.logger.name_to_value.items()
            if k.startswith("train/") and k != "train/n_updates"
        }
        stats["reward/mean"] = self._reward_sum / max(self._reward_count, 1)
        if self._returns:
            stats["reward/episode_return_mean"] = float(np.mean(self._returns))
        stats["gen/num_timesteps"] = int(self.model.num_timesteps)
        stats["time/collect_s"] = self._collected - self._start
        stats["time/update_s"] = now - self._collected
        self.learner.num_updates += 1
        self.stats = stats
        for callback in self.callbacks:
            callback(self.learner, stats)


class SB3Learner(Learner):
    """A seqadv learner backed by a stable-baselines3 / sb3-contrib on-policy algorithm.

    Registered as ``sb3:PPO``, ``sb3:A2C``, ``sb3_contrib:RecurrentPPO`` and
    ``sb3_contrib:MaskablePPO``; any other on-policy class resolves by the same
    ``package:Class`` form (``stable_baselines3:PPO``, ``sb3_contrib:TRPO``) or by dotted path
    (``mypkg.algos:MyPPO``). Use the ``mc_rollout_shaped`` (or ``terminal``) reward mode:
    SB3 sums rewards into returns (see the module docstring).

    The SB3 model is built at the first :meth:`learn` (it needs the environment's batch
    size); ``learner.model`` is the SB3 algorithm object from then on.

    Args:
        algorithm: the algorithm class (or its ``package:Class`` name).
        policy: the generator; it is the actor and is trained in place.
        lr: the learning rate, unless ``learning_rate`` is given (the trainer passes
            ``adversarial.lr``).
        grad_clip: SB3's ``max_grad_norm`` (None: no clipping), unless ``max_grad_norm`` is
            given; ignored by algorithms without one (TRPO). SB3 clips the norm over the
            actor's and the critic's parameters together.
        seed: seeds the learner's own random streams (see the module docstring).
        policy_kwargs: extra policy arguments (``net_arch: {vf: [64]}``,
            ``share_features_extractor: true``, ``optimizer_kwargs``...).
        **algorithm_kwargs: the algorithm's own arguments, passed through (``n_steps``,
            ``batch_size``, ``n_epochs``, ``gamma``, ``gae_lambda``, ``ent_coef``,
            ``vf_coef``, ``clip_range``, ``learning_rate``...). seqadv's defaults:
            ``n_steps`` = T, ``gamma`` = 1.0, ``batch_size`` = the largest divisor of
            ``n_steps * B`` up to 64; the rest are SB3's.
    """

    def __init__(
        self,
        algorithm: str | type,
        policy: LSTMGenerator,
        lr: float = 0.01,
        grad_clip: float | None = 5.0,
        seed: int = 0,
        policy_kwargs: dict[str, Any] | None = None,
        **algorithm_kwargs: Any,
    ) -> None:
        if not isinstance(policy, LSTMGenerator):
            raise ConfigError(
                f"the sb3 learner trains an LSTMGenerator, got {type(policy).__name__}"
            )
        self.algorithm = resolve_algorithm_class(algorithm)
        self.name = algorithm if isinstance(algorithm, str) else algorithm.__name__
        what = f"algorithm {self.name!r}"
        _check_algorithm_kwargs(self.algorithm, algorithm_kwargs, what)
        if policy_kwargs is not None and not isinstance(policy_kwargs, dict):
            raise ConfigError(f"{what}: policy_kwargs must be a mapping, got {policy_kwargs!r}")
        params, _ = init_parameters(self.algorithm)
        kwargs = dict(algorithm_kwargs)
        kwargs.setdefault("learning_rate", lr)
        if "max_grad_norm" in params:
            kwargs.setdefault("max_grad_norm", float("inf") if grad_clip is None else grad_clip)
        self.policy = policy
        self.grad_clip = grad_clip
        self.seed = int(seed)
        self.kwargs = kwargs
        self.policy_kwargs = dict(policy_kwargs or {})
        self.generator = torch.Generator().manual_seed(self.seed)  # env seeds, one per learn()
        self.rng = _GlobalRNG(self.seed)
        self.num_updates = 0
        self.model: OnPolicyAlgorithm | None = None
        self._env_source: Any = None
        self._pending: dict[str, Any] | None = None
        self._warned = False

    # -- the SB3 model ----------------------------------------------------------------------
    @property
    def optimizer(self) -> torch.optim.Optimizer | None:  # type: ignore[override]
        """The SB3 policy's optimizer (actor and critic), once the model is built."""
        return None if self.model is None else self.model.policy.optimizer

    def _attach(self, env: Any) -> OnPolicyAlgorithm:
        if self.model is not None and env is self._env_source:
            return self.model
        vec_env = _as_vec_env(env)
        if self.model is None:
            loaded = self.rng.states
            with self.rng.active():  # SB3 seeds the global RNGs while it builds
                self.model = make_model(
                    self.algorithm,
                    vec_env,
                    self.policy,
                    seed=self.seed % 2**31,  # numpy's legacy seeding takes 32 bits
                    policy_kwargs=self.policy_kwargs,
                    **self.kwargs,
                )
            if self._pending is not None:  # a resumed learner: continue where it stopped
                self.rng.states = loaded
                self._apply(self._pending)
                self._pending = None
        else:
            self.model.set_env(vec_env)
        self._env_source = env
        self._check_reward_mode(vec_env)
        return self.model

    def _check_reward_mode(self, vec_env: VecEnv) -> None:
        try:
            core = vec_env.get_attr("core", indices=[0])[0]
        except AttributeError:
            return
        gamma = float(getattr(self.model, "gamma", 1.0))
        if getattr(core, "reward_mode", None) == "mc_rollout" and gamma > 0 and not self._warned:
            self._warned = True
            log.warning(
                "%s sums rewards into returns (gamma=%g), but the environment's reward mode is "
                "'mc_rollout', whose every reward is already an estimate of the final score: "
                "the return counts the score about T times. Use env.mode: mc_rollout_shaped "
                "(the return is then the final score).",
                self.name,
                gamma,
            )

    # -- the loop ---------------------------------------------------------------------------
    def collect(self, env: Any):  # pragma: no cover - SB3 owns the loop
        raise NotImplementedError("the sb3 learner's rollouts run inside SB3: call learn()")

    def update(self, batch: Any):  # pragma: no cover - SB3 owns the loop
        raise NotImplementedError("the sb3 learner's updates run inside SB3: call learn()")

    def learn(self, env: Any, n_updates: int, callbacks: Iterable[Callback] = ()) -> dict[str, Any]:
        """``n_updates`` SB3 iterations (a rollout of ``n_steps`` steps per env row, then the
        algorithm's ``train()``) on ``env``; returns the last iteration's statistics.

        ``callbacks`` are called as ``callback(learner, stats)`` after every iteration. Every
        call starts fresh episodes and continues the timestep count.
        """
        if n_updates < 1:
            return {}
        model = self._attach(env)
        bridge = _LearnerCallback(self, list(callbacks))
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=self.generator))
        with self.rng.active():
            assert model.env is not None
            model.env.seed(seed)
            model._last_obs = None  # type: ignore[assignment]  # reset: fresh episodes
            states = getattr(model, "_last_lstm_states", None)
            if states is not None:
                for part in (*states.pi, *states.vf):
                    part.zero_()
            steps = n_updates * model.n_steps * model.n_envs
            model.learn(steps, callback=bridge, log_interval=1, reset_num_timesteps=False)
        return bridge.stats

    # -- checkpoints ------------------------------------------------------------------------
    def _class_path(self) -> str:
        return f"{self.algorithm.__module__}:{self.algorithm.__qualname__}"

    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain data: generator, critic, optimizer, timesteps, random states."""
        state: dict[str, Any] = {
            "algorithm": self._class_path(),
            "num_updates": self.num_updates,
            "rng": self.rng.state_dict(),
            "env_seeds": self.generator.get_state(),
            "generator": {k: v.detach().clone() for k, v in self.policy.state_dict().items()},
            "model": None,
        }
        if self.model is None and self._pending is not None:  # loaded, not yet built
            state["model"] = self._pending["model"]
        elif self.model is not None:
            model = self.model
            owned = model.policy.generator_tensors()  # type: ignore[operator]
            critic = {
                k: v.detach().clone()
                for k, v in model.policy.state_dict(keep_vars=True).items()
                if id(v) not in owned
            }
            state["model"] = {
                "critic": critic,
                "optimizer": model.policy.optimizer.state_dict(),
                "num_timesteps": int(model.num_timesteps),
                "n_updates": int(getattr(model, "_n_updates", 0)),
                "n_envs": int(model.n_envs),
                "n_steps": int(model.n_steps),
            }
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; the generator's weights at once, the rest of the SB3
        model when it is built (at the next :meth:`learn`) or at once if it exists."""
        if state.get("algorithm") != self._class_path():
            raise CheckpointError(
                f"the checkpoint's sb3 learner ran {state.get('algorithm')!r}, this one runs "
                f"{self._class_path()!r}"
            )
        self.num_updates = int(state["num_updates"])
        self.rng.load_state_dict(state["rng"])
        self.generator.set_state(state["env_seeds"])
        with torch.no_grad():
            self.policy.load_state_dict(state["generator"])
        if state.get("model") is None:
            return
        if self.model is None:
            self._pending = {"model": state["model"]}
        else:
            self._apply(state)

    def _apply(self, state: dict[str, Any]) -> None:
        model = self.model
        assert model is not None
        saved = state["model"]
        if (saved["n_envs"], saved["n_steps"]) != (model.n_envs, model.n_steps):
            raise CheckpointError(
                f"the checkpoint's sb3 model had n_envs={saved['n_envs']}, n_steps="
                f"{saved['n_steps']}; this one has n_envs={model.n_envs}, n_steps={model.n_steps}"
            )
        policy = model.policy
        owned = policy.generator_tensors()  # type: ignore[operator]
        owned_keys = {k for k, v in policy.state_dict(keep_vars=True).items() if id(v) in owned}
        missing, unexpected = policy.load_state_dict(saved["critic"], strict=False)
        wrong = sorted(set(missing) - owned_keys) + sorted(unexpected)
        if wrong:
            raise CheckpointError(f"the checkpoint's sb3 critic does not fit this policy: {wrong}")
        policy.optimizer.load_state_dict(saved["optimizer"])
        model.num_timesteps = int(saved["num_timesteps"])
        if hasattr(model, "_n_updates"):
            model._n_updates = int(saved["n_updates"])


# -- factories registered in ALGORITHMS ----------------------------------------------------
def _factory(package: str, cls_name: str) -> Callable[..., SB3Learner]:
    name = f"{package}:{cls_name}"

    def factory(
        policy: LSTMGenerator,
        lr: float = 0.01,
        grad_clip: float | None = 5.0,
        seed: int = 0,
        policy_kwargs: dict[str, Any] | None = None,
        **algorithm_kwargs: Any,
    ) -> SB3Learner:
        return SB3Learner(name, policy, lr, grad_clip, seed, policy_kwargs, **algorithm_kwargs)

    factory.__name__ = factory.__qualname__ = cls_name.lower()
    factory.__doc__ = (
        f"{name}: stable-baselines3 {cls_name} training the generator (see SB3Learner); use "
        "env.mode mc_rollout_shaped with gamma 1.0."
    )
    return factory


ppo = _factory("sb3", "PPO")
a2c = _factory("sb3", "A2C")
recurrent_ppo = _factory("sb3_contrib", "RecurrentPPO")
maskable_ppo = _factory("sb3_contrib", "MaskablePPO")


# -- the discriminator between rollouts ---------------------------------------------------------
class AdversarialCallback(BaseCallback):
    """Train the discriminator and sync the rollout policy between SB3 rollouts.

    For users who drive ``model.learn`` themselves on a seqadv environment: after every
    ``every_updates`` SB3 iterations (rollout, then ``train()``), before the next rollout,
    the callback blends the rollout policy towards the generator (SeqGAN's lagged copy) and
    trains the discriminator ``discriminator_rounds`` times on fresh negatives, as
    :class:`~seqadv.adversarial.AdversarialTrainer` does after each round. The
    discriminator object is the environment's, so the next rollout's rewards see its
    training. (The trainer itself keeps calling ``learner.learn(env, generator_steps)``.)

    Everything defaults from the model and the environment: the generator is the policy's
    actor, the discriminator, rollout policy and real data are the env core's.

    SB3 does not reset the environment between rollouts. With fixed-length data and
    ``n_steps`` a multiple of T (the default of :func:`make_model` is T), every rollout
    starts with fresh episodes; otherwise (EOS-terminated corpora) an episode running across
    a discriminator update is rewarded partly by the old and partly by the new discriminator.
    :class:`SB3Learner` avoids this by starting fresh episodes at every ``learn`` call.

    Example:
        >>> from seqadv.envs.text_generation import TextGenerationVectorEnv
        >>> from seqadv.models.generator import LSTMGenerator
        >>> gen = LSTMGenerator(16, embed_dim=8, hidden_dim=8, max_len=8)
        >>> env = TextGenerationVectorEnv(4, reward_mode="terminal")
        >>> model = make_model("sb3:PPO", env, gen, n_epochs=1)
        >>> callback = AdversarialCallback(n_negatives=32, batch_size=16)
        >>> _ = model.learn(64, callback=callback)
        >>> callback.rounds
        2

    Args:
        discriminator: trained in place (default: the environment's).
        real: (N, T) real sequences (default: the environment's ``data.train``).
        generator: samples the negatives (default: the model policy's generator).
        rollout_policy: blended towards the generator (default: the environment's; none in
            the ``terminal`` mode).
        every_updates: SB3 iterations between adversarial steps.
        discriminator_rounds: rounds per step, each on fresh negatives (SeqGAN: 5).
        discriminator_epochs: epochs per round (SeqGAN: 3).
        n_negatives: generated sequences per round (default: as many as ``real``).
        batch_size: discriminator minibatch, even (half real, half generated).
        lr: Adam learning rate of the discriminator when ``optimizer`` is None.
        optimizer: the discriminator's optimizer.
        rollout_update_rate: rollout <- rate * rollout + (1 - rate) * generator.
        seed: seeds the callback's torch generator (negatives, shuffles, dropout).
        verbose: SB3 verbosity.
    """

    def __init__(
        self,
        discriminator: Any = None,
        real: Tensor | None = None,
        generator: LSTMGenerator | None = None,
        rollout_policy: LSTMGenerator | None = None,
        every_updates: int = 1,
        discriminator_rounds: int = 1,
        discriminator_epochs: int = 1,
        n_negatives: int | None = None,
        batch_size: int = 64,
        lr: float = 1e-4,
        optimizer: torch.optim.Optimizer | None = None,
        rollout_update_rate: float = 0.8,
        seed: int = 0,
        verbose: int = 0,
    ) -> None:
        super().__init__(verbose)
        if every_updates < 1 or discriminator_rounds < 1 or discriminator_epochs < 1:
            raise ConfigError(
                "every_updates, discriminator_rounds and discriminator_epochs must be >= 1"
            )
        if not 0.0 <= rollout_update_rate <= 1.0:
            raise ConfigError(f"rollout_update_rate must be in [0, 1], got {rollout_update_rate}")
        self.discriminator = discriminator
        self.real = real
        self.generator = generator
        self.rollout_policy = rollout_policy
        self.every_updates = every_updates
        self.discriminator_rounds = discriminator_rounds
        self.discriminator_epochs = discriminator_epochs
        self.n_negatives = n_negatives
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.rollout_update_rate = rollout_update_rate
        self.torch_generator = torch.Generator().manual_seed(int(seed))
        self.rounds = 0
        self.last_stats: dict[str, float] = {}
        self._updates = 0
        self._pending = False
        self._pad_id: int | None = None

    def _on_training_start(self) -> None:
        core = None
        try:
            core = self.training_env.get_attr("core", indices=[0])[0]
        except AttributeError:
            pass
        if self.discriminator is None:
            if core is None:
                raise ConfigError(
                    "AdversarialCallback: give the discriminator (the env has no core)"
                )
            self.discriminator = core.discriminator
        if self.real is None:
            if core is None:
                raise ConfigError(
                    "AdversarialCallback: give the real sequences (the env has no core)"
                )
            self.real = core.data.train
        if self.rollout_policy is None and core is not None:
            self.rollout_policy = core.rollout_policy
        if self.generator is None:
            self.generator = _find_generator(self.model)
        if core is not None and core.data.eos_id is not None:
            self._pad_id = core.data.pad_id
        if self.optimizer is None:
            from seqadv.models.discriminator import default_optimizer

            self.optimizer = default_optimizer(self.discriminator, lr=self.lr)

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        self._pending = True

    def _on_rollout_start(self) -> None:
        self._after_update()

    def _on_training_end(self) -> None:
        self._after_update()

    def _after_update(self) -> None:
        if not self._pending:
            return
        self._pending = False
        self._updates += 1
        if self._updates % self.every_updates:
            return
        self.adversarial_step()

    def adversarial_step(self) -> dict[str, float]:
        """Sync the rollout policy, then train the discriminator on fresh negatives."""
        from seqadv.models.discriminator import train_discriminator

        assert self.generator is not None and self.real is not None and self.optimizer is not None
        if self.rollout_policy is not None:
            blend_parameters_(self.rollout_policy, self.generator, self.rollout_update_rate)
        stats: dict[str, float] = {}
        was_training = self.generator.training
        for _ in range(self.discriminator_rounds):
            self.generator.eval()
            fake = self.generator.sample(
                self.n_negatives or self.real.shape[0], generator=self.torch_generator
            )
            stats = train_discriminator(
                self.discriminator,
                self.real,
                fake,
                epochs=self.discriminator_epochs,
                batch_size=self.batch_size,
                optimizer=self.optimizer,
                generator=self.torch_generator,
                pad_id=self._pad_id,
            )
        self.generator.train(was_training)
        self.rounds += 1
        self.last_stats = stats
        for key, value in stats.items():
            self.logger.record(key, value)
        return stats
