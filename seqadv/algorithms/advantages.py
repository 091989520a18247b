"""Returns and advantages: swappable estimators over a :class:`~seqadv.algorithms.batch.RolloutBatch`.

An estimator maps a batch to ``(advantages, returns)``, both (B, S) and 0 where the batch's
mask is False. Learners weight log pi(a_t | s_t) by the advantages (and fit a critic to the
returns); which estimator they use is configuration, not code inside a learner. Built-ins in
the ADVANTAGES registry:

- ``mc_q``: the step's own reward, A_t = r_t. SeqGAN: with the ``mc_rollout`` reward
  scheme every reward is already a Monte-Carlo estimate of Q(s_t, a_t).
- ``discounted``: G_t = sum_{k >= t} gamma^(k - t) r_k minus an optional baseline (``none``,
  ``batch_mean``: the batch's mean return at step t, ``ema``: a moving average of past
  means at step t, ``critic``: the batch's values), optionally divided by its std.
- ``gae``: generalized advantage estimation from the batch's values,
  A_t = sum_k (gamma lambda)^k delta_{t+k}, delta_t = r_t + gamma V_{t+1} - V_t, with
  V after a terminated episode 0 and after a truncated one its ``last_values``; the returns
  are A_t + V_t.

Example:
    >>> import torch
    >>> from seqadv.algorithms.batch import RolloutBatch
    >>> batch = RolloutBatch(actions=torch.zeros(1, 3, dtype=torch.long),
    ...                      rewards=torch.tensor([[0.0, 0.0, 1.0]]),
    ...                      mask=torch.ones(1, 3, dtype=torch.bool))
    >>> DiscountedReturn(discount=0.5)(batch)[0]
    tensor([[0.2500, 0.5000, 1.0000]])
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from seqadv.algorithms.batch import RolloutBatch
from seqadv.errors import ConfigError
from seqadv.registry import Registry

__all__ = [
    "ADVANTAGES",
    "AdvantageEstimator",
    "MonteCarloQ",
    "DiscountedReturn",
    "GAE",
    "discounted_returns",
    "timed_discounted_returns",
    "make_estimator",
]

ADVANTAGES = Registry("advantage estimator")

BASELINES = ("none", "batch_mean", "ema", "critic")


def discounted_returns(rewards: Tensor, mask: Tensor, discount: float) -> Tensor:
    """G_t = sum_{k >= t} discount^(k - t) r_k within each episode.

    Args:
        rewards: (B, T) rewards; mask: (B, T) bool steps taken.
        discount: gamma in [0, 1]; 0 gives G_t = r_t.

    Returns:
        (B, T) returns, 0 where the mask is False.
    """
    rewards = rewards * mask
    if discount == 0.0:
        return rewards
    out = torch.zeros_like(rewards)
    running = torch.zeros(rewards.shape[0], dtype=rewards.dtype)
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = rewards[:, t] + discount * running
        out[:, t] = running
    return out * mask


def timed_discounted_returns(
    rewards: Tensor, mask: Tensor, discount: float, times: Tensor
) -> Tensor:
    """G_t = sum_{s >= t} discount^(tau_s - tau_t) r_s, with ``times`` tau (B, T) the time of
    each step (MaskGAN: the position written, so the exponent counts the present positions
    between two actions too). With tau_t = t it is :func:`discounted_returns`."""
    rewards = rewards * mask
    out = torch.zeros_like(rewards)
    running = torch.zeros(rewards.shape[0], dtype=rewards.dtype)
    times = times.to(rewards.dtype)
    for t in range(rewards.shape[1] - 1, -1, -1):
        if t + 1 < rewards.shape[1]:
            gap = (times[:, t + 1] - times[:, t]).clamp(min=0)
            running = running * torch.where(mask[:, t + 1], discount**gap, 0.0)
        running = rewards[:, t] + running
        out[:, t] = running
    return out * mask


def _step_times(batch: RolloutBatch, key: str) -> Tensor:
    """(B, S) the times of a batch's steps, from its observations' ``key``."""
    obs = batch.obs
    if not isinstance(obs, dict) or key not in obs:
        have = sorted(obs) if isinstance(obs, dict) else "not a Dict"
        raise ConfigError(
            f"advantage estimator: time_key {key!r} is not a key of the observations ({have})"
        )
    times = obs[key]
    return times.reshape(times.shape[0], times.shape[1], -1)[..., 0]


def _normalized(adv: Tensor, mask: Tensor) -> Tensor:
    std = adv[mask].std() if int(mask.sum()) > 1 else torch.tensor(1.0)
    return adv / (std + 1e-8)


class AdvantageEstimator:
    """Base class: ``estimator(batch) -> (advantages, returns)``; may keep state (``ema``)."""

    needs_values = False

    def __call__(self, batch: RolloutBatch) -> tuple[Tensor, Tensor]:  # pragma: no cover
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def _values(self, batch: RolloutBatch, what: str) -> Tensor:
        if batch.values is None:
            raise ConfigError(
                f"advantage estimator {what} needs the critic's values, but the learner "
                "collected none (use a learner with a critic)"
            )
        return batch.values


@ADVANTAGES.register("discounted")
class DiscountedReturn(AdvantageEstimator):
    """Discounted return-to-go minus a baseline (see the module docstring).

    Args:
        discount: gamma in [0, 1].
        baseline: ``none``, ``batch_mean``, ``ema`` or ``critic``.
        ema_decay: decay of the ``ema`` baseline.
        normalize: divide the advantages by their standard deviation over the batch.
        time_key: discount by the observation's ``time_key`` entry (the time of each step)
            instead of the step count: gamma^(tau_s - tau_t) (MaskGAN: ``position``).
        clip: clip the advantages to [-clip, clip] (MaskGAN: 5); None: no clip.
    """

    def __init__(
        self,
        discount: float = 1.0,
        baseline: str = "none",
        ema_decay: float = 0.9,
        normalize: bool = False,
        time_key: str | None = None,
        clip: float | None = None,
    ) -> None:
        if clip is not None and not clip > 0:
            raise ConfigError(f"clip must be a number > 0 or null, got {clip!r}")
        if not 0.0 <= discount <= 1.0:
            raise ConfigError(f"discount must be in [0, 1], got {discount}")
        if baseline not in BASELINES:
            raise ConfigError(
                f"baseline must be one of {', '.join(map(repr, BASELINES))}, got {baseline!r}"
            )
        self.discount = float(discount)
        self.baseline = baseline
        self.ema_decay = ema_decay
        self.normalize = normalize
        self.needs_values = baseline == "critic"
        self.ema: Tensor | None = None
        self.time_key, self.clip = time_key, clip

    def __call__(self, batch: RolloutBatch) -> tuple[Tensor, Tensor]:
        if self.time_key is None:
            returns = discounted_returns(batch.rewards, batch.mask, self.discount)
        else:
            times = _step_times(batch, self.time_key)
            returns = timed_discounted_returns(batch.rewards, batch.mask, self.discount, times)
        adv = returns
        mask = batch.mask.float()
        counts = mask.sum(dim=0).clamp(min=1)
        if self.baseline == "batch_mean":
            adv = returns - (returns.sum(dim=0) / counts)
        elif self.baseline == "ema":
            mean = returns.sum(dim=0) / counts
            base = self.ema if self.ema is not None else torch.zeros_like(mean)
            adv = returns - base
            self.ema = (
                mean if self.ema is None else self.ema_decay * self.ema + (1 - self.ema_decay) * mean
            )
        elif self.baseline == "critic":
            adv = returns - self._values(batch, "'discounted' with baseline 'critic'")
        if self.normalize:
            adv = _normalized(adv, batch.mask)
        if self.clip is not None:
            adv = adv.clamp(-self.clip, self.clip)
        return adv * mask, returns

    def state_dict(self) -> dict[str, Any]:
        return {"ema": self.ema}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.ema = state.get("ema")


@ADVANTAGES.register("mc_q")
class MonteCarloQ(DiscountedReturn):
    """A_t = r_t: each reward is already a Monte-Carlo estimate of Q(s_t, a_t) (SeqGAN)."""

    def __init__(self, normalize: bool = False) -> None:
        super().__init__(discount=0.0, baseline="none", normalize=normalize)


@ADVANTAGES.register("gae")
class GAE(AdvantageEstimator):
    """Generalized advantage estimation (see the module docstring).

    Args:
        gamma: discount in [0, 1].
        lam: lambda in [0, 1] (1: Monte-Carlo returns minus V; 0: one-step TD errors).
        normalize: divide the advantages by their standard deviation over the batch.
    """

    needs_values = True

    def __init__(self, gamma: float = 1.0, lam: float = 0.95, normalize: bool = False) -> None:
        for name, value in (("gamma", gamma), ("lam", lam)):
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"gae: {name} must be in [0, 1], got {value}")
        self.gamma, self.lam, self.normalize = float(gamma), float(lam), normalize

    def __call__(self, batch: RolloutBatch) -> tuple[Tensor, Tensor]:
        values = self._values(batch, "'gae'") * batch.mask
        mask = batch.mask.float()
        rows, steps = batch.rewards.shape
        after = batch.last_values if batch.last_values is not None else torch.zeros(rows)
        adv = torch.zeros_like(values)
        running = torch.zeros(rows)
        for t in range(steps - 1, -1, -1):
            going = mask[:, t + 1] if t + 1 < steps else torch.zeros(rows)
            # the value after step t: V_{t+1} inside the episode, else the bootstrap
            next_value = torch.where(going > 0, values[:, t + 1] if t + 1 < steps else after, after)
            delta = batch.rewards[:, t] + self.gamma * next_value - values[:, t]
            running = delta + self.gamma * self.lam * running * going
            adv[:, t] = running * mask[:, t]
        returns = (adv + values) * mask
        if self.normalize:
            adv = _normalized(adv, batch.mask) * mask
        return adv, returns


def make_estimator(spec: Any) -> AdvantageEstimator:
    """An estimator from a name, ``{name, kwargs}`` or an estimator object."""
    if isinstance(spec, AdvantageEstimator):
        return spec
    if isinstance(spec, str):
        return ADVANTAGES.make(spec)
    if isinstance(spec, dict) and "name" in spec:
        return ADVANTAGES.make(spec["name"], **dict(spec.get("kwargs") or {}))
    raise ConfigError(f"an advantage estimator is a name or {{name, kwargs}}, got {spec!r}")
