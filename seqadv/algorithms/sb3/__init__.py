"""stable-baselines3 and sb3-contrib on-policy algorithms driving a seqadv policy.

The actor of the SB3 policy **is** the seqadv policy (any :class:`~seqadv.models.policy.Policy`
that offers ``actor_modules()``, such as :class:`~seqadv.models.generator.LSTMGenerator`):
the SB3 features extractor runs the policy's own encoder (the same module, not a copy) and
the action net is the policy's own head, so for the LSTM generator the logits are exactly
``generator.project(h)``. Training the SB3 model updates the policy in place;
:func:`export_generator` returns an independent copy for users.

Design:

- **Observation**: whatever the environment observes, as SB3 hands it to a features
  extractor (float tensors, a dict of them for a ``Dict`` space); the policy's encoder maps
  it to latents. For the LSTM generator the observation is the padded prefix (an int64
  ``Box`` of shape (T,)) and the encoder feeds ``[start_id, x_1, ..., x_t]`` through the
  generator's LSTM, returning the hidden state the generator itself would use to write
  ``x_{t+1}``. RecurrentPPO instead steps the policy's LSTM (``recurrent_modules()``) once
  per token with its cached state (its features are the embedding of the last written
  token); a policy without ``recurrent_modules()`` cannot be trained by it.
- **Critic**: separate by default. The value head reads its own *copy* of the encoder
  (initialized from the policy when the SB3 policy is built, then trained by the value
  loss only) and a linear layer, so value-loss gradients never change the policy. Pass
  ``policy_kwargs: {share_features_extractor: true}`` to share the policy's encoder with
  the critic (cheaper, but then ``vf_coef`` times the value loss trains the policy too).
- **No critic** (``policy_kwargs: {critic: false}``): the value is identically 0, so the
  advantages are the raw returns. With ``gamma: 0`` on ``mc_rollout`` rewards and
  ``normalize_advantage: false``, PPO's advantage of a token is then SeqGAN's Monte-Carlo
  estimate of Q: SeqGAN's policy gradient inside PPO's clipped surrogate.
- **Rewards**: SB3 sums rewards into returns. Use the ``mc_rollout_shaped`` reward scheme
  with ``gamma: 1.0`` (the default here): the return of an episode is then its final score
  and the return-to-go a Monte-Carlo estimate minus a baseline. Summing the raw
  ``mc_rollout`` rewards (a scheme whose ``estimates_final_score``) counts the score about
  T times; the learner logs a warning when it sees such a scheme with ``gamma > 0``.
- **One update** of :meth:`SB3Learner.learn` is one SB3 iteration: a rollout of ``n_steps``
  steps in each of the env's B rows (``n_steps`` defaults to the episode length, the env's
  ``max_episode_steps``, so with fixed-length data a rollout is one complete episode per
  row, like REINFORCE's batch) followed by the algorithm's ``train()``. Every ``learn``
  call starts fresh episodes (so no episode is scored by two discriminators) and continues
  the timestep count (``reset_num_timesteps=False``).
- **Randomness**: SB3 samples actions from torch's global RNG and shuffles minibatches with
  numpy's. The learner keeps its own Python, numpy and torch global-RNG states
  (``global_rng``, seeded from ``seed``), swaps them in for the duration of each ``learn``
  (and of building the model) and swaps the caller's back afterwards; the states are part
  of :meth:`SB3Learner.state_dict`, so a resumed run continues bit-identically.
- **Checkpoints** (:meth:`SB3Learner.state_dict`, tensors and plain data only): the
  policy's and the critic's weights, the SB3 optimizer's state, ``num_timesteps``, the
  update counters and the random states. Not saved, because nothing that follows depends on
  them: the rollout buffer (refilled every iteration), the environment's episodes (every
  ``learn`` starts fresh ones) and SB3's episode-statistics window (logging only). SB3's
  learning-rate and clip-range schedules see a progress that restarts at every ``learn``
  call: give constants (the config can only give numbers anyway).

The modules: :mod:`~seqadv.algorithms.sb3.policy` (the SB3 policy classes and their
modules), :mod:`~seqadv.algorithms.sb3.classes` (which algorithm classes fit, their
arguments, the registry entry), :mod:`~seqadv.algorithms.sb3.model` (:func:`make_model`,
:func:`export_generator`), :mod:`~seqadv.algorithms.sb3.rng` (the global-RNG isolation),
:mod:`~seqadv.algorithms.sb3.learner` (:class:`SB3Learner` and the registered factories)
and :mod:`~seqadv.algorithms.sb3.callback` (:class:`AdversarialCallback`).

Importing this package imports stable-baselines3; ``import seqadv`` and
``import seqadv.algorithms`` do not.

Example:
    >>> import torch
    >>> from seqadv.algorithms import ALGORITHMS
    >>> from seqadv.envs.text_generation import TextGenerationVectorEnv
    >>> from seqadv.models.generator import LSTMGenerator
    >>> env = TextGenerationVectorEnv(4, reward_scheme="terminal", autoreset_mode="disabled")
    >>> gen = LSTMGenerator(16, embed_dim=8, hidden_dim=8, max_len=8)
    >>> learner = ALGORITHMS.make("sb3:PPO", policy=gen, lr=1e-3, n_epochs=1)
    >>> stats = learner.learn(env, 1)
    >>> learner.model.num_timesteps, learner.num_updates
    (32, 1)
"""

from __future__ import annotations

from typing import Any

from seqadv.algorithms.sb3 import policy as _policy
from seqadv.algorithms.sb3.callback import AdversarialCallback
from seqadv.algorithms.sb3.classes import (
    check_algorithm_class,
    init_parameters,
    resolve_algorithm_class,
    sb3_entry,
)
from seqadv.algorithms.sb3.learner import SB3Learner, a2c, maskable_ppo, ppo, recurrent_ppo
from seqadv.algorithms.sb3.model import export_generator, make_model
from seqadv.algorithms.sb3.policy import (
    GeneratorActionHead,
    GeneratorActorCriticPolicy,
    GeneratorFeaturesExtractor,
    GeneratorTokenExtractor,
    PolicyFeaturesExtractor,
    ZeroValue,
    generator_policy_class,
    generator_spaces,
)
from seqadv.algorithms.sb3.rng import GlobalRNG
from seqadv.algorithms.sb3.token_policy import TokenExtractor, TokenPolicy

__all__ = [
    "SB3Learner",
    "TokenExtractor",
    "TokenPolicy",
    "AdversarialCallback",
    "PolicyFeaturesExtractor",
    "GeneratorFeaturesExtractor",
    "GeneratorTokenExtractor",
    "GeneratorActionHead",
    "GeneratorActorCriticPolicy",
    "ZeroValue",
    "GlobalRNG",
    "generator_policy_class",
    "generator_spaces",
    "make_model",
    "export_generator",
    "resolve_algorithm_class",
    "check_algorithm_class",
    "init_parameters",
    "sb3_entry",
    "ppo",
    "a2c",
    "recurrent_ppo",
    "maskable_ppo",
]


def __getattr__(name: str) -> Any:
    """``Generator<Base>`` policy classes, built on demand in :mod:`.policy` (SB3's load of
    a model saved before this became a package finds them here by name)."""
    if name in _policy.DYNAMIC_POLICIES:
        return getattr(_policy, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
