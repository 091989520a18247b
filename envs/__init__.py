"""Gymnasium environments of seqadv, installed as ``seqadv.envs``.

``import seqadv`` registers every id below with Gymnasium (Gymnasium 1.x does not load
environment plugins from entry points), with lazy string entry points, so
``gymnasium.make("seqadv:seqadv/TextGeneration-v0")`` works from a bare interpreter and
``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")`` gives the batched form.
Variants are registered kwargs, not new classes. Live objects (the discriminator, the rollout
policy, the data) are passed at ``make`` time.

The id table below maps each id to its family's own entry points (the single and the vector
form, see :mod:`seqadv.envs.family`) and the kwargs of the variant. A new family is one file
with a batched core and ``env_forms(...)``, plus rows here (or, for a user's family,
:func:`register_env` from their own code).
"""

from __future__ import annotations

from typing import Any

from seqadv.registry import Registry

__all__ = ["ENVIRONMENTS", "register_envs", "register_env", "ENV_IDS"]

_TEXT = "seqadv.envs.text_generation"
_INFILL = "seqadv.envs.masked_infilling"
_RETRIEVAL = "seqadv.envs.retrieval"

#: env id -> (single entry point, vector entry point, variant kwargs, one-line description)
_ENV_SPECS: dict[str, tuple[str, str, dict, str]] = {
    "seqadv/TextGeneration-v0": (
        f"{_TEXT}:TextGenerationEnv",
        f"{_TEXT}:TextGenerationVectorEnv",
        {"reward_scheme": "terminal"},
        "left-to-right generation; terminal discriminator reward (plain REINFORCE)",
    ),
    "seqadv/TextGenerationMC-v0": (
        f"{_TEXT}:TextGenerationEnv",
        f"{_TEXT}:TextGenerationVectorEnv",
        {"reward_scheme": "mc_rollout"},
        "SeqGAN: Monte-Carlo rollout estimates of Q after every token",
    ),
    "seqadv/TextGenerationShaped-v0": (
        f"{_TEXT}:TextGenerationEnv",
        f"{_TEXT}:TextGenerationVectorEnv",
        {"reward_scheme": "mc_rollout_shaped"},
        "Monte-Carlo estimates as differences: the return is the final score (PPO, A2C)",
    ),
    "seqadv/TextGenerationPerToken-v0": (
        f"{_TEXT}:TextGenerationEnv",
        f"{_TEXT}:TextGenerationVectorEnv",
        {"reward_scheme": "per_token"},
        "per-token rewards from a token-level discriminator (MaskGAN-style)",
    ),
    "seqadv/MaskedInfilling-v0": (
        f"{_INFILL}:MaskedInfillingEnv",
        f"{_INFILL}:MaskedInfillingVectorEnv",
        {"reward_scheme": "per_token"},
        "MaskGAN: write the missing tokens of a masked real sentence; per-token rewards",
    ),
    "seqadv/Retrieval-v0": (
        f"{_RETRIEVAL}:RetrievalEnv",
        f"{_RETRIEVAL}:RetrievalVectorEnv",
        {"reward_scheme": "terminal"},
        "IRGAN: observe a user, pick an item (one step); the pair scorer's reward",
    ),
}
ENV_IDS = tuple(_ENV_SPECS)

#: env id -> its vector form's factory; meta: ``entry_point`` (the single form), ``kwargs``
#: (the variant's), ``summary``. The trainer builds the vector form by id from here.
ENVIRONMENTS = Registry("environment")


def register_env(
    env_id: str,
    entry_point: str | Any,
    vector_entry_point: str | Any,
    kwargs: dict[str, Any] | None = None,
    summary: str = "",
    *,
    override: bool = False,
) -> None:
    """Register an environment family's variant with seqadv and with Gymnasium.

    Args:
        env_id: ``namespace/Name-vN``.
        entry_point, vector_entry_point: the single and the vector form (classes or lazy
            ``"module:Class"`` strings), e.g. the two classes ``env_forms`` returns.
        kwargs: the variant's constructor arguments (deep-copied by Gymnasium at every make:
            only plain data here, live objects are passed at make time).
        summary: one line for ``seqadv list envs``.
        override: replace an existing registration of ``env_id``.
    """
    import gymnasium

    kwargs = dict(kwargs or {})
    ENVIRONMENTS.add(
        env_id,
        vector_entry_point,
        override=override,
        kind="gymnasium",
        summary=summary,
        kwargs=kwargs,
        entry_point=entry_point,
    )
    if env_id in gymnasium.registry and not override:
        return
    gymnasium.register(
        id=env_id,
        entry_point=entry_point,
        vector_entry_point=vector_entry_point,
        kwargs=dict(kwargs),
    )


def register_envs() -> None:
    """Register every seqadv id with seqadv's registry and Gymnasium (idempotent)."""
    for env_id, (single, vector, kwargs, summary) in _ENV_SPECS.items():
        if env_id not in ENVIRONMENTS:
            register_env(env_id, single, vector, kwargs, summary)
