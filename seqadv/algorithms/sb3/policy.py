"""SB3 actor-critic policies whose actor is a seqadv policy's own modules.

The policy offers ``actor_modules() -> (encoder, head)`` (see :mod:`seqadv.models.policy`);
the SB3 features extractor here is a thin :class:`PolicyFeaturesExtractor` around the encoder
(the actor's: the encoder itself; a separate critic's: a deep copy) and the action net is the
head, so training the SB3 policy trains the seqadv policy in place. RecurrentPPO uses
``recurrent_modules() -> (token_encoder, lstm, head)`` instead and steps that LSTM per token.

SB3's ``ortho_init`` re-initializes every ``nn.Linear`` under the extractors, the action net
and the value net while it builds; the seqadv policy's weights are put back afterwards, so
pretrained weights survive and the torch random draws are those of the modules the policy
hands over (for the LSTM generator: its output layer, then the value head).
"""

from __future__ import annotations

import copy
import logging
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import Tensor, nn

from seqadv.errors import ConfigError
from seqadv.registry import import_dotted

__all__ = [
    "PolicyFeaturesExtractor",
    "GeneratorFeaturesExtractor",
    "GeneratorTokenExtractor",
    "GeneratorActionHead",
    "ZeroValue",
    "GeneratorActorCriticPolicy",
    "generator_policy_class",
    "generator_spaces",
    "is_actor_policy",
    "check_policy",
    "recurrent_parts",
]

log = logging.getLogger("seqadv")

#: ``Generator<Base>`` classes built on demand (by :func:`generator_policy_class`)
DYNAMIC_POLICIES = {
    "GeneratorMaskableActorCriticPolicy": "sb3_contrib.common.maskable.policies:MaskableActorCriticPolicy",
    "GeneratorRecurrentActorCriticPolicy": "sb3_contrib.common.recurrent.policies:RecurrentActorCriticPolicy",
}


# -- what a policy offers -----------------------------------------------------------------------
def is_actor_policy(obj: Any) -> bool:
    """Whether ``obj`` can be the actor of an SB3 policy: an nn.Module with ``actor_modules``."""
    return isinstance(obj, nn.Module) and callable(getattr(obj, "actor_modules", None))


def check_policy(obj: Any, what: str) -> nn.Module:
    """``obj`` if :func:`is_actor_policy`, else a ConfigError naming ``what`` and its type."""
    if not is_actor_policy(obj):
        raise ConfigError(
            f"{what} needs a policy: an nn.Module with actor_modules() -> (encoder, head) "
            f"(see seqadv.models.policy, e.g. LSTMGenerator), got {type(obj).__name__}"
        )
    return obj


def recurrent_parts(policy: Any) -> tuple[nn.Module, nn.Module, nn.Module]:
    """``policy.recurrent_modules()`` (token encoder, LSTM, head), or a ConfigError."""
    parts = getattr(policy, "recurrent_modules", None)
    if not callable(parts):
        raise ConfigError(
            f"sb3_contrib's RecurrentPPO steps the policy's own LSTM, but "
            f"{type(policy).__name__} has no recurrent_modules() -> (token_encoder, lstm, "
            "head) (see seqadv.models.policy); use sb3:PPO or another non-recurrent algorithm"
        )
    return parts()


def latent_dim(encoder: Any) -> int:
    """The ``latent_dim`` of a policy's encoder (its features' size), checked."""
    dim = getattr(encoder, "latent_dim", None)
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
        raise ConfigError(
            f"the policy's encoder {type(encoder).__name__} needs an int attribute latent_dim "
            f">= 1 (the size of the features it returns), got {dim!r}"
        )
    return dim


def _linear_size(head: nn.Module, attr: str) -> int | None:
    """``in_features``/``out_features`` of a head that is, or holds exactly one, nn.Linear."""
    if isinstance(getattr(head, attr, None), int):
        return int(getattr(head, attr))
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    return int(getattr(linears[0], attr)) if len(linears) == 1 else None


def _check_action_space(head: nn.Module, action_space: Any) -> None:
    n = _linear_size(head, "out_features")
    if not isinstance(action_space, spaces.Discrete):
        raise ConfigError(
            f"the sb3 bridge needs a Discrete action space (one logit per action), got "
            f"{action_space}"
        )
    if n is not None and int(action_space.n) != n:
        raise ConfigError(
            f"the policy's action head writes {n} logits, but the action space is "
            f"{action_space} (expected Discrete({n}))"
        )


