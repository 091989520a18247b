"""Worked example: an action mask that changes at every step (TreeGAN's grammar masks).

The family extends TextGeneration with a "grammar": after t written tokens, token v may be
written only if ``v % 3 != t % 3`` and v differs from the previous token. The core supplies
the mask at every step (``action_masks``) and the rule for any prefix (``next_action_mask``,
which the Monte-Carlo rollouts follow). Asserted over many episodes: ``reinforce``, the MC
rollouts and ``sb3_contrib:MaskablePPO`` never emit a masked action.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from torch import Tensor

from seqadv.adversarial import AdversarialTrainer
from seqadv.algorithms.batch import collect_rollout
from seqadv.config import config_from_dict
from seqadv.envs import register_env
from seqadv.envs.family import env_forms
from seqadv.envs.text_generation import TextGenerationCore
from seqadv.models.generator import LSTMGenerator

CORES: list[MaskedTextCore] = []  # every core built, to read its counters


def allowed(prefixes: Tensor, lengths: Tensor, vocab_size: int) -> Tensor:
    """(M, V) bool: the tokens allowed after each prefix (M, T) of ``lengths`` (M,) tokens."""
    tokens = torch.arange(vocab_size)
    mask = (tokens.unsqueeze(0) % 3) != (lengths.unsqueeze(1) % 3)
    previous = prefixes.gather(1, (lengths - 1).clamp(min=0).unsqueeze(1))
    return mask & ~((tokens.unsqueeze(0) == previous) & (lengths > 0).unsqueeze(1))


class MaskedTextCore(TextGenerationCore):
    """TextGeneration under the grammar above; counts every masked action it sees."""

    def __init__(self, num_envs: int, **kwargs: Any) -> None:
        super().__init__(num_envs, **kwargs)
        self.violations = self.actions_seen = self.scored_tokens = 0
        CORES.append(self)

    def action_masks(self) -> Tensor:
        return allowed(self.tokens, self.lengths, self.vocab_size)

    def next_action_mask(self, prefixes: Tensor, length: int) -> Tensor:
        return allowed(prefixes, torch.full((prefixes.shape[0],), length), self.vocab_size)

    def step(self, actions: Tensor, skip: Tensor | None = None):
        actions = torch.as_tensor(actions).long().reshape(self.num_envs)
        live = ~self.done if skip is None else ~self.done & ~skip
        ok = self.action_masks().gather(1, actions.clamp(0, self.vocab_size - 1).unsqueeze(1))
        self.violations += int((live & ~ok.squeeze(1)).sum())
        self.actions_seen += int(live.sum())
        return super().step(actions, skip)

    def score(self, sequences: Tensor, rows: Tensor | None = None) -> Tensor:
        for t in range(sequences.shape[1]):  # every completed rollout obeys the grammar
            mask = allowed(sequences, torch.full((sequences.shape[0],), t), self.vocab_size)
            ok = mask.gather(1, sequences[:, t : t + 1].clamp(max=self.vocab_size - 1))
            self.violations += int((~ok).sum())
            self.scored_tokens += sequences.shape[0]
        return super().score(sequences, rows)


MaskedEnv, MaskedVectorEnv = env_forms("MaskedText", MaskedTextCore, "A grammar.", __name__)
register_env(
    "test/MaskedText-v0",
    MaskedEnv,
    MaskedVectorEnv,
    kwargs={"reward_scheme": "mc_rollout"},
    summary="test masks",
    override=True,
)


def config(algorithm: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "masked",
        "seed": 2,
        "data": {"source": "oracle", "vocab_size": 9, "oracle_embed_dim": 8,
                 "oracle_hidden_dim": 8, "max_len": 6, "n_train": 128, "n_test": 0},
        "generator": {"kwargs": {"embed_dim": 8, "hidden_dim": 8}},
        "pretrain": {"epochs": 1, "batch_size": 32},
        "discriminator": {
            "kwargs": {"embedding_dim": 8, "filter_sizes": [1, 2], "num_filters": [4, 4]},
            "batch_size": 32,
            "pretrain_rounds": 1,
            "pretrain_epochs": 1,
            "n_negatives": 64,
        },
        "env": {
            "name": "test/MaskedText-v0",
            "reward_scheme": {"name": "mc_rollout", "kwargs": {"n_rollouts": 3}},
            "num_envs": 16,
        },
        "algorithm": algorithm,
        "adversarial": {"rounds": 3, "discriminator_rounds": 1, "discriminator_epochs": 1},
        "eval": {"every_rounds": 3, "every_epochs": 1, "n_samples": 32, "metrics": ["nll_oracle"]},
    }


@pytest.mark.parametrize(
    "algorithm",
    [
        {"name": "reinforce", "kwargs": {"discount": 0.0}},
        {"name": "sb3_contrib:MaskablePPO", "kwargs": {"n_epochs": 1, "batch_size": 32}},
    ],
    ids=["reinforce", "MaskablePPO"],
)
def test_no_learner_and_no_rollout_emits_a_masked_action(algorithm):
    CORES.clear()
    trainer = AdversarialTrainer(config_from_dict(config(algorithm)))
    start = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    trainer.fit()
    core, smoke = CORES  # the run's env, then the 2-row env of the check before training
    assert core.actions_seen >= 3 * 16 * 6 and core.scored_tokens > 0
    assert smoke.num_envs == 2 and smoke.actions_seen > 0
    assert core.violations == 0 and smoke.violations == 0
    moved = [not torch.equal(start[k], v) for k, v in trainer.generator.state_dict().items()]
    assert any(moved)


def test_collected_batches_hold_the_masks_and_obey_them():
    env = MaskedVectorEnv(32, autoreset_mode="disabled", reward_scheme="terminal")
    policy = LSTMGenerator(16, embed_dim=8, hidden_dim=8, max_len=8)
    g = torch.Generator().manual_seed(0)
    for _ in range(10):
        batch = collect_rollout(policy, env, g)
        assert batch.action_masks is not None and batch.action_masks.shape == (32, 8, 16)
        picked = batch.action_masks.gather(2, batch.actions.unsqueeze(2)).squeeze(2)
        assert bool(picked[batch.mask].all())
        log_probs, entropy = policy.evaluate(batch.obs, batch.actions, batch.mask, batch.action_masks)
        assert torch.allclose(log_probs, batch.log_probs, atol=1e-5)  # the masked distribution
        assert bool((entropy[batch.mask] <= np.log(11) + 1e-5).all())


def test_masked_forms_pass_the_checkers():
    env = gym.make("test/MaskedText-v0").unwrapped
    gym_check_env(env)
    sb3_check_env(env, warn=False)
    obs, _ = env.reset(seed=0)
    assert env.action_masks().tolist() == [v % 3 != 0 for v in range(16)]
