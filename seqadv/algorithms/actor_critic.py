"""Actor-critic: the policy gradient weighted by advantages from a learned critic.

The critic reads the observations through its own copy of the policy's encoder (the
``encoder`` of ``policy.actor_modules()``, copied when the learner is built, then trained by
the value loss only) and a linear value head. Collection stores its values V(s_t) in the
rollout batch; the advantage estimator (default GAE) turns rewards and values into advantages
and returns; the loss is

    -(1/B) sum_{b,t} log pi(a_bt | s_bt) A_bt  +  value_coef * mean_t (V(s_bt) - G_bt)^2
    -  entropy_coef * (1/B) sum_{b,t} H(pi(. | s_bt))

over the steps taken (``reduction`` as in :class:`~seqadv.algorithms.reinforce.Reinforce`).
Use it with a reward scheme whose rewards sum to the episode's score (``terminal``,
``mc_rollout_shaped``, ``per_token``) and ``gamma`` 1, or discount as the recipe says.

``critic: discriminator`` is MaskGAN's critic instead: a linear value head on the
environment's discriminator's states (``env.discriminator.critic_features(obs)``, read
without gradient, so the discriminator is trained by its own loss only), built at the first
collection, with its own Adam optimizer (``critic_lr``) and gradient clip, trained by the
value loss alone. MaskGAN's PTB setting: ``advantage: {name: discounted, kwargs: {discount:
0.89072, baseline: critic, time_key: position, clip: 5}}``, ``reduction: sum``,
``grad_clip: 10``.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import Tensor, nn

from seqadv.algorithms.advantages import make_estimator
from seqadv.algorithms.base import Learner
from seqadv.algorithms.batch import RolloutBatch, collect_rollout
from seqadv.envs.family import scoring_mode
from seqadv.errors import ConfigError, NonFiniteError

__all__ = ["ActorCritic", "Critic", "DiscriminatorCritic"]

_REDUCTIONS = ("sequence_mean", "token_mean", "sum")
_CRITICS = ("policy", "discriminator")


def _as_float(obs: Any) -> Any:
    if isinstance(obs, dict):
        return {k: v.float() for k, v in obs.items()}
    return obs.float()


def _flatten_steps(obs: Any, rows: int, steps: int) -> Any:
    """(B, S, ...) observations as (B * S, ...)."""
    if isinstance(obs, dict):
        return {k: v.reshape(rows * steps, *v.shape[2:]) for k, v in obs.items()}
    return obs.reshape(rows * steps, *obs.shape[2:])


class Critic(nn.Module):
    """V(s): a copy of the policy's encoder and a linear head, (N, ...) -> (N,)."""

    def __init__(self, policy: Any) -> None:
        super().__init__()
        if not hasattr(policy, "actor_modules"):
            raise ConfigError(
                f"actor_critic builds its critic from the policy's encoder, but "
                f"{type(policy).__name__} has no actor_modules()"
            )
        encoder, _ = policy.actor_modules()
        self.encoder = copy.deepcopy(encoder)
        self.head = nn.Linear(int(encoder.latent_dim), 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, obs: Any) -> Tensor:
        return self.head(self.encoder(_as_float(obs))).squeeze(-1)