def generator_spaces(generator: Any) -> tuple[spaces.Box, spaces.Discrete]:
    """The (observation, action) spaces of the text environments for ``generator``.

    Observation: int64 ``Box(0, max(V - 1, pad_id), (T,))``, the padded prefix; action:
    ``Discrete(V)``. These equal the spaces of the seqadv text environments on the same data.
    ``generator`` gives ``vocab_size``, ``max_len`` and ``pad_id``.
    """
    vocab, pad = int(generator.vocab_size), int(generator.pad_id)
    obs = spaces.Box(low=0, high=max(vocab - 1, pad), shape=(int(generator.max_len),), dtype=np.int64)
    return obs, spaces.Discrete(vocab)


# -- modules ------------------------------------------------------------------------------------
def _encoder_key_hook(module: nn.Module, state_dict: dict, prefix: str, *_: Any) -> None:
    """Load state dicts written before the encoder was a submodule of the extractor.

    They held the encoder's tensors (``embedding.weight``...) directly under the extractor's
    prefix; those keys now live under ``encoder.``.
    """
    inner = prefix + "encoder."
    for key in [k for k in state_dict if k.startswith(prefix) and not k.startswith(inner)]:
        state_dict[inner + key[len(prefix) :]] = state_dict.pop(key)


class PolicyFeaturesExtractor(BaseFeaturesExtractor):
    """An SB3 features extractor that runs a seqadv policy's encoder.

    Input: observations as SB3 hands them over (a float tensor, or a dict of them for a
    ``Dict`` space); output (N, ``encoder.latent_dim``).

    Args:
        observation_space: the environment's observation space.
        encoder: the module (the actor's: the policy's own, sharing its parameters).
        copy_module: hold a deep copy instead (a separate critic, initialized from the
            policy's current weights and trained by the value loss only).
    """

    def __init__(
        self, observation_space: spaces.Space, encoder: nn.Module, copy_module: bool = False
    ) -> None:
        super().__init__(observation_space, features_dim=latent_dim(encoder))
        self.encoder = copy.deepcopy(encoder) if copy_module else encoder
        self.register_load_state_dict_pre_hook(_encoder_key_hook)

    def forward(self, observations: Any) -> Tensor:
        return self.encoder(observations)


class GeneratorFeaturesExtractor(PolicyFeaturesExtractor):
    """:class:`PolicyFeaturesExtractor` over ``generator.actor_modules()[0]`` (the old
    signature: ``copy_modules`` True holds a copy)."""

    def __init__(
        self, observation_space: spaces.Space, generator: Any, copy_modules: bool = False
    ) -> None:
        encoder = check_policy(generator, type(self).__name__).actor_modules()[0]
        super().__init__(observation_space, encoder, copy_module=copy_modules)


class GeneratorTokenExtractor(PolicyFeaturesExtractor):
    """:class:`PolicyFeaturesExtractor` over ``generator.recurrent_modules()[0]``, the
    features of RecurrentPPO (for the LSTM generator: the embedding of the last token)."""

    def __init__(
        self, observation_space: spaces.Space, generator: Any, copy_modules: bool = False
    ) -> None:
        encoder = recurrent_parts(generator)[0]
        super().__init__(observation_space, encoder, copy_module=copy_modules)


