"""A stable-baselines3 policy for token observations, for users who bring their own PPO.

SB3's ``MlpPolicy`` reads the text environments' observations (token ids, padded) as floats;
:class:`TokenPolicy` embeds them instead and runs a GRU over the sequence, so that
``PPO(TokenPolicy, env)`` learns on ``seqadv/TextGeneration*`` environments out of the box
(``env`` an SB3 ``VecEnv``: ``TextGenerationVectorEnv(...).as_sb3()``). It is a plain
``ActorCriticPolicy`` with :class:`TokenExtractor` as its features extractor; the generator
bridge (``sb3:PPO`` in a config) is the way to train seqadv's own generator instead.

Example:
    >>> from stable_baselines3 import PPO
    >>> from seqadv.algorithms.sb3 import TokenPolicy
    >>> from seqadv.envs.text_generation import TextGenerationVectorEnv
    >>> env = TextGenerationVectorEnv(4, reward_scheme="terminal").as_sb3()
    >>> model = PPO(TokenPolicy, env, n_steps=8, batch_size=16, n_epochs=1, seed=0)
    >>> _ = model.learn(32)
"""

from __future__ import annotations

from typing import Any

from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import Tensor, nn

from seqadv.errors import ConfigError

__all__ = ["TokenExtractor", "TokenPolicy"]


class TokenExtractor(BaseFeaturesExtractor):
    """(N, T) token ids (as SB3 hands them over: floats) -> (N, hidden_dim).

    Every id of the observation space's range (the padding value included) has an embedding;
    a GRU reads the T positions and its last output is the features.

    Args:
        observation_space: an integer ``Box`` of shape (T,).
        embed_dim: embedding size.
        hidden_dim: GRU size (the features' size).
    """

    def __init__(self, observation_space: spaces.Space, embed_dim: int = 32, hidden_dim: int = 64):
        if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 1:
            raise ConfigError(
                f"TokenExtractor reads a Box of token ids of shape (T,), got {observation_space}"
            )
        super().__init__(observation_space, features_dim=hidden_dim)
        self.n_ids = int(observation_space.high.max()) + 1
        self.embedding = nn.Embedding(self.n_ids, embed_dim)
        self.gru = nn.GRU(embed_dim, hidden_dim, batch_first=True)

    def forward(self, observations: Tensor) -> Tensor:
        ids = observations.round().long().clamp(0, self.n_ids - 1)
        out, _ = self.gru(self.embedding(ids))
        return out[:, -1]


class TokenPolicy(ActorCriticPolicy):
    """``ActorCriticPolicy`` over token observations (see the module docstring).

    Keyword arguments are ``ActorCriticPolicy``'s; ``features_extractor_kwargs`` reach
    :class:`TokenExtractor` (``embed_dim``, ``hidden_dim``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("features_extractor_class", TokenExtractor)
        super().__init__(*args, **kwargs)