class DiscriminatorCritic(nn.Module):
    """V(s) = w . phi_D(s) + b: a linear head on a discriminator's ``critic_features``.

    The head (``critic_features_dim`` inputs, zero-initialized, so V = 0 at first) is built
    when :meth:`bind` first gives it a discriminator; the features are computed in the
    discriminator's eval mode, without gradient.
    """

    def __init__(self) -> None:
        super().__init__()
        self.head: nn.Linear | None = None
        self._source: Any = None

    @property
    def bound(self) -> bool:
        return self.head is not None

    def bind(self, discriminator: Any) -> bool:
        """Read features from ``discriminator`` from now on; True when the head was built."""
        if discriminator is None or not callable(getattr(discriminator, "critic_features", None)) or not hasattr(
            discriminator, "critic_features_dim"
        ):
            name = type(discriminator).__name__
            raise ConfigError(
                f"actor_critic: critic 'discriminator' reads the environment's discriminator's "
                f"critic_features(obs) and critic_features_dim, which {name} does not have (use "
                "critic: policy, or a discriminator that offers them, such as 'maskgan')"
            )
        object.__setattr__(self, "_source", discriminator)  # read, not owned: no submodule
        if self.head is not None:
            return False
        self.head = nn.Linear(int(discriminator.critic_features_dim), 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        return True

    def forward(self, obs: Any) -> Tensor:
        if self.head is None or self._source is None:
            raise RuntimeError("DiscriminatorCritic used before bind(discriminator)")
        with scoring_mode(self._source):
            features = self._source.critic_features(obs).float()
        return self.head(features).squeeze(-1)


class ActorCritic(Learner):
    """Policy gradient with a learned value baseline (see the module docstring).

    Args:
        policy: the policy (it must offer ``actor_modules()``: the critic copies its encoder).
        advantage: an ADVANTAGES name or ``{name, kwargs}`` (default GAE, gamma 1, lambda
            0.95; ``{name: discounted, kwargs: {baseline: critic}}`` is REINFORCE with the
            critic as baseline).
        value_coef: weight of the value loss.
        entropy_coef: weight of the entropy bonus.
        reduction: ``sequence_mean``, ``token_mean`` or ``sum`` of the policy-gradient terms.
        critic: ``policy`` (a copy of the policy's encoder and a head, trained with the policy
            by one optimizer) or ``discriminator`` (MaskGAN's: a head on the environment's
            discriminator's states, with its own optimizer; see the module docstring).
        critic_lr: the critic's Adam learning rate (default: ``lr``).
        lr, grad_clip, seed: see :class:`~seqadv.algorithms.base.Learner`.
    """

    def __init__(
        self,
        policy: Any,
        advantage: Any = None,
        value_coef: float = 0.5,
        entropy_coef: float = 0.0,
        reduction: str = "sequence_mean",
        critic: str = "policy",
        critic_lr: float | None = None,
        lr: float = 0.01,
        grad_clip: float | None = 5.0,
        seed: int = 0,
    ) -> None:
        if reduction not in _REDUCTIONS:
            raise ConfigError(
                f"actor_critic: reduction must be one of {', '.join(map(repr, _REDUCTIONS))}, "
                f"got {reduction!r}"
            )
        super().__init__(policy, lr=lr, grad_clip=grad_clip, seed=seed)
        spec = advantage if advantage is not None else {"name": "gae", "kwargs": {"gamma": 1.0}}
        try:
            self.estimator = make_estimator(spec)
        except ConfigError as exc:
            raise ConfigError(f"actor_critic: {exc}") from None
        if critic not in _CRITICS:
            raise ConfigError(
                f"actor_critic: critic must be one of {', '.join(map(repr, _CRITICS))}, got "
                f"{critic!r}"
            )
        self.critic_lr = lr if critic_lr is None else critic_lr
        self.critic: nn.Module
        self.critic_optimizer: torch.optim.Optimizer | None = None
        self._pending_critic: dict[str, Any] | None = None
        if critic == "policy":
            self.critic = Critic(policy)
            self.optimizer.add_param_group({"params": list(self.critic.parameters()), "lr": self.critic_lr})
        else:
            self.critic = DiscriminatorCritic()
        self.value_coef, self.entropy_coef, self.reduction = value_coef, entropy_coef, reduction

    def collect(self, env: Any) -> RolloutBatch:
        if isinstance(self.critic, DiscriminatorCritic):
            self._bind_critic(getattr(env, "discriminator", None))
        return collect_rollout(self.policy, env, self.rng, critic=self.critic)

    def _bind_critic(self, discriminator: Any) -> None:
        assert isinstance(self.critic, DiscriminatorCritic)
        if not self.critic.bind(discriminator):
            return
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=self.critic_lr)
        if self._pending_critic is not None:
            self.critic.load_state_dict(self._pending_critic["critic"])
            self.critic_optimizer.load_state_dict(self._pending_critic["critic_optimizer"])
            self._pending_critic = None

    def values(self, batch: RolloutBatch) -> Tensor:
        """V(s) (B, S) of the batch's observations, with gradient."""
        rows, steps = batch.actions.shape
        return self.critic(_flatten_steps(batch.obs, rows, steps)).view(rows, steps)

    def losses(self, batch: RolloutBatch) -> tuple[Tensor, Tensor, dict[str, float]]:
        """(policy loss with the entropy bonus, value loss, statistics) of ``batch``."""
        advantages, returns = self.estimator(batch)
        log_probs, entropy = self.policy.evaluate(
            batch.obs, batch.actions, batch.mask, batch.action_masks, entropy=self.entropy_coef > 0
        )
        mask = batch.mask.float()
        pg = -(log_probs * advantages.detach()).sum()
        scale = {
            "sequence_mean": batch.batch_size,
            "token_mean": mask.sum().clamp(min=1),
            "sum": 1.0,
        }[self.reduction]
        pg = pg / scale
        value_loss = (((self.values(batch) - returns.detach()) ** 2) * mask).sum() / mask.sum().clamp(
            min=1
        )
        stats = {"gen/pg_loss": float(pg.detach()), "gen/value_loss": float(value_loss.detach())}
        policy_loss = pg
        if entropy is not None:
            mean_entropy = (entropy * mask).sum() / mask.sum().clamp(min=1)
            policy_loss = pg - self.entropy_coef * (entropy * mask).sum() / scale
            stats["gen/entropy"] = float(mean_entropy.detach())
        return policy_loss, value_loss, stats

    def loss(self, batch: RolloutBatch) -> tuple[Tensor, dict[str, float]]:
        """The whole loss, policy + ``value_coef`` x value, and its statistics."""
        policy_loss, value_loss, stats = self.losses(batch)
        return policy_loss + self.value_coef * value_loss, stats

    def update(self, batch: RolloutBatch) -> dict[str, Any]:
        self.policy.train()
        policy_loss, value_loss, stats = self.losses(batch)
        terms = (
            f"policy-gradient loss {stats['gen/pg_loss']:.6g}, value loss "
            f"{stats['gen/value_loss']:.6g}, value_coef {self.value_coef:g}"
        )
        if "gen/entropy" in stats:
            terms += f", mean entropy {stats['gen/entropy']:.6g}"
        if self.critic_optimizer is None:  # one optimizer holds the policy and its critic
            loss = policy_loss + self.value_coef * value_loss
            stats["gen/grad_norm"] = self.optimizer_step(loss, f"the actor-critic loss ({terms})")
            return stats
        # the discriminator critic has its own optimizer, stepped after the policy's
        value = float(value_loss.detach())
        if not math.isfinite(value):
            raise NonFiniteError(
                f"{self._where()}: the critic's value loss is {value}{self._context()}; the "
                "model was not updated"
            )
        stats["gen/grad_norm"] = self.optimizer_step(policy_loss, f"the actor-critic loss ({terms})")
        stats["gen/critic_grad_norm"] = self._critic_step(value_loss)
        return stats

    def _critic_step(self, value_loss: Tensor) -> float:
        """One step of the discriminator critic's own optimizer on the value loss."""
        assert self.critic_optimizer is not None
        self.critic_optimizer.zero_grad(set_to_none=True)
        (self.value_coef * value_loss).backward()
        params = [p for p in self.critic.parameters() if p.grad is not None]
        clip = self.grad_clip if self.grad_clip is not None else math.inf
        norm = float(torch.nn.utils.clip_grad_norm_(params, clip))
        self.critic_optimizer.step()
        return norm

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["advantage"] = self.estimator.state_dict()
        if isinstance(self.critic, DiscriminatorCritic) and not self.critic.bound:
            if self._pending_critic is not None:
                state.update(self._pending_critic)
            return state
        state["critic"] = {k: v.detach().clone() for k, v in self.critic.state_dict().items()}
        if self.critic_optimizer is not None:
            state["critic_optimizer"] = self.critic_optimizer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.estimator.load_state_dict(state.get("advantage", {}))
        if not isinstance(self.critic, DiscriminatorCritic):
            self.critic.load_state_dict(state["critic"])
        elif "critic" in state:
            pending = copy.deepcopy(  # its own tensors: the caller's may change meanwhile
                {"critic": state["critic"], "critic_optimizer": state["critic_optimizer"]}
            )
            if self.critic.bound:
                assert self.critic_optimizer is not None
                self.critic.load_state_dict(pending["critic"])
                self.critic_optimizer.load_state_dict(pending["critic_optimizer"])
            else:  # applied when the first collection binds the critic
                self._pending_critic = pending
