"""Gymnasium environments of seqadv, installed as ``seqadv.envs``.

``import seqadv`` registers every id below with Gymnasium (Gymnasium 1.x does not load
environment plugins from entry points), with lazy string entry points, so
``gymnasium.make("seqadv:seqadv/TextGeneration-v0")`` works from a bare interpreter and
``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")`` gives the batched form.
Variants are registered kwargs, not new classes. Live objects (the discriminator, the rollout
policy, the data) are passed at ``make`` time.
"""

from __future__ import annotations

from seqadv.registry import Registry

__all__ = ["ENVIRONMENTS", "register_envs", "ENV_IDS"]

_MODULE = "seqadv.envs.text_generation"

#: env id -> (kwargs registered with Gymnasium, one-line description)
_ENV_SPECS: dict[str, tuple[dict, str]] = {
    "seqadv/TextGeneration-v0": (
        {"reward_mode": "terminal"},
        "left-to-right generation; terminal discriminator reward (plain REINFORCE)",
    ),
    "seqadv/TextGenerationMC-v0": (
        {"reward_mode": "mc_rollout"},
        "SeqGAN: Monte-Carlo rollout estimates of Q after every token",
    ),
    "seqadv/TextGenerationShaped-v0": (
        {"reward_mode": "mc_rollout_shaped"},
        "Monte-Carlo estimates as differences: the return is the final score (PPO, A2C)",
    ),
    "seqadv/TextGenerationPerToken-v0": (
        {"reward_mode": "per_token"},
        "per-token rewards from a token-level discriminator (MaskGAN-style)",
    ),
}
ENV_IDS = tuple(_ENV_SPECS)

ENVIRONMENTS = Registry("environment")
for _id, (_kwargs, _summary) in _ENV_SPECS.items():
    ENVIRONMENTS.add(_id, f"{_MODULE}:TextGenerationEnv", kind="gymnasium", summary=_summary, kwargs=_kwargs)


def register_envs() -> None:
    """Register every seqadv id with Gymnasium (idempotent)."""
    import gymnasium

    for env_id, (kwargs, _) in _ENV_SPECS.items():
        if env_id in gymnasium.registry:
            continue
        gymnasium.register(
            id=env_id,
            entry_point=f"{_MODULE}:TextGenerationEnv",
            vector_entry_point=f"{_MODULE}:TextGenerationVectorEnv",
            kwargs=dict(kwargs),
        )
