"""The seqadv learner backed by an SB3 on-policy algorithm, and its registered factories.

One update of :meth:`SB3Learner.learn` is one SB3 iteration (a rollout of ``n_steps`` steps
in each env row, then the algorithm's ``train()``); :class:`_LearnerCallback` turns SB3's
loop into seqadv statistics and learner callbacks. The learner's random streams are its own:
``rng`` (a torch generator) draws one environment seed per ``learn`` call and ``global_rng``
(:class:`~seqadv.algorithms.sb3.rng.GlobalRNG`) holds the Python, numpy and torch global
states SB3 uses, swapped in while SB3 runs.

Non-finite numbers stop training with a :class:`~seqadv.errors.NonFiniteError` naming the
algorithm and the update: a reward as SB3 collects it (before ``train()``), a gradient
before SB3's optimizer step (an optimizer step pre-hook, so the weights are those of the
last good step), and the loss statistics and the policy's parameters after each
``train()`` (steps SB3 takes outside its optimizer, such as TRPO's, have happened then:
nothing is restored, the trainer just does not checkpoint them).
"""

from __future__ import annotations

import copy
import logging
import math
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.vec_env import VecEnv

from seqadv.algorithms.base import Callback, Learner, describe_rewards
from seqadv.algorithms.sb3.classes import (
    check_algorithm_kwargs,
    init_parameters,
    policy_base,
    resolve_algorithm_class,
)
from seqadv.algorithms.sb3.model import as_vec_env, env_attr, make_model
from seqadv.algorithms.sb3.policy import check_policy, is_recurrent, recurrent_parts
from seqadv.algorithms.sb3.rng import GlobalRNG
from seqadv.errors import CheckpointError, ConfigError, NonFiniteError

__all__ = ["SB3Learner", "ppo", "a2c", "recurrent_ppo", "maskable_ppo"]

log = logging.getLogger("seqadv")


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
        self._rewards: list[np.ndarray] = []  # this rollout's, for error messages
        self._returns: list[float] = []
        self._start = time.perf_counter()
        self._collected = self._start

    def _on_rollout_start(self) -> None:
        self._finish()
        self._reset()

    def _on_step(self) -> bool:
        rewards = np.asarray(self.locals["rewards"], dtype=np.float64)
        if not np.isfinite(rewards).all():
            raise NonFiniteError(
                f"{self.learner.where()}: non-finite rewards at rollout step "
                f"{len(self._rewards) + 1}, from the environment's reward (env.reward and "
                f"env.reward_scheme): {describe_rewards(rewards)}. Stopped before SB3's "
                "train(): the policy was not updated"
            )
        self._rewards.append(rewards)
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
        self.learner.check_finite(stats)
        self.learner.num_updates += 1
        self.stats = stats
        for callback in self.callbacks:
            callback(self.learner, stats)

    def rewards_context(self) -> str:
        """The rewards of the rollout so far, for an error message (empty before any)."""
        if not self._rewards:
            return ""
        rewards = describe_rewards(np.concatenate(self._rewards))
        return f" (rewards of this rollout, from the environment's reward: {rewards})"