def GeneratorActionHead(generator: Any) -> nn.Module:  # noqa: N802 - the former class's name
    """The action head of ``generator``: ``generator.actor_modules()[1]`` (for the LSTM
    generator, :class:`seqadv.models.generator.OutputHead`: ``head(h) == project(h)``)."""
    return check_policy(generator, "GeneratorActionHead").actor_modules()[1]


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
    """Makes an SB3 actor-critic policy class act with a seqadv policy.

    Keyword arguments (``policy_kwargs``): ``generator`` (required: the seqadv policy, any
    nn.Module with ``actor_modules()``), ``net_arch`` (default ``{"pi": [], "vf": []}``;
    ``pi`` must stay empty so the actor is the policy's head), ``share_features_extractor``
    (default False: a separate critic), ``critic`` (default True; False: no value function,
    V = 0), plus whatever the base policy accepts.
    """

    _extractor_class: type[BaseFeaturesExtractor] = PolicyFeaturesExtractor
    generator: nn.Module

    def _actor_parts(self, generator: Any) -> tuple[nn.Module, nn.Module]:
        """(encoder, head) of the actor."""
        encoder, head = generator.actor_modules()
        return encoder, head

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Callable[[float], float],
        generator: Any = None,
        critic: bool = True,
        **kwargs: Any,
    ) -> None:
        check_policy(generator, f"{type(self).__name__} (policy_kwargs={{'generator': ...}})")
        encoder, head = self._actor_parts(generator)
        latent_dim(encoder)
        _check_action_space(head, action_space)
        for key in ("features_extractor_class", "features_extractor_kwargs"):
            given = kwargs.pop(key, None)
            if given not in (None, {}, self._extractor_class):
                raise ConfigError(
                    f"policy_kwargs.{key} cannot be set: the actor's features extractor is the "
                    "policy's own encoder"
                )
        net_arch = kwargs.pop("net_arch", None)
        net_arch = {"pi": [], "vf": []} if net_arch is None else net_arch
        pi = net_arch.get("pi", []) if isinstance(net_arch, dict) else list(net_arch)
        if list(pi):
            raise ConfigError(
                f"policy_kwargs.net_arch gives the actor hidden layers ({net_arch!r}): the "
                "actor is the policy's own action head, so net_arch must be "
                "{pi: [], vf: [...]} (vf layers are allowed)"
            )
        if not isinstance(critic, bool):
            raise ConfigError(f"policy_kwargs.critic must be true or false, got {critic!r}")
        if not critic:  # nothing reads the critic's features: don't compute a copy of them
            kwargs["share_features_extractor"] = True
        kwargs.setdefault("share_features_extractor", False)
        # nn.Module.__setattr__ is not usable before Module.__init__, and the policy must not
        # become a submodule (its modules are registered through the extractor and head)
        self.__dict__["generator"] = generator
        self.__dict__["_actor_encoder"] = encoder
        self.__dict__["_actor_head"] = head
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
                "sb3 policy: the critic shares the policy's encoder, so the value loss also "
                "trains the generator"
            )

    def _rebuild_optimizer(self, lr_schedule: Callable[[float], float]) -> None:
        """A new optimizer over the current parameters (after a module was replaced)."""
        self.optimizer = self.optimizer_class(  # type: ignore[attr-defined]
            self.parameters(),  # type: ignore[attr-defined]
            lr=lr_schedule(1),
            **self.optimizer_kwargs,  # type: ignore[attr-defined]
        )

    def make_features_extractor(self) -> BaseFeaturesExtractor:
        """The actor's extractor first (the policy's encoder), then the critic's (a copy)."""
        self.__dict__["_extractors_made"] = self.__dict__.get("_extractors_made", 0) + 1
        return self._extractor_class(
            self.observation_space,  # type: ignore[attr-defined]
            self.__dict__["_actor_encoder"],
            copy_module=self.__dict__["_extractors_made"] > 1,
        )

    def _build(self, lr_schedule: Callable[[float], float]) -> None:
        """SB3's build with the policy's head as the action net.

        SB3 initializes its action net orthogonally while building; the policy's weights are
        put back afterwards, so pretrained weights survive (they are loaded after the policy
        is built).
        """
        policy = self.generator
        saved = {k: v.detach().clone() for k, v in policy.state_dict().items()}
        head = self.__dict__["_actor_head"]
        reads = _linear_size(head, "in_features")

        def head_net(latent_dim: int, **_: Any) -> nn.Module:
            if reads is not None and latent_dim != reads:
                raise ConfigError(
                    f"the actor's latent size is {latent_dim}, but the policy's action head "
                    f"reads {reads} (net_arch['pi'] must be empty)"
                )
            return head

        dist = self.action_dist  # type: ignore[attr-defined]
        dist.proba_distribution_net = head_net
        try:
            super()._build(lr_schedule)  # type: ignore[misc]
        finally:
            del dist.proba_distribution_net
        with torch.no_grad():
            policy.load_state_dict(saved)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()  # type: ignore[misc]
        data["generator"] = self.generator
        data["share_features_extractor"] = self.share_features_extractor  # type: ignore[attr-defined]
        data["critic"] = self.critic
        data.pop("features_extractor_class", None)
        data.pop("features_extractor_kwargs", None)
        return data

    def generator_tensors(self) -> set[int]:
        """ids of the tensors the seqadv policy owns (parameters and buffers)."""
        policy = self.generator
        return {id(t) for t in [*policy.parameters(), *policy.buffers()]}


