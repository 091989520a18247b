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
"""

from __future__ import annotations

import copy
from typing import Any

from torch import Tensor, nn

from seqadv.algorithms.advantages import make_estimator
from seqadv.algorithms.base import Learner
from seqadv.algorithms.batch import RolloutBatch, collect_rollout
from seqadv.errors import ConfigError

__all__ = ["ActorCritic", "Critic"]

_REDUCTIONS = ("sequence_mean", "token_mean", "sum")


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
        self.critic = Critic(policy)
        self.optimizer.add_param_group(
            {"params": list(self.critic.parameters()), "lr": lr if critic_lr is None else critic_lr}
        )
        self.value_coef, self.entropy_coef, self.reduction = value_coef, entropy_coef, reduction

    def collect(self, env: Any) -> RolloutBatch:
        return collect_rollout(self.policy, env, self.rng, critic=self.critic)

    def values(self, batch: RolloutBatch) -> Tensor:
        """V(s) (B, S) of the batch's observations, with gradient."""
        rows, steps = batch.actions.shape
        return self.critic(_flatten_steps(batch.obs, rows, steps)).view(rows, steps)

    def loss(self, batch: RolloutBatch) -> tuple[Tensor, dict[str, float]]:
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
        loss = pg + self.value_coef * value_loss
        stats = {"gen/pg_loss": float(pg.detach()), "gen/value_loss": float(value_loss.detach())}
        if entropy is not None:
            mean_entropy = (entropy * mask).sum() / mask.sum().clamp(min=1)
            loss = loss - self.entropy_coef * (entropy * mask).sum() / scale
            stats["gen/entropy"] = float(mean_entropy.detach())
        return loss, stats

    def update(self, batch: RolloutBatch) -> dict[str, Any]:
        self.policy.train()
        loss, stats = self.loss(batch)
        terms = (
            f"policy-gradient loss {stats['gen/pg_loss']:.6g}, value loss "
            f"{stats['gen/value_loss']:.6g}, value_coef {self.value_coef:g}"
        )
        if "gen/entropy" in stats:
            terms += f", mean entropy {stats['gen/entropy']:.6g}"
        stats["gen/grad_norm"] = self.optimizer_step(loss, f"the actor-critic loss ({terms})")
        return stats

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["critic"] = {k: v.detach().clone() for k, v in self.critic.state_dict().items()}
        state["advantage"] = self.estimator.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.critic.load_state_dict(state["critic"])
        self.estimator.load_state_dict(state.get("advantage", {}))