class _GradientCheck:
    """An optimizer step pre-hook: NonFiniteError, before the step, on a non-finite gradient.

    Holds its learner weakly and pickles as a no-op (a hook is not part of a checkpoint).
    """

    def __init__(self, learner: SB3Learner) -> None:
        self._learner: Any = weakref.ref(learner)

    def __getstate__(self) -> dict[str, Any]:
        return {"_learner": None}

    def __call__(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        learner = self._learner() if self._learner is not None else None
        grads = [p.grad for group in optimizer.param_groups for p in group["params"]]
        grads = [g for g in grads if g is not None]
        if learner is None or not grads:
            return
        norms = torch.stack([torch.linalg.vector_norm(g) for g in grads])
        norm = float(torch.linalg.vector_norm(norms))
        if not math.isfinite(norm):
            bridge = learner._bridge
            raise NonFiniteError(
                f"{learner.where()}: the gradient norm is {norm} in SB3's train(), before "
                f"its optimizer step{bridge.rewards_context() if bridge else ''}; the weights "
                "are those of the last finite step"
            )


class SB3Learner(Learner):
    """A seqadv learner backed by a stable-baselines3 / sb3-contrib on-policy algorithm.

    Registered as ``sb3:PPO``, ``sb3:A2C``, ``sb3_contrib:RecurrentPPO`` and
    ``sb3_contrib:MaskablePPO``; any other on-policy class resolves by the same
    ``package:Class`` form (``stable_baselines3:PPO``, ``sb3_contrib:TRPO``) or by dotted path
    (``mypkg.algos:MyPPO``). Use the ``mc_rollout_shaped`` (or ``terminal``) reward scheme:
    SB3 sums rewards into returns (see :mod:`seqadv.algorithms.sb3`).

    The SB3 model is built at the first :meth:`learn` (it needs the environment's batch
    size); ``learner.model`` is the SB3 algorithm object from then on.

    Args:
        algorithm: the algorithm class (or its ``package:Class`` name).
        policy: the seqadv policy (an nn.Module with ``actor_modules()``; RecurrentPPO also
            needs ``recurrent_modules()``); it is the actor and is trained in place.
        lr: the learning rate, unless ``learning_rate`` is given (the trainer passes
            ``adversarial.lr``).
        grad_clip: SB3's ``max_grad_norm`` (None: no clipping), unless ``max_grad_norm`` is
            given; ignored by algorithms without one (TRPO). SB3 clips the norm over the
            actor's and the critic's parameters together.
        seed: seeds the learner's own random streams, ``rng`` and ``global_rng``.
        policy_kwargs: extra policy arguments (``net_arch: {vf: [64]}``,
            ``share_features_extractor: true``, ``optimizer_kwargs``...).
        **algorithm_kwargs: the algorithm's own arguments, passed through (``n_steps``,
            ``batch_size``, ``n_epochs``, ``gamma``, ``gae_lambda``, ``ent_coef``,
            ``vf_coef``, ``clip_range``, ``learning_rate``...). seqadv's defaults:
            ``n_steps`` = the episode length, ``gamma`` = 1.0, ``batch_size`` = the largest
            divisor of ``n_steps * B`` up to 64; the rest are SB3's.
    """

    def __init__(
        self,
        algorithm: str | type,
        policy: Any,
        lr: float = 0.01,
        grad_clip: float | None = 5.0,
        seed: int = 0,
        policy_kwargs: dict[str, Any] | None = None,
        **algorithm_kwargs: Any,
    ) -> None:
        check_policy(policy, "the sb3 learner")
        self.algorithm = resolve_algorithm_class(algorithm)
        self.name = algorithm if isinstance(algorithm, str) else algorithm.__name__
        what = f"algorithm {self.name!r}"
        base = policy_base(self.algorithm)
        if base is not None and is_recurrent(base):
            recurrent_parts(policy)  # a ConfigError now if the policy has no LSTM to step
        check_algorithm_kwargs(self.algorithm, algorithm_kwargs, what)
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
        self.rng = torch.Generator().manual_seed(self.seed)  # env seeds, one per learn()
        self.global_rng = GlobalRNG(self.seed)
        self.num_updates = 0
        self.model: OnPolicyAlgorithm | None = None
        self._env_source: Any = None
        self._pending: dict[str, Any] | None = None
        self._warned = False
        self._bridge: _LearnerCallback | None = None  # while learn() runs
        self._checked: torch.optim.Optimizer | None = None  # the optimizer with the hook

    # -- the SB3 model ----------------------------------------------------------------------
    @property
    def optimizer(self) -> torch.optim.Optimizer | None:  # type: ignore[override]
        """The SB3 policy's optimizer (actor and critic), once the model is built."""
        return None if self.model is None else self.model.policy.optimizer

    def _attach(self, env: Any) -> OnPolicyAlgorithm:
        if self.model is not None and env is self._env_source:
            return self.model
        vec_env = as_vec_env(env)
        if self.model is None:
            loaded = self.global_rng.states
            with self.global_rng.active():  # SB3 seeds the global RNGs while it builds
                self.model = make_model(
                    self.algorithm,
                    vec_env,
                    self.policy,
                    seed=self.seed % 2**31,  # numpy's legacy seeding takes 32 bits
                    policy_kwargs=self.policy_kwargs,
                    **self.kwargs,
                )
            if self._pending is not None:  # a resumed learner: continue where it stopped
                self.global_rng.states = loaded
                self._apply(self._pending)
                self._pending = None
        else:
            self.model.set_env(vec_env)
        self._env_source = env
        self._check_reward_scheme(vec_env)
        return self.model

    def _check_reward_scheme(self, vec_env: VecEnv) -> None:
        scheme = env_attr(vec_env, "reward_scheme")
        gamma = float(getattr(self.model, "gamma", 1.0))
        if not getattr(scheme, "estimates_final_score", False) or gamma <= 0 or self._warned:
            return
        self._warned = True
        log.warning(
            "%s sums rewards into returns (gamma=%g), but the environment's reward scheme is "
            "%r, whose every reward is already an estimate of the final score: the return "
            "counts the score about T times. Use env.reward_scheme: mc_rollout_shaped (the "
            "return is then the final score).",
            self.name,
            gamma,
            getattr(scheme, "name", type(scheme).__name__),
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
        if self._checked is not model.policy.optimizer:
            model.policy.optimizer.register_step_pre_hook(_GradientCheck(self))
            self._checked = model.policy.optimizer
        bridge = self._bridge = _LearnerCallback(self, list(callbacks))
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=self.rng))
        with self.global_rng.active():
            assert model.env is not None
            model.env.seed(seed)
            model.set_env(model.env, force_reset=True)  # fresh episodes at the next reset
            # RecurrentPPO's cached LSTM state: SB3 has no public reset of it
            states = getattr(model, "_last_lstm_states", None)
            if states is not None:
                for part in (*states.pi, *states.vf):
                    part.zero_()
            steps = n_updates * model.n_steps * model.n_envs
            try:
                model.learn(steps, callback=bridge, log_interval=1, reset_num_timesteps=False)
            finally:
                self._bridge = None
        return bridge.stats

    def where(self) -> str:
        """``"sb3:PPO update 3"``: the algorithm and the number of the iteration under way."""
        return f"{self.name} update {self.num_updates + 1}"

    def check_finite(self, stats: dict[str, Any]) -> None:
        """After an SB3 iteration: NonFiniteError unless its losses (``gen/...loss``) and the
        policy's parameters (actor and critic) are finite. SB3 has stepped by then; nothing
        is restored (the trainer checkpoints only finished rounds)."""
        assert self.model is not None
        losses = {k: v for k, v in stats.items() if k.endswith("loss") and not math.isfinite(v)}
        params = list(self.model.policy.parameters())
        finite = bool(torch.stack([torch.isfinite(p).all() for p in params]).all())
        if not losses and finite:
            return
        found = [f"the mean {k.removeprefix('gen/')} is {v}" for k, v in losses.items()]
        if not finite:
            named = self.model.policy.named_parameters()
            names = [n for n, p in named if not bool(torch.isfinite(p).all())]
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            found.append(f"the policy's parameters are not finite ({shown})")
        bridge = self._bridge
        raise NonFiniteError(
            f"{self.where()}: after SB3's train(), {', '.join(found)}"
            f"{bridge.rewards_context() if bridge else ''}; SB3 had already updated the model "
            "in memory: it is not checkpointed, the last checkpoint is the last good state"
        )

    # -- checkpoints ------------------------------------------------------------------------
    def _class_path(self) -> str:
        return f"{self.algorithm.__module__}:{self.algorithm.__qualname__}"

    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain data: policy, critic, optimizer, timesteps, random states.

        Keys: ``rng`` holds ``global_rng``, ``env_seeds`` holds ``rng`` (the names of older
        checkpoints, which stay loadable).
        """
        state: dict[str, Any] = {
            "algorithm": self._class_path(),
            "num_updates": self.num_updates,
            "rng": self.global_rng.state_dict(),
            "env_seeds": self.rng.get_state(),
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
                # a copy: the optimizer's state dict holds its live moment tensors
                "optimizer": copy.deepcopy(model.policy.optimizer.state_dict()),
                "num_timesteps": int(model.num_timesteps),
                "n_updates": int(getattr(model, "_n_updates", 0)),
                "n_envs": int(model.n_envs),
                "n_steps": int(model.n_steps),
            }
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; the policy's weights at once, the rest of the SB3
        model when it is built (at the next :meth:`learn`) or at once if it exists."""
        if state.get("algorithm") != self._class_path():
            raise CheckpointError(
                f"the checkpoint's sb3 learner ran {state.get('algorithm')!r}, this one runs "
                f"{self._class_path()!r}"
            )
        self.num_updates = int(state["num_updates"])
        self.global_rng.load_state_dict(state["rng"])
        self.rng.set_state(state["env_seeds"])
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
        if hasattr(model, "_n_updates"):  # SB3's update counter (no public setter)
            model._n_updates = int(saved["n_updates"])


# -- factories registered in ALGORITHMS ----------------------------------------------------
def _factory(package: str, cls_name: str) -> Callable[..., SB3Learner]:
    name = f"{package}:{cls_name}"

    def factory(
        policy: Any,
        lr: float = 0.01,
        grad_clip: float | None = 5.0,
        seed: int = 0,
        policy_kwargs: dict[str, Any] | None = None,
        **algorithm_kwargs: Any,
    ) -> SB3Learner:
        return SB3Learner(name, policy, lr, grad_clip, seed, policy_kwargs, **algorithm_kwargs)

    factory.__name__ = factory.__qualname__ = cls_name.lower()
    factory.__doc__ = (
        f"{name}: stable-baselines3 {cls_name} training the policy (see SB3Learner); use "
        "env.reward_scheme mc_rollout_shaped with gamma 1.0."
    )
    return factory


ppo = _factory("sb3", "PPO")
a2c = _factory("sb3", "A2C")
recurrent_ppo = _factory("sb3_contrib", "RecurrentPPO")
maskable_ppo = _factory("sb3_contrib", "MaskablePPO")