class _RecurrentGeneratorPolicyMixin(_GeneratorPolicyMixin):
    """RecurrentPPO: the policy's own LSTM is the recurrent layer, stepped per token."""

    def _actor_parts(self, generator: Any) -> tuple[nn.Module, nn.Module]:
        encoder, _, head = recurrent_parts(generator)
        return encoder, head

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Callable[[float], float],
        generator: Any = None,
        **kwargs: Any,
    ) -> None:
        check_policy(generator, f"{type(self).__name__} (policy_kwargs={{'generator': ...}})")
        _, lstm, _ = recurrent_parts(generator)
        for key, want in (("lstm_hidden_size", lstm.hidden_size), ("n_lstm_layers", lstm.num_layers)):
            if kwargs.get(key, want) != want:
                raise ConfigError(
                    f"policy_kwargs.{key}={kwargs[key]}: the actor's LSTM is the policy's "
                    f"({key} {want})"
                )
            kwargs[key] = want
        if kwargs.get("lstm_kwargs"):
            raise ConfigError(
                "policy_kwargs.lstm_kwargs cannot be set: the actor's LSTM is the policy's"
            )
        super().__init__(observation_space, action_space, lr_schedule, generator, **kwargs)
        self.lstm_actor = _SeqFirstLSTM(lstm) if getattr(lstm, "batch_first", False) else lstm
        critic = getattr(self, "lstm_critic", None)
        if critic is not None:  # start the critic's LSTM from the policy's weights
            with torch.no_grad():
                critic.load_state_dict(lstm.state_dict())
        self._rebuild_optimizer(lr_schedule)  # it was built over the LSTM just replaced


class GeneratorActorCriticPolicy(_GeneratorPolicyMixin, ActorCriticPolicy):
    """ActorCriticPolicy (PPO, A2C, TRPO) whose actor is a seqadv policy.

    Build it through an SB3 algorithm with ``policy_kwargs={"generator": policy}``; see
    :mod:`seqadv.algorithms.sb3` for the design and :class:`_GeneratorPolicyMixin` for the
    keyword arguments.
    """


_POLICY_CLASSES: dict[type, type] = {ActorCriticPolicy: GeneratorActorCriticPolicy}


def is_recurrent(base: type) -> bool:
    """Whether ``base`` is sb3-contrib's RecurrentActorCriticPolicy (or a subclass)."""
    if "sb3_contrib" not in sys.modules:
        return False
    from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy

    return issubclass(base, RecurrentActorCriticPolicy)


def is_maskable(base: type) -> bool:
    """Whether ``base`` is sb3-contrib's MaskableActorCriticPolicy (or a subclass)."""
    if "sb3_contrib" not in sys.modules:
        return False
    from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy

    return issubclass(base, MaskableActorCriticPolicy)


def generator_policy_class(base: type) -> type:
    """The seqadv-policy-acting subclass of an SB3 actor-critic policy class ``base``.

    ``ActorCriticPolicy`` (PPO, A2C, TRPO) gives :class:`GeneratorActorCriticPolicy`;
    sb3-contrib's ``MaskableActorCriticPolicy`` and ``RecurrentActorCriticPolicy`` give
    ``GeneratorMaskableActorCriticPolicy`` and ``GeneratorRecurrentActorCriticPolicy``
    (attributes of this module, so SB3's own save/load finds them by module and name).
    """
    if base in _POLICY_CLASSES:
        return _POLICY_CLASSES[base]
    if is_recurrent(base):
        mixin: type = _RecurrentGeneratorPolicyMixin
    elif issubclass(base, ActorCriticPolicy) or is_maskable(base):
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
            "__doc__": f"{base.__name__} whose actor is a seqadv policy (see {__name__}).",
        },
    )
    _POLICY_CLASSES[base] = cls
    module = sys.modules[__name__]
    if name not in vars(module):  # (not getattr: the module's __getattr__ would answer)
        setattr(module, name, cls)
    return cls


def __getattr__(name: str) -> Any:
    """Build ``Generator<Base>`` policy classes on demand (SB3's load finds them by name)."""
    if name in DYNAMIC_POLICIES:
        return generator_policy_class(import_dotted(DYNAMIC_POLICIES[name]))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
